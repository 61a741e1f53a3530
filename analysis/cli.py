"""The ``parcelproof`` command: the collector's commands plus the analysis ones.

Collector commands (``import``, ``check``, ``poll``, ``verify``, ``simulate``) are
mounted from :mod:`collector.cli`; this module adds ``flags``, ``report``, ``run``,
``demo``, ``status`` and ``export``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import polars as pl
from rich.console import Console
from rich.table import Table

from collector import clock
from collector.cli import AppContext, global_options, handle_errors, make_context, pass_app
from collector.cli import cli as collector_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="parcelproof")
@click.pass_context
def cli(ctx: click.Context, db_path: Path | None, config_path: Path | None) -> None:
    """parcelproof: collect parcel-tracking evidence and turn it into dispute proof.

    Typical cron line: `parcelproof run`. Start with `parcelproof demo`.
    """
    ctx.obj = make_context(db_path, config_path)


for _name, _command in collector_cli.commands.items():
    cli.add_command(_command, _name)


def _fmt_date(value: object) -> str:
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else "-"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per shipment.")
@click.option("--all", "include_archived", is_flag=True, help="Include archived shipments.")
@pass_app
@handle_errors
def status(app: AppContext, as_json: bool, include_archived: bool) -> None:
    """Table of shipments: status, days since the last event, deadlines and flags."""
    from analysis.status import shipment_status

    with app.open_store() as store:
        frame = shipment_status(store, clock.now(), include_archived=include_archived)
    if as_json:
        for row in frame.iter_rows(named=True):
            click.echo(json.dumps(_jsonable(row), ensure_ascii=False))
        return
    print_status_table(frame)


def print_status_table(frame: pl.DataFrame, console: Console | None = None) -> None:
    """Render the ``status`` frame as a rich table."""
    console = console or Console()
    table = Table(title=f"{frame.height} shipments", show_lines=False)
    for column in (
        "Order",
        "Store",
        "Number",
        "Carrier",
        "Status",
        "Days quiet",
        "Promised",
        "Protection ends",
        "Flags",
    ):
        table.add_column(column, overflow="fold")
    for row in frame.iter_rows(named=True):
        days = row["days_since_last_event"]
        table.add_row(
            row["order_id"],
            row["store"] or "-",
            row["tracking_number"],
            row["carrier"] or "-",
            row["status"],
            f"{days:.0f}" if days is not None else "-",
            _fmt_date(row["promised_to"]),
            _fmt_date(row["protection_ends_at"]),
            ", ".join(row["flags"]) or "-",
        )
    console.print(table)


def _jsonable(row: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in row.items():
        if hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        elif value is not None and not isinstance(value, str | int | float | bool | list):
            out[key] = str(value)
        else:
            out[key] = value
    return out


@cli.command()
@click.option(
    "--orders",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Orders to import (default: the bundled data/samples/orders.csv).",
)
@pass_app
@handle_errors
def demo(app: AppContext, orders: Path | None) -> None:
    """Import the bundled sample orders and show their status."""
    from analysis.demo import run_demo

    sys.exit(run_demo(app, orders))


def main() -> None:
    """Entry point of the ``parcelproof`` console script."""
    cli(prog_name="parcelproof")
