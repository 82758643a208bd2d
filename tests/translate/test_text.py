"""Layout, placeholders and HTML around the engine; chrF and score calibration."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.translate.quality import calibrated, chrf
from assistant.translate.text import (
    html_pieces,
    html_text,
    only_placeholders,
    protect,
    restore,
    split_units,
)


def upper(text: str) -> str:
    """A stand-in engine that changes every letter and keeps placeholders."""
    return text.upper()


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One. Two? Three!", ["One.", "Two?", "Three!"]),
        ("Line one\nLine two", ["Line one", "Line two"]),
        ("Para one.\n\n\nPara two.", ["Para one.", "Para two."]),
        ("  indented.\n\ttabbed  ", ["indented.", "tabbed"]),
        ("Pi is 3.14 and e is 2.72. Next.", ["Pi is 3.14 and e is 2.72.", "Next."]),
        ("Mail a@b.com or see https://x.org/a.b today.", None),
        ("🙂 Hi there 🙂", ["🙂 Hi there 🙂"]),
    ],
)
def test_units_keep_every_character_between_sentences(
    text: str, sentences: list[str] | None
) -> None:
    units = split_units(text)
    if sentences is not None:
        assert list(units.sentences) == sentences
    assert units.join(list(units.sentences)) == text
    translated = units.join([upper(s) for s in units.sentences])
    assert translated == upper(text) or translated.count("\n") == text.count("\n")


@given(st.text(min_size=0, max_size=200))
def test_splitting_and_joining_is_lossless(text: str) -> None:
    units = split_units(text)
    assert units.join(list(units.sentences)) == text


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Visit https://example.org/a?b=1 now.", ["https://example.org/a?b=1"]),
        ("Write to ana.b+x@mail.example.com today.", ["ana.b+x@mail.example.com"]),
        ("It costs 12.50 and rose 3%.", ["12.50", "3%"]),
        ("Great job 🎉👍 team", ["🎉👍"]),
        ("Meet at 10:30 on 2025/06/11.", ["10:30", "2025/06/11"]),
    ],
)
def test_protected_spans_reach_the_output_unchanged(text: str, kept: list[str]) -> None:
    protected = protect(text)
    for span in kept:
        assert span not in protected.text
    restored = restore(upper(protected.text), protected.spans)
    for span in kept:
        assert span in restored.text
    assert not restored.appended


def test_glossary_terms_become_their_translation_and_keep_terms_stay() -> None:
    protected = protect(
        "The Raspberry Pi runs OpenAI code.", {"raspberry pi": "Frambuesa Pi"}, ["OpenAI"]
    )
    assert "Raspberry" not in protected.text and "OpenAI" not in protected.text
    restored = restore(upper(protected.text), protected.spans)
    assert "Frambuesa Pi" in restored.text
    assert "OpenAI" in restored.text


def test_a_placeholder_the_engine_dropped_is_appended_and_reported() -> None:
    protected = protect("See https://a.example for more.")
    restored = restore("Voir pour plus.", protected.spans)
    assert restored.text.endswith("https://a.example")
    assert restored.appended == frozenset({0})


def test_placeholders_an_engine_invents_or_repeats_are_dropped() -> None:
    protected = protect("Call 911 now.")
    restored = restore("Appelez ⟦0⟧ ⟦0⟧ ⟦7⟧ maintenant.", protected.spans)
    assert restored.text == "Appelez 911   maintenant."


def test_text_holding_the_placeholder_brackets_cannot_confuse_restoring() -> None:
    text = "Literal ⟦0⟧ in text and 42."
    protected = protect(text)
    assert restore(protected.text, protected.spans).text == text


@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
            st.sampled_from(["https://x.org/p", "a@b.co", "42", "3.5%", "🙂", "Pi", "⟦1⟧"]),
        ),
        max_size=12,
    ),
    st.randoms(use_true_random=False),
)
def test_placeholders_are_always_restored(pieces: list[str], random: object) -> None:
    """Whatever the engine does with the placeholders (keeps, moves, drops, spaces them),
    every protected span comes back exactly once in place or appended."""
    text = " ".join(pieces)
    protected = protect(text, {"Pi": "PI-TERM"}, ())
    found = protected.text.split("⟦")
    shuffled = list(found)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    mangled = "⟦ ".join(shuffled[: len(shuffled) // 2 + 1])
    restored = restore(mangled, protected.spans)
    assert restored.placed | restored.appended == frozenset(range(len(protected.spans)))
    assert not restored.placed & restored.appended
    for span in protected.spans:
        assert span.replacement in restored.text
    identity = restore(protected.text, protected.spans)
    assert not identity.appended
    if not protected.spans or all(s.term is None for s in protected.spans):
        assert identity.text == text


@pytest.mark.parametrize(
    "document",
    [
        '<p class="lead" data-x="1">Hello <b title="Greeting">world</b>!</p>',
        '<a href="https://example.org/?a=1&amp;b=2">Link text</a>',
        "<ul>\n  <li>One</li>\n  <li>Two</li>\n</ul>",
        "<p>Fish &amp; chips &lt;3</p>",
        "<!DOCTYPE html><html><head><title>T</title></head><body>Hi</body></html>",
        "<script>if (a < b && c) { x = '<p>'; }</script><p>Text</p>",
        "<style>p > b { color: red }</style><p>Styled</p>",
        "<pre>code   stays</pre><code>x = 1</code><!-- a comment -->",
        '<img src="a.png" alt="An image"/><br>Plain',
    ],
)
def test_html_markup_survives_and_only_text_nodes_change(document: str) -> None:
    pieces = html_pieces(document)
    same = "".join(html_text(p.text) if p.translate else p.text for p in pieces)
    assert same.replace("&amp;", "&") == document.replace("&amp;", "&")
    changed = "".join(html_text(upper(p.text)) if p.translate else p.text for p in pieces)
    markup = [p.text for p in pieces if not p.translate]
    for tag in markup:
        assert tag in changed
    for verbatim in ("if (a < b && c)", "color: red", "code   stays", "x = 1"):
        if verbatim in document:
            assert verbatim in changed


@pytest.mark.parametrize(
    ("text", "expected"),
    [("⟦0⟧", True), ("⟦0⟧, ⟦1⟧!", True), (" ", True), ("⟦0⟧ euros", False), ("Hi", False)],
)
def test_only_placeholders(text: str, expected: bool) -> None:
    assert only_placeholders(text) is expected


@pytest.mark.parametrize(
    ("hypothesis", "reference"),
    [
        ("The cat sat on the mat.", "The cat sat on the mat."),
        ("The cat sat on a mat.", "The cat sat on the mat."),
        ("A dog ran.", "The cat sat on the mat."),
        ("Guten Morgen", "Good morning"),
        ("ab", "abcdefgh"),
        ("", "something"),
    ],
)
def test_chrf_matches_sacrebleu(hypothesis: str, reference: str) -> None:
    from sacrebleu.metrics import CHRF

    expected = CHRF().sentence_score(hypothesis, [reference]).score / 100
    assert chrf(hypothesis, reference) == pytest.approx(expected, abs=1e-6)


def test_calibration_maps_log_probabilities_to_0_1() -> None:
    assert calibrated(0.0) == 1.0
    assert calibrated(math.log(0.5)) == pytest.approx(0.5)
    assert calibrated(-50.0) == pytest.approx(0.0, abs=1e-12)
    assert calibrated(0.3) == 1.0  # never above 1
    assert calibrated(float("nan")) == 0.0
