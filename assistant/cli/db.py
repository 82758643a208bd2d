"""``assistant db``: database information and backups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import sqlite_utils
import typer
from rich.table import Column, Table
from rich.text import Text

from assistant.cli.common import console, open_services, plain, print_json

app = typer.Typer(help="Database information, migrations and backups.", no_args_is_help=True)


@app.command("info")
def info(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the database file, size, schema version and row counts per table."""
    with open_services(ctx) as services:
        details = services.db.info()
        # sqlite-utils reads the table list and counts without any SQL of ours.
        tables = sqlite_utils.Database(services.db.path)
        details["tables"] = {t.name: t.count for t in tables.tables}
        tables.close()
    if as_json:
        print_json(details)
        return
    console.print(Text(str(details["path"]), style="bold"))
    console.print(
        f"schema version {details['schema_version']}, {details['size_bytes']:,} bytes"
        f" ({details['free_bytes']:,} free), journal {details['journal_mode']}",
        markup=False,
    )
    table = Table("table", Column("rows", justify="right"))
    for name, count in sorted(details["tables"].items()):
        table.add_row(plain(name), plain(f"{count:,}" if isinstance(count, int) else count))
    console.print(table)


@app.command("migrate")
def migrate(ctx: typer.Context) -> None:
    """Apply pending migrations (the server also does this at start-up)."""
    with open_services(ctx) as services:
        console.print(f"schema version {services.db.schema_version}: up to date")


@app.command("backup")
def backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="New file to write the backup to.")],
) -> None:
    """Write a consistent, compacted copy of the live database (safe while the server runs)."""
    with open_services(ctx) as services:
        services.db.backup(path.expanduser().resolve())
    console.print(f"backup written to {path} ({path.stat().st_size:,} bytes)", markup=False)
