"""An in-process remote for tests and the state-machine model: another change log
(another database) reached through direct calls, that can be taken offline."""

from __future__ import annotations

from assistant.errors import PreconditionFailed
from assistant.sync.changes import ChangeLog
from assistant.sync.models import ChangePage, FieldChange, PushResult
from assistant.sync.transport import RemoteUnauthorized, RemoteUnreachable, StaleCursor


class LocalRemote:
    """A remote account's change log, with a switch that makes it unreachable."""

    def __init__(self, log: ChangeLog, user_id: str, api_key: str = "ak_good") -> None:
        self.log = log
        self.user_id = user_id
        self.api_key = api_key
        self.online = True
        """False: every call fails as a network outage would."""
        self.lose_answers = False
        """True: pushes are applied but their answers lost (the connection drops)."""

    def transport(self, api_key: str) -> LocalTransport:
        """A transport presenting ``api_key``."""
        return LocalTransport(self, api_key)


class LocalTransport:
    """:class:`~assistant.sync.transport.Transport` over a :class:`LocalRemote`."""

    def __init__(self, remote: LocalRemote, api_key: str) -> None:
        self.remote = remote
        self.api_key = api_key

    def pull(self, cursor: int, limit: int) -> ChangePage:
        """The remote's changes after ``cursor``."""
        self._check()
        return self.remote.log.since(self.remote.user_id, cursor, limit)

    def push(self, device: str, cursor: int, changes: list[FieldChange]) -> PushResult:
        """Merge at the remote if it is still at ``cursor``."""
        self._check()
        try:
            result, last = self.remote.log.accept_push(self.remote.user_id, changes, cursor)
        except PreconditionFailed as exc:
            raise StaleCursor(exc.detail) from exc
        if self.remote.lose_answers:
            raise RemoteUnreachable("the connection dropped before the answer")
        return PushResult(len(result.applied), result.ignored, result.rejected, last)

    def close(self) -> None:
        """Nothing to release."""

    def _check(self) -> None:
        if not self.remote.online:
            raise RemoteUnreachable("the remote is offline")
        if self.api_key != self.remote.api_key:
            raise RemoteUnauthorized("the remote refused the API key")
