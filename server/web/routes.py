"""The routes that serve the web app, and the headers every one of its answers carries."""

from __future__ import annotations

from litestar import Response, Router, get
from litestar.params import FromPath

from assistant.errors import NotFound
from server.web.bundle import Bundle

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:;"
    " media-src 'self' blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self';"
    " frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
"""No inline script or style, nothing from another origin: a script injected into a page
cannot run, and nothing the app shows can be sent elsewhere."""
WEB_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}
IMMUTABLE = "public, max-age=31536000, immutable"
PUBLIC = {"exclude_from_auth": True}


def web_router(bundle: Bundle) -> Router:
    """``/``, ``/sw.js``, ``/manifest.webmanifest`` and ``/assets/<bundle>/<path>``."""
    index = bundle.root_file("index.html")
    service_worker = bundle.root_file("sw.js")
    manifest = bundle.root_file("manifest.webmanifest")

    def page(content: bytes, media_type: str, cache: str) -> Response[bytes]:
        return Response(
            content, media_type=media_type, headers={**WEB_HEADERS, "Cache-Control": cache}
        )

    @get("/", opt=PUBLIC, include_in_schema=False)
    async def app_page() -> Response[bytes]:
        """The app's one page; the router in js/app.js draws the rest."""
        return page(index, "text/html; charset=utf-8", "no-cache")

    @get("/sw.js", opt=PUBLIC, include_in_schema=False)
    async def service_worker_script() -> Response[bytes]:
        """The service worker, at the root so that it may control the whole app."""
        return page(service_worker, "text/javascript; charset=utf-8", "no-cache")

    @get("/manifest.webmanifest", opt=PUBLIC, include_in_schema=False)
    async def web_manifest() -> Response[bytes]:
        """What a phone needs to install the app."""
        return page(manifest, "application/manifest+json", "no-cache")

    @get("/assets/{version:str}/{path:path}", opt=PUBLIC, include_in_schema=False)
    async def asset(version: FromPath[str], path: FromPath[str]) -> Response[bytes]:
        """A static file of this bundle; an older bundle's URL is a 404, never today's
        bytes under yesterday's name (that would be cached for a year)."""
        found = bundle.assets.get(path.lstrip("/"))
        if version != bundle.hash or found is None:
            raise NotFound("No such file in this version of the web app; reload the page")
        return page(found.content, found.media_type, IMMUTABLE)

    return Router(
        path="/",
        route_handlers=[app_page, service_worker_script, web_manifest, asset],
        include_in_schema=False,
        security=[{}],
    )
