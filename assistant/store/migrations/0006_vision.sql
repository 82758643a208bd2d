-- The vision service's image store: each user's images, their bytes kept once in the
-- content-addressed folder <data_dir>/blobs/images (the S3 of the cloud design).
-- Times are Unix milliseconds (UTC).
CREATE TABLE images (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,  -- of the stored bytes (after GPS stripping)
    media_type TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    width INTEGER NOT NULL,  -- upright (EXIF orientation applied)
    height INTEGER NOT NULL,
    gps_kept INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (user_id, sha256)
);
CREATE INDEX images_by_user_time ON images (user_id, created_at DESC, id DESC);
CREATE INDEX images_by_sha ON images (sha256);
CREATE INDEX images_by_time ON images (created_at);
