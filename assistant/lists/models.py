"""Values of the list service, and the pure rules that name lists and match items."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_NAME_CHARS = 60
"""Longest list name."""
MAX_ITEM_CHARS = 500
"""Longest item text (a note is an item too)."""
MAX_ITEMS = 1000
"""Most items on one list."""
MAX_LISTS = 200
"""Most lists one user keeps."""
NOTES = "notes"
"""The list the note skill writes to."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WORDS = re.compile(r"[^\w]+")
_TO_DO = {"todo", "to do", "to-do", "to dos", "todos", "to-dos", "task", "tasks"}
_GROCERIES = {"grocery", "groceries", "grocery shopping", "shop", "shopping"}
_LEADING = ("the ", "a ", "an ", "some ", "my ", "our ", "any ")
_SIMILAR = 0.85
"""How alike two item keys must be (difflib ratio) for "tomatos" to find "tomatoes"."""


@dataclass(frozen=True)
class Item:
    """One entry of a list."""

    id: str
    """Time-ordered UUID."""
    text: str
    """What was added, as written (first letter kept as given)."""
    done: bool
    """Ticked off (kept on the list until removed)."""
    created_at: int
    """When it was added, ms since the epoch."""


@dataclass(frozen=True)
class ListSummary:
    """One of a user's lists, without its items."""

    name: str
    """The list's canonical name (``shopping``, ``to-do``, ``notes``)."""
    items: int
    """How many items it holds."""
    created_at: int
    """When the list was made, ms since the epoch."""
    updated_at: int
    """Last change to the list or its items, ms since the epoch."""


@dataclass(frozen=True)
class ItemList:
    """A list with its items, oldest first."""

    name: str
    """The list's canonical name."""
    items: tuple[Item, ...]
    """Its items in the order they were added."""
    created_at: int
    """When the list was made, ms since the epoch."""
    updated_at: int
    """Last change, ms since the epoch."""


@dataclass(frozen=True)
class Added:
    """What adding several items did."""

    name: str
    """The list they went to (made if it did not exist)."""
    added: tuple[Item, ...]
    """Items that are new on the list."""
    present: tuple[Item, ...]
    """Items that were already there (matched case-insensitively): not added again."""


def list_name(text: str) -> str:
    """The canonical name of a list as a user or app names it: lower case, one space
    between words, a trailing "list" dropped, and the usual spellings of the to-do and
    shopping lists made one ("To Do list", "todo" -> ``to-do``; "groceries" ->
    ``shopping``). Raises ValueError for a name that cannot be a list's."""
    if _CONTROL.search(text):
        raise ValueError("A list name cannot hold control characters")
    name = " ".join(text.lower().split())
    for article in ("the ", "my ", "our "):
        name = name.removeprefix(article)
    if name.endswith(" list"):
        name = name[: -len(" list")].rstrip()
    if name in _TO_DO:
        name = "to-do"
    elif name in _GROCERIES:
        name = "shopping"
    elif name == "note":
        name = NOTES
    if not name or name == "list":
        raise ValueError("A list needs a name such as shopping or to-do")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"A list name has at most {MAX_NAME_CHARS} characters")
    if "/" in name:
        raise ValueError("A list name cannot hold a slash")
    return name


def clean_text(text: str) -> str:
    """An item's text as stored: whitespace runs made one space, ends trimmed."""
    return " ".join(text.split())


def item_key(text: str) -> str:
    """What two items must share to be the same item: lower case, words only, leading
    articles dropped, a plural last word made singular ("the Eggs" and "egg" agree)."""
    key = " ".join(_WORDS.sub(" ", text.lower()).split())
    changed = True
    while changed:
        changed = False
        for article in _LEADING:
            if key.startswith(article) and len(key) > len(article):
                key, changed = key[len(article) :], True
    words = key.split(" ")
    last = words[-1]
    if len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-3] + "y" if last.endswith("ies") else last[:-1]
        words[-1] = last
    return " ".join(words)


def find_item(items: Sequence[Item], text: str) -> Item | None:
    """The item a user means by ``text``: the same key ("the milk" finds "Milk"), else the
    one item whose words hold all of the words asked for ("milk" finds "oat milk" when no
    other item has milk), else the one item spelled nearly alike. None when no item, or
    more than one, fits."""
    wanted = item_key(text)
    if not wanted:
        return None
    for item in items:
        if item_key(item.text) == wanted:
            return item
    words = set(wanted.split())
    holding = [item for item in items if words <= set(item_key(item.text).split())]
    if len(holding) == 1:
        return holding[0]
    if holding:
        return None
    alike = [
        item
        for item in items
        if difflib.SequenceMatcher(None, item_key(item.text), wanted).ratio() >= _SIMILAR
    ]
    return alike[0] if len(alike) == 1 else None
