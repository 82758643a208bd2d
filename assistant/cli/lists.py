"""``assistant lists``: show, add to and remove from your lists (shopping, to-do, notes).

The same lists the list and note skills keep ("add milk to the shopping list") and
``/api/v1/lists`` serves to companion apps.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from assistant.cli.chat import pick_user
from assistant.cli.common import console, open_services, plain
from assistant.clock import iso

app = typer.Typer(
    help="Your lists and notes: show, add, remove, clear, delete.", no_args_is_help=True
)

User = Annotated[
    str | None, typer.Option("--user", "-u", help="Whose lists (default: the only account).")
]
Name = Annotated[str, typer.Argument(help="The list: shopping, to-do, notes or any name.")]


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="The list to show; none: every list with its size.")
    ] = None,
    user: User = None,
) -> None:
    """Show your lists, or the items of one list (oldest first)."""
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        if name is None:
            summaries = services.lists.lists(target.id)
            found = None
        else:
            found = services.lists.get(target.id, name)
    if found is None:
        if not summaries:
            console.print("no lists yet: `assistant lists add shopping milk` makes one")
            return
        table = Table()
        for column in ("list", "items", "changed"):
            table.add_column(column)
        for summary in summaries:
            table.add_row(plain(summary.name), plain(summary.items), plain(iso(summary.updated_at)))
        console.print(table)
        return
    if not found.items:
        console.print(plain(f"the {found.name} list is empty"))
        return
    table = Table(title=found.name)
    for column in ("item", "done", "id"):
        table.add_column(column, overflow="fold")
    for item in found.items:
        table.add_row(plain(item.text), plain("yes" if item.done else ""), plain(item.id))
    console.print(table)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Name,
    items: Annotated[list[str], typer.Argument(help="One or more items (quote each).")],
    user: User = None,
) -> None:
    """Add items to a list (made if new); items already there are not added twice."""
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        outcome = services.lists.add_items(target.id, name, items)
    for item in outcome.added:
        console.print(plain(f"added {item.text!r} to {outcome.name}"))
    for item in outcome.present:
        console.print(plain(f"{item.text!r} is already on {outcome.name}"))


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: Name,
    item: Annotated[str, typer.Argument(help='The item\'s words ("the milk" finds Milk) or id.')],
    user: User = None,
) -> None:
    """Remove one item from a list, by its words or its id."""
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        listed = services.lists.get(target.id, name)
        if any(i.id == item for i in listed.items):
            removed = services.lists.remove_item(target.id, name, item)
        else:
            removed = services.lists.remove(target.id, name, item)
    console.print(plain(f"removed {removed.text!r} from {listed.name}"))


@app.command("clear")
def clear(ctx: typer.Context, name: Name, user: User = None) -> None:
    """Remove every item from a list and keep the list."""
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        removed = services.lists.clear(target.id, name)
    console.print(plain(f"removed {removed} item(s)"))


@app.command("delete")
def delete(ctx: typer.Context, name: Name, user: User = None) -> None:
    """Delete a list with every item on it."""
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        removed = services.lists.delete(target.id, name)
    console.print(plain(f"deleted the list and its {removed} item(s)"))
