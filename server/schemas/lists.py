"""Bodies of ``/api/v1/lists``: the user's named lists and their items."""

from __future__ import annotations

from typing import Annotated

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from assistant.clock import iso
from assistant.lists import Item, ItemList, ListSummary
from assistant.lists.models import MAX_ITEM_CHARS
from assistant.profile.models import PlainText


class ItemIn(BaseModel):
    """An item to add."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: Annotated[PlainText, Field(min_length=1, max_length=MAX_ITEM_CHARS)]
    """What to put on the list ("milk", "call the plumber"); one line."""


class ItemChange(BaseModel):
    """A change to an item."""

    model_config = ConfigDict(extra="forbid", strict=True)

    done: bool
    """Ticked off (true) or not (false); the item stays on the list either way."""


class ItemOut(msgspec.Struct, kw_only=True):
    """One entry of a list."""

    id: str
    text: str
    done: bool
    created_at: str
    """ISO 8601, UTC."""

    @classmethod
    def of(cls, item: Item) -> ItemOut:
        return cls(
            id=item.id, text=item.text, done=item.done, created_at=iso(item.created_at) or ""
        )


class ListOut(msgspec.Struct, kw_only=True):
    """One of the caller's lists, without its items."""

    name: str
    """Canonical name (lower case; "To Do" and "todo" are ``to-do``)."""
    items: int
    """How many items it holds."""
    created_at: str
    updated_at: str
    """Last change to the list or its items."""

    @classmethod
    def of(cls, summary: ListSummary) -> ListOut:
        return cls(
            name=summary.name,
            items=summary.items,
            created_at=iso(summary.created_at) or "",
            updated_at=iso(summary.updated_at) or "",
        )


class ListsOut(msgspec.Struct, kw_only=True):
    """The caller's lists, by name."""

    lists: list[ListOut]


class ItemListOut(msgspec.Struct, kw_only=True):
    """A list with its items, oldest first."""

    name: str
    items: list[ItemOut]
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, found: ItemList) -> ItemListOut:
        return cls(
            name=found.name,
            items=[ItemOut.of(i) for i in found.items],
            created_at=iso(found.created_at) or "",
            updated_at=iso(found.updated_at) or "",
        )
