"""The web companion app: static files served at ``/``, with hashed asset URLs and a
strict Content-Security-Policy.

Every file under ``static/`` is served at ``/assets/<bundle>/<path>``, where ``<bundle>``
is a hash over all of them computed once at start-up: relative ES-module imports keep
working, and each URL can be cached for a year because new content gets a new URL.
Three files are served at fixed URLs, ``no-cache``, with ``{{assets}}`` replaced by the
bundle's URL: ``/`` (``index.html``), ``/sw.js`` (a service worker controls only its own
folder and below, so it lives at the root) and ``/manifest.webmanifest``.
"""

from __future__ import annotations

from server.web.bundle import Bundle, load_bundle
from server.web.routes import WEB_HEADERS, web_router

__all__ = ["WEB_HEADERS", "Bundle", "load_bundle", "web_router"]
