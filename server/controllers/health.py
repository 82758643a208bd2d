"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.openapi.datastructures import ResponseSpec

from server.deps import DatabaseDep, ManagerDep, NotificationsDep
from server.problems import problems
from server.schemas.common import Status


class HealthController(Controller):
    """Probes for supervisors and load balancers; no authentication."""

    path = "/"
    tags = ["health"]
    security = [{}]
    opt = {"exclude_from_auth": True}

    @get("/healthz", responses=problems(), summary="The process is alive")
    async def healthz(self) -> Status:
        """Answers as long as the process serves requests."""
        return Status(status="ok")

    @get(
        "/readyz",
        summary="Ready to serve",
        responses={
            **problems(),
            503: ResponseSpec(Status, description="Not ready: `checks` say what is missing"),
        },
        sync_to_thread=True,
    )
    def readyz(
        self, db: DatabaseDep, manager: ManagerDep, notifier: NotificationsDep
    ) -> Response[Any]:
        """The database is open and migrated, and the models to preload are loaded.
        Notification channels are listed (an unavailable one, with why, is not a failure)."""
        checks: dict[str, str] = {}
        try:
            info = db.info()
            checks["database"] = f"ok (schema {info['schema_version']})"
            ready = True
        except Exception as exc:
            checks["database"] = f"unavailable: {exc}"
            ready = False
        for model_id, state in manager.preload_state.items():
            checks[f"model {model_id}"] = state
            ready = ready and state == "loaded"
        for name, channel in notifier.dispatcher.states.items():
            checks[f"notifications {name}"] = (
                "ok" if channel.available else f"unavailable: {channel.reason}"
            )
        body = Status(status="ok" if ready else "unavailable", checks=checks)
        return Response(body, status_code=200 if ready else 503)
