from __future__ import annotations

import io
import os
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import apsw
import pytest
from PIL import Image

from assistant.auth import PasswordHasher
from assistant.errors import BackendError, Conflict
from assistant.services import build_services
from assistant.settings import Settings
from assistant.store import Database, Migration
from assistant.store.migrate import load_migrations

STEPS = [
    Migration(
        1, "things", "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    ),
    Migration(2, "more", "ALTER TABLE things ADD COLUMN size INTEGER;"),
]


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


def test_shipped_migrations_are_numbered_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_migrations_apply_once_and_record_the_version(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = Database.open(path, migrations=STEPS[:1])
    assert db.schema_version == 1
    db.close()
    db = Database.open(path, migrations=STEPS)
    assert db.schema_version == 2
    with db.read() as conn:
        assert [r["version"] for r in conn.all("SELECT version FROM schema_migrations")] == [1, 2]
        assert conn.scalar("PRAGMA user_version") == 2
    db.close()
    db = Database.open(path, migrations=STEPS)  # idempotent: nothing left to apply
    assert db.schema_version == 2
    db.close()


def test_pragmas(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite", busy_timeout_ms=1234, migrations=STEPS)
    with db.read() as conn:
        assert conn.scalar("PRAGMA journal_mode") == "wal"
        assert conn.scalar("PRAGMA foreign_keys") == 1
        assert conn.scalar("PRAGMA synchronous") == 1  # NORMAL
    db.close()


def test_a_failed_migration_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    broken = [
        *STEPS[:1],
        Migration(2, "broken", "CREATE TABLE half (x); SELECT nonsense FROM nowhere;"),
    ]
    with pytest.raises(BackendError, match="0002_broken"):
        Database.open(path, migrations=broken)
    db = Database.open(path, migrations=STEPS[:1])
    with db.read() as conn:
        assert conn.one("SELECT name FROM sqlite_master WHERE name = 'half'") is None
    assert db.schema_version == 1
    db.close()


def test_a_database_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    Database.open(path, migrations=STEPS).close()
    with pytest.raises(BackendError, match="newer than this program"):
        Database.open(path, migrations=STEPS[:1])


def test_write_rolls_back_on_error(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite", migrations=STEPS)
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute("INSERT INTO things (name) VALUES ('a')")
        raise RuntimeError("boom")
    with db.read() as conn:
        assert conn.scalar("SELECT count(*) FROM things") == 0
    with pytest.raises(Conflict), db.write() as conn:
        conn.execute("INSERT INTO things (name) VALUES ('a')")
        conn.execute("INSERT INTO things (name) VALUES ('a')")
    db.close()


def test_concurrent_writers_lose_nothing_and_never_see_locked(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite", busy_timeout_ms=0, migrations=STEPS)
    workers, per_worker = 16, 50

    def work(worker: int) -> None:
        for i in range(per_worker):
            with db.write() as conn:
                conn.execute("INSERT INTO things (name, size) VALUES (?, ?)", (f"{worker}-{i}", i))
            with db.read() as conn:
                conn.scalar("SELECT count(*) FROM things")

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, range(workers)))
    with db.read() as conn:
        assert conn.scalar("SELECT count(*) FROM things") == workers * per_worker
    db.close()


def test_readers_see_committed_data_only_and_do_not_block_the_writer(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite", migrations=STEPS)
    inside = threading.Event()
    release = threading.Event()

    def slow_writer() -> None:
        with db.write() as conn:
            conn.execute("INSERT INTO things (name) VALUES ('pending')")
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert inside.wait(5)
    with db.read() as conn:
        assert conn.scalar("SELECT count(*) FROM things") == 0
    release.set()
    thread.join()
    with db.read() as conn:
        assert conn.scalar("SELECT count(*) FROM things") == 1
    db.close()


def test_backup_is_a_consistent_copy(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite", migrations=STEPS)
    with db.write() as conn:
        for i in range(100):
            conn.execute("INSERT INTO things (name) VALUES (?)", (f"n{i}",))
    target = tmp_path / "backup.sqlite"
    db.backup(target)
    copy = apsw.Connection(str(target))
    assert next(copy.execute("SELECT count(*) FROM things"))[0] == 100
    copy.close()
    with pytest.raises(Conflict, match="already exists"):
        db.backup(target)
    db.close()


def test_closed_database_says_so(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite", migrations=STEPS)
    db.close()
    with pytest.raises(BackendError, match="closed"), db.write():
        pass


def test_info(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite", migrations=STEPS)
    info = db.info()
    assert info["schema_version"] == 2
    assert info["journal_mode"] == "wal"
    assert [m["name"] for m in info["migrations"]] == ["things", "more"]
    db.close()


@pytest.fixture
def shared_umask() -> Iterator[None]:
    """The usual 022 umask, under which files are created readable by everyone."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_its_wal_are_private(tmp_path: Path, shared_umask: None) -> None:
    path = tmp_path / "new" / "db.sqlite"
    db = Database.open(path, migrations=STEPS)
    with db.write() as conn:
        conn.execute("INSERT INTO things (name) VALUES ('secret')")
    assert mode(path.parent) == 0o700
    for name in ("db.sqlite", "db.sqlite-wal", "db.sqlite-shm"):
        assert mode(path.parent / name) == 0o600, name
    target = tmp_path / "backup.sqlite"
    db.backup(target)
    assert mode(target) == 0o600
    db.close()


def test_an_existing_database_readable_by_others_is_made_private(
    tmp_path: Path, shared_umask: None
) -> None:
    path = tmp_path / "db.sqlite"
    Database.open(path, migrations=STEPS).close()
    for name in ("db.sqlite", "db.sqlite-wal", "db.sqlite-shm"):
        (tmp_path / name).touch()
        (tmp_path / name).chmod(0o644)
    db = Database.open(path, migrations=STEPS)
    for name in ("db.sqlite", "db.sqlite-wal", "db.sqlite-shm"):
        assert mode(tmp_path / name) == 0o600, name
    db.close()


def test_a_failed_backup_leaves_no_file(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "db.sqlite", migrations=STEPS)
    db.close()
    with pytest.raises(BackendError):
        db.backup(tmp_path / "backup.sqlite")
    assert not (tmp_path / "backup.sqlite").exists()


def test_the_data_directory_is_private(tmp_path: Path, shared_umask: None) -> None:
    """Conversations, password hashes, keys and avatars: nobody else on the machine may
    read them (they were 0644 in a 0755 folder)."""
    settings = Settings.load(data_dir=tmp_path / "data")
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    try:
        user = services.auth.create_user("ada", "correct horse battery")
        services.profile.set_avatar(user.id, PNG)
    finally:
        services.close()
    data = settings.data_dir
    shared = [
        f"{path.relative_to(data)} {mode(path):o}"
        for path in [data, *data.rglob("*")]
        if mode(path) & 0o077
    ]
    assert shared == []
    blobs = list(settings.blobs_dir.rglob("*"))
    assert blobs and all(mode(p) == (0o700 if p.is_dir() else 0o600) for p in blobs)
    assert mode(settings.db_path) == 0o600


def test_an_older_install_is_made_private_at_start_up(tmp_path: Path, shared_umask: None) -> None:
    settings = Settings.load(data_dir=tmp_path / "data")
    build_services(settings, hasher=PasswordHasher.fast_for_tests()).close()
    avatar = settings.blobs_dir / "ab" / ("ab" + "0" * 62)
    avatar.parent.mkdir()
    avatar.write_bytes(PNG)
    for path in [settings.data_dir, *settings.data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    build_services(settings, hasher=PasswordHasher.fast_for_tests()).close()
    for path in (
        settings.data_dir,
        settings.secrets_dir,
        settings.blobs_dir,
        avatar.parent,
    ):
        assert mode(path) == 0o700, path
    for path in (settings.db_path, settings.secrets_dir / "jwt-keys.json", avatar):
        assert mode(path) == 0o600, path
