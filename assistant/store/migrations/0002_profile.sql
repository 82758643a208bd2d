-- Profile, preferences and usage counters. Profile and preferences rows carry a
-- version and per-field update times so the cloud sync bridge can merge per field.
CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    display_name TEXT,
    locale TEXT,
    time_zone TEXT,
    avatar_sha256 TEXT,
    avatar_media_type TEXT,
    field_updated_at TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE preferences (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    data TEXT NOT NULL DEFAULT '{}',  -- JSON object of the values the user set
    field_updated_at TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE usage_daily (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    day TEXT NOT NULL,  -- YYYY-MM-DD, UTC
    value INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, metric, day)
) WITHOUT ROWID;
