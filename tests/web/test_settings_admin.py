"""The settings and admin pages in Chromium: what a person does there lands in the store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from assistant.settings import Settings
from server.web import load_bundle
from tests.runtime.httpserver import LocalServer
from tests.test_api_models_pull import BLOB, MODEL, manifest_with_local_model
from tests.web.conftest import (
    MISSING_PAGE,
    PASSWORD,
    CheckPage,
    NewPage,
    SignedInPage,
    WebApp,
    serve_web_app,
    sign_in,
    wait_mounted,
)

VAD = "webrtc-vad:builtin"
AVATAR = Path(__file__).parents[2] / "server" / "web" / "static" / "icons" / "icon-192.png"


def fetch(url: str, **options: Any) -> httpx.Response:
    """A GET with a timeout that a busy test machine cannot hit."""
    return httpx.get(url, timeout=60, **options)


def fetch_post(url: str, **options: Any) -> httpx.Response:
    """A POST with the same timeout."""
    return httpx.post(url, timeout=60, **options)


def open_page(page: Page, app: WebApp, name: str) -> None:
    page.goto(f"{app.url}/#/{name}")
    wait_mounted(page, name)


def accept_dialogs(page: Page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_settings_profile_avatar_preferences(
    web_app: WebApp, signed_in_page: SignedInPage, check_page: CheckPage
) -> None:
    page = signed_in_page("ada")
    open_page(page, web_app, "settings")
    check_page(page, "settings", allow=[MISSING_PAGE])
    user = web_app.services.auth.find_user("ada")

    page.get_by_label("Display name").fill("Ada Lovelace")
    page.get_by_label("Time zone").fill("Europe/London")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator(".toast").last).to_have_text("Profile saved")
    profile = web_app.services.profile.get_profile(user.id)
    assert (profile.display_name, profile.time_zone) == ("Ada Lovelace", "Europe/London")
    expect(page.locator("#sign-out")).to_contain_text("Ada Lovelace")

    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#profile-form [role=alert]")).to_contain_text("time_zone")

    page.get_by_label(re.compile("^Image")).set_input_files(str(AVATAR))
    page.get_by_role("button", name="Upload avatar").click()
    avatar = page.locator("#avatar-image")
    expect(avatar).to_be_visible()
    page.wait_for_selector("#avatar-image", state="visible")
    assert (
        page.evaluate(
            "new Promise(r => { const i = document.getElementById('avatar-image');"
            " const done = () => r(i.naturalWidth);"
            " i.complete ? done() : i.addEventListener('load', done); })"
        )
        == 192
    )
    data, media_type = web_app.services.profile.get_avatar(user.id)
    assert (data, media_type) == (AVATAR.read_bytes(), "image/png")
    page.get_by_role("button", name="Remove avatar").click()
    expect(page.locator("#avatar-image")).to_have_count(0)

    page.get_by_label("Assistant's name").fill("Jarvis")
    page.get_by_label("Tone").select_option("formal")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.locator(".toast").last).to_have_text("Preferences saved")
    preferences = web_app.services.profile.get_preferences(user.id).preferences
    assert (preferences.assistant_name, preferences.tone) == ("Jarvis", "formal")


def test_an_api_key_is_shown_once_and_works(web_app: WebApp, signed_in_page: SignedInPage) -> None:
    page = signed_in_page("ada")
    accept_dialogs(page)
    open_page(page, web_app, "settings")
    page.get_by_label("Name of the app or device").fill("kitchen tablet")
    page.get_by_role("button", name="Create API key").click()
    secret = page.locator("#new-key-secret")
    expect(secret).to_have_text(re.compile(r"^ak_\S+$"))
    key = secret.inner_text()
    expect(page.locator("#api-keys")).to_contain_text("kitchen tablet")
    me = fetch(web_app.url + "/api/v1/auth/me", headers={"X-API-Key": key})
    assert me.json()["username"] == "ada"
    # Shown once: after a reload the key is listed by its prefix, never whole.
    page.reload()
    wait_mounted(page, "settings")
    expect(page.locator("#api-keys")).to_contain_text("kitchen tablet")
    assert key not in page.content()
    page.get_by_role("button", name="Revoke kitchen tablet").click()
    expect(page.locator("#api-keys")).to_contain_text("No API keys.")
    assert fetch(web_app.url + "/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 401


def test_the_session_list_signs_another_browser_out(
    web_app: WebApp, signed_in_page: SignedInPage, new_page: NewPage
) -> None:
    page = signed_in_page("ada")
    phone = new_page("phone")
    sign_in(phone, web_app.url, "ada")
    open_page(page, web_app, "settings")
    sessions = page.locator("#sessions > li")
    expect(sessions).to_have_count(2)
    expect(page.locator('#sessions > li[data-current="true"]')).to_contain_text("this browser")
    page.locator('#sessions > li[data-current="false"]').get_by_role("button").click()
    expect(sessions).to_have_count(1)
    assert phone.request.get(web_app.url + "/api/v1/auth/session").json() == {"user": None}
    assert page.request.get(web_app.url + "/api/v1/auth/session").json()["user"]["username"] == (
        "ada"
    )


def test_changing_the_password_keeps_this_browser_signed_in(
    web_app: WebApp, signed_in_page: SignedInPage
) -> None:
    page = signed_in_page("ada")
    open_page(page, web_app, "settings")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill("a brand new secret")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".toast").last).to_have_text("Password changed")
    wait_mounted(page, "settings")
    assert page.request.get(web_app.url + "/api/v1/auth/session").json()["user"]["username"] == (
        "ada"
    )
    fresh = fetch_post(
        web_app.url + "/api/v1/auth/session",
        json={"username": "ada", "password": "a brand new secret"},
    )
    assert fresh.status_code == 200


def test_admin_users_registration_and_loaded_models(
    web_app: WebApp, signed_in_page: SignedInPage, check_page: CheckPage
) -> None:
    web_app.user("ada", admin=True)
    web_app.create_user("bob")
    web_app.services.models.pull(VAD)  # no files to download
    page = signed_in_page("ada", "phone")
    accept_dialogs(page)
    open_page(page, web_app, "admin")
    check_page(page, "admin", allow=[MISSING_PAGE])

    bob = page.locator('#users tr[data-user="bob"]')
    role = bob.locator("td").first
    expect(role).to_have_text("user")
    bob.get_by_role("button", name="Make admin bob").click()
    expect(role).to_have_text("admin")
    assert web_app.services.auth.find_user("bob").role.value == "admin"
    expect(page.locator('#users tr[data-user="ada"]').get_by_role("button").first).to_be_disabled()

    page.get_by_label("Username").fill("cy")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Add account").click()
    expect(page.locator('#users tr[data-user="cy"]')).to_have_count(1)

    toggle = page.get_by_label(re.compile("may create an account"))
    expect(toggle).not_to_be_checked()
    toggle.check()
    expect(page.locator(".toast").last).to_have_text("Registration is open")
    assert web_app.services.auth.registration_open()
    toggle.uncheck()
    expect(page.locator(".toast").last).to_have_text("Registration is closed")
    assert not web_app.services.auth.registration_open()

    installed = page.locator(f'#installed-models li[data-model="{VAD}"]')
    installed.get_by_role("button", name=f"Load {VAD}").click()
    loaded = page.locator(f'#loaded-models li[data-model="{VAD}"]')
    expect(loaded).to_contain_text(re.compile(r"vad, \d+ MB"))
    expect(page.locator("#memory")).to_contain_text(re.compile(r"use [\d.]+ MB of the \d+ MB"))
    loaded.get_by_role("button", name=f"Unload {VAD}").click()
    expect(page.locator("#loaded-models")).to_contain_text("No model is loaded.")
    expect(page.get_by_role("link", name="Open the analytics dashboard")).to_have_attribute(
        "href", "/dashboard"
    )


def test_a_user_does_not_get_the_admin_page(web_app: WebApp, signed_in_page: SignedInPage) -> None:
    web_app.user("root", admin=True)
    page = signed_in_page("bob")
    open_page(page, web_app, "admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")


@pytest.fixture
def pull_app(tmp_path: Path) -> Iterator[tuple[WebApp, LocalServer]]:
    with LocalServer() as cdn:
        cdn.add("/blob.bin", BLOB)
        manifest = manifest_with_local_model(tmp_path, cdn.url("/blob.bin"))
        settings = Settings.load(data_dir=tmp_path / "data", models={"manifest": manifest})
        for app in serve_web_app(settings):
            yield app, cdn


def test_a_model_pull_shows_live_progress_and_remove_deletes_it(
    pull_app: tuple[WebApp, LocalServer], new_page: NewPage
) -> None:
    app, _ = pull_app
    app.create_user("ada")
    page = new_page()
    accept_dialogs(page)
    sign_in(page, app.url, "ada")
    open_page(page, app, "admin")
    page.get_by_label("Model", exact=True).select_option(MODEL)
    # Every value the bar took, from the mutation records' old values: on a busy machine
    # several events can land in one task, and the bar's state after it shows only the last.
    page.evaluate(
        "window.values = []; new MutationObserver((records) => { for (const r of records)"
        " if (r.attributeName === 'value' && r.oldValue !== null)"
        " window.values.push(Number(r.oldValue)); }).observe("
        "document.getElementById('pull-progress'), {attributes: true, attributeOldValue: true})"
    )
    page.get_by_role("button", name="Pull").click()
    expect(page.locator("#pull-status")).to_have_text(f"{MODEL} is installed.", timeout=30_000)
    values = page.evaluate("window.values")
    assert any(0 < value < len(BLOB) for value in values), values  # it moved before the end
    assert app.services.models.get(MODEL) is not None
    installed = page.locator(f'#installed-models li[data-model="{MODEL}"]')
    expect(installed).to_contain_text("3.0 MB on disk")
    installed.get_by_role("button", name=f"Remove {MODEL}").click()
    expect(installed).to_have_count(0)
    assert app.services.models.get(MODEL) is None


def test_the_bundle_has_the_pages_this_branch_owns() -> None:
    assets = load_bundle().assets
    for name in ("setup", "login", "settings", "admin"):
        assert f"js/pages/{name}.js" in assets
