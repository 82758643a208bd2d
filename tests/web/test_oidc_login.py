"""The sign-in page's OpenID buttons, through a real provider (node-oidc-provider)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from assistant.settings import Settings
from tests.oidc.conftest import oidc_settings
from tests.oidc.provider import Provider
from tests.web.conftest import CheckPage, NewPage, WebApp, serve_web_app, wait_mounted


@pytest.fixture
def oidc_app(tmp_path: Path) -> Iterator[WebApp]:
    provider = Provider(tmp_path / "provider")
    provider.folder.mkdir()
    settings = Settings.load(data_dir=tmp_path / "data", auth={"oidc": oidc_settings(provider)})
    try:
        for app in serve_web_app(settings):
            provider.extra_redirect_uris = [
                f"{app.url}/api/v1/auth/oidc/{name}/callback" for name in ("test", "public")
            ]
            provider.start()
            yield app
    finally:
        provider.stop()


def test_a_provider_button_signs_in_with_a_cookie_session(
    oidc_app: WebApp, new_page: NewPage, check_page: CheckPage
) -> None:
    oidc_app.create_user("root")  # the device is set up; alice arrives from the provider
    page = new_page()
    page.goto(oidc_app.url + "/#/login")
    wait_mounted(page, "login")
    button = page.get_by_role("link", name="Test provider")
    expect(button).to_be_visible()
    check_page(page, "login-oidc")
    button.click()
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", "any")
    page.click("button[type=submit]")
    page.wait_for_selector("form input[name=prompt][value=consent]", state="attached")
    page.click("button[type=submit]")
    page.wait_for_url(oidc_app.url + "/#/chat")
    wait_mounted(page, "chat")
    session = page.request.get(oidc_app.url + "/api/v1/auth/session").json()
    assert session["user"]["username"] == "alice"
    assert "oidc_code" not in page.url
    cookies = {c["name"] for c in page.context.cookies()}
    assert {"assistant_session", "assistant_csrf"} <= cookies
