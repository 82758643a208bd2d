"""``/api/v1/sync`` (the caller's bridge to a cloud instance) and
``/api/v1/profile/changes`` (the change log that bridge reads and writes on the remote)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from assistant.store import MAX_INTEGER
from server.controllers.profile import expected_version
from server.deps import ChangesDep, PrincipalDep, SyncDep
from server.problems import JSON_BODY, PARAMETERS, problems
from server.schemas.sync import (
    ChangesOut,
    ChangesPush,
    PushOut,
    RejectedOut,
    RoundOut,
    SyncConfigIn,
    SyncStatusOut,
)


class SyncController(Controller):
    """The caller's sync with a remote instance of this server."""

    path = "/api/v1/sync"
    tags = ["sync"]

    @get("/status", sync_to_thread=True, responses=problems(401), summary="My sync status")
    def status(self, principal: PrincipalDep, sync: SyncDep) -> SyncStatusOut:
        """Whether sync is on, the last success, pending changes, the last error and the
        conflicts resolved (and who won)."""
        return SyncStatusOut.of(sync.status(principal.user_id))

    @put(
        "/config",
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401),
        summary="Sync my profile with a remote",
    )
    def configure(
        self, data: JSONBody[SyncConfigIn], principal: PrincipalDep, sync: SyncDep
    ) -> SyncStatusOut:
        """The remote is another instance of this server; the API key is one of your
        account there. The key is stored encrypted and never returned. A first round
        starts in the background."""
        return SyncStatusOut.of(sync.configure(principal.user_id, data.url, data.api_key))

    @delete(
        "/config",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=problems(401, 404),
        summary="Stop syncing my profile",
    )
    def remove(self, principal: PrincipalDep, sync: SyncDep) -> None:
        """Local data stays as it is; the device-wide default (settings) may still apply."""
        sync.remove(principal.user_id)

    @post(
        "/now",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(401, 404),
        summary="Sync now",
    )
    def now(self, principal: PrincipalDep, sync: SyncDep) -> RoundOut:
        """Run one round (pull, merge, push) and answer with its outcome when it is done.
        A remote that fails is an outcome (``unreachable``, ``unauthorized``...), not an
        error of this request."""
        return RoundOut.of(sync.sync_now(principal.user_id))


class ProfileChangesController(Controller):
    """The caller's profile change log: what the sync bridge of another device reads and
    writes when this instance is its cloud."""

    path = "/api/v1/profile/changes"
    tags = ["profile"]

    @get(
        "/",
        sync_to_thread=True,
        responses=problems(*PARAMETERS, 401),
        summary="Profile changes since a cursor",
    )
    def changes(
        self,
        principal: PrincipalDep,
        change_log: ChangesDep,
        since: Annotated[
            int, Parameter(ge=0, le=MAX_INTEGER, description="Change-log position seen")
        ] = 0,
        limit: Annotated[int, Parameter(ge=1, le=1000, description="Most changes")] = 500,
    ) -> Response[ChangesOut]:
        """The latest write of every field changed after ``since`` (each with its hybrid
        logical timestamp), oldest first; the ETag is the new cursor."""
        page = change_log.since(principal.user_id, since, limit)
        return Response(ChangesOut.of(page), headers={"ETag": f'"{page.cursor}"'})

    @post(
        "/",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 412),
        summary="Merge profile changes (conditional)",
    )
    def push(
        self,
        data: JSONBody[ChangesPush],
        principal: PrincipalDep,
        change_log: ChangesDep,
        request: Request[Any, Any, Any],
    ) -> PushOut:
        """Each change is applied if its timestamp is newer than the field's (last writer
        wins per field). With ``If-Match: "<cursor>"`` the push is refused with 412 when
        the log has moved past that cursor: pull the changes since then, merge, push again."""
        result, cursor = change_log.accept_push(
            principal.user_id, [c.change() for c in data.changes], expected_version(request)
        )
        return PushOut(
            applied=len(result.applied),
            ignored=result.ignored,
            rejected=[RejectedOut.of(r) for r in result.rejected],
            cursor=cursor,
        )
