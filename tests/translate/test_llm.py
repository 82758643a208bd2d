"""The chat model as a translator: the prompt, the cleaning of its reply, and the second
try after a reply that translated the instruction instead of the text."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from assistant.translate.llm import (
    RETRY_PROMPT,
    ChatModelTranslator,
    echoed_instruction,
    messages_for,
    retry_messages,
)
from runtime.llm.base import ChatMessage
from runtime.llm.fake import FakeChatModel

ECHO = "No explicaciones, no notas, no quotes. Copy every marker such as ⟦0⟧ unchanged."


@pytest.mark.parametrize(
    ("reply", "source", "echoed"),
    [
        (ECHO, "I have a red car.", True),
        ("Tengo un coche rojo.", "I have a red car.", False),
        ("Abre ⟦0⟧ ahora.", "Open ⟦0⟧ now.", False),  # the text's own marker, copied
        ("Abre ⟦0⟧ y ⟦1⟧.", "Open ⟦0⟧ now.", True),  # one it did not have
        ("Abre ⟦ 0 ⟧ ahora.", "Open now.", True),  # spaced as small models write it
        ("Visita [0] ahora.", "Visit now.", False),  # brackets are not markers
        ("", "Hello.", False),
    ],
)
def test_a_reply_with_a_marker_its_text_lacked_echoes_the_instruction(
    reply: str, source: str, echoed: bool
) -> None:
    assert echoed_instruction(reply, source) is echoed


def test_the_retry_keeps_the_instruction_and_quotes_the_text() -> None:
    first = messages_for("I have a red car.", "en", "es", "Earlier text.")
    retry = retry_messages("I have a red car.", "en", "es", "Earlier text.")
    assert retry[0] == first[0]  # the same system prompt, context included
    assert retry[1] == ChatMessage("user", 'Translate into Spanish: "I have a red car."')
    assert RETRY_PROMPT.format(target="Spanish", text="x") == 'Translate into Spanish: "x"'


def scripted(messages: Sequence[ChatMessage]) -> str:
    """Echoes the instruction when given the bare text; translates a quoted request."""
    text = messages[-1].content
    return '"Tengo un coche rojo."' if text.startswith("Translate into") else ECHO


def test_an_echoed_instruction_is_asked_again_with_the_text_quoted() -> None:
    chat = FakeChatModel(reply=scripted, token_logprob=-0.25)
    [result] = ChatModelTranslator(chat).translate_batch(["I have a red car."], "en", "es")
    assert result.text == "Tengo un coche rojo."  # the quotes the source lacked, dropped
    assert result.score == -0.25
    assert [call[-1].content for call in chat.calls] == [
        "I have a red car.",
        'Translate into Spanish: "I have a red car."',
    ]
    assert chat.options[0] == chat.options[1]  # greedy both times, the same limits


def test_a_translation_is_asked_for_once() -> None:
    chat = FakeChatModel(reply=lambda messages: "El libro está en la mesa.")
    [result] = ChatModelTranslator(chat).translate_batch(["The book is on the table."], "en", "es")
    assert result.text == "El libro está en la mesa."
    assert len(chat.calls) == 1


def test_a_text_with_markers_keeps_them_without_a_retry() -> None:
    chat = FakeChatModel(reply=lambda messages: "Visita ⟦0⟧ hoy.")
    [result] = ChatModelTranslator(chat).translate_batch(["Visit ⟦0⟧ today."], "en", "es")
    assert result.text == "Visita ⟦0⟧ hoy."
    assert len(chat.calls) == 1


def test_later_sentences_of_a_batch_still_carry_the_earlier_ones_after_a_retry() -> None:
    chat = FakeChatModel(reply=scripted)
    ChatModelTranslator(chat).translate_batch(["I have a red car.", "It is fast."], "en", "es")
    assert [call[-1].content for call in chat.calls] == [
        "I have a red car.",
        'Translate into Spanish: "I have a red car."',
        "It is fast.",
        'Translate into Spanish: "It is fast."',
    ]
    assert "I have a red car." in chat.calls[3][0].content  # the second one's context
