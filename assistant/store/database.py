"""The SQLite connection layer (apsw).

One writer connection behind a lock (``write()``: ``BEGIN IMMEDIATE`` ... ``COMMIT``),
so concurrent requests queue for the write lock instead of failing with "database is
locked"; a pool of reader connections that see only committed data (WAL lets them run
beside the writer). Other processes (the CLI while the server runs) are covered by the
busy timeout.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw

from assistant.errors import BackendError, Conflict, InvalidInput
from assistant.store.migrate import Migration, apply_migrations, load_migrations
from assistant.store.permissions import (
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    create_private_file,
    make_private,
)

log = logging.getLogger(__name__)

Row = dict[str, Any]
Params = Sequence[Any] | dict[str, Any]


def _dict_row(cursor: apsw.Cursor, row: apsw.SQLiteValues) -> Row:
    return {column[0]: value for column, value in zip(cursor.get_description(), row, strict=True)}


MAX_INTEGER = 2**63 - 1
"""The largest integer SQLite stores: ids and cursors from clients are checked against it."""


class Connection:
    """A thin, typed view over one apsw connection, rows as dicts."""

    def __init__(self, raw: apsw.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Params = ()) -> apsw.Cursor:
        """Run one statement."""
        try:
            return self.raw.execute(sql, params)
        except apsw.ConstraintError as exc:
            raise Conflict(f"Constraint violated: {exc}") from exc

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query."""
        return list(self.execute(sql, params))

    def one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""
        for row in self.execute(sql, params):
            return row  # type: ignore[no-any-return]
        return None

    def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.one(sql, params)
        return None if row is None else next(iter(row.values()))

    def changes(self) -> int:
        """Rows changed by the last statement."""
        return int(self.raw.changes())


class Database:
    """The runtime's one SQLite file: pragmas, migrations, a writer and readers."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._write_lock = threading.Lock()
        self._writer: Connection | None = None
        self._readers: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self._all: list[Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self.schema_version = 0

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        busy_timeout_ms: int = 5000,
        migrations: Sequence[Migration] | None = None,
    ) -> Database:
        """Open (creating if needed) the database and apply pending migrations.

        The file is its owner's alone (0600), and so are the WAL and shared-memory files
        SQLite creates beside it with the database's own permissions; an older database
        readable by others is made private here.
        """
        path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        create_private_file(path)
        for companion in ("-wal", "-shm", "-journal"):
            make_private(path.with_name(path.name + companion))
        db = cls(path, busy_timeout_ms=busy_timeout_ms)
        writer = db._connect()
        db._writer = writer
        with db._write_lock:
            db.schema_version = apply_migrations(
                writer.raw, load_migrations() if migrations is None else migrations
            )
        log.debug("database %s open at schema version %d", path, db.schema_version)
        return db

    def _connect(self) -> Connection:
        if self._closed:
            raise BackendError("The database is closed")
        try:
            raw = apsw.Connection(str(self.path))
            raw.set_busy_timeout(self.busy_timeout_ms)
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=NORMAL")
            raw.execute("PRAGMA foreign_keys=ON")
            # Deleted history is overwritten on disk, not left in free pages.
            raw.execute("PRAGMA secure_delete=ON")
        except apsw.Error as exc:
            raise BackendError(f"Cannot open database {self.path}: {exc}") from exc
        raw.row_trace = _dict_row
        conn = Connection(raw)
        with self._all_lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction; writers queue on a lock, so none sees "database is locked"."""
        with self._write_lock:
            writer = self._writer
            if writer is None or self._closed:
                raise BackendError("The database is closed")
            writer.raw.execute("BEGIN IMMEDIATE")
            try:
                yield writer
            except BaseException:
                writer.raw.execute("ROLLBACK")
                raise
            else:
                writer.raw.execute("COMMIT")

    @contextmanager
    def _borrow(self) -> Iterator[Connection]:
        try:
            conn = self._readers.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        finally:
            if self._closed:
                conn.raw.close()
            else:
                self._readers.put(conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A reader on one snapshot of the last committed state; it never blocks the writer."""
        with self._borrow() as conn:
            conn.raw.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.raw.execute("COMMIT")

    def backup(self, target: Path) -> None:
        """Write a consistent, compacted copy of the live database to ``target``."""
        if not target.parent.is_dir():
            raise InvalidInput(f"Folder {target.parent} does not exist", field="path")
        # SQLite would create the copy readable by everyone; it fills an empty file as is.
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
        except FileExistsError as exc:
            raise Conflict(f"Backup target {target} already exists; choose a new path") from exc
        try:
            # VACUUM INTO copies one snapshot; run on a reader it never holds up the writer.
            with self._borrow() as conn:
                try:
                    conn.raw.execute("VACUUM INTO ?", (str(target),))
                except apsw.Error as exc:
                    raise BackendError(f"Backup to {target} failed: {exc}") from exc
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    def info(self) -> dict[str, Any]:
        """Size, schema version and journal mode of the database."""
        with self.read() as conn:
            page_size = int(conn.scalar("PRAGMA page_size"))
            pages = int(conn.scalar("PRAGMA page_count"))
            free = int(conn.scalar("PRAGMA freelist_count"))
            journal = str(conn.scalar("PRAGMA journal_mode"))
            applied = conn.all(
                "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
            )
        return {
            "path": str(self.path),
            "schema_version": self.schema_version,
            "size_bytes": page_size * pages,
            "free_bytes": page_size * free,
            "journal_mode": journal,
            "migrations": applied,
        }

    def close(self) -> None:
        """Close every connection; later use raises BackendError."""
        with self._write_lock:
            self._closed = True
            with self._all_lock:
                for conn in self._all:
                    conn.raw.close()
                self._all.clear()
            self._writer = None
        log.debug("database %s closed", self.path)
