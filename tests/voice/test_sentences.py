"""The streaming sentence splitter: tables of tricky text, and invariants under hypothesis.

The invariant, precisely: if the splitter emits sentences s1..sn (pushes, then the flush),
the input is w0 + s1 + w1 + s2 + ... + sn + wn where every wi is whitespace (possibly
empty) and every si is non-empty with no whitespace at its edges. So nothing is lost,
added, reordered or repeated; only the whitespace between sentences is dropped. And the
list is the same however the input was cut into pushes.
"""

# ruff: noqa: RUF001 - fullwidth CJK punctuation is what these tests are about

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.voice.sentences import SentenceSplitter, SplitterOptions, split_sentences

LOOSE = SplitterOptions(min_chars=0, max_chars=None)
"""No merging and no cutting: the sentence ends alone decide."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
        ("No end in sight", ["No end in sight"]),
        ("Wait?! Really!!! Yes.", ["Wait?!", "Really!!!", "Yes."]),
        # Abbreviations and titles before names.
        ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
        ("It is big, e.g. a whale. Or i.e. huge.", ["It is big, e.g. a whale.", "Or i.e. huge."]),
        ("Use e.g., apples. Then eat.", ["Use e.g., apples.", "Then eat."]),
        ("The U.S. Army marched. Then rested.", ["The U.S. Army marched.", "Then rested."]),
        ("Read J. R. R. Tolkien. It is good.", ["Read J. R. R. Tolkien.", "It is good."]),
        ("Cats vs. Dogs is a film. See it.", ["Cats vs. Dogs is a film.", "See it."]),
        # A lower-case next word continues the sentence.
        ("It costs approx. five euros. Cheap.", ["It costs approx. five euros.", "Cheap."]),
        ('"Really?" she asked. "Yes."', ['"Really?" she asked.', '"Yes."']),
        # Decimals, versions, URLs and e-mail addresses.
        ("Pi is 3.14 or so. Yes.", ["Pi is 3.14 or so.", "Yes."]),
        ("Get version 2.0.1 now. Done.", ["Get version 2.0.1 now.", "Done."]),
        (
            "See https://example.com/a.html today. Mail bob.smith@example.org. Bye.",
            ["See https://example.com/a.html today.", "Mail bob.smith@example.org.", "Bye."],
        ),
        ("Visit example.com. Then relax.", ["Visit example.com.", "Then relax."]),
        # Ellipses.
        ("Well... I think so.", ["Well...", "I think so."]),
        ("Well... maybe not.", ["Well... maybe not."]),
        ("Hmm… Let me see.", ["Hmm…", "Let me see."]),
        # Closing quotes and brackets stay with their sentence.
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("It works (mostly.) Try it.", ["It works (mostly.)", "Try it."]),
        ("It is **bold.** Next.", ["It is **bold.**", "Next."]),
        # Line breaks and numbered lists.
        ("Steps:\n1. Open it\n2. Close it", ["Steps:", "1. Open it", "2. Close it"]),
        ("1. First thing. Second thing.", ["1. First thing.", "Second thing."]),
        ("Para one\n\nPara two", ["Para one", "Para two"]),
        ("I have 3. Then more.", ["I have 3.", "Then more."]),
        # CJK full stops need no space.
        ("你好。今天很好！你呢？", ["你好。", "今天很好！", "你呢？"]),
        ("「好。」然后", ["「好。」", "然后"]),
        ("こんにちは。元気ですか？", ["こんにちは。", "元気ですか？"]),
        # Whitespace is trimmed at the edges only.
        ("  Hello   world.   Bye.  ", ["Hello   world.", "Bye."]),
        ("", []),
        ("   \n  ", []),
    ],
)
def test_sentence_ends(text: str, expected: list[str]) -> None:
    assert split_sentences(text, LOOSE) == expected


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        # Short sentences merge with the next.
        (
            "Okay. Sure. Here is the whole answer. Bye.",
            SplitterOptions(min_chars=12, max_chars=None),
            ["Okay. Sure. Here is the whole answer.", "Bye."],
        ),
        # A list number alone is no sentence.
        (
            "1.\nFirst item here",
            SplitterOptions(min_chars=5, max_chars=None),
            ["1.\nFirst item here"],
        ),
        # Long run-ons are cut at the last clause mark before max_chars.
        (
            "This goes on, and on; and then on: until it ends.",
            SplitterOptions(min_chars=0, max_chars=20),
            ["This goes on,", "and on; and then on:", "until it ends."],
        ),
        # ...else at the last space...
        (
            "one two three four five six seven",
            SplitterOptions(min_chars=0, max_chars=10),
            ["one two", "three four", "five six", "seven"],
        ),
        # ...else hard at max_chars.
        (
            "abcdefghijklmnopqrstuvwxyz",
            SplitterOptions(min_chars=0, max_chars=10),
            ["abcdefghij", "klmnopqrst", "uvwxyz"],
        ),
        # CJK clause marks need no space.
        (
            "一二三四五，六七八九十，一二三四五。",
            SplitterOptions(min_chars=0, max_chars=8),
            ["一二三四五，", "六七八九十，", "一二三四五。"],
        ),
        # A clause cut keeps the minimum length.
        (
            "Hi, this is a rather long sentence, you see.",
            SplitterOptions(min_chars=10, max_chars=40),
            ["Hi, this is a rather long sentence,", "you see."],
        ),
    ],
)
def test_lengths(text: str, options: SplitterOptions, expected: list[str]) -> None:
    assert split_sentences(text, options) == expected


def test_streaming_emits_each_sentence_as_soon_as_it_is_certain() -> None:
    splitter = SentenceSplitter(LOOSE)
    assert splitter.push("Hello there") == []
    assert splitter.push(".") == []  # the end of the text, or an abbreviation?
    assert splitter.push(" ") == []  # the next word decides
    assert splitter.push("How") == ["Hello there."]
    assert splitter.push(" are you? I am Dr") == ["How are you?"]
    assert splitter.push(". Who") == []  # a title: no sentence end
    assert splitter.pending == "I am Dr. Who"
    assert splitter.flush() == "I am Dr. Who"
    assert splitter.flush() is None


def test_flush_starts_a_new_reply() -> None:
    splitter = SentenceSplitter(LOOSE)
    splitter.push("Some text\n")
    assert splitter.flush() is None  # the line was emitted by push already
    assert splitter.push("1. Listed item. Next") == ["1. Listed item."]


@pytest.mark.parametrize(
    "values", [{"min_chars": -1}, {"min_chars": 10, "max_chars": 10}, {"max_chars": 1}]
)
def test_bad_options(values: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="chars"):
        SplitterOptions(**values)


# Invariants -------------------------------------------------------------------------

WORDS = [
    "Hello", "world", "it", "is", "Mr.", "Dr.", "e.g.", "i.e.", "U.S.", "J.", "3.14", "v2.0",
    "1.", "12.", "https://example.com/a.b", "bob@example.org", "approx.", "你好", "世界",
    "“Quote”", '"hi"', "(aside)", "**bold**", "a", "Z",
]  # fmt: skip
MARKS = [
    " ", " ", " ", "  ", ". ", "! ", "? ", "?! ", "... ", "…", ".", ", ", "; ", ": ", "\n",
    "\n\n", '." ', ".) ", "。", "！", "，", "\t",
]  # fmt: skip
texts = st.one_of(
    st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(MARKS)), max_size=80).map("".join),
    st.text(max_size=120),
)
splitter_options = st.builds(
    SplitterOptions,
    min_chars=st.integers(0, 20),
    max_chars=st.one_of(st.none(), st.integers(21, 80)),
)


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(max(c, 0), len(text)) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def stream(pieces: list[str], options: SplitterOptions) -> list[str]:
    splitter = SentenceSplitter(options)
    sentences = [s for piece in pieces for s in splitter.push(piece)]
    if (rest := splitter.flush()) is not None:
        sentences.append(rest)
    return sentences


def assert_reproduces(text: str, sentences: list[str]) -> None:
    position = 0
    for sentence in sentences:
        assert sentence, "empty sentence"
        assert sentence == sentence.strip(), "whitespace at a sentence's edge"
        while position < len(text) and text[position].isspace():
            position += 1
        assert text.startswith(sentence, position), (sentence, text[position:])
        position += len(sentence)
    assert text[position:].strip() == "", "text lost at the end"


@settings(max_examples=400, deadline=None)
@given(text=texts, cuts=st.lists(st.integers(0, 400), max_size=30), options=splitter_options)
def test_nothing_lost_or_repeated_however_chunked(
    text: str, cuts: list[int], options: SplitterOptions
) -> None:
    sentences = stream(chunked(text, cuts), options)
    assert_reproduces(text, sentences)
    assert sentences == split_sentences(text, options)


@settings(max_examples=300, deadline=None)
@given(text=texts, options=splitter_options)
def test_character_by_character_equals_whole(text: str, options: SplitterOptions) -> None:
    assert stream(list(text), options) == split_sentences(text, options)


@settings(max_examples=300, deadline=None)
@given(text=texts, options=splitter_options)
def test_pushed_sentences_respect_max_chars(text: str, options: SplitterOptions) -> None:
    splitter = SentenceSplitter(options)
    for sentence in splitter.push(text):
        if options.max_chars is not None:
            assert len(sentence) <= options.max_chars
