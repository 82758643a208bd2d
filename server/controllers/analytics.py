"""``/api/v1/analytics``: events in; dashboard, insights and export out; A/B experiments
(admin). ``/dashboard``: the charts in a browser. ``/metrics``: Prometheus."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any, Literal

import anyio
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from assistant.analytics import Viewer
from assistant.analytics.experiments import METHOD, ExperimentDraft
from assistant.analytics.metrics import CONTENT_TYPE
from assistant.analytics.reports import Dashboard, Insights
from assistant.auth import Principal
from assistant.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from server.deps import (
    AnalyticsDep,
    AuthDep,
    ExperimentsDep,
    MetricsDep,
    PrincipalDep,
    SettingsDep,
)
from server.docs import NDJSON, documented, text
from server.problems import JSON_BODY, PARAMETERS, problems
from server.schemas.analytics import (
    AcceptedOut,
    EventsIn,
    ExperimentIn,
    ExperimentOut,
    ExperimentPatch,
    ResultsOut,
    VariantResultOut,
)
from server.security import credential_of, require_admin
from server.web.routes import WEB_HEADERS

PUBLIC = {"exclude_from_auth": True}

CSV = "text/csv"
User = Annotated[
    str | None,
    Parameter(
        max_length=64,
        description="An admin looks at one user's data (their id); others see only their own",
    ),
]
ISO_8601 = r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$"
"""A date, or a date and time (UTC unless an offset is given)."""
From = Annotated[
    str | None,
    QueryParameter(
        name="from",
        pattern=ISO_8601,
        description="Start, ISO 8601 (`2026-12-01T08:00:00Z`); default: 24 hours before `to`",
    ),
]
To = Annotated[
    str | None,
    QueryParameter(name="to", pattern=ISO_8601, description="End, ISO 8601; default: now"),
]
DASHBOARD_PAGE = resources.files("server").joinpath("dashboard/index.html").read_bytes()
DASHBOARD_SCRIPT = resources.files("server").joinpath("dashboard/dashboard.js").read_bytes()
DASHBOARD_STYLES = resources.files("server").joinpath("dashboard/dashboard.css").read_bytes()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def viewer(principal: Principal) -> Viewer:
    """The caller as the analytics service sees them."""
    return Viewer(principal.user_id, principal.is_admin)


def _seconds(moment: str | None, field: str) -> float | None:
    """Unix seconds of an ISO 8601 date or time (naive ones are UTC)."""
    if moment is None:
        return None
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{field}: {exc}", field=field) from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


class AnalyticsController(Controller):
    """Analytics events, reports and experiments."""

    path = "/api/v1/analytics"
    tags = ["analytics"]

    @post(
        "/event",
        status_code=HTTP_202_ACCEPTED,
        responses=problems(*JSON_BODY, 401),
        summary="Record events (one, or a batch of up to 1000)",
    )
    async def record(
        self,
        data: JSONBody[EventsIn],
        analytics: AnalyticsDep,
        principal: PrincipalDep,
    ) -> AcceptedOut:
        """Validated, stamped with the server's time and your account, queued and answered
        at once; written to the database within a fraction of a second. `dropped` counts
        events refused because the server is overloaded."""
        batch = data.events is not None
        accepted = analytics.ingest(principal.user_id, data.to_events(), batch=batch)
        return AcceptedOut.of(accepted)

    @get(
        "/dashboard",
        responses=problems(*PARAMETERS, 401, 403),
        summary="Usage, latency, errors, models and voice over time",
    )
    async def dashboard(
        self,
        analytics: AnalyticsDep,
        principal: PrincipalDep,
        start: From = None,
        end: To = None,
        bucket: Annotated[
            Literal["hour", "day"] | None,
            Parameter(description="Bucket width; default: hour up to 3 days, else day"),
        ] = None,
        user: User = None,
    ) -> Dashboard:
        """Events per name over time, active users, latency p50/p95 per capability (exact
        from raw events, from the rollups for ranges older than raw retention), error rate
        and top errors, model usage and load times, prompt-cache reuse, voice stages."""
        return await anyio.to_thread.run_sync(
            lambda: analytics.dashboard(
                viewer(principal),
                start=_seconds(start, "from"),
                end=_seconds(end, "to"),
                bucket=bucket,
                user=user,
            )
        )

    @get(
        "/insights",
        responses=problems(*PARAMETERS, 401, 403),
        summary="What your use says, with the numbers behind it",
    )
    async def insights(
        self,
        analytics: AnalyticsDep,
        principal: PrincipalDep,
        user: User = None,
        days: Annotated[int, Parameter(ge=1, le=90, description="Days to look back")] = 28,
    ) -> Insights:
        """Most-used features, usual hours (in your profile's time zone), languages,
        week-over-week trends, the slowest stage of your spoken turns, and suggestions."""
        return await anyio.to_thread.run_sync(
            lambda: analytics.insights(viewer(principal), user=user, days=days)
        )

    @get(
        "/export",
        responses=problems(*PARAMETERS, 401, 403),
        operation_class=documented(
            answers={
                CSV: text(
                    "id,ts,client_ts,user_id,session_id,name,properties (JSON), one row an event"
                ),
                NDJSON: text("One JSON object an event"),
            }
        ),
        summary="Raw events as CSV or NDJSON (streamed)",
    )
    async def export(
        self,
        analytics: AnalyticsDep,
        principal: PrincipalDep,
        format: Annotated[
            Literal["csv", "ndjson"], Parameter(description="csv or ndjson")
        ] = "ndjson",
        user: User = None,
        start: From = None,
        end: To = None,
    ) -> Stream:
        """Your events (an admin: everyone's, or one user's), oldest first."""
        pages = analytics.export(
            viewer(principal),
            format,
            user=user,
            start=_seconds(start, "from"),
            end=_seconds(end, "to"),
        )
        media = CSV if format == "csv" else NDJSON
        return Stream(
            pages,
            media_type=media,
            headers={
                "content-type": media,
                "Content-Disposition": f'attachment; filename="events.{format}"',
            },
        )

    @post(
        "/rollup",
        status_code=HTTP_202_ACCEPTED,
        responses=problems(401, 403),
        summary="Roll up and apply retention now (admin)",
    )
    async def rollup(self, analytics: AnalyticsDep, principal: PrincipalDep) -> dict[str, int]:
        """What the background job does every `analytics.rollup_interval_seconds`."""
        require_admin(principal)
        return await anyio.to_thread.run_sync(analytics.maintain)

    # Experiments --------------------------------------------------------------------

    @post(
        "/experiments",
        status_code=HTTP_201_CREATED,
        responses=problems(*JSON_BODY, 401, 403, 409),
        summary="Create an A/B experiment (admin)",
    )
    async def create_experiment(
        self, data: JSONBody[ExperimentIn], experiments: ExperimentsDep, principal: PrincipalDep
    ) -> ExperimentOut:
        """Variants with weights (the first is the control), the events that count as a
        conversion and the window after exposure; `start` runs it at once."""
        require_admin(principal)
        draft = ExperimentDraft(
            key=data.key,
            variants=tuple(v.to_variant() for v in data.variants),
            targets=tuple(data.targets),
            window_hours=data.window_hours,
            description=data.description,
            start=data.start,
        )
        return ExperimentOut.of(await anyio.to_thread.run_sync(experiments.create, draft))

    @get("/experiments", responses=problems(401, 403), summary="Every experiment (admin)")
    async def list_experiments(
        self, experiments: ExperimentsDep, principal: PrincipalDep
    ) -> list[ExperimentOut]:
        """Newest first."""
        require_admin(principal)
        return [ExperimentOut.of(e) for e in await anyio.to_thread.run_sync(experiments.list)]

    @get(
        "/experiments/{experiment_id:str}",
        responses=problems(*PARAMETERS, 401, 403, 404),
        summary="One experiment (admin)",
    )
    async def get_experiment(
        self, experiment_id: FromPath[str], experiments: ExperimentsDep, principal: PrincipalDep
    ) -> ExperimentOut:
        """Its variants, targets and state."""
        require_admin(principal)
        return ExperimentOut.of(await anyio.to_thread.run_sync(experiments.get, experiment_id))

    @patch(
        "/experiments/{experiment_id:str}",
        responses=problems(*JSON_BODY, 401, 403, 404, 409),
        summary="Start, stop or change an experiment (admin)",
    )
    async def patch_experiment(
        self,
        experiment_id: FromPath[str],
        data: JSONBody[ExperimentPatch],
        experiments: ExperimentsDep,
        principal: PrincipalDep,
    ) -> ExperimentOut:
        """`status`: running or stopped (a stopped one stays stopped); variants and targets
        change only while it is a draft, so no user ever moves between arms."""
        require_admin(principal)
        changed = await anyio.to_thread.run_sync(
            lambda: experiments.update(
                experiment_id,
                status=data.status,
                variants=[v.to_variant() for v in data.variants] if data.variants else None,
                targets=data.targets,
                window_hours=data.window_hours,
                description=data.description,
            )
        )
        return ExperimentOut.of(changed)

    @get(
        "/experiments/{experiment_id:str}/results",
        responses=problems(*PARAMETERS, 401, 403, 404),
        summary="Exposures, conversions and significance per variant (admin)",
    )
    async def experiment_results(
        self, experiment_id: FromPath[str], experiments: ExperimentsDep, principal: PrincipalDep
    ) -> ResultsOut:
        """Rates with 95% Wilson intervals, and a two-proportion z-test against the
        control (the first variant)."""
        require_admin(principal)
        experiment, results = await anyio.to_thread.run_sync(experiments.results, experiment_id)
        return ResultsOut(
            experiment=ExperimentOut.of(experiment),
            variants=[VariantResultOut.of(r) for r in results],
            method=METHOD,
        )


class DashboardPageController(Controller):
    """The dashboard as a web page: it signs in with your account and draws the charts."""

    path = "/dashboard"
    tags = ["analytics"]

    @get(
        "/",
        opt=PUBLIC,
        security=[{}],
        media_type="text/html",
        responses=problems(),
        operation_class=documented(answers={"text/html": text("The dashboard page")}),
        summary="The analytics dashboard (a web page)",
    )
    async def page(self) -> Response[bytes]:
        """No data in the page itself: it signs in and reads /api/v1/analytics/dashboard."""
        return Response(
            DASHBOARD_PAGE,
            media_type="text/html; charset=utf-8",
            headers={**WEB_HEADERS, "Cache-Control": "no-cache"},
        )

    @get("/dashboard.js", opt=PUBLIC, include_in_schema=False)
    async def script(self) -> Response[bytes]:
        """The page's script, a file of its own so that the CSP forbids inline script."""
        return Response(
            DASHBOARD_SCRIPT,
            media_type="text/javascript; charset=utf-8",
            headers={**WEB_HEADERS, "Cache-Control": "no-cache"},
        )

    @get("/dashboard.css", opt=PUBLIC, include_in_schema=False)
    async def stylesheet(self) -> Response[bytes]:
        """The page's styles."""
        return Response(
            DASHBOARD_STYLES,
            media_type="text/css; charset=utf-8",
            headers={**WEB_HEADERS, "Cache-Control": "no-cache"},
        )


class MetricsController(Controller):
    """Prometheus metrics (only when ``metrics.enabled``)."""

    path = "/metrics"
    tags = ["metrics"]

    @get(
        "/",
        opt=PUBLIC,
        security=[{}],
        media_type=CONTENT_TYPE,
        responses=problems(401, 403, 404),
        operation_class=documented(answers={"text/plain": text("Prometheus text format 0.0.4")}),
        summary="Prometheus metrics",
    )
    async def metrics(
        self,
        request: Request[Any, Any, Any],
        metrics: MetricsDep,
        settings: SettingsDep,
        auth: AuthDep,
    ) -> Response[bytes]:
        """HTTP requests and latency by route template, model loads, memory and queues,
        tokens, time to first token, real-time factors, voice stages, wake words, the
        analytics queue and SQLite write latency."""
        if metrics is None:
            raise NotFound("Metrics are off: set metrics.enabled = true")
        if settings.metrics.access == "loopback":
            client = request.client.host if request.client else ""
            if not _loopback(client):
                raise Forbidden("Metrics are served to the loopback interface only")
        else:
            credential = credential_of(request)
            if credential is None:
                raise Unauthorized("Metrics need an admin's token or API key")
            require_admin(await anyio.to_thread.run_sync(auth.authenticate, credential))
        body = await anyio.to_thread.run_sync(metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE)
