"""atomic_write: the target is old or new, never a part; failures leave nothing behind."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runtime.files import atomic_write, replace_durably


def leftovers(folder: Path, keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


def test_a_new_file_appears_with_its_bytes_and_mode(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "model.bin"
    with atomic_write(target, mode=0o600) as out:
        out.write(b"new bytes")
    assert target.read_bytes() == b"new bytes"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert leftovers(target.parent, keep="model.bin") == []


def test_the_default_mode_is_readable_by_all_whatever_the_temporary_file_had(
    tmp_path: Path,
) -> None:
    with atomic_write(tmp_path / "m") as out:
        out.write(b"x")
    assert stat.S_IMODE((tmp_path / "m").stat().st_mode) == 0o644


def test_until_the_block_ends_readers_see_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "m"
    target.write_bytes(b"old")
    with atomic_write(target) as out:
        out.write(b"new, ")
        out.flush()
        assert target.read_bytes() == b"old"
        out.write(b"complete")
    assert target.read_bytes() == b"new, complete"


def test_a_failure_in_the_block_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "m"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="converter broke"), atomic_write(target) as out:
        out.write(b"half of the new")
        raise RuntimeError("converter broke")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path, keep="m") == []


def test_a_failure_before_any_file_existed_leaves_the_folder_empty(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_write(tmp_path / "m") as out:
        out.write(b"x")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_to_disk_removes_the_temporary_file(tmp_path: Path) -> None:
    """A real write error (the file-size limit, as a full disk would) in a child process."""
    script = textwrap.dedent(
        """
        import resource, signal, sys
        from pathlib import Path
        from runtime.files import atomic_write

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        target = Path(sys.argv[1])
        try:
            with atomic_write(target) as out:
                out.write(b"y" * 100_000)
        except OSError as exc:
            print(exc.errno)
        """
    )
    target = tmp_path / "m"
    target.write_bytes(b"old")
    done = subprocess.run(
        [sys.executable, "-c", script, str(target)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert done.stdout.strip() == str(errno.EFBIG)
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path, keep="m") == []


class SyncRecorder:
    """Records, at each fsync, what was synced and what the target held at that moment."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.calls: list[tuple[str, bytes | None]] = []

    def __call__(self, fd: int) -> None:
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        held = self.target.read_bytes() if self.target.exists() else None
        self.calls.append((kind, held))
        os.fsync(fd)


def test_the_bytes_are_synced_before_the_rename_and_the_folder_after(tmp_path: Path) -> None:
    target = tmp_path / "m"
    target.write_bytes(b"old")
    synced = SyncRecorder(target)
    with atomic_write(target, fsync=synced) as out:
        out.write(b"new")
    assert synced.calls == [("file", b"old"), ("folder", b"new")]


def test_replace_durably_syncs_the_open_file_then_the_folder(tmp_path: Path) -> None:
    part = tmp_path / "m.part"
    target = tmp_path / "m"
    synced = SyncRecorder(target)
    with part.open("wb") as handle:
        handle.write(b"resumed and complete")  # buffered: replace_durably must flush it
        replace_durably(handle, part, target, fsync=synced)
    assert synced.calls == [("file", None), ("folder", b"resumed and complete")]
    assert not part.exists()
