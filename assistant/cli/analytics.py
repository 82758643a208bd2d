"""``assistant analytics``: rollups now, raw events out, experiments and their results."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Column, Table

from assistant.analytics import Viewer
from assistant.cli.common import console, open_services, plain
from assistant.errors import NotFound

app = typer.Typer(help="Analytics: rollups, export, A/B experiments.", no_args_is_help=True)

SYSTEM = Viewer("cli", is_admin=True)
"""Whoever runs the CLI on the device sees everything, as an admin does."""


@app.command("rollup")
def rollup(ctx: typer.Context) -> None:
    """Roll raw events up into hourly and daily aggregates and apply retention now."""
    with open_services(ctx) as services:
        done = services.analytics.maintain()
    console.print(
        f"{done['hours_rolled']} hours rolled up; deleted {done['raw_deleted']} raw events,"
        f" {done['hourly_deleted']} hourly and {done['daily_deleted']} daily rollups"
        " past retention",
        markup=False,
    )


@app.command("export")
def export(
    ctx: typer.Context,
    export_format: Annotated[
        str, typer.Option("--format", help="csv or ndjson.", show_default=True)
    ] = "ndjson",
    user: Annotated[
        str | None, typer.Option("--user", help="Only this account's events (user name).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write raw events (everyone's, or one user's) as CSV or NDJSON, oldest first."""
    if export_format not in ("csv", "ndjson"):
        raise typer.BadParameter("csv or ndjson", param_hint="--format")
    chosen: Literal["csv", "ndjson"] = "csv" if export_format == "csv" else "ndjson"
    with open_services(ctx) as services:
        user_id = None
        if user is not None:
            found = [u for u in services.auth.list_users() if u.username == user]
            if not found:
                raise NotFound(f"No user named {user}")
            user_id = found[0].id
        pages = services.analytics.export(SYSTEM, chosen, user=user_id)
        if output is None:
            for page in pages:
                sys.stdout.buffer.write(page)
            sys.stdout.flush()
        else:
            with output.open("wb") as handle:
                for page in pages:
                    handle.write(page)


@app.command("experiments")
def experiments(ctx: typer.Context) -> None:
    """Every A/B experiment with its exposures, conversions and significance."""
    with open_services(ctx) as services:
        rows = [services.experiments.results(e.id) for e in services.experiments.list()]
    if not rows:
        console.print("no experiments (create one with POST /api/v1/analytics/experiments)")
        return
    table = Table(
        "experiment",
        "status",
        "variant",
        Column("exposures", justify="right"),
        Column("conversions", justify="right"),
        Column("rate (95% CI)", justify="right"),
        Column("p-value", justify="right"),
    )
    for experiment, results in rows:
        for result in results:
            rate = (
                "-"
                if result.rate is None
                else f"{result.rate:.1%} ({result.ci_low:.1%}-{result.ci_high:.1%})"
            )
            table.add_row(
                plain(experiment.key),
                plain(experiment.status),
                plain(result.name),
                plain(str(result.exposures)),
                plain(str(result.conversions)),
                plain(rate),
                plain("-" if result.p_value is None else f"{result.p_value:.4f}"),
            )
    console.print(table)
