-- Named lists per user (shopping, to-do, notes, any name) and their items. Names are
-- stored canonical (lower case, "to-do"), so one user has one list per name; item keys
-- (lower case, articles dropped, singular) make "Milk" and "the milk" one item.
CREATE TABLE lists (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE list_items (
    id TEXT PRIMARY KEY,
    list_id TEXT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    key TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    created_at INTEGER NOT NULL,
    UNIQUE (list_id, key)
);
CREATE INDEX list_items_order ON list_items (list_id, id);
