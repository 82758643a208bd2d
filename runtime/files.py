"""Files that appear whole or not at all.

``atomic_write(target)`` is the one way this house writes a file that readers may open
at any moment (a downloaded or joined model, a converted model, a stored blob): the bytes
go to a temporary file beside ``target``, are flushed to disk, and the temporary file is
renamed over ``target``; the rename is then made durable by syncing the folder. A
reader sees the old file or the new one, never a part; a failure (an exception, a full
disk) leaves the old file and no temporary file behind.

``replace_durably()`` is the last step on its own, for files that are written over
several calls and renamed when complete (the resumable ``.part`` of a download).

It lives in ``runtime/`` because that is the lowest layer of all its users (the model
store and the assistant's blob store).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, BinaryIO

Fsync = Callable[[int], None]
"""Flushes one file descriptor to disk (``os.fsync``; tests pass a recorder)."""

DEFAULT_MODE = 0o644
"""Permissions of a file written by ``atomic_write`` unless the caller says otherwise."""


@contextlib.contextmanager
def atomic_write(
    target: Path, *, mode: int = DEFAULT_MODE, fsync: Fsync = os.fsync
) -> Iterator[BinaryIO]:
    """Write ``target`` through the yielded binary file; it appears on a clean exit only.

    The folder is created if needed. ``mode`` is applied exactly (not masked by the
    umask). If the ``with`` body or the write fails, the temporary file is removed, the
    exception propagates and ``target`` keeps its previous content (or stays absent).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            os.fchmod(handle.fileno(), mode)
            replace_durably(handle, temporary, target, fsync=fsync)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def replace_durably(
    handle: IO[bytes], source: Path, target: Path, *, fsync: Fsync = os.fsync
) -> None:
    """Flush ``handle`` (open on ``source``) to disk, rename ``source`` over ``target``.

    The rename itself is made durable by syncing ``target``'s folder afterwards (best
    effort: not every file system can sync a folder). ``handle`` stays open.
    """
    handle.flush()
    fsync(handle.fileno())
    source.replace(target)
    sync_folder(target.parent, fsync=fsync)


def sync_folder(folder: Path, *, fsync: Fsync = os.fsync) -> None:
    """Make the renames in ``folder`` durable (best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            fsync(fd)
        finally:
            os.close(fd)
