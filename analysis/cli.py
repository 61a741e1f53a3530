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

from analysis.console import (
    FLAGS_TABLE_LIMIT,
    print_due_soon,
    print_flags_table,
    print_status_table,
)
from collector import clock
from collector.cli import (
    AppContext,
    exit_quietly_on_broken_pipe,
    global_options,
    handle_errors,
    make_context,
    pass_app,
)
from collector.cli import cli as collector_cli
from collector.terminal import markup_safe, plural, visible

#: Re-exported: the table printers live in :mod:`analysis.console`.
__all__ = ["FLAGS_TABLE_LIMIT", "cli", "main", "print_flags_table", "print_status_table"]


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


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per shipment.")
@click.option("--all", "include_archived", is_flag=True, help="Include archived shipments.")
@pass_app
@handle_errors
def status(app: AppContext, as_json: bool, include_archived: bool) -> None:
    """Table of shipments: status, days since the last event, deadlines and flags."""
    from analysis.assess import assess
    from analysis.cases import due_soon
    from analysis.status import shipment_status

    with app.open_store(must_exist=True) as store:
        assessment = assess(store, clock.now(), app.settings)
        frame = shipment_status(
            store,
            clock.now(),
            include_archived=include_archived,
            settings=app.settings,
            assessment=assessment,
        )
    reminders = due_soon(assessment.cases, clock.now(), app.settings)
    if as_json:
        for row in frame.iter_rows(named=True):
            click.echo(json.dumps(_jsonable(row), ensure_ascii=False))
        return
    print_due_soon(reminders)
    print_status_table(frame)


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
@click.option("--json", "as_json", is_flag=True, help="One JSON object per shipment.")
@click.option(
    "--all", "include_all", is_flag=True, help="Add archived shipments and cleared flags."
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=FLAGS_TABLE_LIMIT,
    show_default=True,
    help="The table shows the most urgent N flagged shipments and counts the rest "
    "(0 or --all: every one; --json always lists all).",
)
@pass_app
@handle_errors
def flags(app: AppContext, as_json: bool, include_all: bool, limit: int) -> None:
    """Evaluate the flag rules now and list the flags of every shipment.

    The rules run at "now" first (--now fixes it) and their result is recorded in
    the flag history. --json prints one line per non-archived shipment, flagged or
    not: {"order_id", "tracking_number", "status", "flags": [{"code", "severity",
    "since", "first_seen", "detail"}]}: "since" is when the condition began (the last
    scan of a stalled parcel, the promised date of an overdue one), "first_seen"
    when parcelproof first saw it. --all adds archived shipments and cleared flags
    (with "cleared_at"). Without --json: a table of flagged shipments, the nearest
    last day to act first (the 50 most urgent and a count of the rest, unless
    --limit or --all).
    """
    from analysis.cases import due_soon
    from analysis.flags import list_flags, listing_json_lines

    with app.open_store() as store:
        assessment, listing = list_flags(store, clock.now(), app.settings, include_all=include_all)
    if as_json:
        for line in listing_json_lines(listing, include_all=include_all):
            click.echo(line)
        return
    print_due_soon(due_soon(assessment.cases, clock.now(), app.settings))
    print_flags_table(listing, limit=None if include_all or limit == 0 else limit)


@cli.command()
@click.argument("ids", nargs=-1, metavar="ID...")
@click.option(
    "--flagged",
    is_flag=True,
    help="Every flagged parcel worth a pack (a reason to dispute or advice to act), "
    "plus an index.html.",
)
@click.option(
    "--format",
    "formats",
    metavar="LIST",
    default=None,
    help="Comma-separated: html,pdf,png,json (default: [reports] formats, all four).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the packs (default: [reports] out_dir, data/reports).",
)
@pass_app
@handle_errors
def report(
    app: AppContext, ids: tuple[str, ...], flagged: bool, formats: str | None, out_dir: Path | None
) -> None:
    """Write evidence packs for order ids, tracking numbers or shipment ids (ID...), or --flagged.

    The shipments are assessed at "now" first (flags and advice from one
    evaluation). An ID that is one order's id and another's number is refused:
    write order:ID or number:ID. Each shipment gets a folder
    <order_id>-<tracking_number>/ with evidence-<number>.html (self-contained), .pdf,
    one evidence-<number>-page-N.png per PDF page, and manifest.json (the facts and
    the SHA-256 of every file). --flagged also writes index.html, soonest deadline
    first. An unknown ID is an error (exit 1) and writes nothing. A pack that cannot
    be written is named with its reason and the others are still written (exit 1).
    """
    from analysis.reports import make_report, parse_formats
    from collector.cli import err_console

    if not ids and not flagged:
        raise click.UsageError("give order ids or tracking numbers, or --flagged")
    chosen = parse_formats(formats) if formats else None
    with app.open_store(must_exist=True) as store:
        result = make_report(
            store,
            ids,
            flagged=flagged,
            now=clock.now(),
            settings=app.settings,
            formats=chosen,
            out_dir=out_dir,
        )
    for note in result.notes:
        err_console.print(f"[yellow]note:[/] {markup_safe(note)}")
    for pack in result.packs:
        flags_text = ", ".join(pack.flags) or "no flags"
        click.echo(visible(f"{pack.folder}  ({flags_text}; {len(pack.files)} files)"))
    if result.index is not None:
        click.echo(f"{result.index}  (index of {len(result.packs)} flagged parcels)")
    for failure in result.failures:
        err_console.print(f"[bold red]pack not written:[/] {markup_safe(failure)}")
    if not result.packs and not result.failures:
        click.echo("no parcel to report" + (" (nothing is flagged)" if flagged else ""))
    else:
        failed = f", {len(result.failures)} not written" if result.failures else ""
        click.echo(
            visible(f"{plural(len(result.packs), 'evidence pack')} in {result.out_dir}{failed}")
        )
    if result.failures:
        sys.exit(1)


@cli.command()
@click.option("--quiet", "-q", is_flag=True, help="Print only what changed (nothing if nothing).")
@pass_app
@handle_errors
def run(app: AppContext, quiet: bool) -> None:
    """The cron one-liner: poll, evaluate the flags, write packs, say what changed.

    Polls the due shipments like `poll`, evaluates every flag rule at "now", writes
    evidence packs for shipments newly flagged, and lists the flags raised (+) and
    cleared (-) since the previous `run`. --quiet prints only those change lines, so
    that a cron mail comes only when something changed. Exit code as `poll`: 0 ok,
    1 some source failed, 2 config error, 75 another poll holds the lock.
    """
    from collector.poll_lock import ensure_free

    ensure_free(app.db_path, command="run")  # a second poll or run answers at once
    from analysis.run import run_once

    # --now fixes the evaluation instant; without it the run evaluates at the end of
    # its own poll (the wall clock then), so that it sees what it has just fetched.
    now = clock.now() if clock.is_fixed() else None
    result = run_once(app.db_path, app.settings, now=now, progress=False if quiet else None)
    for line in result.lines(quiet=quiet):
        click.echo(visible(line))
    sys.exit(result.exit_code)


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
    """The whole path on bundled data, with no network and no key.

    Starts the loopback 17TRACK/Cainiao simulator on a free port, imports the sample
    orders into the demo's own database (~/.local/share/parcelproof/demo/demo.duckdb,
    never the one real orders go into; --db chooses another), runs the cron job once
    (poll, flags, changes), writes an evidence pack for every flagged parcel into
    reports/ beside it and prints the status. "Now" is 2026-11-28T12:00:00Z unless
    --now says otherwise.
    """
    from analysis.demo import DEMO_NOW, run_demo
    from collector.cli import given_on_command_line
    from collector.paths import demo_db_path

    # Its own database unless --db is typed: PARCELPROOF_DB names the real orders,
    # which 25 fake ones must never join.
    if given_on_command_line("db_path") != "--db":
        app = AppContext(db_path=demo_db_path(), config_path=None)
    if not clock.is_fixed():
        # The demo's own "now" holds for the whole process, as --now would.
        clock.set_now(clock.parse_instant(DEMO_NOW))
    sys.exit(run_demo(app, orders, now=clock.now()))


@cli.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv"]),
    default="parquet",
    show_default=True,
    help="Parquet keeps every type; CSV is plain text.",
)
@click.option("--with-raw", is_flag=True, help="Also export the evidence bodies (raw_documents).")
@click.option(
    "--partitioned",
    is_flag=True,
    help="Write the events as Hive-partitioned Parquet, OUT/events/month=YYYY-MM/ (Parquet only).",
)
@pass_app
@handle_errors
def export(app: AppContext, out: Path, fmt: str, with_raw: bool, partitioned: bool) -> None:
    """Write shipments, events, flags, polls, tracking_state and poll_results to OUT.

    One file per table, named after it (OUT/shipments.parquet, ...), read from one
    snapshot through a read-only connection. The evidence bodies are left out
    unless --with-raw is given. With --partitioned the events go to OUT/events/,
    one folder per month of the event (month=2026-11/...), which DuckDB, polars and
    Spark read as one table.
    """
    from analysis.export import Format, export_tables

    kind: Format = "csv" if fmt == "csv" else "parquet"
    if partitioned and kind != "parquet":
        raise click.BadParameter("--partitioned needs --format parquet", param_hint="--partitioned")
    with app.open_store(read_only=True) as store:
        written = export_tables(store.conn, out, kind, with_raw=with_raw, partitioned=partitioned)
    for item in written:
        click.echo(visible(f"{item.path}: {plural(item.rows, 'row')}"))


def _mount_case_commands() -> None:
    from analysis.case_cli import dispute_command, disputes_command

    cli.add_command(dispute_command)
    cli.add_command(disputes_command)


_mount_case_commands()


def main() -> None:
    """Entry point of the ``parcelproof`` console script."""
    with exit_quietly_on_broken_pipe():
        cli(prog_name="parcelproof")
