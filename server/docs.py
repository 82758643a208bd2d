"""Interactive API docs served from the device itself (no CDN: it must work offline)."""

from __future__ import annotations

from pathlib import Path

from litestar import Router, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from server.security import SECURITY, SECURITY_SCHEMES

STATIC_PATH = "/docs/static"


def _swagger_dist() -> Path:
    import swagger_ui

    return Path(swagger_ui.__file__).parent / "static"


def openapi_config(version: str) -> OpenAPIConfig:
    """The OpenAPI document at /schema (JSON, YAML) and Swagger UI at /docs."""
    return OpenAPIConfig(
        title="Edge Assistant API",
        version=version,
        description=(
            "The local HTTP contract of the on-device assistant. Sign in with"
            " POST /api/v1/auth/login and send the access token (or a device API key)"
            " as `Authorization: Bearer`. Errors are RFC 9457 problem documents."
        ),
        path="/schema",
        use_handler_docstrings=True,
        components=Components(security_schemes=SECURITY_SCHEMES),
        security=SECURITY,
        render_plugins=[
            JsonRenderPlugin(path="/openapi.json"),
            YamlRenderPlugin(path="/openapi.yaml"),
            SwaggerRenderPlugin(
                path="/swagger",
                js_url=f"{STATIC_PATH}/swagger-ui-bundle.js",
                css_url=f"{STATIC_PATH}/swagger-ui.css",
                standalone_preset_js_url=f"{STATIC_PATH}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' href='{STATIC_PATH}/favicon-32x32.png'>",
            ),
        ],
    )


@get("/docs", include_in_schema=False, opt={"exclude_from_auth": True})
async def docs_redirect() -> Redirect:
    """/docs is the friendly address of the Swagger UI."""
    return Redirect(path="/schema/swagger")


def docs_router() -> Router:
    """Swagger UI's files from the swagger-ui-py wheel, plus the /docs shortcut."""
    static = create_static_files_router(
        path=STATIC_PATH, directories=[_swagger_dist()], opt={"exclude_from_auth": True}
    )
    return Router(path="/", route_handlers=[docs_redirect, static], include_in_schema=False)
