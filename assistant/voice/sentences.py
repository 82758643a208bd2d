"""Streaming sentence splitting of a chat reply, so speech can start at the first sentence.

Pure: text in, sentences out; no I/O, no clock. The splitter only cuts where the text
already seen decides it, so the sentences do not depend on how the text was chunked:
``push`` of the whole reply at once and ``push`` of one character at a time give the same
list. Every emitted sentence is a contiguous piece of the input with the whitespace at
its edges removed; nothing else is dropped, added or repeated.

A sentence ends at:

- ``.``, ``!``, ``?``, ``…`` (and runs of them, ``?!``, ``...``), with closing quotes or
  brackets after them, then whitespace and a next word that does not start in lower case
  (``"Really?" she asked`` and ``approx. five`` go on); not after titles and other
  abbreviations (``Mr.``, ``Dr.``, ``vs.``), dotted initialisms (``U.S.``, ``e.g.``),
  single initials (``J. R. R.``) or a list number at the start of a line (``1. First``).
  Decimals, URLs and e-mail addresses have no whitespace after their dots, so they stay;
- the CJK full stop, exclamation and question marks, which need no whitespace after them;
- a line break (list items, paragraphs).

Sentences shorter than ``min_chars`` are merged with the next one; text that runs past
``max_chars`` without a sentence end is cut at the last clause mark (``,;:`` and their CJK
forms) before it, else the last space, else at ``max_chars`` itself.

With ``first_clause_words`` set, the first piece of a reply ends earlier: at the first
sentence end, clause mark followed by whitespace (or a CJK clause mark), or word boundary
after that many words, whichever comes first (and no shorter than ``min_chars``), so
speech can start while the model still writes the rest of the sentence. Such a cut
waits for the next word: when the sentence ends with it, the sentence is the piece (no
one-word tail like ``people.`` spoken on its own; ``The capital of France | is Paris.``
is cut). Such a cut is
never made inside a number (``1,000``, ``3.5``, ``10:30`` have no space after the mark),
between numbers (``March 3, 2025``; ``1, 2 and 3``), after an abbreviation or initial
(``e.g.,``, ``Dr. Jones``) or right after a number (``3.5 kg``, ``10:30 am``). The pieces
after the first are whole sentences again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_CJK_STOPS = "\u3002\uff01\uff1f\uff61"
"""Ideographic full stop, fullwidth exclamation and question marks, halfwidth full stop."""

TERMINATORS = frozenset(".!?\u2026\u203c\u2047\u2048\u2049" + _CJK_STOPS)
"""Characters that can end a sentence."""
WIDE_TERMINATORS = frozenset(_CJK_STOPS)
"""Full stops of scripts written without spaces: they end a sentence on their own."""
CLOSERS = frozenset("\"')]}*_\u00bb\u201d\u2019\u300d\u300f\uff09\u3011\u3015\u3009\u300b")
"""Closing quotes, brackets and emphasis marks that belong to the sentence before them."""
OPENERS = "\"'([{*_\u00ab\u00bf\u00a1\u201c\u2018"
"""Opening marks stripped from a word before the abbreviation check."""
CLAUSE_MARKS = frozenset(",;:\u2014")
"""Clause ends (comma, semicolon, colon, em dash) where an over-long sentence may be cut,
when whitespace follows."""
WIDE_CLAUSE_MARKS = frozenset("\uff0c\u3001\uff1b\uff1a")
"""CJK comma, enumeration comma, semicolon and colon: no whitespace needed after them."""
ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "rev", "gen", "col",
        "capt", "lt", "sgt", "gov", "sen", "rep", "hon", "fr", "vs", "approx", "cf", "viz",
        "al", "fig", "figs", "vol", "ch", "pp", "dept",
    }
)  # fmt: skip
"""Words (lower case, without the dot) after which a period never ends a sentence."""

_INITIALISM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_LIST_NUMBER = re.compile(r"\d{1,3}")


@dataclass(frozen=True)
class SplitterOptions:
    """How long sentences may be, in characters."""

    min_chars: int = 10
    """Shorter sentences are merged with the next (``Okay.`` alone sounds choppy)."""
    max_chars: int | None = 200
    """Longer text is cut at a clause mark so speech can start; None: never cut."""
    first_clause_words: int | None = None
    """The first piece of a reply ends at its first clause mark or after this many words,
    if that comes before its first sentence end; None: the first piece is a sentence."""

    def __post_init__(self) -> None:
        if self.min_chars < 0:
            raise ValueError("min_chars must not be negative")
        if self.first_clause_words is not None and self.first_clause_words < 1:
            raise ValueError("first_clause_words must be at least 1 (or None)")
        if self.max_chars is not None and self.max_chars <= max(self.min_chars, 1):
            raise ValueError("max_chars must be larger than min_chars (and 1)")


class _Decision(Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    WAIT = "wait"


@dataclass(frozen=True)
class _Candidate:
    decision: _Decision
    end: int
    """Where the sentence would end (exclusive)."""
    resume: int
    """Where the scan goes on when this candidate is not taken."""


class SentenceSplitter:
    """Cuts a streamed reply into sentences as soon as each is certain."""

    def __init__(self, options: SplitterOptions | None = None) -> None:
        self.options = options or SplitterOptions()
        """Length limits."""
        self._buffer = ""
        self._line_start = True
        self._first = True

    @property
    def pending(self) -> str:
        """Text received but not yet emitted."""
        return self._buffer

    def push(self, text: str) -> list[str]:
        """Add text; the sentences it completes, in order."""
        if not self._buffer:
            text = self._skip_space(text)
        self._buffer += text
        sentences = []
        while (cut := self._next_cut()) is not None:
            sentences.append(self._buffer[:cut].strip())
            self._buffer = self._skip_space(self._buffer[cut:], reset=True)
            self._first = False
        return sentences

    def flush(self) -> str | None:
        """The end of the reply: the rest as the last sentence (None if only whitespace)."""
        rest = self._buffer.strip()
        self._buffer = ""
        self._line_start = True
        self._first = True
        return rest or None

    def _skip_space(self, text: str, *, reset: bool = False) -> str:
        """Drop leading whitespace, noting whether it broke the line."""
        stripped = text.lstrip()
        lead = text[: len(text) - len(stripped)]
        if reset:
            self._line_start = "\n" in lead
        elif "\n" in lead:
            self._line_start = True
        return stripped

    def _next_cut(self) -> int | None:
        """End of the next piece if the buffer already decides it."""
        words = self.options.first_clause_words
        if not self._first or words is None:
            return self._sentence_cut(None)
        clause = _clause_cut(self._buffer, words, self.options.min_chars)
        max_chars = self.options.max_chars
        if clause is None or (max_chars is not None and clause.end > max_chars):
            return self._sentence_cut(None)
        sentence = self._scan(clause.end)
        if isinstance(sentence, int):
            return sentence  # a sentence that ends first
        if sentence is _Decision.WAIT or clause.decision is _Decision.WAIT:
            return None
        return clause.end

    def _sentence_cut(self, before: int | None) -> int | None:
        """End of the next sentence if the buffer already decides it; with ``before``, only
        a sentence that ends at or before it (candidates from there on are not looked at)."""
        found = self._scan(before)
        return found if isinstance(found, int) else None

    def _scan(self, before: int | None) -> int | _Decision | None:
        """The next sentence end, WAIT when one is still undecided, else None."""
        buffer, max_chars = self._buffer, self.options.max_chars
        index = 0
        while True:
            position = _next_candidate(buffer, index)
            if before is not None and (position is None or position >= before):
                return None
            if position is None or (max_chars is not None and position >= max_chars):
                if max_chars is not None and len(buffer) > max_chars:
                    return self._forced_cut(buffer, max_chars)
                return None
            candidate = self._decide(buffer, position)
            if candidate.decision is _Decision.WAIT:
                return _Decision.WAIT
            if (
                candidate.decision is _Decision.ACCEPT
                and len(buffer[: candidate.end].strip()) >= self.options.min_chars
            ):
                if max_chars is not None and candidate.end > max_chars:
                    return self._forced_cut(buffer, max_chars)
                return candidate.end
            index = candidate.resume

    def _decide(self, buffer: str, position: int) -> _Candidate:
        if buffer[position] == "\n":
            return _Candidate(_Decision.ACCEPT, position, position + 1)
        run_end = _skip(buffer, position, TERMINATORS)
        end = _skip(buffer, run_end, CLOSERS)
        return _Candidate(self._judge(buffer, position, run_end, end), end, end)

    def _judge(self, buffer: str, position: int, run_end: int, end: int) -> _Decision:
        """Whether terminators at ``position:run_end`` (closers up to ``end``) end a sentence."""
        if end == len(buffer):
            return _Decision.WAIT
        if any(mark in WIDE_TERMINATORS for mark in buffer[position:run_end]):
            return _Decision.ACCEPT
        if not buffer[end].isspace():
            return _Decision.REJECT
        word_start = end
        while word_start < len(buffer) and buffer[word_start].isspace():
            word_start += 1
        if "\n" in buffer[end:word_start]:
            return _Decision.ACCEPT
        if word_start == len(buffer):
            return _Decision.WAIT
        goes_on = buffer[word_start].islower() or (
            run_end - position == 1
            and buffer[position] == "."
            and self._abbreviated(buffer, position)
        )
        return _Decision.REJECT if goes_on else _Decision.ACCEPT

    def _abbreviated(self, buffer: str, period: int) -> bool:
        """Whether the word before the period at ``period`` makes it no sentence end."""
        start = period
        while start > 0 and not buffer[start - 1].isspace():
            start -= 1
        word = buffer[start:period].lstrip(OPENERS)
        if _abbreviation(word):
            return True
        if _LIST_NUMBER.fullmatch(word):
            line_break = buffer.rfind("\n", 0, start)
            before = buffer[line_break + 1 : start]
            return before.strip() == "" and (line_break >= 0 or self._line_start)
        return False

    def _forced_cut(self, buffer: str, max_chars: int) -> int:
        """Where to cut text that runs past ``max_chars`` (seen up to ``max_chars + 1``)."""
        min_chars = self.options.min_chars
        for mark in range(max_chars - 1, -1, -1):
            char = buffer[mark]
            if (
                char in WIDE_CLAUSE_MARKS or (char in CLAUSE_MARKS and buffer[mark + 1].isspace())
            ) and (len(buffer[: mark + 1].strip()) >= min_chars):
                return mark + 1
        for space in range(max_chars, 0, -1):
            if buffer[space].isspace() and buffer[:space].strip():
                return space
        return max_chars


def _abbreviation(stem: str) -> bool:
    """Whether a word (without its period) is an abbreviation, initialism or initial."""
    lowered = stem.lower()
    if lowered in ABBREVIATIONS or _INITIALISM.fullmatch(lowered):
        return True
    return len(stem) == 1 and stem.isalpha() and stem.isupper()  # J. R. R. Tolkien


def _clause_cut(buffer: str, words: int, min_chars: int) -> _Candidate | None:
    """The first place where a first clause may end: ACCEPT, or WAIT while the text after
    it is unknown; None when the buffer has none yet."""
    count, index, size = 0, 0, len(buffer)
    while index < size:
        if buffer[index].isspace():
            index += 1
            continue
        start = index
        while index < size and not buffer[index].isspace():
            index += 1
            if buffer[index - 1] in WIDE_CLAUSE_MARKS and len(buffer[:index].strip()) >= min_chars:
                return _Candidate(_Decision.ACCEPT, index, index)
        if index == size:
            return None  # the word may go on
        count += 1
        if len(buffer[:index].strip()) < min_chars:
            continue
        decision = _judge_boundary(buffer, buffer[start:index], index, count >= words)
        if decision is not _Decision.REJECT:
            return _Candidate(decision, index, index)
    return None


def _judge_boundary(buffer: str, word: str, space: int, enough_words: bool) -> _Decision:
    """Whether a first clause may end after ``word``, which whitespace at ``space`` follows."""
    after = space
    while after < len(buffer) and buffer[after].isspace():
        after += 1
    if "\n" in buffer[space:after]:
        return _Decision.REJECT  # a line break: the sentence rules cut there
    following = buffer[after] if after < len(buffer) else None
    core = word.rstrip("".join(CLOSERS))
    if core and core[-1] in CLAUSE_MARKS:
        decision = _after_clause_mark(core[:-1].lstrip(OPENERS), following)
    elif enough_words:
        decision = _after_word(core, following)
    else:
        return _Decision.REJECT
    if decision is _Decision.ACCEPT:
        return _tail_goes_on(buffer, after)
    return decision


def _tail_goes_on(buffer: str, start: int) -> _Decision:
    """Whether the sentence goes on past the word at ``start``: no cut before a last word,
    which alone sounds clipped ("Germany has over 8 million | people.") and comes as soon
    as the whole sentence does; WAIT until the word is whole."""
    end = start
    while end < len(buffer) and not buffer[end].isspace():
        end += 1
    if end == len(buffer):
        return _Decision.WAIT  # the word may go on, or the reply end with it
    word = buffer[start:end].rstrip("".join(CLOSERS))
    last = word[-1:] in TERMINATORS or buffer[end] == "\n"  # a line break ends it too
    return _Decision.REJECT if last else _Decision.ACCEPT


def _after_clause_mark(before: str, following: str | None) -> _Decision:
    """A clause mark after ``before``, then whitespace and ``following`` (None: unseen)."""
    if before.endswith(".") and _abbreviation(before[:-1]):
        return _Decision.REJECT  # e.g., i.e.,
    if not before[-1:].isdigit():
        return _Decision.ACCEPT
    if following is None:
        return _Decision.WAIT
    # March 3, 2025; 1, 2 and 3: numbers in a row are said together
    return _Decision.REJECT if following.isdigit() else _Decision.ACCEPT


def _after_word(core: str, following: str | None) -> _Decision:
    """Enough words, the last ``core``, then whitespace and ``following`` (None: unseen)."""
    if core.endswith(".") and _abbreviation(core[:-1].lstrip(OPENERS)):
        return _Decision.REJECT  # Dr. Jones
    if core[-1:].isdigit():
        return _Decision.REJECT  # 3.5 kg, 10:30 am: a number is said with its unit
    if following is None:
        return _Decision.WAIT
    return _Decision.ACCEPT if following.isalnum() or following in OPENERS else _Decision.REJECT


def _skip(buffer: str, start: int, chars: frozenset[str]) -> int:
    """Index of the first character at or after ``start`` that is not in ``chars``."""
    while start < len(buffer) and buffer[start] in chars:
        start += 1
    return start


def _next_candidate(buffer: str, start: int) -> int | None:
    """Index of the next terminator or line break at or after ``start``."""
    for index in range(start, len(buffer)):
        char = buffer[index]
        if char in TERMINATORS or char == "\n":
            return index
    return None


def split_sentences(text: str, options: SplitterOptions | None = None) -> list[str]:
    """Every sentence of a whole text (the streaming splitter run over it at once)."""
    splitter = SentenceSplitter(options)
    sentences = splitter.push(text)
    if (rest := splitter.flush()) is not None:
        sentences.append(rest)
    return sentences
