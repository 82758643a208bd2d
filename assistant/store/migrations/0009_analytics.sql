-- Analytics: raw events (kept analytics.raw_retention_days), their hourly and daily
-- rollups (kept longer), and A/B experiments. Times are Unix milliseconds (UTC).
CREATE TABLE analytics_events (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,              -- server time it was accepted
    client_ts INTEGER,                -- the client's own timestamp, when sent
    user_id TEXT,                     -- NULL: the system's own event (model loads)
    session_id TEXT,
    name TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',   -- its model, else code, else language
    properties TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX analytics_events_ts ON analytics_events (ts);
CREATE INDEX analytics_events_user ON analytics_events (user_id, ts);

-- One row per (period, start, name, label, user): the events counted. user_id '' is the
-- system. Rolling an hour again replaces its rows, so running twice changes nothing.
CREATE TABLE analytics_rollups (
    period TEXT NOT NULL CHECK (period IN ('hour', 'day')),
    start INTEGER NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    user_id TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (period, start, name, label, user_id)
) WITHOUT ROWID;
CREATE INDEX analytics_rollups_user ON analytics_rollups (user_id, period, start);

-- Each numeric property of those events: count, sum, min, max and a log-scale histogram
-- (JSON: bucket index -> count; bucket i holds values in [1.1^i, 1.1^(i+1))).
CREATE TABLE analytics_rollup_measures (
    period TEXT NOT NULL,
    start INTEGER NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    user_id TEXT NOT NULL,
    measure TEXT NOT NULL,
    count INTEGER NOT NULL,
    sum REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    histogram TEXT NOT NULL,
    PRIMARY KEY (period, start, name, label, user_id, measure)
) WITHOUT ROWID;

-- Where the rollups have got to (key 'rolled_through': hours before it are final).
CREATE TABLE analytics_state (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE experiments (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    variants TEXT NOT NULL,           -- JSON [{name, weight, config}]
    targets TEXT NOT NULL,            -- JSON [event name]: what counts as a conversion
    window_hours REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'running', 'stopped')),
    started_at INTEGER,
    stopped_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

-- The first time a user was shown a variant: once per user and experiment.
CREATE TABLE experiment_exposures (
    experiment_id TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    variant TEXT NOT NULL,
    exposed_at INTEGER NOT NULL,
    PRIMARY KEY (experiment_id, user_id)
) WITHOUT ROWID;

-- A deleted account's analytics go with it (events carry no foreign key, so that one
-- event of an account deleted meanwhile never fails a whole batch).
CREATE TRIGGER analytics_forget_user AFTER DELETE ON users BEGIN
    DELETE FROM analytics_events WHERE user_id = OLD.id;
    DELETE FROM analytics_rollups WHERE user_id = OLD.id;
    DELETE FROM analytics_rollup_measures WHERE user_id = OLD.id;
END;
