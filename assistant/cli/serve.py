"""``assistant serve``: the HTTP server.

The CLI is the outermost face: this is the one module of ``assistant/`` that imports
``server/`` (the layer test allows exactly this).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Annotated

import typer

from assistant.cli.common import state

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to bind (default 127.0.0.1); 0.0.0.0 exposes the device.",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="TCP port (default 8765).", show_default=False)
    ] = None,
) -> None:
    """Run the HTTP API until SIGINT/SIGTERM, then finish in-flight requests and close."""
    import uvicorn

    from server.app import create_app

    cli_state = state(ctx)
    settings = cli_state.settings()
    server_settings = settings.server.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    settings = settings.model_copy(update={"server": server_settings})
    if not _is_loopback(server_settings.host):
        log.warning(
            "binding to %s: the API is reachable from the network; make sure only trusted"
            " devices can reach it",
            server_settings.host,
        )
    log.info(
        "serving on http://%s:%d (docs at /docs), data in %s",
        server_settings.host,
        server_settings.port,
        settings.data_dir,
    )
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: any local
    # process could then pick the address that login throttling and sessions record.
    trusted = server_settings.trusted_proxies
    if trusted:
        log.info("trusting X-Forwarded-For and X-Forwarded-Proto from %s", ", ".join(trusted))
    config = uvicorn.Config(
        create_app(settings),
        host=server_settings.host,
        port=server_settings.port,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=list(trusted),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(server_settings.graceful_shutdown_seconds) or None,
        lifespan="on",
    )
    uvicorn.Server(config).run()
