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
from assistant.settings import Settings, WyomingSettings

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def wyoming_settings(settings: Settings, address: str) -> WyomingSettings:
    """The Wyoming settings with ``--wyoming [HOST:]PORT`` applied (and turned on)."""
    host, _, port_text = address.rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        raise typer.BadParameter(
            f"{address!r} is not [HOST:]PORT, e.g. 10300 or 0.0.0.0:10300", param_hint="--wyoming"
        ) from None
    if not 0 <= port <= 65535:
        raise typer.BadParameter("the port must be 0-65535", param_hint="--wyoming")
    update: dict[str, object] = {"enabled": True, "port": port}
    if host:
        update["host"] = host.strip("[]")
    return settings.wyoming.model_copy(update=update)


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
    wyoming: Annotated[
        str | None,
        typer.Option(
            "--wyoming",
            metavar="[HOST:]PORT",
            help=(
                "Also serve the Wyoming protocol (Home Assistant's speech to text, text to"
                " speech, wake word and conversation agent) on this port, e.g. 10300 or"
                " 0.0.0.0:10300; loopback unless a host is given. Same as wyoming.enabled."
            ),
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the HTTP API (and the Wyoming server) until SIGINT/SIGTERM, then finish in-flight
    requests and close."""
    import uvicorn

    from server.app import create_app

    cli_state = state(ctx)
    settings = cli_state.settings()
    server_settings = settings.server.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    settings = settings.model_copy(update={"server": server_settings})
    if wyoming is not None:
        settings = settings.model_copy(update={"wyoming": wyoming_settings(settings, wyoming)})
    if settings.wyoming.enabled and not _is_loopback(settings.wyoming.host):
        log.warning(
            "Wyoming on %s: it has no authentication and acts as %s; expose it to trusted"
            " networks only",
            settings.wyoming.host,
            settings.wyoming.user or "the first admin",
        )
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
