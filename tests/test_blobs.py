"""The blob store: content-addressed, written atomically."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.errors import InvalidInput, NotFound
from assistant.store.blobs import BlobStore


def test_put_get_delete_by_hash(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha = blobs.put(b"an avatar")
    assert sha == hashlib.sha256(b"an avatar").hexdigest()
    assert blobs.put(b"an avatar") == sha
    assert blobs.get(sha) == b"an avatar"
    assert [p.name for p in blobs.path(sha).parent.iterdir()] == [sha]
    blobs.delete(sha)
    with pytest.raises(NotFound):
        blobs.get(sha)
    with pytest.raises(InvalidInput):
        blobs.path("../../etc/passwd")


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A real write error (the file-size limit, as a full disk would) in a child process."""
    script = textwrap.dedent(
        """
        import resource, signal, sys
        from pathlib import Path
        from assistant.store.blobs import BlobStore

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        try:
            BlobStore(Path(sys.argv[1])).put(b"y" * 100_000)
        except OSError as exc:
            print(exc.errno)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    assert done.stdout.strip() == str(errno.EFBIG)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
