"""The collector's commands: ``import``, ``check``, ``poll``, ``verify``, ``parse``,
``rebuild``, ``simulate``.

Each command parses options, calls one library function and turns domain errors into
a message and an exit code that cron can act on. ``python -m collector`` runs this
group alone (without the analysis and report dependencies); the ``parcelproof``
console script mounts it and adds the analysis commands.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click
from rich.markup import escape

from collector import clock
from collector.config import Settings, find_config_path, load_settings
from collector.console import make_console
from collector.errors import ConfigError, ParcelproofError
from collector.paths import default_db_path
from collector.terminal import markup_safe, plural, visible

if TYPE_CHECKING:
    from collector.store import Store

F = TypeVar("F", bound=Callable[..., Any])

err_console = make_console(stderr=True)


@dataclass
class AppContext:
    """What every command gets: where the database is, the settings, the clock."""

    db_path: Path
    config_path: Path | None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """The validated configuration (loaded on first use)."""
        if self._settings is None:
            self._settings = load_settings(self.config_path) if self.config_path else Settings()
        return self._settings

    def open_store(
        self,
        *,
        read_only: bool = False,
        busy_timeout: float | None = None,
        must_exist: bool = False,
    ) -> Store:
        """Open the database, waiting up to the configured time if another holds it.

        ``must_exist``: a command that only reads says that the database is missing
        instead of creating an empty one.
        """
        timeout = (
            self.settings.poll.database_busy_timeout_seconds
            if busy_timeout is None
            else busy_timeout
        )
        from collector.store import Store

        return Store.open(
            self.db_path, read_only=read_only, busy_timeout=timeout, must_exist=must_exist
        )


def handle_errors(func: F) -> F:
    """Turn :class:`ParcelproofError` into ``error: ...`` on stderr and its exit code.

    Operational faults are messages too, not tracebacks: an ``OSError`` (disk full,
    a read-only folder, no permission) exits 1 naming the file, and an error from
    DuckDB itself (a corrupted file, a full disk under it) exits 2.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ParcelproofError as exc:
            _fail(str(exc), exc.exit_code)
        except BrokenPipeError:
            raise  # the reader left: exit_quietly_on_broken_pipe makes it exit 0
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            _fail(f"{exc.strerror or exc}{where}", 1)
        except Exception as exc:
            if type(exc).__module__.partition(".")[0] not in {"duckdb", "_duckdb"}:
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _fail(f"the database cannot be used: {first}", 2)

    return cast(F, wrapper)


def _fail(message: str, code: int) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {markup_safe(message)}", markup=True)
    sys.exit(code)


def _set_now(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value:
        try:
            clock.set_now(clock.parse_instant(value))
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return value


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> int:
    from collector.logs import configure_logging

    configure_logging(value)
    return value


def global_options(func: F) -> F:
    """``--db``, ``--config``, ``--now`` and ``-v``, shared by both entry points."""
    func = click.option(
        "--verbose",
        "-v",
        count=True,
        callback=_set_verbosity,
        expose_value=False,
        is_eager=True,
        help="Log each request to stderr (-v); -vv adds the HTTP library's debug lines.",
    )(func)
    func = click.option(
        "--now",
        envvar="PARCELPROOF_NOW",
        metavar="ISO8601",
        callback=_set_now,
        expose_value=False,
        is_eager=True,
        help="Take this instant as 'now' (e.g. 2026-11-20T12:00:00Z). Env: PARCELPROOF_NOW.",
    )(func)
    func = click.option(
        "--config",
        "config_path",
        envvar="PARCELPROOF_CONFIG",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Configuration file. Env: PARCELPROOF_CONFIG; default ./parcelproof.toml, "
        "else ~/.config/parcelproof/parcelproof.toml.",
    )(func)
    func = click.option(
        "--db",
        "db_path",
        envvar="PARCELPROOF_DB",
        type=click.Path(dir_okay=False, path_type=Path),
        help="DuckDB file. Env: PARCELPROOF_DB; default "
        "~/.local/share/parcelproof/parcelproof.duckdb.",
    )(func)
    return func


def make_context(db_path: Path | None, config_path: Path | None) -> AppContext:
    """Resolve the database and config paths the way every command does."""
    return AppContext(db_path=default_db_path(db_path), config_path=find_config_path(config_path))


pass_app = click.make_pass_decorator(AppContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="parcelproof")
@click.pass_context
def cli(ctx: click.Context, db_path: Path | None, config_path: Path | None) -> None:
    """parcelproof collector: import orders, check numbers, poll sources, verify evidence."""
    ctx.obj = make_context(db_path, config_path)


@cli.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Text encoding of FILE (a byte-order mark is fine); Excel on Windows saves cp1252.",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="'COLUMN=field'",
    help="Read the file's COLUMN as this import field (repeatable; also [import.columns]).",
)
@click.option("--day-first", "date_order", flag_value="day-first", help="03/11/2026 is 3 Nov.")
@click.option("--month-first", "date_order", flag_value="month-first", help="03/11/2026 is 11 Mar.")
@click.option(
    "--dry-run", is_flag=True, help="Show the column mapping and first rows; store nothing."
)
@pass_app
@handle_errors
def import_command(  # noqa: PLR0913, PLR0917 - one parameter per option
    app: AppContext,
    file: Path,
    encoding: str,
    maps: tuple[str, ...],
    date_order: str | None,
    dry_run: bool,
) -> None:
    """Add or update shipments from a CSV, JSON or .xlsx FILE.

    Column names of common exports are recognised ("Order No.", "Tracking Number",
    "Ship date" ...); --map names others. Each bad row is reported with its line and
    reason and skipped; the good rows are stored in one transaction. Exit 0 when
    every row was stored, 1 when some were rejected, 2 when the file is unusable
    (nothing is stored then).
    """
    from collector.importer import import_rows
    from collector.intake.sheets import parse_maps, prepare, read_table

    # Read and check the file before opening the database, so that an unusable
    # file never touches (or creates) it.
    header, rows = read_table(file, encoding)
    configured = (f"{k}={v}" for k, v in app.settings.import_columns.items())
    columns = parse_maps(configured) | parse_maps(maps)
    sheet = prepare(header, rows, maps=columns, date_order=date_order, name=str(file))
    if dry_run:
        _show_dry_run(sheet)
        return
    with app.open_store() as store:
        result = import_rows(store, sheet.header, sheet.rows, name=str(file))
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {markup_safe(f'{file}: {warning}')}")
    for error in result.rejected:
        err_console.print(f"[red]rejected[/] {markup_safe(f'{file}: {error}')}")
    click.echo(
        visible(
            f"{file}: {plural(result.rows, 'row')}: {result.inserted} new, "
            f"{result.updated} updated, {result.unchanged} unchanged, "
            f"{len(result.rejected)} rejected"
            + (f" ({result.awaiting} awaiting a tracking number)" if result.awaiting else "")
        )
    )
    sys.exit(1 if result.rejected else 0)


def _show_dry_run(sheet: Any) -> None:
    """The mapping ``import`` chose and the first rows as they would be stored."""
    from collector.importer import parse_rows

    for source, column in sheet.mapping.items():
        click.echo(f"column {source!r} -> {column}")
    for source in sheet.ignored:
        click.echo(f"column {source!r} -> (ignored)")
    if sheet.date_order:
        click.echo(f"dates: {sheet.date_order}")
    frame, errors, count = parse_rows(sheet.rows.head(10), frozenset(sheet.header))
    wanted = ["order_id", "tracking_number", "courier", "marketplace", "store", "carrier"]
    wanted += ["ordered_at", "shipped_at", "promised_to"]
    shown = [c for c in wanted if c in frame.columns]
    for row in frame.head(5).select(shown).iter_rows(named=True):
        click.echo("row " + ", ".join(f"{k}={v}" for k, v in row.items() if v is not None))
    for error in errors[:5]:
        click.echo(f"would reject {error}")
    click.echo(f"{plural(sheet.rows.count(), 'row')} read (dry run: nothing stored)")
    del count


@cli.command("import-mail")
@click.argument("sources", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Read and show; store nothing, remember nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: one JSON object a line.")
@pass_app
@handle_errors
def import_mail_command(
    app: AppContext, sources: tuple[str, ...], dry_run: bool, as_json: bool
) -> None:
    """Track the parcels named in shipping e-mails, keeping each message as evidence.

    SOURCE is an .eml file, a folder of them, an mbox, a Maildir, or
    imaps://user@host[:port]/FOLDER (read-only; the password comes from the
    environment variable named by [mail] password_env); without SOURCE, the [mail]
    sources. Prints one line per message: what it found, or why it was skipped.
    Exit 0 when every message was read, 1 when one could not be parsed, 2 when a
    source could not be opened or read to the end.
    """
    from collector.intake.mail import import_mail, notice_json

    specs = sources or app.settings.mail.sources
    if not specs:
        raise ConfigError("no SOURCE given and no [mail] sources configured")

    def show(message: Any) -> None:
        if as_json and message.notice is not None:
            click.echo(json.dumps(notice_json(message.source, message.notice), ensure_ascii=False))
        elif as_json:
            click.echo(json.dumps({"source": message.source, "error": message.detail}))
        else:
            click.echo(message.line())

    if dry_run:
        result = import_mail(None, specs, app.settings.mail, on_message=show)
    else:
        with app.open_store() as store:
            result = import_mail(store, specs, app.settings.mail, on_message=show)
    for failure in result.failed_sources:
        err_console.print(f"[red]error:[/] {escape(failure)}")
    for message in result.unreadable:
        err_console.print(f"[red]unreadable[/] {escape(message.line())}")
    if not as_json:
        click.echo(result.summary())
    sys.exit(result.exit_code)


@cli.command("check")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per number, in order.")
def check_command(numbers: tuple[str, ...], as_json: bool) -> None:
    """Detect the courier and format of tracking NUMBERS, check digits, decoded fields.

    `-` reads numbers from stdin, one per line; `--` ends the options (for a number
    that starts with a dash). Exit 0 when every number is valid (a passing check
    digit, or a known format that has none), 1 otherwise.
    """
    from collector.numbers import detect_many
    from collector.numbers.render import json_line, read_numbers, table

    detections = detect_many(read_numbers(numbers, sys.stdin))
    if as_json:
        for detection in detections:
            click.echo(json_line(detection))
    else:
        table(detections, make_console())
    sys.exit(0 if all(d.valid for d in detections) else 1)


@cli.command("poll")
@click.option("--all", "all_shipments", is_flag=True, help="Poll every non-archived shipment.")
@click.option(
    "--carrier",
    "carriers",
    multiple=True,
    metavar="NAME",
    help="Only shipments routed to this source, or of this courier/carrier (repeatable).",
)
@click.option(
    "--shipment",
    "shipments",
    multiple=True,
    metavar="ID",
    help="Only this order id, tracking number or shipment id (repeatable).",
)
@click.option("--limit", type=click.IntRange(min=0), help="Poll at most this many shipments.")
@click.option(
    "--shard",
    metavar="I/N",
    help="Only shard I of N (0-based) of the shipments, by a stable hash of order id "
    "and tracking number: N workers with --shard 0/N .. N-1/N poll each shipment once.",
)
@pass_app
@handle_errors
def poll_command(  # noqa: PLR0913, PLR0917 - one parameter per option
    app: AppContext,
    all_shipments: bool,
    carriers: tuple[str, ...],
    shipments: tuple[str, ...],
    limit: int | None,
    shard: str | None,
) -> None:
    """Poll the due shipments at their sources and store the answers as evidence.

    Never-polled shipments go first, then the stalest. Each shipment goes to the
    first source of [routing] that is configured ([sources.<name>] table, plus a
    key if the source needs one) and can serve its courier. The poll lock
    (<db>.poll.lock) is taken before the database is opened. Exit 0 ok, 1 some
    source failed, 2 configuration error, 75 another poll holds the lock.
    """
    from collector.poll_lock import ensure_free

    # Answer a second poll before the heavy imports below (the lock is taken for
    # real, before the database is opened, inside run_poll).
    from collector.shard import parse_shard

    try:
        shard_index = parse_shard(shard) if shard is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    ensure_free(app.db_path)
    from collector.poll import run_poll

    report = run_poll(
        app.db_path,
        app.settings,
        all_shipments=all_shipments,
        carriers=carriers,
        shipments=shipments,
        limit=limit,
        shard=shard_index,
    )
    for line in report.summary_lines():
        click.echo(visible(line))
    sys.exit(report.exit_code)


@cli.command("verify")
@pass_app
@handle_errors
def verify_command(app: AppContext) -> None:
    """Recompute every evidence hash and the poll chain; re-derive the derived tables.

    Checks each raw document's hashes, the whole poll hash chain, the chain head each
    poll run recorded (polls deleted from the end), and that events, poll_results
    and tracking_state equal a fresh derivation of the raw documents. Exit 0 intact,
    1 tampered (the first problem is named: a raw document's sha256, a poll id, a
    table), 2 no database, 3 the database file itself is damaged.
    """
    from collector.errors import StoreError
    from collector.verify import verify_path

    if not app.db_path.exists():
        raise StoreError(f"no database at {app.db_path} (nothing to verify)")
    report = verify_path(app.db_path, busy_timeout=app.settings.poll.database_busy_timeout_seconds)
    if report.intact:
        click.echo(visible(report.summary()))
    else:
        err_console.print(
            f"[bold red]{markup_safe(report.summary())}[/]", markup=True, highlight=False
        )
    sys.exit(report.exit_code)


@cli.command("rebuild")
@click.option(
    "--json", "as_json", is_flag=True, help="Print what changed as one JSON object (event keys)."
)
@pass_app
@handle_errors
def rebuild_command(app: AppContext, as_json: bool) -> None:
    """Re-derive events, poll results and tracking state from the stored raw answers.

    Every stored answer is parsed again with today's parsers (after a parser fix)
    and the runs are replayed, in one transaction; raw_documents and polls are
    never written, so verify still passes. Prints the events added and dropped
    (--json: with their keys). Takes the poll lock like poll. Exit 0 done, 2 the
    database cannot be used, 75 a poll holds the lock.
    """
    import json

    from collector.errors import StoreError
    from collector.poll_lock import PollLock
    from collector.store.rebuild import rebuild

    if not app.db_path.exists():
        raise StoreError(f"no database at {app.db_path} (nothing to rebuild)")
    with PollLock(app.db_path), app.open_store() as store:
        report = rebuild(store, app.settings.poll)
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        click.echo(report.summary())
    sys.exit(0)


@cli.command("parse")
@click.option(
    "--source",
    "source_name",
    required=True,
    metavar="NAME",
    help="The source whose parser reads the files "
    "(17track, cainiao, usps, ups, fedex, dhl, or a plug-in source).",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tracking number.")
@handle_errors
def parse_command(source_name: str, files: tuple[Path, ...], as_json: bool) -> None:
    """Run a source's parser on saved response bodies; no database is used.

    Prints what each file says per tracking number: the outcome (as poll stores it
    in poll_results), the status and the normalised events. 17track files may be
    gettrackinfo answers or push payloads. Exit 0 when every file was read, 1 when
    one could not be read or its answer did not match the protocol (named on
    stderr), 2 for an unknown source.
    """
    import json

    from collector.saved import parse_files

    records = parse_files(source_name, list(files))
    for record in records:
        if as_json:
            click.echo(json.dumps(record.line(), ensure_ascii=False))
        else:
            said = record.note or (record.result.message if record.result else None)
            click.echo(_saved_summary(record.line(), None if record.problem else said))
        if record.problem is not None:
            number = record.result.number + ": " if record.result is not None else ""
            # Plain text, never wrapped: cron mail and pipes read it.
            click.echo(f"unreadable: {record.file}: {number}{record.problem}", err=True)
    sys.exit(1 if any(r.unreadable for r in records) else 0)


def _saved_summary(line: dict[str, Any], note: str | None) -> str:
    events = line["events"]
    status = line["status"] or "-"
    if line["sub_status"]:
        status += f" ({line['sub_status']})"
    text = f"{line['file']}: {line['number'] or '-'}  {line['outcome']}  {status}"
    text += f"  {len(events)} event{'s' if len(events) != 1 else ''}"
    if events:
        last = events[-1]
        place = f", {last['location']}" if last["location"] else ""
        text += f"; last {last['occurred_at'] or 'undated'}: {last['description'] or '-'}{place}"
    if note:
        text += f"; {note}"
    return text


def _set_archived(app: AppContext, ids: tuple[str, ...], *, archived: bool) -> None:
    from collector.resolve import resolve_shipments
    from collector.store.writes import set_archived

    with app.open_store(must_exist=True) as store:
        resolution = resolve_shipments(store, ids)
        changed = set_archived(store, resolution.shipment_ids, archived=archived, now=clock.wall())
    for note in resolution.notes:
        err_console.print(f"[yellow]note:[/] {markup_safe(note)}")
    done = "archived" if archived else "brought back"
    already = len(resolution.shipment_ids) - changed
    tail = f" ({already} already {'archived' if archived else 'tracked'})" if already else ""
    kept = (
        "; their evidence is kept, `parcelproof unarchive` brings them back"
        if archived
        else "; they are polled and listed again"
    )
    click.echo(f"{done} {plural(changed, 'shipment')}{tail}{kept if changed else ''}")


@cli.command("archive")
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@pass_app
@handle_errors
def archive_command(app: AppContext, ids: tuple[str, ...]) -> None:
    """Stop polling and listing shipments (order ids, tracking numbers, shipment ids).

    Nothing is deleted: the raw answers, events and flag history stay and `verify`
    still covers them; `status --all` and `flags --all` still show them, and
    `unarchive` brings them back. An import file's `archived` column does the same.
    Exit 0, 1 an unknown ID (nothing changed), 2 no database.
    """
    _set_archived(app, ids, archived=True)


@cli.command("unarchive")
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@pass_app
@handle_errors
def unarchive_command(app: AppContext, ids: tuple[str, ...]) -> None:
    """Track archived shipments again: polled, listed and packed as before.

    Exit 0, 1 an unknown ID (nothing changed), 2 no database.
    """
    _set_archived(app, ids, archived=False)


def given_on_command_line(name: str) -> str | None:
    """``"--db"``/``"--config"`` when the option was typed, the variable when it came
    from the environment, None when it was not given (for ``doctor`` and ``demo``)."""
    from click.core import ParameterSource

    root = click.get_current_context().find_root()
    source = root.get_parameter_source(name)
    if source is ParameterSource.COMMANDLINE:
        return {"db_path": "--db", "config_path": "--config"}[name]
    if source is ParameterSource.ENVIRONMENT:
        return {"db_path": "PARCELPROOF_DB", "config_path": "PARCELPROOF_CONFIG"}[name]
    return None


@cli.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per check.")
@pass_app
@handle_errors
def doctor_command(app: AppContext, as_json: bool) -> None:
    """Check the set-up a cron line relies on; write nothing.

    One line per check: the configuration file found (and where it was looked for),
    each source and whether its key is set, the mail sources, the database (which
    file and why), its shipments, the last run, the poll lock, where packs go, the
    alerts. Keys are never shown, only their variables. Exit 0 when nothing failed
    (warnings allowed), 1 otherwise.
    """
    from collector.doctor import config_origin, diagnose
    from collector.paths import Located, locate_db

    db_given = given_on_command_line("db_path")
    db = Located(app.db_path, db_given) if db_given else locate_db(None)
    config_given = given_on_command_line("config_path")
    why = config_given or config_origin(app.config_path)
    diagnosis = diagnose(db, app.config_path, why)
    for check in diagnosis.checks:
        click.echo(check.as_json() if as_json else visible(check.line()))
    sys.exit(diagnosis.exit_code)


@cli.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port (default: a free one)."
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    help="17TRACK requests a second per key; above it HTTP 429 (default: no limit).",
)
@click.option(
    "--cainiao-rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Cainiao requests a second; above it HTTP 429 (default: no limit).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="Inject a fault: 503:3, 429:5,retry_after=2, timeout:1,seconds=30, truncate, html, "
    "huge; options endpoint=, number=, skip=, status=, size= (repeatable).",
)
@click.option(
    "--scenarios",
    "scenarios_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Scenario file (default: the bundled histories of the sample orders).",
)
@click.option("--synthetic", type=click.IntRange(min=1), help="Also serve N synthetic numbers.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --synthetic.")
@click.option(
    "--quota",
    type=click.IntRange(min=0),
    default=1_000_000,
    show_default=True,
    help="17TRACK registrations allowed before -18019908.",
)
@click.option(
    "--sync-delay",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds a newly registered 17TRACK number answers NotFound, as while it is looked up.",
)
@click.option(
    "--api-key-env",
    default="SEVENTEENTRACK_API_KEY",
    show_default=True,
    help="Variable holding the 17token to expect (unset: a dummy key, printed).",
)
def simulate_command(  # noqa: PLR0913, PLR0917 - one parameter per option
    host: str,
    port: int,
    rate: float | None,
    cainiao_rate: float | None,
    faults: tuple[str, ...],
    scenarios_path: Path | None,
    synthetic: int | None,
    seed: int,
    quota: int,
    sync_delay: float,
    api_key_env: str,
) -> None:
    """Serve the loopback 17TRACK v2.2 and Cainiao simulator until Ctrl-C.

    Prints the base URLs and a parcelproof.toml snippet pointing both sources at
    it. The answers come from scenario histories (the sample orders by default);
    --fault injects 503 bursts, 429 storms, timeouts, truncated JSON, HTML error
    pages or 10 MB bodies.
    """
    import os

    from collector.simulator import (
        DEFAULT_API_KEY,
        Fault,
        ScenarioError,
        Simulator,
        load_scenarios,
        synthetic_scenarios,
    )

    try:
        parsed = [Fault.parse(spec) for spec in faults]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    try:
        scenarios = list(load_scenarios(scenarios_path).values())
    except ScenarioError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenarios") from None
    if synthetic:
        scenarios += synthetic_scenarios(synthetic, seed=seed)
    key = os.environ.get(api_key_env) or DEFAULT_API_KEY
    try:
        simulator = Simulator(
            scenarios,
            api_key=key,
            rate_limit=rate,
            cainiao_rate_limit=cainiao_rate,
            faults=parsed,
            quota=quota,
            host=host,
            port=port,
            sync_delay=sync_delay,
        )
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    click.echo(f"parcelproof simulator: {plural(len(scenarios), 'number')}, Ctrl-C stops")
    click.echo(f"17TRACK v2.2  {simulator.base_url_17track}  (17token from ${api_key_env})")
    click.echo(f"Cainiao       {simulator.base_url_cainiao}/global/detail.json")
    for name in simulator.endpoints:
        click.echo(f"{name:<13} {simulator.base_url_for(name)}")
    for fault in parsed:
        click.echo(f"fault         {fault.describe()}")
    click.echo("\n# parcelproof.toml\n" + simulator.config_toml(api_key_env, simulator.endpoints))
    # Comments, so that the printed snippet stays valid TOML as a whole.
    click.echo("# the simulator's credentials, for your shell:")
    if key == DEFAULT_API_KEY:
        click.echo(f"#   export {api_key_env}={key}")
    for variable, value in simulator.source_env().items():
        click.echo(f"#   export {variable}={value}")
    click.echo()
    try:
        simulator.serve_forever()
    except KeyboardInterrupt:
        click.echo("simulator stopped")


@contextlib.contextmanager
def exit_quietly_on_broken_pipe() -> Iterator[None]:
    """``status --json | head -1``: the reader left, which is no error (exit 0, no noise).

    Click answers EPIPE with exit 1 after wrapping stdout in its PacifyFlushWrapper;
    that exit is turned into 0. stdout is pointed at /dev/null so that the
    interpreter's final flush does not fail again.
    """
    try:
        yield
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(0)
    except SystemExit as exc:
        if exc.code == 1 and type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):
            _silence_stdout()
            sys.exit(0)
        raise


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())  # type: ignore[union-attr]


def main() -> None:
    """Entry point of ``python -m collector``."""
    with exit_quietly_on_broken_pipe():
        cli(prog_name="python -m collector")
