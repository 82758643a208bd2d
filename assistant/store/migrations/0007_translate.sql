-- Translation: one cache for every user (the same input gives the same output), and each
-- user's history and stored glossary.
CREATE TABLE translate_cache (
    key TEXT PRIMARY KEY,            -- sha256 of engine, model, languages, options, glossary, text
    engine TEXT NOT NULL,
    model TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL,            -- JSON: translation, score, glossary checks
    bytes INTEGER NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    used_at INTEGER NOT NULL
);
CREATE INDEX translate_cache_lru ON translate_cache (used_at);

CREATE TABLE translate_history (
    id TEXT PRIMARY KEY,             -- UUIDv7: sorts by creation time
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('text', 'voice')),
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    text TEXT NOT NULL,
    translated TEXT NOT NULL,
    engine TEXT NOT NULL,
    model TEXT NOT NULL,
    quality REAL,
    created_at INTEGER NOT NULL
);
CREATE INDEX translate_history_user ON translate_history (user_id, id DESC);

CREATE TABLE translate_glossaries (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    terms TEXT NOT NULL,             -- JSON object: term -> translation
    keep TEXT NOT NULL,              -- JSON array: terms never translated
    targets TEXT NOT NULL,           -- JSON array: target languages it applies to; [] = all
    updated_at INTEGER NOT NULL
);
