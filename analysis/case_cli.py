"""The ``dispute`` and ``disputes`` commands: record a case's steps, show and list cases.

Thin over :mod:`analysis.case_log` (recording, validation) and :mod:`analysis.cases`
(the state and the next action, read from one :func:`analysis.assess.assess`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from analysis.case_log import ASKS, OUTCOMES
from analysis.console import print_cases_table
from collector import clock
from collector.cli import AppContext, handle_errors, pass_app
from collector.console import make_console
from collector.terminal import markup_safe, visible

if TYPE_CHECKING:
    pass


@click.command("dispute")
@click.argument("order", metavar="ORDER")
@click.argument("step", required=False, metavar="[STEP]")
@click.option("--on", "on", metavar="DATE", help="When it happened (ISO 8601; default: now).")
@click.option("--ask", metavar="|".join(ASKS), help="opened: what the dispute asks for.")
@click.option("--outcome", metavar="|".join(OUTCOMES), help="resolved: how it ended.")
@click.option("--amount", metavar="X", help="Asked (opened), offered (seller_offer), recovered.")
@click.option("--currency", metavar="C", help="ISO 4217 code (default: the order's currency).")
@click.option("--note", metavar="TEXT", help="Free text kept with the step.")
@click.option(
    "--attach",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="PACK_DIR",
    help="An evidence pack folder submitted with this step: its manifest's SHA-256 is kept.",
)
@click.option(
    "--tracking", metavar="NUMBER", help="resolved resent|replaced: the new parcel's number."
)
@click.option("--carrier", metavar="NAME", help="With --tracking: the new parcel's carrier.")
@click.option("--due", metavar="DATE", help="evidence_requested: the deadline it states.")
@click.option("--corrects", type=int, metavar="STEP_ID", help="This step replaces an earlier one.")
@click.option("--json", "as_json", is_flag=True, help="Print the case as one JSON object.")
@pass_app
@handle_errors
def dispute_command(  # noqa: PLR0913, PLR0917 - one parameter per option
    app: AppContext,
    order: str,
    step: str | None,
    on: str | None,
    ask: str | None,
    outcome: str | None,
    amount: str | None,
    currency: str | None,
    note: str | None,
    attach: Path | None,
    tracking: str | None,
    carrier: str | None,
    due: str | None,
    corrects: int | None,
    as_json: bool,
) -> None:
    """Record a step of ORDER's dispute, or (without STEP) print the case.

    STEP is one of: contacted_seller, opened (--ask), seller_replied, seller_offer
    (--amount), escalated, evidence_requested (--due), evidence_sent, resolved
    (--outcome, --amount recovered; resent/replaced may give --tracking of the new
    parcel, tracked like any shipment), feedback_left. The log is append-only: a
    mistake is corrected by a new step with --corrects STEP_ID. Dates default to
    "now" (--now) and a step dated after it is refused.
    """
    from analysis.assess import assess
    from analysis.case_log import StepInput, find_order, local_day, order_steps, record_step

    options: dict[str, Any] = {
        "on": on,
        "ask": ask,
        "outcome": outcome,
        "amount": amount,
        "currency": currency,
        "note": note,
        "attach": attach,
        "tracking": tracking,
        "carrier": carrier,
        "due": due,
        "corrects": corrects,
    }
    with app.open_store() as store:
        recorded = None
        if step is not None:
            given = StepInput(order=order, step=step, **options)
            recorded = record_step(store, given, now=clock.now(), settings=app.settings)
            order_id = recorded.order_id
        else:
            if any(v is not None for v in options.values()):
                raise click.UsageError(
                    "options need a STEP (e.g. dispute ORDER opened --ask refund)"
                )
            order_id = find_order(store, order).order_id
        steps = order_steps(store, order_id)
        cases = assess(store, clock.now(), app.settings).cases
    import polars as pl

    case = cases.filter(pl.col("order_id") == order_id)
    row = case.row(0, named=True) if case.height else None
    if as_json:
        click.echo(json.dumps(_case_json(row, steps, order_id), ensure_ascii=False))
        return
    console = make_console()
    if recorded is not None:
        extra = ""
        if recorded.pack_manifest_sha256:
            extra += f"; pack manifest sha256 {recorded.pack_manifest_sha256}"
        if recorded.linked_tracking_number:
            extra += (
                f"; new parcel {recorded.linked_tracking_number} tracked as shipment "
                f"{recorded.linked_shipment_id}"
            )
        click.echo(
            visible(
                f"recorded step {recorded.step_id}: {recorded.step} on "
                f"{local_day(recorded.occurred_at, recorded.country)} for order {order_id}{extra}"
            )
        )
    if not steps:
        click.echo(visible(f"order {order_id} has no dispute steps"))
        return
    print_case(row, steps, console)


def print_case(row: dict[str, Any] | None, steps: list[dict[str, Any]], console: Any) -> None:
    """The case header (state, next action) and its log, corrected steps marked."""
    if row is not None:
        money = f", {row['amount']:.2f} {row['currency'] or ''}" if row["amount"] else ""
        console.print(
            f"[bold]case {markup_safe(row['order_id'])}[/] ({markup_safe(row['marketplace'])}, "
            f"{markup_safe(row['store'] or 'no store')}{markup_safe(money)}): "
            f"{markup_safe(row['state'] or '-')}; "
            f"{'open' if row['open'] else 'closed'}",
            highlight=False,
        )
        due = f" (by {row['due_date']})" if row["due_date"] else ""
        if row["action"] == "wait" and row["wait_until"] is not None:
            due = f" (until {_local(row['wait_until'], row['destination_country'], time=False)})"
        console.print(
            f"next: [bold]{markup_safe(str(row['action']).replace('_', ' '))}[/]{due}: "
            f"{markup_safe(row['action_detail'])}",
            highlight=False,
        )
    country = row["destination_country"] if row is not None else None
    corrected = {s["corrects"]: s["step_id"] for s in steps if s["corrects"] is not None}
    table = Table(title=f"{len(steps)} steps")
    for column in ("#", "Date", "Step", "Details"):
        table.add_column(column, overflow="fold")
    for s in steps:
        table.add_row(
            str(s["step_id"]),
            _local(s["occurred_at"], country),
            markup_safe(s["step"])
            + (
                f" [dim](corrected by {corrected[s['step_id']]})[/]"
                if s["step_id"] in corrected
                else ""
            ),
            markup_safe(step_details(s, country)),
        )
    console.print(table)


def _local(value: Any, country: str | None, *, time: bool = True) -> str:
    """A step's instant in the destination's zone: the date the buyer gave with --on."""
    from collector.countries import zone_for

    local = value.astimezone(zone_for(country))
    if not time or (local.hour, local.minute, local.second) == (0, 0, 0):
        return str(local.strftime("%Y-%m-%d"))
    return str(local.strftime("%Y-%m-%d %H:%M"))


def step_details(s: dict[str, Any], country: str | None = None) -> str:
    """One step's options in words: ask, outcome, amount, due, note, pack, new parcel."""
    parts = []
    if s["ask"]:
        parts.append(f"asked: {s['ask']}")
    if s["outcome"]:
        parts.append(f"outcome: {s['outcome']}")
    if s["amount"] is not None:
        parts.append(f"{s['amount']:.2f} {s['currency'] or ''}".strip())
    if s["due_at"] is not None:
        parts.append(f"due {_local(s['due_at'], country, time=False)}")
    if s["new_tracking_number"]:
        parts.append(f"new parcel {s['new_tracking_number']}")
    if s["pack_manifest_sha256"]:
        parts.append(f"pack {s['pack_dir']} (manifest sha256 {s['pack_manifest_sha256']})")
    if s["corrects"] is not None:
        parts.append(f"corrects step {s['corrects']}")
    if s["note"]:
        parts.append(f"note: {s['note']}")
    return "; ".join(parts) or "-"


def _case_json(
    row: dict[str, Any] | None, steps: list[dict[str, Any]], order_id: str
) -> dict[str, Any]:
    out: dict[str, Any] = _jsonable(row) if row is not None else {"order_id": order_id}
    out["log"] = [_jsonable(s) for s in steps]
    return out


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    from decimal import Decimal

    out: dict[str, Any] = {}
    for key, value in row.items():
        if hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        elif isinstance(value, Decimal):
            out[key] = str(value)
        else:
            out[key] = value
    return out


@click.command("disputes")
@click.option("--open", "only_open", is_flag=True, help="Only cases still open.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per case.")
@pass_app
@handle_errors
def disputes_command(app: AppContext, only_open: bool, as_json: bool) -> None:
    """List the dispute cases, the nearest deadline first, with each one's next action.

    --json prints one line per case: {"order_id", "marketplace", "store", "state",
    "open", "action", "action_detail", "due_at", "ask", "outcome", "recovered", ...}.
    """
    from analysis.assess import assess

    with app.open_store() as store:
        cases = assess(store, clock.now(), app.settings).cases
    if only_open and cases.height:
        import polars as pl

        cases = cases.filter(pl.col("open"))
    if as_json:
        for row in cases.iter_rows(named=True):
            click.echo(json.dumps(_jsonable(row), ensure_ascii=False))
        return
    print_cases_table(cases)
