"""``parcelproof demo``: the whole path on bundled data, with no network and no key."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from collector import clock
from collector.cli import AppContext, err_console
from collector.importer import import_rows, read_rows

SAMPLE_ORDERS = Path(__file__).resolve().parents[1] / "data" / "samples" / "orders.csv"


def run_demo(app: AppContext, orders: Path | None = None) -> int:
    """Import the sample orders into the configured database and print the status."""
    from analysis.cli import print_status_table
    from analysis.status import shipment_status

    console = Console()
    path = orders or SAMPLE_ORDERS
    header, rows = read_rows(path)
    with app.open_store() as store:
        result = import_rows(store, header, rows, name=str(path))
        for error in result.rejected:
            err_console.print(f"[red]rejected[/] {path}: {error}")
        console.print(
            f"[bold]import[/] {path}: {result.inserted} new, {result.updated} updated, "
            f"{result.unchanged} unchanged, {len(result.rejected)} rejected"
        )
        print_status_table(shipment_status(store, clock.now()), console)
    console.print(f"database: {app.db_path}")
    return 0
