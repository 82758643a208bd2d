"""``/api/v1/models``: what is installed and loaded; load and unload, pull with progress
and remove (admin)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from assistant.errors import NotFound
from runtime.modelstore import InstalledModel
from server.deps import ManagerDep, ModelsDep, PrincipalDep
from server.docs import SSE, component, documented, event, event_stream
from server.problems import JSON_BODY, PARAMETERS, problem_event, problems
from server.requestid import ensure_request_id
from server.schemas.chat import sse
from server.schemas.models import (
    CatalogueModelOut,
    InstalledModelOut,
    LoadedModelOut,
    LoadRequest,
    ModelsOut,
    PullProgressOut,
    PullRequest,
    RemoteModelOut,
)
from server.security import require_admin
from server.streams import guarded

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
PROGRESS_STEP = 0.005
"""A progress event at most every half per cent of a download (no clock needed)."""
UNKNOWN_TOTAL_STEP = 1 << 20
"""Or every MiB when the source does not tell the size."""
PULL_STREAM = event_stream(
    "One event of a pull: `progress` for each download as it goes, then `done` with the"
    " installed model, or `error` (a problem document).",
    event(
        "progress",
        {
            "type": "object",
            "required": ["description", "done_bytes", "total_bytes"],
            "properties": {
                "description": {"type": "string"},
                "done_bytes": {"type": "integer"},
                "total_bytes": {"type": ["integer", "null"]},
            },
        },
    ),
    event("done", component("InstalledModelOut")),
    event("error", component("Problem")),
)


class StreamedProgress:
    """A runtime Progress that hands throttled events from the pulling thread to the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[PullProgressOut]):
        self.loop = loop
        self.queue = queue
        self.description = ""
        self.total: int | None = None
        self.done = 0
        self.sent = -1

    def start(self, description: str, total: int | None) -> None:
        """A new download begins."""
        self.description, self.total, self.done, self.sent = description, total, 0, -1
        self._post(force=True)

    def advance(self, amount: int) -> None:
        """More bytes arrived."""
        self.done += amount
        self._post(force=False)

    def finish(self) -> None:
        """The download is over."""
        self._post(force=True)

    def _post(self, *, force: bool) -> None:
        step = UNKNOWN_TOTAL_STEP if not self.total else max(1, int(self.total * PROGRESS_STEP))
        if not force and self.done - self.sent < step:
            return
        self.sent = self.done
        update = PullProgressOut(
            description=self.description, done_bytes=self.done, total_bytes=self.total
        )
        self.loop.call_soon_threadsafe(self.queue.put_nowait, update)


class ModelsController(Controller):
    """The model store and the model manager."""

    path = "/api/v1/models"
    tags = ["models"]

    @get("/", responses=problems(401), summary="Installed and loaded models")
    async def list_models(
        self, models: ModelsDep, manager: ManagerDep, principal: PrincipalDep
    ) -> ModelsOut:
        """Installed models, the loaded ones with memory, queue and keep-alive, the budget,
        and the remote engines with their health and latency."""
        installed = await anyio.to_thread.run_sync(models.installed)
        now = manager.clock()
        return ModelsOut(
            installed=[InstalledModelOut.of(m) for m in installed],
            loaded=[LoadedModelOut.of(m, now) for m in manager.status()],
            budget_mb=manager.budget_mb,
            used_mb=round(manager.used_mb, 1),
            preload=dict(manager.preload_state),
            remote=[RemoteModelOut.of(r, now) for r in manager.remote_status()],
        )

    @post(
        "/{model_id:str}/load",
        status_code=HTTP_200_OK,
        responses=problems(*JSON_BODY, 401, 403, 404, 503),
        summary="Load a model now (admin)",
    )
    async def load(
        self,
        model_id: FromPath[str],
        manager: ManagerDep,
        principal: PrincipalDep,
        data: JSONBody[LoadRequest | None] = None,
    ) -> LoadedModelOut:
        """Evicts least recently used models if the budget requires; 503 when it cannot fit."""
        require_admin(principal)
        keep_alive = data.keep_alive if data else None
        loaded = await manager.load(model_id, keep_alive_seconds=keep_alive)
        return LoadedModelOut.of(loaded, manager.clock())

    @post(
        "/{model_id:str}/unload",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(*PARAMETERS, 401, 403, 404, 409),
        summary="Unload a model (admin)",
    )
    async def unload(
        self, model_id: FromPath[str], manager: ManagerDep, principal: PrincipalDep
    ) -> None:
        """409 while a request is using it."""
        require_admin(principal)
        if not await manager.unload(model_id):
            raise NotFound(f"{model_id} is not loaded")

    @get(
        "/catalogue",
        responses=problems(401, 403),
        summary="Models the catalogue can install (admin)",
    )
    async def catalogue(
        self, models: ModelsDep, principal: PrincipalDep
    ) -> list[CatalogueModelOut]:
        """Every model of the manifest, with its download size and whether it is installed."""
        require_admin(principal)
        installed = {m.id for m in await anyio.to_thread.run_sync(models.installed)}
        return [
            CatalogueModelOut.of(entry, entry.id in installed)
            for entry in sorted(models.manifest.models.values(), key=lambda e: e.id)
        ]

    @post(
        "/pull",
        status_code=HTTP_200_OK,
        responses=problems(*JSON_BODY, 401, 403, 404),
        operation_class=documented(answers={SSE: PULL_STREAM}),
        summary="Install a catalogue model, streaming its progress (admin)",
    )
    async def pull(
        self,
        data: JSONBody[PullRequest],
        models: ModelsDep,
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> Stream:
        """The same as `assistant models pull`: a free-disk check, verified downloads, an
        atomic install. Events: ``progress`` (description, done_bytes, total_bytes) per
        download, then ``done`` (the installed model) or ``error``. A model not in the
        catalogue is a 404 before the stream starts. The pull goes on if the client leaves."""
        require_admin(principal)
        models.manifest.get(data.model)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[PullProgressOut] = asyncio.Queue()
        progress = StreamedProgress(loop, queue)

        def install() -> InstalledModel:
            return models.pull(data.model, progress=progress, force=data.force)

        work = asyncio.ensure_future(anyio.to_thread.run_sync(install))

        async def events() -> AsyncIterator[bytes]:
            while not work.done():
                waiting = asyncio.ensure_future(queue.get())
                await asyncio.wait({waiting, work}, return_when=asyncio.FIRST_COMPLETED)
                if waiting.done():
                    yield sse("progress", msgspec.to_builtins(waiting.result()))
                else:
                    waiting.cancel()
            while not queue.empty():
                yield sse("progress", msgspec.to_builtins(queue.get_nowait()))
            yield sse("done", msgspec.to_builtins(InstalledModelOut.of(work.result())))

        path, request_id = request.url.path, ensure_request_id(request.scope)
        body = guarded(
            events(),
            lambda exc: sse("error", problem_event(exc, instance=path, request_id=request_id)),
        )
        return Stream(body, media_type=SSE, headers=SSE_HEADERS)

    @delete(
        "/{model_id:str}",
        responses=problems(*PARAMETERS, 401, 403, 409, 422, 503),
        summary="Remove an installed model (admin)",
    )
    async def remove(
        self,
        model_id: FromPath[str],
        models: ModelsDep,
        manager: ManagerDep,
        principal: PrincipalDep,
    ) -> None:
        """Unloads it first (409 while a request is using it); files no other model
        shares are deleted. A model that is not installed answers 503 like a load does."""
        require_admin(principal)
        await anyio.to_thread.run_sync(models.require, model_id)
        await manager.unload(model_id)
        await anyio.to_thread.run_sync(models.remove, model_id)
