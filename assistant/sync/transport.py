"""How the bridge talks to its remote: another instance of this server's ``/api/v1``.

UpstreamError
└── RemoteFailed            one round failed; ``outcome`` says how
    ├── RemoteUnreachable   connection refused, timed out, 5xx: try again later
    ├── RemoteUnauthorized  the API key is wrong or revoked: fix the config
    └── RemoteRefused       an answer this bridge cannot use (4xx, bad JSON)
PreconditionFailed
└── StaleCursor             the remote moved on since the last pull: pull, push again
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar, Protocol

import httpx

from assistant.errors import PreconditionFailed, UpstreamError
from assistant.sync.models import ChangePage, FieldChange, Outcome, PushResult, Rejected
from runtime.tls import tls_context

CHANGES_PATH = "/api/v1/profile/changes"


class RemoteFailed(UpstreamError):
    """A sync round could not finish."""

    outcome: ClassVar[Outcome] = Outcome.REMOTE_ERROR


class RemoteUnreachable(RemoteFailed):
    """The remote did not answer, or answered with a server error."""

    outcome = Outcome.UNREACHABLE


class RemoteUnauthorized(RemoteFailed):
    """The remote refused the API key."""

    outcome = Outcome.UNAUTHORIZED


class RemoteRefused(RemoteFailed):
    """The remote answered something the bridge cannot use."""

    outcome = Outcome.REMOTE_ERROR


class StaleCursor(PreconditionFailed):
    """The remote's change log moved past the cursor the push was based on."""


class Transport(Protocol):
    """One user's remote profile change log."""

    def pull(self, cursor: int, limit: int) -> ChangePage:
        """Changes after ``cursor``."""

    def push(self, device: str, cursor: int, changes: list[FieldChange]) -> PushResult:
        """Merge ``changes`` if the remote is still at ``cursor`` (else ``StaleCursor``)."""

    def close(self) -> None:
        """Release connections."""


def change_of(data: Any) -> FieldChange:
    """A change from its JSON form; ``RemoteRefused`` if it is not one."""
    try:
        return FieldChange(
            field=str(data["field"]),
            value=data.get("value"),
            deleted=bool(data.get("deleted", False)),
            hlc=str(data["hlc"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise RemoteRefused(f"The remote sent a malformed change: {data!r}") from exc


class HttpTransport:
    """The remote over HTTP, authenticated with an API key of the user's remote account."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            verify=tls_context(),
            base_url=self.url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout_seconds,
            transport=transport,
            follow_redirects=False,
        )

    def pull(self, cursor: int, limit: int) -> ChangePage:
        """GET the changes after ``cursor``."""
        data = self._call("GET", CHANGES_PATH, params={"since": cursor, "limit": limit})
        try:
            return ChangePage(
                changes=[change_of(item) for item in data["changes"]],
                cursor=int(data["cursor"]),
                more=bool(data["more"]),
                device=str(data["device"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RemoteRefused(f"The remote's change page is malformed: {exc}") from exc

    def push(self, device: str, cursor: int, changes: list[FieldChange]) -> PushResult:
        """POST the changes with ``If-Match: "cursor"``."""
        body = {"device": device, "changes": [asdict(c) for c in changes]}
        data = self._call("POST", CHANGES_PATH, json=body, headers={"If-Match": f'"{cursor}"'})
        try:
            return PushResult(
                applied=int(data["applied"]),
                ignored=int(data["ignored"]),
                rejected=[Rejected(str(r["field"]), str(r["reason"])) for r in data["rejected"]],
                cursor=int(data["cursor"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RemoteRefused(f"The remote's push answer is malformed: {exc}") from exc

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RemoteUnreachable(f"{self.url} is unreachable: {exc}") from exc
        status = answer.status_code
        if status == 412:
            raise StaleCursor("The remote changed since the last pull")
        if status in (401, 403):
            raise RemoteUnauthorized(
                f"{self.url} refused the API key ({status}); set a valid one with"
                " `assistant sync enable` or PUT /api/v1/sync/config"
            )
        if status >= 500 or status == 429:
            raise RemoteUnreachable(f"{self.url} answered {status}; trying again later")
        if status != 200:
            raise RemoteRefused(
                f"{self.url} answered {status} to {method} {path}: {_detail(answer)}"
            )
        try:
            return answer.json()
        except ValueError as exc:
            raise RemoteRefused(f"{self.url} answered something that is not JSON") from exc


def _detail(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("detail", ""))[:200]
    except (ValueError, AttributeError):
        return answer.text[:200]
