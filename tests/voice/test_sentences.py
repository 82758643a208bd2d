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


FIRST = SplitterOptions(min_chars=10, max_chars=200, first_clause_words=6)
"""The voice replies' splitter: the first piece ends at a clause mark or after six words."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A comma after enough characters ends the first piece; the rest are sentences.
        (
            "Of course, the capital of France is Paris. It is lovely.",
            ["Of course,", "the capital of France is Paris.", "It is lovely."],
        ),
        # Too short a clause ("Sure,") merges on; then six words end it.
        (
            "Sure, the capital of France is the city of Paris. It is lovely.",
            ["Sure, the capital of France is", "the city of Paris.", "It is lovely."],
        ),
        ("Well; that depends on you. Yes.", ["Well; that depends on you.", "Yes."]),
        (
            "The answer is: no, not ever again. Sorry.",
            ["The answer is:", "no, not ever again.", "Sorry."],
        ),
        ("Hello there, friend. How are you?", ["Hello there, friend.", "How are you?"]),
        ("Paris is big — and very old. Yes.", ["Paris is big —", "and very old.", "Yes."]),
        # A sentence shorter than the clause ends it first.
        ("It is Paris. The capital, yes.", ["It is Paris.", "The capital, yes."]),
        (
            "The capital of France is a city called Paris, which is old.",
            ["The capital of France is a", "city called Paris, which is old."],
        ),
        # Numbers are never split, nor cut from what follows them.
        (
            "It has 1,000 people and 3.5 dogs living in the old town.",
            ["It has 1,000 people and 3.5 dogs", "living in the old town."],
        ),
        ("We meet at 10:30 am in the big hall.", ["We meet at 10:30 am in", "the big hall."]),
        ("It is 3.5 degrees outside today. Brr.", ["It is 3.5 degrees outside today.", "Brr."]),
        (
            "On March 3, 2025 we swam in the sea. Yes.",
            ["On March 3, 2025 we swam", "in the sea.", "Yes."],
        ),
        ("Pick 1, 2 or 3 of them now, please.", ["Pick 1, 2 or 3 of", "them now, please."]),
        ("The total is 12, which is fine. Ok.", ["The total is 12,", "which is fine.", "Ok."]),
        # Abbreviations and initials stay with the next word.
        (
            "Use e.g., apples and pears and plums here.",
            ["Use e.g., apples and pears and", "plums here."],
        ),
        (
            "I saw Dr. Jones and Mr. Smith at the market.",
            ["I saw Dr. Jones and Mr. Smith", "at the market."],
        ),
        (
            "Books by J. R. R. Tolkien are long and full of maps.",
            ["Books by J. R. R. Tolkien", "are long and full of maps."],
        ),
        # Lists: a comma list cuts at its first item, a line list at its line.
        ("You need eggs, milk and bread. Okay.", ["You need eggs,", "milk and bread.", "Okay."]),
        ("Three steps:\n1. Open it\n2. Close it", ["Three steps:", "1. Open it", "2. Close it"]),
        # Only before a word: not before punctuation that belongs to the clause.
        (
            'He said "one two three four five six" loudly.',
            ['He said "one two three four', 'five six" loudly.'],
        ),
        (
            "One two three four five six ... and then seven more.",
            ["One two three four five six ...", "and then seven more."],
        ),
        # No cut before the sentence's last word, which alone would sound clipped; two
        # words are a tail.
        ("Germany has over 8 million people. Yes.", ["Germany has over 8 million people.", "Yes."]),
        (
            "The capital of France is Paris. It is old.",
            ["The capital of France is Paris.", "It is old."],
        ),
        (
            "The capital city of France is called Paris.",
            ["The capital city of France is", "called Paris."],
        ),
        ("Why did the tomato turn red? It saw.", ["Why did the tomato turn red?", "It saw."]),
        # CJK clause marks need no space.
        ("一二三四五六七八九十，一二三。好的。", ["一二三四五六七八九十，", "一二三。好的。"]),
        # Short replies stay whole.
        ("Yes.", ["Yes."]),
        ("Paris, of course.", ["Paris, of course."]),
    ],
)
def test_first_clause(text: str, expected: list[str]) -> None:
    assert split_sentences(text, FIRST) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (1, ["Hello", "there my dear friend.", "Bye."]),
        (3, ["Hello there my", "dear friend.", "Bye."]),
        # Never a one-word tail: "friend." is the last word of the sentence.
        (4, ["Hello there my dear friend.", "Bye."]),
        (5, ["Hello there my dear friend.", "Bye."]),
        (None, ["Hello there my dear friend.", "Bye."]),
    ],
)
def test_first_clause_words(words: int | None, expected: list[str]) -> None:
    options = SplitterOptions(min_chars=0, max_chars=None, first_clause_words=words)
    assert split_sentences("Hello there my dear friend. Bye.", options) == expected


def test_first_clause_again_after_flush() -> None:
    splitter = SentenceSplitter(SplitterOptions(min_chars=0, first_clause_words=2))
    assert splitter.push("One two three, four. Five six seven. ") == ["One two", "three, four."]
    assert splitter.flush() == "Five six seven."
    assert splitter.push("Eight nine ten") == []  # is "ten" the sentence's last word?
    assert splitter.push(" eleven") == ["Eight nine"]


def test_first_clause_waits_for_the_next_word() -> None:
    splitter = SentenceSplitter(SplitterOptions(min_chars=0, first_clause_words=3))
    assert splitter.push("It is 3") == []
    assert splitter.push(".5 kg") == []  # never cut after a number: "3.5 kg" is said at once
    assert splitter.push(" ") == []  # is "kg" followed by a word or by punctuation?
    assert splitter.push("of") == []  # the sentence's last word ("of.")?
    assert splitter.push(" flour") == ["It is 3.5 kg"]
    splitter = SentenceSplitter(SplitterOptions(min_chars=0, first_clause_words=9))
    assert splitter.push("On May 3,") == []
    assert splitter.push(" ") == []  # a date's year, or another clause?
    assert splitter.push("2") == []
    assert splitter.push("025, we") == []  # and does the sentence go on after "we"?
    assert splitter.push(" swam") == ["On May 3, 2025,"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there my dear friend\nBye.", ["Hello there my dear friend", "Bye."]),
        ("Hello there my dear old friend\nBye.", ["Hello there my dear", "old friend", "Bye."]),
    ],
)
def test_first_clause_keeps_a_last_word_before_a_line_break(text: str, expected: list[str]) -> None:
    options = SplitterOptions(min_chars=0, max_chars=None, first_clause_words=4)
    assert split_sentences(text, options) == expected


def test_first_clause_waits_for_the_next_word_to_see_the_sentence_go_on() -> None:
    splitter = SentenceSplitter(SplitterOptions(min_chars=10, first_clause_words=4))
    assert splitter.push("Germany has over 8 million peo") == []  # is the word whole?
    assert splitter.push("ple.") == []  # the last word: no cut before it
    assert splitter.push(" Yes") == ["Germany has over 8 million people."]
    splitter = SentenceSplitter(SplitterOptions(min_chars=10, first_clause_words=4))
    assert splitter.push("Germany has over 8 million peo") == []
    assert splitter.push("ple") == []
    assert splitter.push(" l") == ["Germany has over 8 million"]  # the sentence goes on


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
    ("values", "message"),
    [
        ({"min_chars": -1}, "chars"),
        ({"min_chars": 10, "max_chars": 10}, "chars"),
        ({"max_chars": 1}, "chars"),
        ({"first_clause_words": 0}, "first_clause_words"),
    ],
)
def test_bad_options(values: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SplitterOptions(**values)


# Invariants -------------------------------------------------------------------------

WORDS = [
    "Hello", "world", "it", "is", "Mr.", "Dr.", "e.g.", "i.e.", "U.S.", "J.", "3.14", "v2.0",
    "1.", "12.", "https://example.com/a.b", "bob@example.org", "approx.", "你好", "世界",
    "1,000", "10:30", "3", "e.g.,", "—",
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
    first_clause_words=st.one_of(st.none(), st.integers(1, 8)),
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
