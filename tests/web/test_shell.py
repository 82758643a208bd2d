"""The web app's shell in Chromium: first run, sign-in and sign-out, navigation, the PWA
parts (service worker, manifest, icons) and the headers that protect it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

import server.web
from assistant.auth import Principal
from server.bodies import WS_BAD_REQUEST
from server.web import load_bundle
from tests.web.conftest import (
    MISSING_PAGE,
    PASSWORD,
    CheckPage,
    NewPage,
    SignedInPage,
    WebApp,
    wait_mounted,
)

ROUTES = ["chat", "voice", "translate", "vision", "notifications", "settings", "admin"]
CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
    "form-action": "'self'",
}


def fetch(url: str, **options: Any) -> httpx.Response:
    """A GET with a timeout that a busy test machine cannot hit."""
    return httpx.get(url, timeout=60, **options)


def csp_of(header: str) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


def assert_protected(response: httpx.Response) -> None:
    csp = csp_of(response.headers["content-security-policy"])
    for name, value in CSP_DIRECTIVES.items():
        assert csp[name] == value, (name, csp.get(name))
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert "unsafe-eval" not in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_first_run_creates_the_admin_through_the_page(
    web_app: WebApp, new_page: NewPage, check_page: CheckPage
) -> None:
    page = new_page("phone")
    page.goto(web_app.url + "/")
    wait_mounted(page, "setup")
    expect(page).to_have_url(re.compile(r"#/setup$"))
    check_page(page, "setup")
    page.get_by_label("Admin username").fill("ada")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD + "x")
    page.get_by_role("button", name="Create the admin account").click()
    expect(page.get_by_role("alert")).to_contain_text("differ")
    assert web_app.services.auth.list_users() == []
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create the admin account").click()
    wait_mounted(page, "settings")
    users = web_app.services.auth.list_users()
    assert [(u.username, u.role.value) for u in users] == [("ada", "admin")]
    # The admin sees the admin page in the nav; the setup page is gone for good.
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="Admin")).to_be_visible()
    page.goto(web_app.url + "/#/setup")
    wait_mounted(page, "chat")


def test_sign_in_and_sign_out(
    web_app: WebApp, signed_in_page: SignedInPage, check_page: CheckPage
) -> None:
    web_app.create_user("root", admin=True)
    page = signed_in_page("ada")
    assert page.evaluate("document.body.dataset.mounted") == "chat"
    # A user (not an admin) has every route but admin in the nav.
    nav = page.get_by_role("navigation", name="Main")
    for route in ROUTES[:-1]:
        expect(nav.locator(f'a[data-route="{route}"]')).to_have_count(1)
    expect(nav.locator('a[data-route="admin"]')).to_have_count(0)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["assistant_session"]["httpOnly"] is True
    assert cookies["assistant_session"]["sameSite"] == "Strict"
    assert cookies["assistant_csrf"]["httpOnly"] is False
    # The script cannot read the session cookie; it can read the CSRF one.
    script_cookies = page.evaluate("document.cookie")
    assert "assistant_session" not in script_cookies
    assert "assistant_csrf" in script_cookies
    page.get_by_role("button", name=re.compile("^Sign out")).click()
    wait_mounted(page, "login")
    check_page(page, "login", allow=[MISSING_PAGE])
    session = page.request.get(web_app.url + "/api/v1/auth/session").json()
    assert session == {"user": None}
    page.goto(web_app.url + "/#/settings")
    wait_mounted(page, "login")


def test_a_wrong_password_is_said_on_the_page(web_app: WebApp, new_page: NewPage) -> None:
    web_app.create_user("ada")
    page = new_page()
    page.goto(web_app.url + "/#/login")
    wait_mounted(page, "login")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_have_text("Wrong username or password")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()


def test_keyboard_only_sign_in(web_app: WebApp, new_page: NewPage) -> None:
    web_app.create_user("ada")
    page = new_page("phone")
    page.goto(web_app.url + "/#/login")
    wait_mounted(page, "login")
    # The username field has the focus from the start; Tab reaches the password, Enter sends.
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("ada")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    wait_mounted(page, "chat")
    # After a navigation the page's heading (or main) has the focus for screen readers.
    focused = page.evaluate("document.activeElement.closest('main') !== null")
    assert focused


def test_every_nav_route_mounts_its_page_or_says_it_is_not_available(
    web_app: WebApp, signed_in_page: SignedInPage
) -> None:
    bundle = load_bundle()
    page = signed_in_page("ada", admin=True)
    for route in ROUTES:
        page.goto(f"{web_app.url}/#/{route}")
        wait_mounted(page, route)
        link = page.locator(f'nav a[data-route="{route}"]')
        expect(link).to_have_attribute("aria-current", "page")
        if f"js/pages/{route}.js" not in bundle.assets:
            expect(page.get_by_role("heading", level=1)).to_contain_text("is not available")
        else:
            expect(page.get_by_role("heading", level=1)).not_to_contain_text("is not available")
    page.goto(f"{web_app.url}/#/nowhere")
    wait_mounted(page, "nowhere")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")


def test_the_theme_toggle_switches_and_is_remembered(
    web_app: WebApp, signed_in_page: SignedInPage
) -> None:
    page = signed_in_page("ada")
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_have_attribute("aria-label", "Theme: system")
    toggle.click()
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    toggle.click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(16, 20, 24)"
    page.reload()
    wait_mounted(page, "chat")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"


def test_dark_mode_follows_the_system(web_app: WebApp, new_page: NewPage) -> None:
    web_app.create_user("ada")
    page = new_page()
    page.emulate_media(color_scheme="dark")
    page.goto(web_app.url + "/#/login")
    wait_mounted(page, "login")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(16, 20, 24)"
    page.emulate_media(color_scheme="light")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)"


def test_the_page_and_assets_carry_the_security_headers_and_cache_rules(
    web_app: WebApp,
) -> None:
    bundle = load_bundle()
    root = fetch(web_app.url + "/")
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("text/html")
    assert root.headers["cache-control"] == "no-cache"
    assert_protected(root)
    html = root.text
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    assert f"/assets/{bundle.hash}/js/app.js" in html
    assert "{{assets}}" not in html
    for path in ("js/app.js", "js/api.js", "js/ui.js", "css/app.css", "icons/icon-192.png"):
        asset = fetch(f"{web_app.url}/assets/{bundle.hash}/{path}")
        assert asset.status_code == 200, path
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert_protected(asset)
        assert asset.content == bundle.assets[path].content
    assert (
        fetch(f"{web_app.url}/assets/{bundle.hash}/js/app.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )
    stale = fetch(f"{web_app.url}/assets/0123456789abcdef/js/app.js")
    assert stale.status_code == 404
    assert stale.headers["content-type"].startswith("application/problem+json")
    missing = fetch(f"{web_app.url}/assets/{bundle.hash}/js/nothing.js")
    assert missing.status_code == 404
    for path in ("/sw.js", "/manifest.webmanifest"):
        answer = fetch(web_app.url + path)
        assert answer.headers["cache-control"] == "no-cache"
        assert_protected(answer)


def test_the_app_does_not_shadow_the_other_faces(web_app: WebApp) -> None:
    def get(path: str, **options: Any) -> httpx.Response:
        return fetch(web_app.url + path, **options)

    assert get("/healthz").json() == {"status": "ok"}
    assert get("/v1/models").status_code == 401
    assert get("/api/tags").status_code in (200, 401)
    assert get("/languages").status_code in (200, 401, 403)
    assert get("/docs", follow_redirects=True).status_code == 200
    assert "Assistant analytics" in get("/dashboard").text
    assert get("/schema/openapi.json").status_code == 200


def test_the_bundle_hash_changes_with_any_file(tmp_path: Path) -> None:
    bundle = load_bundle()
    assert re.fullmatch(r"[0-9a-f]{16}", bundle.hash)
    assert "sw.js" not in bundle.shell_paths() and "index.html" not in bundle.shell_paths()
    assert "js/app.js" in bundle.shell_paths()
    copy = tmp_path / "static"
    shutil.copytree(Path(server.web.__file__).parent / "static", copy)
    assert load_bundle(copy).hash == bundle.hash
    (copy / "css" / "app.css").write_bytes(bundle.assets["css/app.css"].content + b"\n")
    changed = load_bundle(copy)
    assert changed.hash != bundle.hash
    (copy / "css" / "app.css").write_bytes(bundle.assets["css/app.css"].content)
    (copy / "js" / "pages" / "extra.js").write_text("export async function mount() {}\n")
    assert load_bundle(copy).hash not in (bundle.hash, changed.hash)


def test_the_manifest_is_valid_and_its_icons_are_served(web_app: WebApp) -> None:
    answer = fetch(web_app.url + "/manifest.webmanifest")
    assert answer.headers["content-type"].startswith("application/manifest+json")
    manifest = answer.json()
    assert manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"]
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
    for icon in manifest["icons"]:
        served = fetch(web_app.url + icon["src"])
        assert served.status_code == 200, icon["src"]
        assert served.headers["content-type"] == icon["type"]
        if icon["type"] == "image/png":
            width, height = (int(n) for n in icon["sizes"].split("x"))
            assert served.content[:8] == b"\x89PNG\r\n\x1a\n"
            assert int.from_bytes(served.content[16:20], "big") == width
            assert int.from_bytes(served.content[20:24], "big") == height


def _cached_urls(page: Page) -> list[str]:
    return list(
        page.evaluate(
            """async () => {
                const urls = [];
                for (const name of await caches.keys()) {
                    const cache = await caches.open(name);
                    for (const request of await cache.keys()) {
                        urls.push(new URL(request.url).pathname);
                    }
                }
                return urls;
            }"""
        )
    )


def test_the_service_worker_caches_the_shell_and_never_an_api_answer(
    web_app: WebApp, signed_in_page: SignedInPage
) -> None:
    bundle = load_bundle()
    page = signed_in_page("ada", admin=True)
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")
    registration = page.evaluate(
        "navigator.serviceWorker.getRegistration().then(r => r && r.active && r.active.scriptURL)"
    )
    assert registration == web_app.url + "/sw.js"
    # Visit pages that read user data, reloading so the worker controls the page.
    page.reload()
    wait_mounted(page, "chat")
    assert page.evaluate("!!navigator.serviceWorker.controller")
    for route in ("settings", "admin"):
        page.goto(f"{web_app.url}/#/{route}")
        wait_mounted(page, route)
    cached = _cached_urls(page)
    assert f"{bundle.prefix}/js/app.js" in cached
    assert f"{bundle.prefix}/css/app.css" in cached
    assert all(url == "/" or url.startswith(bundle.prefix + "/") for url in cached), cached
    assert not [url for url in cached if url.startswith("/api")]
    # The shell starts with the network gone: the page and its assets come from the cache.
    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("#app", state="attached")
    assert page.evaluate("document.querySelector('link[rel=stylesheet]').sheet !== null")
    page.context.set_offline(False)


def test_the_service_worker_script_lists_the_shell(web_app: WebApp) -> None:
    bundle = load_bundle()
    script = fetch(web_app.url + "/sw.js").text
    match = re.search(r"const SHELL = (\[.*?\]);", script)
    assert match, script[:200]
    shell = json.loads(match.group(1))
    assert shell[0] == "/"
    assert set(shell[1:]) == {f"{bundle.prefix}/{p}" for p in bundle.shell_paths()}
    assert f'const CACHE = "shell-{bundle.prefix}";' in script


def test_the_dashboard_keeps_working_under_the_strict_policy(web_app: WebApp) -> None:
    page_answer = fetch(web_app.url + "/dashboard")
    assert_protected(page_answer)
    assert "<script>" not in page_answer.text and "<style>" not in page_answer.text
    assert fetch(web_app.url + "/dashboard/dashboard.js").status_code == 200
    assert fetch(web_app.url + "/dashboard/dashboard.css").status_code == 200


def test_csrf_and_websocket_origin_are_enforced_for_the_signed_in_browser(
    web_app: WebApp, signed_in_page: SignedInPage
) -> None:
    page = signed_in_page("ada")
    refused = page.evaluate(
        """async () => {
            const r = await fetch('/api/v1/auth/api-keys', {method: 'POST',
                headers: {'Content-Type': 'application/json'}, body: '{"name": "x"}'});
            return [r.status, r.headers.get('content-type'), (await r.json()).code];
        }"""
    )
    assert refused == [403, "application/problem+json", "forbidden"]
    created = page.evaluate(
        """async () => {
            const {api} = await import(document.querySelector('link[href$="/js/api.js"]').href);
            return (await api.post('/auth/api-keys', {name: 'with the header'})).api_key.name;
        }"""
    )
    assert created == "with the header"
    cookie = next(c for c in page.context.cookies() if c["name"] == "assistant_session")
    socket_url = web_app.url.replace("http", "ws") + "/api/v1/chat/ws"
    header = {"Cookie": f"assistant_session={cookie['value']}"}
    foreign = Origin("https://evil.example")
    with (
        pytest.raises(InvalidStatus) as refused_socket,
        connect(socket_url, origin=foreign, additional_headers=header),
    ):
        pass
    assert refused_socket.value.response.status_code == 403
    with connect(socket_url, origin=Origin(web_app.url), additional_headers=header) as socket:
        socket.send("{not json")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == WS_BAD_REQUEST


def test_a_session_ended_elsewhere_sends_the_page_to_sign_in(
    web_app: WebApp, signed_in_page: SignedInPage
) -> None:
    page = signed_in_page("ada")
    user = web_app.services.auth.find_user("ada")
    for session in web_app.services.auth.list_sessions(
        Principal(user_id=user.id, username=user.username, role=user.role)
    ):
        web_app.services.auth.revoke_session(
            Principal(user_id=user.id, username=user.username, role=user.role), session.id
        )
    page.goto(f"{web_app.url}/#/settings")  # the shell still thinks it is signed in
    wait_mounted(page, "login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
