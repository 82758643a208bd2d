"""The Wyoming TCP server: started and stopped with the app, in its event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from assistant.settings import WyomingSettings
from assistant.wyoming import WyomingService
from server.wyoming.framing import FrameLimits
from server.wyoming.handler import ConnectionOptions, WyomingConnection

log = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
"""What Home Assistant browses for."""


class WyomingServer:
    """Listens for Wyoming clients; one task per connection, all ended by ``stop``."""

    def __init__(self, service: WyomingService, settings: WyomingSettings, version: str) -> None:
        self.service = service
        self.settings = settings
        self.options = ConnectionOptions(
            limits=FrameLimits(
                header_bytes=settings.max_header_bytes,
                data_bytes=settings.max_data_bytes,
                payload_bytes=settings.max_payload_bytes,
            ),
            idle_timeout_seconds=settings.idle_timeout_seconds,
            version=version,
        )
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._zeroconf: Any = None

    @property
    def port(self) -> int:
        """The port listened on (the chosen one when the settings say 0)."""
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind and listen; announce on the network when asked to."""
        self._server = await asyncio.start_server(
            self._accept,
            self.settings.host,
            self.settings.port,
            limit=self.options.limits.header_bytes,
        )
        log.info("Wyoming server on tcp://%s:%d", self.settings.host, self.port)
        if self.settings.zeroconf:
            await self._announce()

    async def stop(self) -> None:
        """Stop listening, end every connection, withdraw the announcement."""
        if self._zeroconf is not None:
            zeroconf, self._zeroconf = self._zeroconf, None
            with contextlib.suppress(Exception):
                await zeroconf.async_unregister_all_services()
                await zeroconf.async_close()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await WyomingConnection(self.service, reader, writer, self.options).run()
        except asyncio.CancelledError:
            raise
        except Exception:  # one connection's failure never reaches the server
            log.exception("Wyoming connection failed")
        finally:
            self._connections.discard(task)

    async def _announce(self) -> None:
        try:
            from zeroconf import IPVersion
            from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
        except ImportError:
            log.error(
                "wyoming.zeroconf is on but zeroconf is not installed:"
                " pip install 'edge-assistant[zeroconf]'"
            )
            return
        name = self.settings.zeroconf_name or socket.gethostname()
        host = self.settings.host
        addresses = None if host in ("0.0.0.0", "::", "") else [host]  # noqa: S104 - compared, not bound
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            port=self.port,
            parsed_addresses=addresses or _local_addresses(),
            properties={"version": self.options.version},
        )
        zeroconf = AsyncZeroconf(ip_version=IPVersion.V4Only)
        await zeroconf.async_register_service(info)
        self._zeroconf = zeroconf
        log.info("announced %s as %s", SERVICE_TYPE, info.name)


def _local_addresses() -> list[str]:
    """This machine's address toward the network (the one mDNS answers with)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("224.0.0.251", 5353))
            return [probe.getsockname()[0]]
        except OSError:
            return ["127.0.0.1"]
