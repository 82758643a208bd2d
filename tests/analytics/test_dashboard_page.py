"""The dashboard page in headless Chromium (Debian's `chromium`, driven by playwright):
sign in with a real account, the charts draw, nothing logs an error; a screenshot."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from assistant.analytics import Event
from assistant.auth import PasswordHasher
from assistant.services import Services, build_services
from assistant.settings import Settings
from server.app import create_app
from server.background import serve_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHARTS = ("usage-chart", "voice-chart", "tps-chart", "memory-chart", "errors-chart")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Services]]:
    settings = Settings.load(data_dir=tmp_path / "data")
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    try:
        with serve_in_thread(create_app(settings, services)) as url:
            yield url, services
    finally:
        services.close()


def seed(services: Services, user_id: str) -> None:
    """A day of use: chat turns every hour, spoken turns, model loads, errors."""
    now_ms = int(time.time() * 1000)
    events = []
    for hours_ago in range(12):
        ts = now_ms - hours_ago * 3_600_000
        for n in range(3 + hours_ago % 4):
            events.append(
                Event(
                    ts - n * 1000,
                    "chat.turn",
                    {
                        "model": "qwen:0.5b",
                        "first_token_ms": 200 + 20 * n,
                        "total_ms": 900.0,
                        "tokens_per_second": 40.0 + hours_ago,
                        "prompt_tokens": 120,
                        "cached_tokens": 90,
                        "completion_tokens": 30,
                    },
                    user_id,
                )
            )
        events.append(
            Event(
                ts,
                "voice.turn",
                {
                    "vad_tail_ms": 800,
                    "stt_ms": 350 + hours_ago,
                    "chat_first_sentence_ms": 500,
                    "tts_first_chunk_ms": 90,
                    "speech_end_to_first_audio_ms": 1740,
                },
                user_id,
            )
        )
        events.append(
            Event(
                ts,
                "error",
                {
                    "code": "not-found" if hours_ago % 3 else "model-not-installed",
                    "route": "/api/v1/chat/message",
                },
                user_id,
            )
        )
    events.append(
        Event(now_ms, "model.load", {"model": "qwen:0.5b", "load_ms": 310.0, "memory_mb": 580.0})
    )
    events.append(
        Event(now_ms, "model.load", {"model": "whisper:tiny", "load_ms": 120.0, "memory_mb": 150.0})
    )
    services.analytics.write_batch(events)


def test_the_dashboard_draws_its_charts_in_chromium(
    served: tuple[str, Services], tmp_path: Path
) -> None:
    url, services = served
    assert (
        httpx.post(
            url + "/api/v1/auth/register", json={"username": "ada", "password": "correct horse"}
        ).status_code
        == 201
    )
    seed(services, services.auth.list_users()[0].id)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(url + "/dashboard")
        page.fill("#username", "ada")
        page.fill("#password", "correct horse")
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-loaded='1']", timeout=20_000)
        drawn = {
            chart: page.eval_on_selector(
                f"#{chart}",
                "svg => svg.querySelectorAll('path.series, rect.bar, circle').length",
            )
            for chart in CHARTS
        }
        empty = page.eval_on_selector_all("svg .empty", "nodes => nodes.length")
        latency_rows = page.eval_on_selector("#latency", "t => t.rows.length")
        shot = page.screenshot(full_page=True, path=str(tmp_path / "dashboard.png"))
        browser.close()
    assert problems == []
    assert all(count > 0 for count in drawn.values()), drawn
    assert empty == 0
    assert latency_rows > 2
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    colours = image.getcolors(maxcolors=1_000_000) or []
    assert image.size[0] == 1280 and len(colours) > 50  # charts, not a blank page
