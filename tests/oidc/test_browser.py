"""Once in a real browser: headless Chromium signs in through the provider's pages and
lands back on this server with a hand-off code (the app served on a real port)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import sync_playwright

from assistant.auth import PasswordHasher
from assistant.clock import ManualClock
from assistant.services import build_services
from assistant.settings import Settings
from server.app import create_app
from server.background import serve_in_thread
from tests.oidc.conftest import oidc_settings
from tests.oidc.provider import Provider

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_headless_chromium_signs_in_through_the_provider(
    tmp_path: Path, clock: ManualClock
) -> None:
    if CHROMIUM is None:
        pytest.fail("Chromium is missing: run ./scripts/setup.sh test (it installs `chromium`)")
    provider = Provider(tmp_path / "provider")
    provider.folder.mkdir()
    settings = Settings.load(data_dir=tmp_path / "data", auth={"oidc": oidc_settings(provider)})
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests(), clock=clock)
    try:
        with serve_in_thread(create_app(settings, services)) as url:
            provider.extra_redirect_uris = [f"{url}/api/v1/auth/oidc/test/callback"]
            provider.start()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_page()
                page.goto(f"{url}/api/v1/auth/oidc/test/login?return_to=/healthz")
                page.fill("input[name=login]", "alice")
                page.fill("input[name=password]", "any")
                page.click("button[type=submit]")
                page.wait_for_selector("form input[name=prompt][value=consent]", state="attached")
                page.click("button[type=submit]")
                page.wait_for_url(f"{url}/healthz#*")
                landed = page.url
                browser.close()
            code = parse_qs(urlsplit(landed).fragment)["oidc_code"][0]
            tokens = httpx.post(f"{url}/api/v1/auth/oidc/token", json={"code": code})
            assert tokens.status_code == 200, tokens.text
            assert tokens.json()["user"]["username"] == "alice"
    finally:
        provider.stop()
        services.close()
