-- Timers and reminders, per user. A timer runs (ends_at set), is paused (remaining_ms
-- set), fired or cancelled; a reminder is scheduled, fired or cancelled. Firing is a
-- compare-and-set of the state (one process wins), then the notification is sent and
-- notified_at written; a crash between the two is finished at the next start (the
-- claim lease, claimed_at, keeps two live processes from both doing it).
CREATE TABLE timers (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT,
    duration_ms INTEGER NOT NULL CHECK (duration_ms > 0),
    state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'fired', 'cancelled')),
    ends_at INTEGER,
    remaining_ms INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    fired_at INTEGER,
    claimed_at INTEGER,
    notified_at INTEGER,
    CHECK (state != 'running' OR ends_at IS NOT NULL),
    CHECK (state != 'paused' OR remaining_ms IS NOT NULL)
);
CREATE INDEX timers_user ON timers (user_id, state);
CREATE INDEX timers_due ON timers (ends_at) WHERE state = 'running';
CREATE INDEX timers_unnotified ON timers (claimed_at) WHERE state = 'fired' AND notified_at IS NULL;

CREATE TABLE reminders (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('scheduled', 'fired', 'cancelled')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    fired_at INTEGER,
    claimed_at INTEGER,
    notified_at INTEGER
);
CREATE INDEX reminders_user ON reminders (user_id, state, due_at);
CREATE INDEX reminders_due ON reminders (due_at) WHERE state = 'scheduled';
CREATE INDEX reminders_unnotified ON reminders (claimed_at)
    WHERE state = 'fired' AND notified_at IS NULL;
