"""The voice page in headless Chromium on a live server with the real offline models.

Chromium's fake microphone plays a WAV file spoken by the offline profile's Piper voice.
The file starts when capture starts (the page opens the microphone on the first press)
and then loops, so push-to-talk holds the button for the file's length.

To ask the push-to-talk test with your own voice, record a question as a WAV file (any
rate, mono or stereo) and name a word its transcript must contain::

    ASSISTANT_TEST_VOICE_WAV=~/question.wav ASSISTANT_TEST_VOICE_WORD=weather \
        .venv/bin/python -m pytest tests/web/test_voice_page.py -k push_to_talk

The page's screenshots (``tests/web/artifacts``) then show your turn.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from playwright.sync_api import Locator, Page, expect

from assistant.settings import Settings
from hal.audio.wavfile import read_wav, write_wav
from tests.voice.speech import RATE, chunk_of, say, silence
from tests.web.conftest import (
    CheckPage,
    LaunchBrowser,
    NewPage,
    SignedInPage,
    WebApp,
    serve_web_app,
    sign_in,
    wait_mounted,
)

TURN_TIMEOUT_MS = 180_000


@pytest.fixture
def web_app(tmp_path: Path) -> Iterator[WebApp]:
    """The app with an empty model store: the voice loop cannot start."""
    yield from serve_web_app(
        Settings.load(data_dir=tmp_path / "data", models={"dir": tmp_path / "models"})
    )


def wav_of(path: Path, *parts: npt.NDArray[np.float32]) -> float:
    """``parts`` as a 16-bit PCM WAV file (what Chromium's fake capture reads); seconds."""
    chunk = chunk_of(*parts)
    write_wav(path, chunk)
    return len(chunk.audio) / 2 / RATE


def question_wav(path: Path) -> tuple[float, str]:
    """The push-to-talk question as a WAV at ``path``: its seconds, and a word (lower case)
    its transcript must contain. Yours with ``ASSISTANT_TEST_VOICE_WAV`` and
    ``ASSISTANT_TEST_VOICE_WORD``, else Piper asking for the capital of France."""
    own = os.environ.get("ASSISTANT_TEST_VOICE_WAV")
    if not own:
        return wav_of(
            path, silence(0.3), say("What is the capital of France?"), silence(0.9)
        ), "france"
    word = os.environ.get("ASSISTANT_TEST_VOICE_WORD", "").strip().lower()
    assert word, "ASSISTANT_TEST_VOICE_WORD names a word the transcript of your WAV must contain"
    recorded = read_wav(Path(own).expanduser(), rate=RATE, channels=1)
    return wav_of(path, silence(0.3), recorded.samples(), silence(0.9)), word


def open_voice(page: Page, url: str) -> None:
    page.goto(url + "/#/voice")
    wait_mounted(page, "voice")
    expect(page.locator("#voice-talk")).to_be_enabled(timeout=30_000)


def finished_turn(page: Page) -> Locator:
    """The newest turn whose run has ended (the looping microphone may start another)."""
    page.wait_for_selector(".voice-turn[data-outcome]", timeout=TURN_TIMEOUT_MS)
    return page.locator(".voice-turn[data-outcome]").first


@pytest.mark.real_model
def test_push_to_talk_is_answered_aloud_with_transcript_and_timings(
    web_app_real: WebApp,
    launch_browser: LaunchBrowser,
    new_page: NewPage,
    check_page: CheckPage,
    tmp_path: Path,
) -> None:
    question = tmp_path / "question.wav"
    seconds, word = question_wav(question)
    web_app_real.user("ada")
    page = new_page("wide", launch_browser(audio_wav=question))
    sign_in(page, web_app_real.url, "ada")
    open_voice(page, web_app_real.url)
    expect(page.locator("#voice-status")).to_contain_text("Hold the button")

    talk = page.locator("#voice-talk")
    talk.hover()
    page.mouse.down()
    expect(talk).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(seconds * 1000)  # hold for the question (not an assertion)
    page.mouse.up()

    turn = finished_turn(page)
    assert turn.get_attribute("data-outcome") == "completed"
    heard = turn.locator(".voice-heard").inner_text().lower()
    assert word in heard, heard
    reply = turn.locator(".voice-reply").inner_text()
    assert len(reply.removeprefix("Assistant: ").strip()) > 0, reply
    # The reply's audio reached the page (and was scheduled for playback).
    audio = turn.locator(".voice-audio").inner_text()
    assert float(audio.split(": ")[1].removesuffix(" s")) > 0, audio
    for stage in ("stt_seconds", "chat_first_delta_seconds", "speech_end_to_first_audio_seconds"):
        cell = turn.locator(f'.voice-timings tr[data-stage="{stage}"] td')
        assert cell.inner_text().endswith(" ms"), stage
    expect(page.locator("#voice-mic")).to_have_text("Microphone on")
    check_page(page, "voice")
    # The spoken turn is a chat turn too: it opens in the chat page.
    turn.get_by_role("link", name="Open in chat").click()
    wait_mounted(page, "chat")
    expect(page.locator(".chat-message.user .chat-body")).to_contain_text(word, ignore_case=True)


@pytest.mark.real_model
def test_space_bar_talks_and_a_press_during_the_reply_barges_in(
    web_app_real: WebApp, launch_browser: LaunchBrowser, new_page: NewPage, tmp_path: Path
) -> None:
    story = tmp_path / "story.wav"
    seconds = wav_of(
        story, silence(0.3), say("Tell me a long story about a dragon and a knight."), silence(0.9)
    )
    web_app_real.user("ada")
    page = new_page("phone", launch_browser(audio_wav=story))
    sign_in(page, web_app_real.url, "ada")
    open_voice(page, web_app_real.url)

    page.keyboard.down("Space")
    page.wait_for_timeout(seconds * 1000)  # hold for the request (not an assertion)
    page.keyboard.up("Space")
    expect(page.locator("#voice-status")).to_contain_text("Speaking", timeout=TURN_TIMEOUT_MS)
    first_run = page.locator(".voice-turn").first.get_attribute("data-run")

    page.keyboard.down("Space")  # barge in
    page.wait_for_timeout(1000)
    page.keyboard.up("Space")
    # The reply stops: the device's run ends as interrupted when it was still answering,
    # and the page cuts what it was still playing either way.
    interrupted = page.locator(f'.voice-turn[data-run="{first_run}"]')
    expect(interrupted).to_contain_text("Interrupted.")
    assert "dragon" in interrupted.locator(".voice-heard").inner_text().lower()
    # The press started a new turn (listening again); it is the newest one.
    expect(page.locator(".voice-turn")).to_have_count(2, timeout=TURN_TIMEOUT_MS)
    assert page.locator(".voice-turn").first.get_attribute("data-run") != first_run


@pytest.mark.real_model
def test_hands_free_answers_after_the_wake_word(
    web_app_real: WebApp, launch_browser: LaunchBrowser, new_page: NewPage, tmp_path: Path
) -> None:
    spoken = tmp_path / "wake.wav"
    wav_of(
        spoken,
        silence(1.0),
        say("Hey Jarvis!"),
        silence(0.8),
        say("What is the capital of France?"),
        # The file loops: a long pause keeps its next "Hey Jarvis!" from barging in on
        # the answer (a busy machine takes tens of seconds over a turn).
        silence(180.0),
    )
    web_app_real.user("ada")
    page = new_page("wide", launch_browser(audio_wav=spoken))
    sign_in(page, web_app_real.url, "ada")
    open_voice(page, web_app_real.url)
    page.get_by_label("Hands-free").check()
    expect(page.locator("#voice-talk")).to_be_enabled(timeout=30_000)
    page.get_by_role("button", name="Start listening").click()
    expect(page.locator("#voice-mic")).to_have_text("Microphone on")
    turn = finished_turn(page)
    assert "france" in turn.locator(".voice-heard").inner_text().lower()
    assert float(turn.locator(".voice-audio").inner_text().split(": ")[1].removesuffix(" s")) > 0
    expect(turn.locator('.voice-timings tr[data-stage="total_seconds"]')).to_have_count(1)


def test_without_models_the_page_says_what_to_install(
    signed_in_page: SignedInPage, web_app: WebApp, check_page: CheckPage
) -> None:
    page = signed_in_page()
    page.goto(web_app.url + "/#/voice")
    wait_mounted(page, "voice")
    status = page.locator("#voice-status")
    expect(status).to_contain_text("is not installed. Install it with: assistant models pull")
    expect(page.locator("#voice-talk")).to_be_disabled()
    expect(page.get_by_role("button", name="Reconnect")).to_be_visible()
    check_page(page, "voice-no-models")
