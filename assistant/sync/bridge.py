"""The sync bridge: keeps each user's profile and preferences in step with a remote.

Offline-first: local writes never wait for it (the profile service records them in the
change log's outbox in their own transaction). A round pulls the remote's changes since
the last cursor and merges them, then pushes the outbox with ``If-Match: "cursor"``;
a 412 means the remote moved on meanwhile, so the round pulls again and retries. Rounds
run in the background (on a timer, soon after a local write, and with exponential
backoff plus jitter after failures) and on demand (``POST /api/v1/sync/now``,
``assistant sync now``). A failing remote is logged once per kind of failure, not per
attempt; a refused API key waits the longest backoff, since retrying cannot fix it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from assistant.auth import store as auth_store
from assistant.clock import Clock, system_clock, to_ms
from assistant.errors import BackendError, InvalidInput, NotFound
from assistant.settings import SyncSettings
from assistant.store import Database
from assistant.sync import store
from assistant.sync.changes import ChangeLog
from assistant.sync.models import Outcome, Resolution, RoundResult, SyncStatus
from assistant.sync.secrets import Sealer
from assistant.sync.transport import (
    HttpTransport,
    RemoteFailed,
    StaleCursor,
    Transport,
)
from assistant.urls import split_url

log = logging.getLogger(__name__)

PAGE_SIZE = 500
PUSH_ATTEMPTS = 5
"""Pull-then-push attempts in one round while the remote keeps moving (412)."""
RECENT_CONFLICTS = 20
KEPT_CONFLICTS = 100

TransportFactory = Callable[[str, str], Transport]
"""Makes the transport to a remote from its URL and API key."""


@dataclass(frozen=True)
class RemoteConfig:
    """The remote a user syncs with."""

    url: str
    """Base URL of the remote instance."""
    api_key: str
    """An API key of the user's account there."""
    source: str
    """``user`` (set through the API or CLI) or ``settings`` (the device-wide default)."""


def http_transports(timeout_seconds: float) -> TransportFactory:
    """Transports over HTTP with the given timeout."""

    def make(url: str, api_key: str) -> Transport:
        return HttpTransport(url, api_key, timeout_seconds=timeout_seconds)

    return make


def check_url(url: str) -> str:
    """A remote's base URL, normalised; ``InvalidInput`` naming the field otherwise."""
    parts = split_url(url.strip(), "url")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url must be an http(s) URL such as https://cloud.example", field="url")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidInput(
            "url must not carry credentials, a query or a fragment (send the API key as api_key)",
            field="url",
        )
    return url.strip().rstrip("/")


def backoff_seconds(failures: int, initial: float, maximum: float, draw: float) -> float:
    """Delay before the next attempt after ``failures`` failures in a row: exponential,
    capped, with "equal jitter" (half fixed, half drawn from ``draw`` in [0, 1))."""
    delay: float = min(maximum, initial * 2.0 ** min(max(failures - 1, 0), 60))
    return delay / 2 + delay / 2 * draw


class SyncBridge:
    """Runs sync rounds for every user who has a remote, and reports how they went."""

    def __init__(
        self,
        db: Database,
        changes: ChangeLog,
        settings: SyncSettings,
        sealer: Sealer,
        transports: TransportFactory | None = None,
        clock: Clock = system_clock,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.changes = changes
        self.settings = settings
        self.sealer = sealer
        self.transports = transports or http_transports(settings.timeout_seconds)
        self.clock = clock
        self.draw = draw
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._woken: set[str] = set()
        self._unusable: set[str] = set()
        changes.on_change(self._wake)

    # Configuration ------------------------------------------------------------------

    def configure(self, user_id: str, url: str, api_key: str) -> SyncStatus:
        """Sync ``user_id`` with ``url`` using ``api_key`` (an API key of the user's account
        on the remote); the key is stored sealed and never shown again."""
        url = check_url(url)
        api_key = api_key.strip()
        if not api_key or len(api_key) > 512:
            raise InvalidInput("api_key must be 1 to 512 characters", field="api_key")
        now = self._now_ms()
        with self.db.write() as conn:
            store.put_remote(conn, user_id, url, self.sealer.seal(api_key), now)
            store.ensure_state(conn, user_id, url, fresh=True)
            store.update_state(conn, user_id, next_attempt_at=now)
        self._woken.add(user_id)
        log.info("sync of %s enabled with %s", user_id, url)
        return self.status(user_id)

    def remove(self, user_id: str) -> None:
        """Stop syncing ``user_id`` with the remote it set (the device default may remain)."""
        with self.db.write() as conn:
            if not store.delete_remote(conn, user_id):
                raise NotFound("This account has no sync configuration of its own")
        log.info("sync of %s disabled", user_id)

    def remote_for(self, user_id: str) -> RemoteConfig | None:
        """The user's own remote, else the device-wide one if it serves this user."""
        with self.db.read() as conn:
            row = store.get_remote(conn, user_id)
        if row is not None:
            return RemoteConfig(row["url"], self.sealer.open(row["api_key_sealed"]), "user")
        default = self.settings
        if default.url and default.token and self._default_user() == user_id:
            return RemoteConfig(
                check_url(default.url), default.token.get_secret_value(), "settings"
            )
        return None

    def users(self) -> list[str]:
        """Every user with a remote."""
        with self.db.read() as conn:
            users = store.remote_users(conn)
        default = self._default_user() if self.settings.url and self.settings.token else None
        if default is not None and default not in users:
            users.append(default)
        return users

    # Status and rounds --------------------------------------------------------------

    def status(self, user_id: str) -> SyncStatus:
        """Where the user's sync stands."""
        remote = self.remote_for(user_id)
        device = self.changes.device_id
        pending = len(self.changes.pending(user_id))
        with self.db.read() as conn:
            state = store.get_state(conn, user_id)
            recent = store.recent_conflicts(conn, user_id, RECENT_CONFLICTS)
        if state is not None and remote is not None and state["url"] != remote.url:
            state = None
        row: dict[str, Any] = state or {}
        return SyncStatus(
            enabled=remote is not None,
            url=remote.url if remote else None,
            source=remote.source if remote else None,
            device_id=device,
            pending=pending,
            last_attempt_at=row.get("last_attempt_at"),
            last_success_at=row.get("last_success_at"),
            last_error_code=row.get("last_error_code"),
            last_error=row.get("last_error"),
            failures=row.get("failures", 0),
            next_attempt_at=row.get("next_attempt_at") if remote else None,
            pushed_total=row.get("pushed_total", 0),
            pulled_total=row.get("pulled_total", 0),
            conflicts_total=row.get("conflicts_total", 0),
            recent_conflicts=recent,
        )

    def sync_now(self, user_id: str) -> RoundResult:
        """Run one round now (after any round already running for the user) and return
        its outcome."""
        remote = self.remote_for(user_id)
        if remote is None:
            raise NotFound(
                "Sync is not set up for this account: PUT /api/v1/sync/config or"
                " `assistant sync enable`"
            )
        with self._lock(user_id):
            return self._round(user_id, remote)

    def run_due(self) -> list[RoundResult]:
        """Run the rounds that are due: timers expired, or a local write to push (unless
        the remote is failing, when the backoff decides)."""
        now = self._now_ms()
        results = []
        for user_id in self.users():
            with self.db.read() as conn:
                state = store.get_state(conn, user_id)
            woken = user_id in self._woken and (state is None or state["failures"] == 0)
            due = (
                state is None or state["next_attempt_at"] is None or state["next_attempt_at"] <= now
            )
            if not (woken or due):
                continue
            lock = self._lock(user_id)
            if not lock.acquire(blocking=False):
                continue
            try:
                self._woken.discard(user_id)
                remote = self.remote_for(user_id)
                if remote is not None:
                    results.append(self._round(user_id, remote))
                self._unusable.discard(user_id)
            except BackendError as exc:
                # A key sealed with a replaced key file: say so once, not every tick.
                if user_id not in self._unusable:
                    log.error("sync of %s cannot run: %s", user_id, exc.detail)
                self._unusable.add(user_id)
            finally:
                lock.release()
        return results

    def _round(self, user_id: str, remote: RemoteConfig) -> RoundResult:
        started = self._now_ms()
        with self.db.write() as conn:
            state = store.ensure_state(conn, user_id, remote.url)
            store.update_state(conn, user_id, last_attempt_at=started)
        transport = self.transports(remote.url, remote.api_key)
        pulled = pushed = 0
        conflicts: list[Resolution] = []
        cursor = int(state["cursor"])
        remote_device = state["remote_device"]
        try:
            for _attempt in range(PUSH_ATTEMPTS):
                cursor, remote_device, merged, found = self._pull(
                    transport, user_id, cursor, remote_device
                )
                pulled += merged
                conflicts += found
                outbox = self.changes.pending(user_id)
                if not outbox:
                    break
                try:
                    answer = transport.push(self.changes.device_id, cursor, outbox)
                except StaleCursor:
                    continue
                # Refused changes are acknowledged too: pushing them again cannot help.
                self.changes.acknowledge(user_id, outbox)
                pushed += answer.applied
                cursor = answer.cursor
                with self.db.write() as conn:
                    store.update_state(conn, user_id, cursor=cursor)
                if answer.rejected:
                    log.warning("sync: the remote refused %s", answer.rejected)
                break
            else:
                return self._failed(
                    user_id, started, Outcome.BUSY, "The remote kept changing; retrying soon"
                )
        except RemoteFailed as exc:
            return self._failed(user_id, started, exc.outcome, exc.detail)
        finally:
            transport.close()
        finished = self._now_ms()
        with self.db.write() as conn:
            previous = store.get_state(conn, user_id)
            store.update_state(
                conn,
                user_id,
                last_success_at=finished,
                last_error_code=None,
                last_error=None,
                failures=0,
                next_attempt_at=finished + int(self.settings.poll_seconds * 1000),
                pushed_total=(previous or {}).get("pushed_total", 0) + pushed,
                pulled_total=(previous or {}).get("pulled_total", 0) + pulled,
                conflicts_total=(previous or {}).get("conflicts_total", 0) + len(conflicts),
            )
            store.add_conflicts(conn, user_id, conflicts, finished, KEPT_CONFLICTS)
        if previous and previous["failures"]:
            log.info("sync of %s with %s works again", user_id, remote.url)
        return RoundResult(Outcome.OK, pulled, pushed, conflicts, None, started, finished)

    def _pull(
        self, transport: Transport, user_id: str, cursor: int, remote_device: str | None
    ) -> tuple[int, str | None, int, list[Resolution]]:
        """Merge every page after ``cursor``; the new cursor, remote device, count merged
        and conflicts resolved. A remote with another device id than before was replaced
        (restored from a backup, reinstalled): start from its beginning, push everything."""
        merged = 0
        conflicts: list[Resolution] = []
        while True:
            page = transport.pull(cursor, PAGE_SIZE)
            if remote_device is not None and page.device != remote_device:
                log.warning("sync: the remote of %s is a new installation; resyncing", user_id)
                with self.db.write() as conn:
                    conn.execute("UPDATE sync_fields SET pending = 1 WHERE user_id = ?", (user_id,))
                    store.update_state(conn, user_id, cursor=0, remote_device=page.device)
                remote_device, cursor = page.device, 0
                continue
            result = self.changes.merge(user_id, page.changes)
            merged += len(result.applied)
            conflicts += result.conflicts
            cursor, remote_device = page.cursor, page.device
            with self.db.write() as conn:
                store.update_state(conn, user_id, cursor=cursor, remote_device=remote_device)
            if not page.more:
                return cursor, remote_device, merged, conflicts

    def _failed(self, user_id: str, started: int, outcome: Outcome, detail: str) -> RoundResult:
        now = self._now_ms()
        with self.db.write() as conn:
            previous = store.get_state(conn, user_id)
            failures = (previous or {}).get("failures", 0) + 1
            initial, maximum = (
                self.settings.backoff_initial_seconds,
                self.settings.backoff_max_seconds,
            )
            if outcome is Outcome.UNAUTHORIZED:
                delay = maximum  # retrying cannot fix a refused key; changing it wakes us
            else:
                delay = backoff_seconds(failures, initial, maximum, self.draw())
            store.update_state(
                conn,
                user_id,
                last_error_code=outcome.value,
                last_error=detail,
                failures=failures,
                next_attempt_at=now + int(delay * 1000),
            )
        if previous is None or previous["last_error_code"] != outcome.value:
            log.warning(
                "sync of %s failed (%s): %s; retrying with backoff", user_id, outcome, detail
            )
        else:
            log.debug("sync of %s failed again (%s)", user_id, outcome)
        return RoundResult(outcome, error=detail, started_at=started, finished_at=now)

    # Internals --------------------------------------------------------------------

    def _default_user(self) -> str | None:
        """The local account the device-wide remote serves: ``sync.user``, else the
        oldest admin."""
        with self.db.read() as conn:
            if self.settings.user:
                user = auth_store.get_user_by_name(conn, self.settings.user)
                return user.id if user else None
            admins = [u for u in auth_store.list_users(conn) if u.role.value == "admin"]
        return admins[0].id if admins else None

    def _wake(self, user_id: str) -> None:
        self._woken.add(user_id)

    def _lock(self, user_id: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(user_id, threading.Lock())

    def _now_ms(self) -> int:
        return to_ms(self.clock())


async def run_sync(bridge: SyncBridge) -> None:
    """The background task of a server: run due rounds, every ``tick_seconds``, off the
    event loop, until cancelled. Never raises (a bug is logged, and the loop goes on)."""
    while True:
        try:
            await anyio.to_thread.run_sync(bridge.run_due)
        except Exception:
            log.exception("sync: a round failed unexpectedly")
        await anyio.sleep(bridge.settings.tick_seconds)
