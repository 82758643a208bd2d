"""The chat page in headless Chromium on a live server.

A scripted chat model (the chat tests' fakes behind a real model manager) writes what a
test needs: hostile Markdown, a reply held mid-way to be stopped, a long conversation to
be summarised. One test streams a turn from the real offline model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from assistant.auth import PasswordHasher
from assistant.services import Services, build_services
from assistant.settings import Settings
from server.app import create_app
from server.background import serve_in_thread
from tests.chat import conftest as chat_fakes
from tests.chat.conftest import ChatEnv, unstamped
from tests.web.conftest import CheckPage, NewPage, SignedInPage, WebApp, sign_in, wait_mounted

chat_env = chat_fakes.chat_env
"""The chat tests' fixture: scripted models behind a real model manager."""

REPLY_TIMEOUT_MS = 20_000
REAL_REPLY_TIMEOUT_MS = 180_000

HOSTILE = (
    "Here: <script>window.__xss = 'script'</script> and"
    ' <img src="x" onerror="window.__xss = \'img\'"> and'
    " [click me](javascript:window.__xss='link') and [data](data:text/html,<b>x</b>)"
    " and [docs](https://example.com/docs) and `<b>code</b>` and **bold** and *soft*\n\n"
    "### A heading\n\n- one\n- two\n\n```\nprint('<i>hi</i>')\n```"
)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """Real services on the system clock (a browser keeps cookies by the real time)."""
    built = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    yield built
    built.close()


@pytest.fixture
def web_app(
    settings: Settings,
    services: Services,
    chat_env: ChatEnv,
) -> Iterator[WebApp]:
    """The app with the scripted chat models ``fake:small`` and ``fake:big``."""
    wired = dataclasses.replace(
        services, chat=chat_env.chat, models=chat_env.catalogue, manager=chat_env.chat.manager
    )
    with serve_in_thread(create_app(settings, wired)) as url:
        yield WebApp(url=url, services=wired, settings=settings)


def open_chat(page: Page, url: str) -> None:
    page.goto(url + "/#/chat")
    wait_mounted(page, "chat")


def finished_turns(page: Page) -> int:
    """Turns the page has finished (streamed to the end, stopped or failed)."""
    return int(page.locator("#chat-log").get_attribute("data-finished-turns") or 0)


def send(page: Page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


def reply_to(page: Page, action: Any, timeout: int = REPLY_TIMEOUT_MS) -> Locator:
    """Do ``action`` (which starts a turn); the last assistant message once it finished."""
    before = finished_turns(page)
    action()
    page.wait_for_selector(
        f'#chat-log[data-finished-turns="{before + 1}"]', state="attached", timeout=timeout
    )
    return page.locator(".chat-message.assistant").last


def ask(page: Page, text: str, timeout: int = REPLY_TIMEOUT_MS) -> Locator:
    """Send ``text``; the reply once it finished."""
    return reply_to(page, lambda: send(page, text), timeout)


def test_a_streamed_reply_renders_markdown_and_hostile_markup_stays_inert(
    signed_in_page: SignedInPage, web_app: WebApp, chat_env: ChatEnv, check_page: CheckPage
) -> None:
    chat_env.replies["fake:big"] = lambda messages: HOSTILE
    page = signed_in_page()
    open_chat(page, web_app.url)
    options = page.locator("#chat-model option").all_inner_texts()
    assert options == ["Automatic", "fake:big", "fake:small"], options
    reply = ask(page, "Show me some markup")
    body = reply.locator(".chat-body")
    # Nothing the model wrote ran, and no element or attribute it spelled out exists.
    assert page.evaluate("window.__xss") is None
    log = page.locator("#chat-log")
    for selector in ("script", "img", "iframe", "[onerror]", "[onclick]"):
        assert log.locator(selector).count() == 0, selector
    assert page.evaluate(
        "[...document.querySelectorAll('#chat-log a')].every(a =>"
        " ['https:', 'http:', 'mailto:'].includes(new URL(a.href).protocol))"
    )
    # The markup is shown as text; the unsafe links as their source text.
    text = body.inner_text()
    assert "<script>window.__xss = 'script'</script>" in text
    assert '<img src="x" onerror=' in text
    assert "[click me](javascript:window.__xss='link')" in text
    assert "[data](data:text/html,<b>x</b>)" in text
    docs = body.get_by_role("link", name="docs")
    assert docs.get_attribute("href") == "https://example.com/docs"
    assert "noopener" in (docs.get_attribute("rel") or "")
    assert body.locator("code").first.inner_text() == "<b>code</b>"
    assert body.locator("strong").inner_text() == "bold"
    assert body.locator("em").inner_text() == "soft"
    assert body.locator("h3").inner_text() == "A heading"
    assert body.locator("li").all_inner_texts() == ["one", "two"]
    assert body.locator("pre code").inner_text() == "print('<i>hi</i>')"
    expect(reply.locator(".chat-meta")).to_contain_text("fake:big")
    expect(page.locator("#chat-conversation-list")).to_contain_text("Show me some markup")
    check_page(page, "chat")


def test_the_model_picker_chooses_the_model(
    signed_in_page: SignedInPage, web_app: WebApp, check_page: CheckPage
) -> None:
    page = signed_in_page()
    open_chat(page, web_app.url)
    page.get_by_label("Model").select_option("fake:small")
    reply = ask(page, "Hello small model")
    expect(reply.locator(".chat-body")).to_have_text("You said: Hello small model")
    expect(reply.locator(".chat-meta")).to_contain_text("fake:small")
    # The address names the conversation: a reload (here in the dark theme) reopens it.
    assert "#/chat/" in page.url
    page.evaluate("localStorage.setItem('theme', 'dark')")
    page.reload()
    wait_mounted(page, "chat")
    expect(page.locator(".chat-message.assistant .chat-body")).to_have_text(
        "You said: Hello small model"
    )
    check_page(page, "chat-dark")


def test_a_turn_that_cannot_start_says_why_and_keeps_the_text(
    signed_in_page: SignedInPage, web_app: WebApp, chat_env: ChatEnv
) -> None:
    page = signed_in_page()
    open_chat(page, web_app.url)
    chat_env.catalogue.models.clear()  # no chat model left to answer
    reply_to(page, lambda: send(page, "Anyone there?"))
    expect(page.get_by_role("alert").filter(has_text="The reply failed")).to_contain_text("model")
    expect(page.get_by_label("Message", exact=True)).to_have_value("Anyone there?")
    expect(page.locator(".chat-message")).to_have_count(0)


def test_rename_and_delete_conversations(signed_in_page: SignedInPage, web_app: WebApp) -> None:
    page = signed_in_page()
    open_chat(page, web_app.url)
    ask(page, "First topic")
    page.get_by_role("button", name="New chat").click()
    ask(page, "Second topic")
    conversations = page.locator("#chat-conversation-list .chat-conversation")
    expect(conversations).to_have_count(2)

    page.get_by_role("button", name="Rename First topic").click()
    page.get_by_label("New title").fill("Holiday plans")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#chat-conversation-list")).to_contain_text("Holiday plans")
    user = web_app.user("ada")
    titles = {c.title for c in web_app.services.history.conversations(user.id)}
    assert titles == {"Holiday plans", "Second topic"}

    page.get_by_role("button", name="Delete Second topic").click()
    page.get_by_role("group", name="Delete Second topic?").get_by_role(
        "button", name="Delete"
    ).click()
    expect(conversations).to_have_count(1)
    expect(page.locator("#chat-title")).to_have_text("New conversation")
    [left] = web_app.services.history.conversations(user.id)
    assert left.title == "Holiday plans"

    page.locator(".chat-open", has_text="Holiday plans").click()
    expect(page.locator("#chat-title")).to_have_text("Holiday plans")
    expect(page.locator(".chat-message")).to_have_count(2)


def test_stop_keeps_the_partial_reply_and_regenerate_replaces_it(
    signed_in_page: SignedInPage, web_app: WebApp, chat_env: ChatEnv
) -> None:
    page = signed_in_page()
    open_chat(page, web_app.url)
    ask(page, "Warm up")
    engine = chat_env.engines["fake:big"]
    engine.reply = lambda messages: " ".join(f"word{i}" for i in range(200))
    engine.hold_after = 3
    before = finished_turns(page)
    send(page, "Tell me everything")
    assert engine.holding.wait(REPLY_TIMEOUT_MS / 1000), "the model never started"
    expect(page.locator(".chat-message.assistant.pending .chat-body")).to_contain_text("word2")
    reply = reply_to(page, page.get_by_role("button", name="Stop").click)
    assert finished_turns(page) == before + 1
    expect(reply.locator(".chat-meta")).to_contain_text("stopped")
    assert engine.wait_for_finishes(2)[-1][0] == "cancelled"

    engine.hold_after = None
    engine.reply = lambda messages: "A *fresh* answer."
    reply = reply_to(page, page.get_by_role("button", name="Regenerate").click)
    expect(reply.locator(".chat-body")).to_have_text("A fresh answer.")
    expect(page.locator(".chat-message")).to_have_count(4)
    user = web_app.user("ada")
    [conversation] = web_app.services.history.conversations(user.id)
    stored = [
        m.content for m in reversed(web_app.services.history.history(user.id, conversation.id))
    ]
    assert [unstamped(s) for s in stored] == [
        "Warm up",
        "You said: Warm up",
        "Tell me everything",
        "A *fresh* answer.",
    ]


def test_folded_turns_show_the_summary_and_a_skill_shows_its_badge(
    signed_in_page: SignedInPage, web_app: WebApp, chat_env: ChatEnv
) -> None:
    chat_env.context_length["fake:big"] = 200

    def reply(messages: Any) -> str:
        if "Summarise the conversation" in messages[0].content:
            return "SUMMARY: Ada likes tea."
        return "fine " * 10

    chat_env.replies["fake:big"] = reply
    chat_env.chat.skills = web_app.services.skills
    page = signed_in_page()
    open_chat(page, web_app.url)
    for i in range(8):
        ask(page, f"fact number {i}: " + "word " * 10)
        if page.locator("#chat-summary details").count():
            break
    summary = page.locator("#chat-summary details")
    expect(summary).to_be_visible()
    summary.locator("summary").click()
    expect(summary).to_contain_text("SUMMARY: Ada likes tea.")
    expect(page.locator("#chat-notice")).to_contain_text("summary")

    reply_node = ask(page, "set a timer for 5 minutes")
    expect(reply_node.locator(".chat-skill")).to_have_text("Skill: timer")


@pytest.mark.real_model
def test_a_turn_with_the_real_model_streams_into_the_page(
    web_app_real: WebApp, new_page: NewPage, check_page: CheckPage, tmp_path: Path
) -> None:
    web_app_real.user("ada")
    page = new_page()
    sign_in(page, web_app_real.url, "ada")
    open_chat(page, web_app_real.url)
    deltas = page.evaluate_handle("[]")
    page.evaluate(
        "(seen) => new MutationObserver(() => {"
        " const body = document.querySelector('.chat-message.pending .chat-body');"
        " if (body) seen.push(body.textContent.length); })"
        ".observe(document.getElementById('chat-log'), {subtree: true, childList: true})",
        deltas,
    )
    reply = ask(
        page, "What is the capital of France? Answer in one short sentence.", REAL_REPLY_TIMEOUT_MS
    )
    assert "paris" in reply.locator(".chat-body").inner_text().lower()
    # The text grew in several steps as it streamed, not in one piece at the end.
    lengths = deltas.json_value()
    assert len({n for n in lengths if n > 0}) >= 2, lengths
    expect(reply.locator(".chat-meta")).to_contain_text("total")
    check_page(page, "chat-real")
