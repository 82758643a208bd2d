"""SQL of the list service; every function takes an open connection."""

from __future__ import annotations

from assistant.lists.models import Item, ListSummary
from assistant.store import Connection, Row


def _item(row: Row) -> Item:
    return Item(
        id=row["id"], text=row["text"], done=bool(row["done"]), created_at=row["created_at"]
    )


def get_list(conn: Connection, user_id: str, name: str) -> Row | None:
    return conn.one(
        "SELECT id, name, created_at, updated_at FROM lists WHERE user_id = ? AND name = ?",
        (user_id, name),
    )


def insert_list(conn: Connection, list_id: str, user_id: str, name: str, now: int) -> None:
    conn.execute(
        "INSERT INTO lists (id, user_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        (list_id, user_id, name, now, now),
    )


def touch_list(conn: Connection, list_id: str, now: int) -> None:
    conn.execute("UPDATE lists SET updated_at = ? WHERE id = ?", (now, list_id))


def count_lists(conn: Connection, user_id: str) -> int:
    return int(conn.scalar("SELECT count(*) FROM lists WHERE user_id = ?", (user_id,)))


def summaries(conn: Connection, user_id: str) -> list[ListSummary]:
    rows = conn.all(
        "SELECT l.name, l.created_at, l.updated_at, count(i.id) AS items FROM lists l"
        " LEFT JOIN list_items i ON i.list_id = l.id WHERE l.user_id = ?"
        " GROUP BY l.id ORDER BY l.name",
        (user_id,),
    )
    return [
        ListSummary(
            name=row["name"],
            items=int(row["items"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
        for row in rows
    ]


def items(conn: Connection, list_id: str) -> list[Item]:
    rows = conn.all(
        "SELECT id, text, done, created_at FROM list_items WHERE list_id = ? ORDER BY id",
        (list_id,),
    )
    return [_item(row) for row in rows]


def item_by_key(conn: Connection, list_id: str, key: str) -> Item | None:
    row = conn.one(
        "SELECT id, text, done, created_at FROM list_items WHERE list_id = ? AND key = ?",
        (list_id, key),
    )
    return None if row is None else _item(row)


def count_items(conn: Connection, list_id: str) -> int:
    return int(conn.scalar("SELECT count(*) FROM list_items WHERE list_id = ?", (list_id,)))


def insert_item(conn: Connection, item: Item, list_id: str, key: str) -> None:
    conn.execute(
        "INSERT INTO list_items (id, list_id, text, key, done, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (item.id, list_id, item.text, key, int(item.done), item.created_at),
    )


def delete_item(conn: Connection, list_id: str, item_id: str) -> int:
    conn.execute("DELETE FROM list_items WHERE list_id = ? AND id = ?", (list_id, item_id))
    return conn.changes()


def set_done(conn: Connection, list_id: str, item_id: str, done: bool) -> int:
    conn.execute(
        "UPDATE list_items SET done = ? WHERE list_id = ? AND id = ?",
        (int(done), list_id, item_id),
    )
    return conn.changes()


def get_item(conn: Connection, list_id: str, item_id: str) -> Item | None:
    row = conn.one(
        "SELECT id, text, done, created_at FROM list_items WHERE list_id = ? AND id = ?",
        (list_id, item_id),
    )
    return None if row is None else _item(row)


def clear_items(conn: Connection, list_id: str) -> int:
    conn.execute("DELETE FROM list_items WHERE list_id = ?", (list_id,))
    return conn.changes()


def delete_list(conn: Connection, list_id: str) -> None:
    conn.execute("DELETE FROM lists WHERE id = ?", (list_id,))
