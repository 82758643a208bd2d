"""The list service: named lists per user (shopping, to-do, notes, any name) and their items.

A list is made by the first item added to it and named canonically (``list_name``), so
"To Do list", "todo" and "to-do" are one list. Items are told apart by their key
(``item_key``): adding "milk" where "Milk" is answers that it is already there; removing
"the milk" finds it. The HTTP API, the CLI and the list and note skills all call this.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.clock import Clock, new_id, system_clock, to_ms
from assistant.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from assistant.lists import store
from assistant.lists.models import (
    MAX_ITEM_CHARS,
    MAX_ITEMS,
    MAX_LISTS,
    Added,
    Item,
    ItemList,
    ListSummary,
    clean_text,
    find_item,
    item_key,
    list_name,
)
from assistant.store import Connection, Database, Row


def canonical_name(name: str) -> str:
    """The canonical list name, or InvalidInput naming the field ``name``."""
    try:
        return list_name(name)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="name") from exc


def checked_text(text: str) -> str:
    """An item's text as stored, or InvalidInput/PayloadTooLarge naming ``text``."""
    cleaned = clean_text(text)
    if not cleaned or not item_key(cleaned):
        raise InvalidInput("An item needs some words", field="text")
    if len(cleaned) > MAX_ITEM_CHARS:
        raise PayloadTooLarge(
            f"An item has at most {MAX_ITEM_CHARS} characters", field="text", limit=MAX_ITEM_CHARS
        )
    return cleaned


class ListService:
    """Every user's lists; nobody sees another user's."""

    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    def lists(self, user_id: str) -> list[ListSummary]:
        """The user's lists with how many items each holds, by name."""
        with self.db.read() as conn:
            return store.summaries(conn, user_id)

    def get(self, user_id: str, name: str) -> ItemList:
        """One list with its items, oldest first; NotFound when the user has no such list."""
        key = canonical_name(name)
        with self.db.read() as conn:
            row = _existing(conn, user_id, key)
            return ItemList(
                name=row["name"],
                items=tuple(store.items(conn, row["id"])),
                created_at=row["created_at"],
                updated_at=row["updated_at"],
            )

    def add_items(self, user_id: str, name: str, texts: Sequence[str]) -> Added:
        """Add items to a list (made if new); items already there (by key, also twice in
        ``texts``) are reported as present, not added again."""
        key = canonical_name(name)
        cleaned = [checked_text(text) for text in texts]
        if not cleaned:
            raise InvalidInput("Name at least one item to add", field="text")
        now = to_ms(self.clock())
        added: list[Item] = []
        present: list[Item] = []
        with self.db.write() as conn:
            row = store.get_list(conn, user_id, key)
            if row is None:
                if store.count_lists(conn, user_id) >= MAX_LISTS:
                    raise Conflict(
                        f"You have {MAX_LISTS} lists already: delete one first", field="name"
                    )
                list_id = new_id(now / 1000)
                store.insert_list(conn, list_id, user_id, key, now)
            else:
                list_id = row["id"]
            count = store.count_items(conn, list_id)
            for text in cleaned:
                found = store.item_by_key(conn, list_id, item_key(text))
                if found is not None:
                    present.append(found)
                    continue
                if count >= MAX_ITEMS:
                    raise Conflict(
                        f"The {key} list is full ({MAX_ITEMS} items): remove some first",
                        field="text",
                        limit=MAX_ITEMS,
                    )
                item = Item(id=new_id(now / 1000), text=text, done=False, created_at=now)
                store.insert_item(conn, item, list_id, item_key(text))
                added.append(item)
                count += 1
            store.touch_list(conn, list_id, now)
        return Added(name=key, added=tuple(added), present=tuple(present))

    def add(self, user_id: str, name: str, text: str) -> Item:
        """Add one item; Conflict (with the item's id) when it is already on the list."""
        outcome = self.add_items(user_id, name, [text])
        if outcome.present:
            there = outcome.present[0]
            raise Conflict(
                f"{there.text!r} is already on the {outcome.name} list",
                field="text",
                item_id=there.id,
            )
        return outcome.added[0]

    def remove(self, user_id: str, name: str, text: str) -> Item:
        """Remove the item the text means ("the milk" removes "Milk"; see ``find_item``);
        NotFound when the list or the item is not there."""
        key = canonical_name(name)
        now = to_ms(self.clock())
        with self.db.write() as conn:
            row = _existing(conn, user_id, key)
            found = find_item(store.items(conn, row["id"]), text)
            if found is None:
                raise NotFound(f"{clean_text(text)!r} is not on the {key} list", field="text")
            store.delete_item(conn, row["id"], found.id)
            store.touch_list(conn, row["id"], now)
        return found

    def remove_item(self, user_id: str, name: str, item_id: str) -> Item:
        """Remove an item by its id; NotFound when the list or the item is not there."""
        key = canonical_name(name)
        now = to_ms(self.clock())
        with self.db.write() as conn:
            row = _existing(conn, user_id, key)
            found = store.get_item(conn, row["id"], item_id)
            if found is None:
                raise NotFound(f"No item {item_id} on the {key} list", field="item_id")
            store.delete_item(conn, row["id"], item_id)
            store.touch_list(conn, row["id"], now)
        return found

    def set_done(self, user_id: str, name: str, item_id: str, done: bool) -> Item:
        """Tick an item off (or back on); it stays on the list."""
        key = canonical_name(name)
        now = to_ms(self.clock())
        with self.db.write() as conn:
            row = _existing(conn, user_id, key)
            if not store.set_done(conn, row["id"], item_id, done):
                raise NotFound(f"No item {item_id} on the {key} list", field="item_id")
            store.touch_list(conn, row["id"], now)
            found = store.get_item(conn, row["id"], item_id)
        assert found is not None
        return found

    def clear(self, user_id: str, name: str) -> int:
        """Remove every item and keep the (empty) list; how many were removed."""
        key = canonical_name(name)
        now = to_ms(self.clock())
        with self.db.write() as conn:
            row = _existing(conn, user_id, key)
            removed = store.clear_items(conn, row["id"])
            store.touch_list(conn, row["id"], now)
        return removed

    def delete(self, user_id: str, name: str) -> int:
        """Delete a list with its items; how many items went with it."""
        key = canonical_name(name)
        with self.db.write() as conn:
            row = _existing(conn, user_id, key)
            removed = store.clear_items(conn, row["id"])
            store.delete_list(conn, row["id"])
        return removed


def _existing(conn: Connection, user_id: str, name: str) -> Row:
    row = store.get_list(conn, user_id, name)
    if row is None:
        raise NotFound(f"You have no {name} list", field="name")
    return row
