"""``/api/v1/models``: what is installed and loaded; load and unload (admin)."""

from __future__ import annotations

import anyio
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from assistant.errors import NotFound
from server.deps import ManagerDep, ModelsDep, PrincipalDep
from server.problems import JSON_BODY, PARAMETERS, problems
from server.schemas.models import (
    InstalledModelOut,
    LoadedModelOut,
    LoadRequest,
    ModelsOut,
    RemoteModelOut,
)
from server.security import require_admin


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
