"""The image store: each user's images, content-addressed on disk, listed from SQLite.

The bytes of an image live once in a ``BlobStore`` (named by their sha256) however
many users store them; a row per user and image holds what it is and when it came.
Another user's image id is "not found". EXIF GPS positions are stripped before the bytes
are kept unless the caller opts in; old images go after the retention period, and a user
cannot store more than the quota.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from assistant.clock import Clock, new_id, system_clock, to_ms
from assistant.errors import InvalidInput, NotFound, PayloadTooLarge
from assistant.store import Database, Row
from assistant.store.blobs import BlobStore
from assistant.vision import store
from hal.camera.images import DecodedImage, ImageLimits, decode_image, strip_gps, thumbnail_jpeg

log = logging.getLogger(__name__)

MAX_PAGE = 200
"""Most images listed at once."""


@dataclass(frozen=True)
class StorePolicy:
    """Limits of the image store."""

    quota_bytes: int = 500_000_000
    """Bytes one user may keep."""
    retention_days: float | None = 90.0
    """Images older than this are deleted (None: kept until deleted)."""
    thumbnail_side: int = 256
    """Longest side of thumbnails."""


@dataclass(frozen=True)
class StoredImage:
    """An image in a user's store."""

    id: str
    """Its id (time-ordered: newer ids sort higher)."""
    sha256: str
    """sha256 of the stored bytes (the ETag)."""
    media_type: str
    """``image/jpeg``, ``image/png``..."""
    bytes: int
    """Size of the stored file."""
    width: int
    """Upright width in pixels."""
    height: int
    """Upright height in pixels."""
    gps_kept: bool
    """The stored file still carries its GPS position (the user opted in)."""
    created_at: int
    """Unix milliseconds when it was stored."""


@dataclass(frozen=True)
class ImagePage:
    """One page of a user's images, newest first."""

    images: list[StoredImage]
    """The images."""
    next_cursor: str | None
    """Pass as ``before`` for the next page; None on the last."""


def _stored(row: Row) -> StoredImage:
    return StoredImage(
        id=row["id"],
        sha256=row["sha256"],
        media_type=row["media_type"],
        bytes=int(row["bytes"]),
        width=int(row["width"]),
        height=int(row["height"]),
        gps_kept=bool(row["gps_kept"]),
        created_at=int(row["created_at"]),
    )


class ImageLibrary:
    """Per-user image storage."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        policy: StorePolicy,
        limits: ImageLimits,
        clock: Clock = system_clock,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.policy = policy
        self.limits = limits
        self.clock = clock

    def put(self, user_id: str, data: bytes, *, keep_gps: bool = False) -> tuple[StoredImage, bool]:
        """Store an image (decoded first: only whole images are kept); the stored image,
        and False when the user already had these very bytes."""
        decoded = decode_image(data, self.limits, field="file")
        return self.put_decoded(user_id, data, decoded, keep_gps=keep_gps)

    def put_decoded(
        self, user_id: str, data: bytes, decoded: DecodedImage, *, keep_gps: bool = False
    ) -> tuple[StoredImage, bool]:
        """Store an image already decoded (by a vision call that also keeps it)."""
        kept = data if keep_gps or not decoded.has_gps else strip_gps(data, self.limits)
        self.prune()
        sha = hashlib.sha256(kept).hexdigest()
        now = to_ms(self.clock())
        # Blobs are written and deleted under the write lock, so a delete that orphans
        # a blob cannot race a put that is about to reference it again.
        with self.db.write() as conn:
            existing = store.find_by_sha(conn, user_id, sha)
            if existing is not None:
                return _stored(existing), False
            used = store.used_bytes(conn, user_id)
            if used + len(kept) > self.policy.quota_bytes:
                raise PayloadTooLarge(
                    f"Your image store holds {used:,} of {self.policy.quota_bytes:,} bytes;"
                    f" this image needs {len(kept):,} more. Delete images first"
                    " (DELETE /api/v1/vision/images/{id})",
                    field="file",
                )
            self.blobs.put(kept)
            image_id = new_id(self.clock())
            store.insert_image(
                conn,
                image_id,
                user_id,
                sha,
                decoded.media_type,
                len(kept),
                decoded.width,
                decoded.height,
                keep_gps and decoded.has_gps,
                now,
            )
            row = store.get_image(conn, user_id, image_id)
        assert row is not None
        return _stored(row), True

    def info(self, user_id: str, image_id: str) -> StoredImage:
        """What is known of one of the user's images."""
        with self.db.read() as conn:
            row = store.get_image(conn, user_id, image_id)
        if row is None:
            raise NotFound(f"You have no image {image_id!r}", field="image_id")
        return _stored(row)

    def get(self, user_id: str, image_id: str) -> tuple[StoredImage, bytes]:
        """One of the user's images and its bytes."""
        image = self.info(user_id, image_id)
        return image, self.blobs.get(image.sha256)

    def thumbnail(self, user_id: str, image_id: str) -> tuple[StoredImage, bytes]:
        """One of the user's images and an upright JPEG thumbnail of it."""
        image, data = self.get(user_id, image_id)
        return image, thumbnail_jpeg(data, self.policy.thumbnail_side, self.limits)

    def list(self, user_id: str, limit: int = 50, before: str | None = None) -> ImagePage:
        """The user's images, newest first, ``limit`` at a time."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be 1..{MAX_PAGE}", field="limit")
        self.prune()
        with self.db.read() as conn:
            if before is not None and store.get_image(conn, user_id, before) is None:
                raise NotFound("No such image (the `before` cursor)", field="before")
            rows = store.list_images(conn, user_id, limit + 1, before)
        images = [_stored(row) for row in rows[:limit]]
        return ImagePage(images, images[-1].id if len(rows) > limit else None)

    def delete(self, user_id: str, image_id: str) -> None:
        """Delete one of the user's images (its bytes too, when no one else has them)."""
        with self.db.write() as conn:
            row = store.get_image(conn, user_id, image_id)
            if row is None:
                raise NotFound(f"You have no image {image_id!r}", field="image_id")
            store.delete_image(conn, image_id)
            if store.sha_references(conn, row["sha256"]) == 0:
                self.blobs.delete(row["sha256"])

    def used_bytes(self, user_id: str) -> int:
        """Bytes the user's images take."""
        with self.db.read() as conn:
            return store.used_bytes(conn, user_id)

    def prune(self) -> int:
        """Delete every image older than the retention period; how many went."""
        if self.policy.retention_days is None:
            return 0
        cutoff = to_ms(self.clock() - self.policy.retention_days * 86_400)
        with self.db.read() as conn:
            if not store.expired(conn, cutoff):
                return 0
        with self.db.write() as conn:
            rows = store.expired(conn, cutoff)
            for row in rows:
                store.delete_image(conn, row["id"])
            for sha in {row["sha256"] for row in rows}:
                if store.sha_references(conn, sha) == 0:
                    self.blobs.delete(sha)
        log.info(
            "deleted %d images past the retention of %g days",
            len(rows),
            self.policy.retention_days,
        )
        return len(rows)
