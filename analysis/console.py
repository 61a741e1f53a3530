"""Tables on the terminal: the printers that ``parcelproof`` commands and ``demo`` share.

Each printer renders a frame the library computed (:func:`analysis.status.shipment_status`,
:func:`analysis.flags.list_flags`, the cases of :func:`analysis.assess.assess`) on a
:func:`collector.console.make_console` console, with every value from the data
made markup-safe. :mod:`analysis.cli`, :mod:`analysis.case_cli` and :mod:`analysis.demo`
import from here, so none of them imports another::

    >>> print_status_table(shipment_status(store, now))               # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from collector.console import make_console
from collector.countries import zone_for
from collector.model import AWAITING
from collector.terminal import markup_safe, plural

if TYPE_CHECKING:
    import polars as pl


def _fmt_date(value: object, country: str | None = None) -> str:
    """An instant as the destination's date (``YYYY-MM-DD``), as ``status`` shows them."""
    if not isinstance(value, datetime):
        return "-"
    return f"{value.astimezone(zone_for(country)):%Y-%m-%d}"


def print_due_soon(lines: list[str], console: Console | None = None) -> None:
    """The case deadlines that are close, before any table (nearest first)."""
    if not lines:
        return
    console = console or make_console()
    console.print("[bold]cases due soon[/]", highlight=False)
    for line in lines:
        console.print(f"  {markup_safe(line)}", highlight=False)


#: Rows of the ``flags`` table by default (the most urgent first).
FLAGS_TABLE_LIMIT = 50

_ACTION_LABELS = {
    "none": "-",
    "wait": "wait",
    "ask_seller": "ask seller",
    "open_dispute": "[bold red]open dispute[/]",
    "escalate": "[bold red]escalate[/]",
    "too_late": "[dim]too late[/]",
    "send_evidence": "[bold red]send evidence[/]",
    "answer_offer": "[bold]answer offer[/]",
    "follow_up": "follow up",
}


def print_status_table(frame: pl.DataFrame, console: Console | None = None) -> None:
    """Render the ``status`` frame as a compact rich table.

    One line per shipment so that a cron mail or an 80-column terminal stays
    readable; the full sentence behind each action is in ``status --json``
    (``action_detail``) and in the evidence pack.
    """
    console = console or make_console()
    table = Table(
        title=plural(frame.height, "shipment"),
        caption=(
            "Quiet: days since the last scan. Last day: the last day to open a dispute "
            "(with AliExpress's grace days after buyer protection)."
        ),
        show_lines=False,
        pad_edge=False,
    )
    table.add_column("Order", overflow="fold")
    table.add_column("Number", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Quiet", justify="right")
    table.add_column("Flags", overflow="fold")
    table.add_column("Last day", no_wrap=True)
    table.add_column("Action", no_wrap=True)
    for row in frame.iter_rows(named=True):
        days = row["days_since_last_event"]
        action = row.get("action") or "none"
        label = _ACTION_LABELS.get(str(action), str(action))
        # A case's wait ends when its clock says (the seller's reply time ...), not
        # when the dispute window opened.
        # Dates as the destination sees them (computed with the window and the case).
        has_case = row.get("case_action") is not None
        opens = row.get("case_wait_until_date" if has_case else "dispute_opens_date")
        polled = row.get("polled") is not False
        awaiting = row["tracking_number"] == AWAITING
        status = str(row["status"]).replace("_", " ") if polled else "not polled yet"
        if awaiting:
            status = "awaiting a tracking number"
            if action == "wait":
                label = "wait for the number"
        elif not polled:
            label = "poll first"
        elif action == "wait" and opens:
            label = f"wait until {markup_safe(str(opens))}"
        table.add_row(
            markup_safe(row["order_id"]),
            markup_safe(row["tracking_number"]) if not awaiting else "-",
            markup_safe(status),
            f"{days:.0f}" if days is not None else "-",
            markup_safe(" ".join(row["flags"]) or "-"),
            markup_safe(
                row.get("dispute_last_day_date") or row.get("dispute_deadline_date") or "-"
            ),
            label,
        )
    console.print(table)


_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def print_flags_table(
    listing: pl.DataFrame, console: Console | None = None, *, limit: int | None = None
) -> None:
    """Render a ``list_flags`` listing: flagged shipments, the nearest last day first.

    Urgency is the deadline: a warning due in three days comes before a critical
    flag with two months left; severity breaks ties (no deadline sorts last).
    ``limit`` keeps the table to the most urgent N (a table of 100,000 rows takes
    minutes to lay out and nobody reads it) and says how many more there are.
    """
    console = console or make_console()
    import polars as pl

    flagged = listing.filter(pl.col("flags").list.len() > 0).sort(
        ["last_day", "urgency", "order_id"], descending=[False, True, False], nulls_last=True
    )
    total = flagged.height
    if limit is not None and total > limit:
        flagged = flagged.head(limit)
    shown = f"; the {flagged.height} most urgent shown" if flagged.height < total else ""
    table = Table(title=f"{total} of {plural(listing.height, 'shipment')} flagged{shown}")
    for column in ("Order", "Number", "Status", "Flags", "Last day", "Action"):
        table.add_column(column, overflow="fold")
    for row in flagged.iter_rows(named=True):
        lines = []
        for item in row["flags"]:
            style = _SEVERITY_STYLE.get(item["severity"], "")
            cleared = item["cleared_at"]
            country = row.get("destination_country")
            state = f" [dim](cleared {_fmt_date(cleared, country)})[/]" if cleared else ""
            since = _fmt_date(item["since"], country)
            first = _fmt_date(item["first_seen"], country)
            seen = f", first seen {first}" if first != since else ""
            lines.append(
                f"[{style}]{markup_safe(item['code'])}[/] ({markup_safe(item['severity'])}, "
                f"since {since}{seen}){state}: {markup_safe(item['detail'])}"
            )
        table.add_row(
            markup_safe(row["order_id"]),
            markup_safe(row["tracking_number"]),
            markup_safe(row["status"]),
            "\n".join(lines),
            markup_safe(row["last_day_date"] or "-"),
            markup_safe(row["action_detail"] or "-"),
        )
    console.print(table)
    if flagged.height < total:
        console.print(
            f"... and {total - flagged.height} more flagged shipments "
            "(flags --limit 0 or --all lists every one; --json for scripts)",
            highlight=False,
        )


def print_cases_table(cases: pl.DataFrame, console: Console | None = None) -> None:
    """The ``disputes`` table: one line per case."""
    console = console or make_console()
    table = Table(title=f"{cases.height} dispute cases")
    for column in ("Order", "Store", "State", "Next", "By", "Detail"):
        table.add_column(column, overflow="fold")
    for row in cases.iter_rows(named=True):
        table.add_row(
            markup_safe(row["order_id"]),
            markup_safe(row["store"] or "-"),
            markup_safe((row["state"] or "-") + ("" if row["open"] else " (closed)")),
            markup_safe(str(row["action"]).replace("_", " ")),
            markup_safe(row["due_date"] or "-"),
            markup_safe(row["action_detail"]),
        )
    console.print(table)
