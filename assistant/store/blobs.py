"""Content-addressed files beside the database (images and audio that must be kept)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from assistant.errors import InvalidInput, NotFound
from runtime.files import atomic_write

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    """Files named by the sha256 of their bytes, under ``root/ab/abcdef...``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where a blob lives (whether or not it exists)."""
        if not _SHA256.fullmatch(sha256):
            raise InvalidInput(f"{sha256!r} is not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` (once, however often it is put); return its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.exists():
            return sha
        with atomic_write(target, mode=0o600) as handle:  # users' own images and audio
            handle.write(data)
        return sha

    def get(self, sha256: str) -> bytes:
        """The bytes of a blob."""
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"Blob {sha256} is missing from {self.root}") from exc

    def delete(self, sha256: str) -> None:
        """Remove a blob if present."""
        self.path(sha256).unlink(missing_ok=True)
