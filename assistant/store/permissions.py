"""The data directory is its owner's alone.

The database holds conversations and password hashes, ``secrets/`` the JWT signing keys,
``blobs/`` avatars and kept audio: folders are 0700 and files 0600. What the process
creates is private through its umask (set where the data directory is opened); what an
older install left readable by others is tightened at start-up, once, with a log line.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
"""Group and others get no permission on anything the process creates."""
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_SHARED_BITS = 0o077


def make_private(path: Path) -> bool:
    """Take group's and others' permissions off ``path`` if it exists; True if it had any."""
    try:
        mode = stat.S_IMODE(path.lstat().st_mode)
    except FileNotFoundError:
        return False
    if path.is_symlink() or not mode & _SHARED_BITS:
        return False
    path.chmod(mode & ~_SHARED_BITS)
    return True


def private_dir(path: Path) -> Path:
    """Create the folder (0700) or make an existing one private; ``path``."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if make_private(path):
        log.info("made %s private to its owner (it was readable by others)", path)
    return path


def private_tree(root: Path) -> Path:
    """Like :func:`private_dir`; when ``root`` was shared, everything below it is made
    private too (an install from before this rule). A private root is not walked again."""
    shared = root.is_dir() and make_private(root)
    private_dir(root)
    if shared:
        changed = 1
        for folder, dirs, files in os.walk(root):
            changed += sum(make_private(Path(folder) / name) for name in (*dirs, *files))
        log.info("made %s and %d entries below it private to their owner", root, changed - 1)
    return root


def create_private_file(path: Path) -> bool:
    """Create an empty 0600 file unless one exists (then make it private); True if created."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        if make_private(path):
            log.info("made %s private to its owner (it was readable by others)", path)
        return False
    return True
