"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

import anyio
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.plugins.pydantic import PydanticInitPlugin

from assistant.services import Services, build_services
from assistant.settings import Settings
from assistant.sync.bridge import run_sync
from server.allow import allow_every_method
from server.bodies import JSONRequest, JSONWebSocket
from server.controllers.analytics import (
    AnalyticsController,
    DashboardPageController,
    MetricsController,
)
from server.controllers.auth import AuthController
from server.controllers.chat import ChatController
from server.controllers.health import HealthController
from server.controllers.libretranslate import LibreTranslateController
from server.controllers.lists import ListsController
from server.controllers.models import ModelsController
from server.controllers.notifications import NotificationsController
from server.controllers.oidc import OidcController
from server.controllers.ollama import OllamaController
from server.controllers.openai import OpenAIController
from server.controllers.openai_audio import OpenAIAudioController
from server.controllers.profile import ProfileController
from server.controllers.session import WebSessionController
from server.controllers.skills import SkillsController
from server.controllers.sync import ProfileChangesController, SyncController
from server.controllers.timers import RemindersController, TimersController
from server.controllers.translate import TranslateController
from server.controllers.vision import VisionController
from server.controllers.voice import VoiceController
from server.deps import DEPENDENCIES
from server.docs import PydanticSchemas, docs_router, openapi_config
from server.metrics import http_metrics_middleware
from server.problems import EXCEPTION_HANDLERS
from server.queries import refuse_repeated_scalars
from server.requestid import add_request_id_header, request_id_middleware
from server.security import (
    PUBLIC_PATHS,
    BearerAuthenticationMiddleware,
    add_security_headers,
)
from server.web import load_bundle, web_router
from server.wyoming import WyomingServer

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return version("edge-assistant")
    except PackageNotFoundError:
        return "0.0.0"


def create_app(settings: Settings, services: Services | None = None) -> Litestar:
    """Build the app. Without ``services`` they are built at start-up and closed at shutdown."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = services is None
        built: Services = (
            services
            if services is not None
            else await anyio.to_thread.run_sync(build_services, settings)
        )
        app.state.services = built
        built.manager.start()
        preload = settings.models.preload
        preloading = asyncio.get_running_loop().create_task(built.manager.preload(preload))
        syncing = asyncio.get_running_loop().create_task(run_sync(built.sync))
        await built.notifications.dispatcher.start()
        await built.timers.scheduler.start()
        wyoming = None
        if settings.wyoming.enabled:
            wyoming = WyomingServer(built.wyoming, settings.wyoming, _version())
            await wyoming.start()
            app.state.wyoming = wyoming
        try:
            yield
        finally:
            if wyoming is not None:
                await wyoming.stop()
            preloading.cancel()
            syncing.cancel()
            await built.timers.scheduler.close()
            await built.notifications.dispatcher.close()
            await built.manager.close()
            if owned:
                await anyio.to_thread.run_sync(built.close)

    cors = (
        CORSConfig(
            allow_origins=settings.server.cors_origins,
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "X-Request-ID",
                "If-Match",
                "Last-Event-ID",
            ],
            expose_headers=["X-Request-ID", "ETag", "Retry-After"],
            allow_credentials=False,
        )
        if settings.server.cors_origins
        else None
    )
    app = Litestar(
        route_handlers=[
            HealthController,
            AuthController,
            OidcController,
            ProfileController,
            ProfileChangesController,
            SyncController,
            ChatController,
            SkillsController,
            VoiceController,
            VisionController,
            TranslateController,
            LibreTranslateController,
            ModelsController,
            NotificationsController,
            TimersController,
            RemindersController,
            ListsController,
            OpenAIController,
            OpenAIAudioController,
            OllamaController,
            AnalyticsController,
            DashboardPageController,
            *([MetricsController] if settings.metrics.enabled else []),
            docs_router(),
            WebSessionController,
            web_router(load_bundle()),
        ],
        lifespan=[lifespan],
        dependencies=DEPENDENCIES,
        middleware=[DefineMiddleware(BearerAuthenticationMiddleware, exclude=PUBLIC_PATHS)],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=refuse_repeated_scalars,
        before_send=[add_request_id_header, add_security_headers, allow_every_method],
        openapi_config=openapi_config(_version()),
        # Bodies are read as the document describes them: strictly (0 is not false, "5"
        # is not 5), and documented with pydantic's own schemas.
        plugins=[PydanticInitPlugin(validate_strict=True), PydanticSchemas()],
        cors_config=cors,
        request_max_body_size=settings.server.max_body_bytes,
        request_class=JSONRequest,
        websocket_class=JSONWebSocket,
        state=State({"settings": settings}),
        debug=False,
        logging_config=None,
    )
    # The request id and the access log wrap the whole app, not only the routes' middleware:
    # errors raised in middleware (the auth middleware's 401s), unknown paths and CORS
    # preflights are answered by the app's outer exception handler, outside that stack.
    app.asgi_handler = request_id_middleware(app.asgi_handler)
    if settings.metrics.enabled:
        app.asgi_handler = http_metrics_middleware(
            app.asgi_handler,
            lambda: getattr(app.state, "services", None) and app.state.services.metrics,
        )
    return app
