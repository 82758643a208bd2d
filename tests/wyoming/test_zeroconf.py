"""With ``wyoming.zeroconf`` on, the server announces itself as Home Assistant browses for it."""

from __future__ import annotations

from pathlib import Path

from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from assistant.auth import PasswordHasher
from assistant.services import build_services
from assistant.settings import Settings
from server.wyoming import WyomingServer
from server.wyoming.server import SERVICE_TYPE


async def test_the_server_is_announced_and_withdrawn(tmp_path: Path) -> None:
    settings = Settings.load(
        data_dir=tmp_path / "data",
        wyoming={"enabled": True, "port": 0, "zeroconf": True, "zeroconf_name": "kitchen-test"},
    )
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    server = WyomingServer(services.wyoming, settings.wyoming, "1.2.3")
    browser = AsyncZeroconf()
    try:
        await server.start()
        info = AsyncServiceInfo(SERVICE_TYPE, f"kitchen-test.{SERVICE_TYPE}")
        assert await info.async_request(browser.zeroconf, 3000)
        assert info.port == server.port
        assert info.properties == {b"version": b"1.2.3"}
        assert info.parsed_addresses() == ["127.0.0.1"]
    finally:
        await server.stop()
        await browser.async_close()
        services.close()
    gone = AsyncServiceInfo(SERVICE_TYPE, f"kitchen-test.{SERVICE_TYPE}")
    again = AsyncZeroconf()
    try:
        assert not await gone.async_request(again.zeroconf, 500)
    finally:
        await again.async_close()
