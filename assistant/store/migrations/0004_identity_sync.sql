-- OpenID Connect sign-in (pending logins, app hand-offs) and the profile sync bridge
-- (a clock per field, the remotes each user syncs with, their status). Times are Unix
-- milliseconds (UTC).

-- One row per login started at a provider: state, nonce and PKCE verifier, single-use
-- and short-lived. The state is stored hashed: it travels in URLs.
CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    nonce TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('login', 'link')),
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,  -- the account to link to
    return_to TEXT,
    app_redirect_uri TEXT,  -- a native app's loopback or custom-scheme redirect
    app_state TEXT,
    app_code_challenge TEXT,  -- the app's own PKCE challenge (S256) for the hand-off
    browser_hash TEXT,  -- the browser that started a sign-in (its cookie, hashed)
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

-- A finished login waiting to be picked up by the page or app that started it.
CREATE TABLE oidc_handoffs (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_challenge TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

-- Device authorizations (RFC 8628) started at a provider for a device without a browser.
CREATE TABLE oidc_device_logins (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    device_code TEXT NOT NULL,
    interval_seconds INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

-- This installation as a sync participant: its device id, its hybrid logical clock and
-- the position of its change log.
CREATE TABLE sync_device (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    device_id TEXT NOT NULL,
    hlc_wall_ms INTEGER NOT NULL,
    hlc_counter INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
);

-- The current value of every synced field with the clock of its last write (a tombstone
-- when reset), and its position in the change log (GET /api/v1/profile/changes?since=).
-- pending: a local write the remote has not acknowledged yet (the outbox).
CREATE TABLE sync_fields (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    value TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    hlc TEXT NOT NULL,
    seq INTEGER NOT NULL,
    pending INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, field)
) WITHOUT ROWID;
CREATE INDEX sync_fields_seq ON sync_fields (user_id, seq);

-- Users whose profile written before sync existed has been entered into sync_fields.
CREATE TABLE sync_seeded (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    seeded_at INTEGER NOT NULL
);

-- The remote each user syncs with (the API key sealed with the device's sync key).
CREATE TABLE sync_remotes (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    api_key_sealed TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Where each user's sync stands with its remote (configured here or in settings).
CREATE TABLE sync_state (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    cursor INTEGER NOT NULL DEFAULT 0,
    remote_device TEXT,
    last_attempt_at INTEGER,
    last_success_at INTEGER,
    last_error_code TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    pushed_total INTEGER NOT NULL DEFAULT 0,
    pulled_total INTEGER NOT NULL DEFAULT 0,
    conflicts_total INTEGER NOT NULL DEFAULT 0
);

-- The latest conflicts resolved (both sides changed a field), and who won.
CREATE TABLE sync_conflicts (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    winner TEXT NOT NULL CHECK (winner IN ('local', 'remote')),
    local_hlc TEXT NOT NULL,
    remote_hlc TEXT NOT NULL,
    resolved_at INTEGER NOT NULL
);
CREATE INDEX sync_conflicts_user ON sync_conflicts (user_id, id);
