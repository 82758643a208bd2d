"""What a translation engine must not see or break: layout, protected spans, HTML markup.

Pure: text in, pieces out; no I/O, no clock.

- :func:`split_units` cuts a text into sentences and keeps every character between them
  (line breaks, paragraph gaps, indentation), so ``join`` of the translated sentences with
  the same separators keeps the layout.
- :func:`protect` replaces URLs, e-mail addresses, numbers, emoji and glossary terms with
  placeholders (``⟦0⟧``) that engines copy through; :func:`restore` puts back what each
  placeholder stood for (a glossary term's translation, or the span itself) and appends
  any span the engine dropped, so a protected span always survives.
- :func:`html_pieces` splits HTML into markup (kept verbatim, attributes included) and
  text nodes (translated); ``<script>``, ``<style>`` and ``<code>``/``<pre>`` content is
  markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from assistant.voice.sentences import SplitterOptions, split_sentences

_SPLIT = SplitterOptions(min_chars=1, max_chars=400)
"""Sentences as a translator wants them: every one on its own, long ones cut at clauses."""


@dataclass(frozen=True)
class Units:
    """A text as sentences and what lies between them."""

    sentences: tuple[str, ...]
    """The sentences to translate, in order."""
    gaps: tuple[str, ...]
    """``len(sentences) + 1`` separators: before the first, between, after the last."""

    def join(self, translated: Sequence[str]) -> str:
        """The text with each sentence replaced by its translation."""
        parts = [self.gaps[0]]
        for sentence, gap in zip(translated, self.gaps[1:], strict=True):
            parts += [sentence, gap]
        return "".join(parts)


def split_units(text: str) -> Units:
    """Sentences of ``text`` with the exact separators around them."""
    sentences: list[str] = []
    gaps: list[str] = []
    position = 0
    for sentence in split_sentences(text, _SPLIT):
        found = text.find(sentence, position)
        if found < 0:  # the splitter only trims; never expected, but stay lossless
            continue
        gaps.append(text[position:found])
        sentences.append(sentence)
        position = found + len(sentence)
    gaps.append(text[position:])
    return Units(tuple(sentences), tuple(gaps))


# Placeholders ---------------------------------------------------------------------------

PLACEHOLDER = "⟦{}⟧"
_PLACEHOLDER_FOUND = re.compile(r"⟦\s*(\d+)\s*⟧")
_PROTECTED = re.compile(
    r"(?P<url>\b(?:https?|ftp)://[^\s<>\"']+[^\s<>\"'.,;:!?)\]])"
    r"|(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b)"
    r"|(?P<number>(?<![\w.])[-+]?\d+(?:[.,:/]\d+)*%?(?![\w]))"
    r"|(?P<emoji>[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200D]+)"
    r"|(?P<placeholder>⟦|⟧)"
)
"""Spans engines must copy, not translate (and the placeholder brackets themselves, so a
text that holds them cannot confuse :func:`restore`)."""


@dataclass(frozen=True)
class Span:
    """What one placeholder stands for."""

    original: str
    """The text in the source."""
    replacement: str
    """What goes back in the translation: the span itself, or a glossary translation."""
    term: str | None = None
    """The glossary or do-not-translate term, when the span is one."""


@dataclass(frozen=True)
class Protected:
    """A text with placeholders, ready for an engine."""

    text: str
    """What the engine sees."""
    spans: tuple[Span, ...]
    """Placeholder ``i`` stands for ``spans[i]``."""


@dataclass(frozen=True)
class Restored:
    """A translation with its placeholders put back."""

    text: str
    """The final text."""
    placed: frozenset[int]
    """Placeholders the engine kept (restored where it put them)."""
    appended: frozenset[int]
    """Placeholders the engine dropped (their replacement was appended)."""


def _term_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    ordered = sorted(set(terms), key=len, reverse=True)  # longest first: "New York City"
    alternatives = "|".join(re.escape(term) for term in ordered)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def protect(
    text: str,
    glossary: Mapping[str, str] | None = None,
    keep: Sequence[str] = (),
) -> Protected:
    """Replace glossary terms (by their translation), do-not-translate terms, URLs,
    e-mail addresses, numbers and emoji with placeholders."""
    glossary = glossary or {}
    by_lower = {term.lower(): (term, translation) for term, translation in glossary.items()}
    by_lower.update({term.lower(): (term, term) for term in keep})
    spans: list[Span] = []
    out: list[str] = []
    position = 0
    terms = _term_pattern([term for term, _ in by_lower.values()])
    matches: list[tuple[int, int, Span]] = []
    if terms is not None:
        for match in terms.finditer(text):
            term, replacement = by_lower[match.group(0).lower()]
            matches.append((match.start(), match.end(), Span(match.group(0), replacement, term)))
    taken = [(start, end) for start, end, _ in matches]
    for match in _PROTECTED.finditer(text):
        if not any(start < match.end() and match.start() < end for start, end in taken):
            matches.append((match.start(), match.end(), Span(match.group(0), match.group(0))))
    for start, end, span in sorted(matches, key=lambda item: item[0]):
        out.append(text[position:start])
        out.append(PLACEHOLDER.format(len(spans)))
        spans.append(span)
        position = end
    out.append(text[position:])
    return Protected("".join(out), tuple(spans))


def restore(translated: str, spans: Sequence[Span]) -> Restored:
    """Put each span's replacement where the engine left its placeholder; append those
    the engine dropped (so a URL, number or glossary term is never lost)."""
    placed: set[int] = set()

    def put(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(spans) or index in placed:
            return ""  # an invented or repeated placeholder
        placed.add(index)
        return spans[index].replacement

    text = _PLACEHOLDER_FOUND.sub(put, translated)
    missing = [i for i in range(len(spans)) if i not in placed]
    if missing:
        tail = " ".join(spans[i].replacement for i in missing)
        text = f"{text.rstrip()} {tail}" if text.strip() else tail
    return Restored(text, frozenset(placed), frozenset(missing))


def only_placeholders(text: str) -> bool:
    """Nothing to translate: the text is placeholders, punctuation and spaces."""
    rest = _PLACEHOLDER_FOUND.sub("", text)
    return not any(character.isalpha() for character in rest)


# HTML -------------------------------------------------------------------------------------

_VERBATIM = frozenset({"script", "style", "code", "pre", "textarea", "kbd", "samp", "var"})
"""Elements whose content is not prose to translate."""
_RAW_TEXT = frozenset({"script", "style"})
"""Elements whose content the parser hands over unparsed (entities not decoded)."""


@dataclass(frozen=True)
class HtmlPiece:
    """Markup kept as it is, or a text node to translate."""

    text: str
    """Markup exactly as written, or the unescaped text of a node."""
    translate: bool
    """A text node with something to translate."""


class _Pieces(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[HtmlPiece] = []
        self.verbatim = 0
        self.raw_text = False

    def _markup(self, text: str) -> None:
        self.pieces.append(HtmlPiece(text, translate=False))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._markup(self.get_starttag_text() or f"<{tag}>")
        if tag in _VERBATIM:
            self.verbatim += 1
        self.raw_text = tag in _RAW_TEXT

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._markup(self.get_starttag_text() or f"<{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        self.raw_text = False
        if tag in _VERBATIM and self.verbatim:
            self.verbatim -= 1
        self._markup(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        translate = not self.verbatim and any(c.isalpha() for c in data)
        # Script and style content comes raw (entities not decoded), so it goes back raw.
        raw = translate or self.raw_text
        self.pieces.append(HtmlPiece(data if raw else html.escape(data, quote=False), translate))

    def handle_comment(self, data: str) -> None:
        self._markup(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self._markup(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self._markup(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self._markup(f"<![{data}]>")


def html_pieces(document: str) -> list[HtmlPiece]:
    """The document as markup and text nodes; joining every piece's :func:`html_text`
    gives the document back (entities normalised)."""
    parser = _Pieces()
    parser.feed(document)
    parser.close()
    return parser.pieces


def html_text(text: str) -> str:
    """A translated text node written back into HTML."""
    return html.escape(text, quote=False)
