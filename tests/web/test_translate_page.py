"""The translate page in headless Chromium on a live server with the real offline models:
the chat model translating typed text (the offline profile's translator), the glossary and
the history; then speech from the (fake) microphone translated and spoken back, and the
two-person interpreter over its WebSocket (multilingual Whisper base, the chat model,
espeak-ng's Spanish voice)."""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hal.audio import AudioChunk
from server.app import create_app
from server.background import serve_in_thread
from tests.translate.real import real_translation_services
from tests.voice.speech import chunk_of, say, silence
from tests.web.conftest import (
    MISSING_PAGE,
    VIEWPORTS,
    CheckPage,
    LaunchBrowser,
    SignedInPage,
    WebApp,
    wait_mounted,
)

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

MODEL_MS = 180_000
"""How long a page may wait for the models on a busy 2-core machine (a bound)."""
SENTENCE = "The weather is nice today."


@pytest.fixture
def web_app(tmp_path: Path) -> Iterator[WebApp]:
    """The app on the real translation services (Whisper base, the chat model, espeak-ng)."""
    services = real_translation_services(tmp_path)
    try:
        with serve_in_thread(create_app(services.settings, services)) as url:
            yield WebApp(url=url, services=services, settings=services.settings)
    finally:
        services.close()


@pytest.fixture
def microphone(tmp_path: Path) -> Path:
    """What the fake microphone says, over and over: the sentence, then a pause."""
    chunk: AudioChunk = chunk_of(silence(0.3), say(SENTENCE), silence(2.5))
    path = tmp_path / "microphone.wav"
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(chunk.rate)
        writer.writeframes(chunk.audio)
    path.write_bytes(out.getvalue())
    return path


def open_translate(page: Page, url: str) -> None:
    page.goto(url + "/#/translate")
    wait_mounted(page, "translate")


def test_text_glossary_and_history(
    web_app: WebApp, signed_in_page: SignedInPage, check_page: CheckPage
) -> None:
    page = signed_in_page("ada")
    open_translate(page, web_app.url)
    page.get_by_label("From", exact=True).select_option("auto")
    page.get_by_label("To", exact=True).select_option("en")
    page.get_by_label("Text to translate").fill("Je voudrais un café, s'il vous plaît.")
    page.locator("#translate-submit").click()
    result = page.locator("#translate-result")
    expect(result.locator(".translated")).to_contain_text(
        re.compile("coffee", re.IGNORECASE), timeout=MODEL_MS
    )
    expect(result.locator(".meta")).to_contain_text("Detected French")
    expect(page.locator(".translate-form .note")).to_contain_text("chat model as translator")
    history = page.locator("#translate-history li[data-id]")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("café")

    page.get_by_label("Term", exact=True).fill("Raspberry Pi")
    page.get_by_label("Translation", exact=True).fill("Frambuesa Pi")
    page.locator("#glossary-add").click()
    terms = page.locator("#glossary-list li")
    expect(terms.first).to_contain_text("Raspberry Pi → Frambuesa Pi")
    page.get_by_label("Term", exact=True).fill("OpenAI")
    page.locator("#glossary-add").click()
    expect(terms).to_have_count(2)
    expect(terms.first).to_contain_text("Raspberry Pi → Frambuesa Pi")
    expect(terms.nth(1)).to_contain_text("OpenAI (kept as is)")
    ada = web_app.user("ada").id
    stored = web_app.services.translate.glossary(ada)
    assert stored.terms == {"Raspberry Pi": "Frambuesa Pi"}
    assert list(stored.keep) == ["OpenAI"]
    check_page(page, "translate", allow=[MISSING_PAGE])

    page.get_by_role("button", name="Remove OpenAI").click()
    expect(terms).to_have_count(1)
    page.get_by_role("button", name="Remove Raspberry Pi").click()
    expect(page.locator("#glossary-list")).to_contain_text("No terms yet.")
    assert web_app.services.translate.glossary(ada).updated_at == 0

    history.first.get_by_role("button", name=re.compile("^Delete the translation")).click()
    expect(page.locator("#translate-history")).to_contain_text("Nothing translated yet.")
    assert web_app.services.translate.history(ada, before=None, limit=10) == []


def test_speech_is_translated_and_the_interpreter_answers(
    web_app: WebApp,
    launch_browser: LaunchBrowser,
    microphone: Path,
    signed_in_page: SignedInPage,
    check_page: CheckPage,
) -> None:
    page = signed_in_page("ada", "phone", browser=launch_browser(microphone))
    open_translate(page, web_app.url)
    page.get_by_label("From", exact=True).select_option("auto")
    page.get_by_label("To", exact=True).select_option("es")

    page.locator("#speech-record").click()
    expect(page.locator("#speech-record")).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(7_000)  # the microphone says the sentence at least once
    page.locator("#speech-record").click()
    spoken = page.locator("#speech-result")
    expect(spoken.locator(".heard")).to_contain_text(
        re.compile("weather", re.IGNORECASE), timeout=MODEL_MS
    )
    expect(spoken.locator(".translated")).to_have_attribute("lang", "es")
    expect(spoken.locator(".translated")).not_to_be_empty()
    expect(spoken).not_to_have_attribute("data-played", "pending", timeout=MODEL_MS)
    assert float(spoken.get_attribute("data-played") or 0) > 0.5
    expect(page.locator("#translate-history li[data-id]").first).to_contain_text("Spoken")

    page.get_by_label("Person 1").select_option("en")
    page.get_by_label("Person 2").select_option("es")
    page.locator("#interpret-toggle").click()
    expect(page.locator("#interpret-toggle")).to_have_attribute("aria-pressed", "true")
    # The microphone may be mid-sentence when the interpreter starts: the first utterance
    # can be the sentence's tail; the next one is whole.
    utterance = (
        page.locator("#interpret-log li")
        .filter(has_text=re.compile("weather", re.IGNORECASE))
        .first
    )
    expect(utterance).to_be_visible(timeout=MODEL_MS)
    expect(utterance.locator(".translated")).to_have_attribute("lang", "es")
    expect(utterance.locator(".translated")).not_to_be_empty()
    page.locator("#interpret-toggle").click()
    expect(page.locator("#interpret-state")).to_have_text("Stopped.")
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"]
    check_page(page, "translate-speech", allow=[MISSING_PAGE])
