"""The web app's browser test harness: a live server, headless Chromium, signed-in pages,
and one check per page (axe-core audit, no console errors, screenshots on a phone and a
wide screen).

- ``web_app``: the app served on loopback (fake-free real services, no models needed) on a
  temporary data directory; ``web_app_real`` does the same with the real offline models
  (``real_settings``). Both yield a :class:`WebApp` with ``url``, ``services``,
  ``settings`` and ``create_user``.
- ``launch_browser(audio_wav=None)``: a Chromium with fake camera and microphone (the
  microphone plays ``audio_wav`` when given); ``browser`` is one without a file.
- ``new_page(viewport="wide")``: a page in a fresh context that records its problems.
- ``signed_in_page(user="ada", viewport="wide", admin=False)``: a fresh page signed in
  through the real login form (the account is created when missing).
- ``check_page(page, name)``: axe audit (serious or critical violations fail), no console
  errors or page errors, screenshots ``<name>-phone.png`` and ``<name>-wide.png`` in
  ``tests/web/artifacts/`` (or ``$ASSISTANT_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from assistant.auth import PasswordHasher, Role, User
from assistant.services import Services, build_services
from assistant.settings import Settings
from server.app import create_app
from server.background import serve_in_thread
from tests.conftest import real_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
VIEWPORTS: dict[str, dict[str, int]] = {
    "phone": {"width": 390, "height": 844},
    "wide": {"width": 1280, "height": 800},
}
PASSWORD = "correct horse battery"
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
MOUNT_TIMEOUT_MS = 15_000
MISSING_PAGE = r"404 .* at .*/js/pages/\w+\.js$"
"""The console error of a page module that is not installed (``allow=[MISSING_PAGE]``)."""


def artifacts_dir() -> Path:
    """Where screenshots go (gitignored)."""
    folder = Path(os.environ.get("ASSISTANT_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class WebApp:
    """The app served on loopback."""

    url: str
    """Base URL, ``http://127.0.0.1:<port>``."""
    services: Services
    """The services behind it (to seed data or look at what a page did)."""
    settings: Settings
    """Its settings."""

    def create_user(self, username: str, password: str = PASSWORD, *, admin: bool = False) -> User:
        """An account made directly through the auth service (the first one is admin)."""
        return self.services.auth.create_user(
            username, password, Role.ADMIN if admin else Role.USER
        )

    def user(self, username: str, password: str = PASSWORD, *, admin: bool = False) -> User:
        """The account named ``username``, created when missing."""
        for existing in self.services.auth.list_users():
            if existing.username == username:
                return existing
        return self.create_user(username, password, admin=admin)


def serve_web_app(settings: Settings) -> Iterator[WebApp]:
    """Serve the app on ``settings`` (for a test that needs its own settings:
    ``yield from serve_web_app(...)`` in a fixture, or ``contextlib.contextmanager``)."""
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    try:
        with serve_in_thread(create_app(settings, services)) as url:
            yield WebApp(url=url, services=services, settings=settings)
    finally:
        services.close()


@pytest.fixture
def web_app(tmp_path: Path) -> Iterator[WebApp]:
    """The app on a fresh data directory, without models."""
    yield from serve_web_app(Settings.load(data_dir=tmp_path / "data"))


@pytest.fixture
def web_app_real(tmp_path: Path) -> Iterator[WebApp]:
    """The app on a fresh data directory with the real offline models (mark the test
    ``real_model``)."""
    yield from serve_web_app(real_settings(tmp_path))


@pytest.fixture(scope="module")
def playwright_session() -> Iterator[Playwright]:
    """One playwright driver per test module. Not per session: the sync API runs an event
    loop in this thread while it lives, and every asyncio test after it would fail
    ("Runner.run() cannot be called from a running event loop")."""
    with sync_playwright() as playwright:
        yield playwright


class LaunchBrowser(Protocol):
    def __call__(self, audio_wav: Path | None = None) -> Browser: ...


@pytest.fixture
def launch_browser(playwright_session: Playwright) -> Iterator[LaunchBrowser]:
    """Start Chromium (closed after the test); ``audio_wav`` becomes the microphone."""
    browsers: list[Browser] = []

    def launch(audio_wav: Path | None = None) -> Browser:
        args = list(CHROMIUM_ARGS)
        if audio_wav is not None:
            args.append(f"--use-file-for-fake-audio-capture={audio_wav}")
        browser = playwright_session.chromium.launch(
            executable_path=CHROMIUM, args=args, headless=True
        )
        browsers.append(browser)
        return browser

    yield launch
    for browser in browsers:
        browser.close()


@pytest.fixture
def browser(launch_browser: LaunchBrowser) -> Browser:
    """A Chromium with a fake camera and a fake (beeping) microphone."""
    return launch_browser()


@dataclass
class PageProblems:
    """What went wrong in the pages of one test: console errors and uncaught exceptions."""

    seen: dict[int, list[str]] = field(default_factory=dict)

    def watch(self, page: Page) -> Page:
        problems = self.seen.setdefault(id(page), [])
        page.on(
            "console",
            lambda message: (
                problems.append(f"console: {message.text} at {message.location.get('url')}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        return page

    def of(self, page: Page) -> list[str]:
        return self.seen.setdefault(id(page), [])


@pytest.fixture
def page_problems() -> PageProblems:
    """Console errors and page errors of every page a test opened."""
    return PageProblems()


class NewPage(Protocol):
    def __call__(
        self, viewport: str | dict[str, int] = "wide", browser: Browser | None = None
    ) -> Page: ...


@pytest.fixture
def new_page(browser: Browser, page_problems: PageProblems) -> Iterator[NewPage]:
    """A page in a fresh browser context (its own cookies and service worker)."""
    contexts: list[BrowserContext] = []

    def make(viewport: str | dict[str, int] = "wide", browser_: Browser | None = None) -> Page:
        size = VIEWPORTS[viewport] if isinstance(viewport, str) else viewport
        context = (browser_ or browser).new_context(viewport=size)
        contexts.append(context)
        return page_problems.watch(context.new_page())

    yield make
    for context in contexts:
        context.close()


def wait_mounted(page: Page, name: str) -> None:
    """Wait until the app has mounted page ``name`` (``body[data-mounted]``)."""
    page.wait_for_selector(
        f'body[data-mounted="{name}"]', state="attached", timeout=MOUNT_TIMEOUT_MS
    )


def sign_in(page: Page, url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person would."""
    page.goto(url + "/#/login")
    wait_mounted(page, "login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(
        'body[data-mounted]:not([data-mounted="login"])',
        state="attached",
        timeout=MOUNT_TIMEOUT_MS,
    )


class SignedInPage(Protocol):
    def __call__(
        self,
        user: str = "ada",
        viewport: str | dict[str, int] = "wide",
        *,
        admin: bool = False,
        password: str = PASSWORD,
        browser: Browser | None = None,
    ) -> Page: ...


@pytest.fixture
def signed_in_page(web_app: WebApp, new_page: NewPage) -> SignedInPage:
    """A fresh page signed in through the real login form; the account is created when
    missing (the first account of the device is the admin)."""

    def make(
        user: str = "ada",
        viewport: str | dict[str, int] = "wide",
        *,
        admin: bool = False,
        password: str = PASSWORD,
        browser: Browser | None = None,
    ) -> Page:
        web_app.user(user, password, admin=admin)
        page = new_page(viewport, browser)
        sign_in(page, web_app.url, user, password)
        return page

    return make


class CheckPage(Protocol):
    def __call__(self, page: Page, name: str, *, allow: Sequence[str] = ()) -> None: ...


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core in the page; the serious and critical violations."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `npm ci` in tests/web")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP does not apply to it.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)})); }"
    )
    return [v for v in results if v["impact"] in FAILING_IMPACTS]


@pytest.fixture
def check_page(page_problems: PageProblems) -> CheckPage:
    """Audit ``page`` on a phone and a wide screen: axe (no serious or critical
    violation), no console or page errors (but those matching an ``allow`` pattern), and a
    screenshot of each in the artefacts folder."""

    def check(page: Page, name: str, *, allow: Sequence[str] = ()) -> None:
        original = page.viewport_size
        failures: list[str] = []
        try:
            for label, size in VIEWPORTS.items():
                page.set_viewport_size(size)
                page.wait_for_timeout(150)  # layout settles after the resize (not an assertion)
                page.screenshot(path=str(artifacts_dir() / f"{name}-{label}.png"), full_page=True)
                for violation in axe_violations(page):
                    failures.append(
                        f"{label}: axe {violation['impact']} {violation['id']}: {violation['help']}"
                        f" at {json.dumps(violation['nodes'][:3])}"
                    )
        finally:
            if original is not None:
                page.set_viewport_size(original)
        problems = [p for p in page_problems.of(page) if not any(re.search(a, p) for a in allow)]
        failures.extend(problems)
        assert not failures, f"page {name}:\n" + "\n".join(failures)

    return check
