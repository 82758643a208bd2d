-- Notifications: the message log, the per-channel outbox, the event log that live
-- streams replay from (Last-Event-ID, since=), and the push targets (Web Push
-- subscriptions, FCM and APNs device tokens). Preferences stay in the profile's
-- `preferences.notifications` (its new keys all have defaults: no data to migrate).
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL,
    priority INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 5),
    tags TEXT NOT NULL DEFAULT '[]',
    actions TEXT NOT NULL DEFAULT '[]',
    data TEXT,
    collapse_key TEXT,
    status TEXT NOT NULL
        CHECK (status IN ('scheduled', 'held', 'active', 'withdrawn', 'replaced', 'expired')),
    held_reason TEXT,
    deliver_at INTEGER NOT NULL,
    expires_at INTEGER,
    delivered_at INTEGER,
    read_at INTEGER,
    dismissed_at INTEGER,
    replaced_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX notifications_user ON notifications (user_id, id DESC);
CREATE INDEX notifications_due ON notifications (deliver_at) WHERE status IN ('scheduled', 'held');
CREATE INDEX notifications_collapse ON notifications (user_id, collapse_key)
    WHERE collapse_key IS NOT NULL;

CREATE TABLE notification_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the SSE id; never reused
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    notification_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX notification_events_user ON notification_events (user_id, seq);

CREATE TABLE notification_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    target_id TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL DEFAULT 'show' CHECK (action IN ('show', 'update', 'withdraw')),
    status TEXT NOT NULL
        CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error TEXT,
    remote_id TEXT,
    sent_at INTEGER,
    delivered_at INTEGER,
    read_at INTEGER,
    updated_at INTEGER NOT NULL,
    UNIQUE (notification_id, channel, target_id)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at)
    WHERE status = 'queued';
CREATE INDEX notification_deliveries_remote ON notification_deliveries (channel, remote_id);

CREATE TABLE push_targets (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('webpush', 'fcm', 'apns')),
    address TEXT NOT NULL,  -- Web Push endpoint URL, FCM registration token, APNs device token
    p256dh TEXT,            -- Web Push: the browser's public key (base64url)
    auth TEXT,              -- Web Push: the browser's auth secret (base64url)
    name TEXT,
    created_at INTEGER NOT NULL,
    last_success_at INTEGER,
    last_error TEXT,
    last_error_at INTEGER,
    UNIQUE (kind, address)
);
CREATE INDEX push_targets_user ON push_targets (user_id, kind);
