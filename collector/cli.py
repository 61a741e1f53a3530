"""The collector's commands: ``import``, ``check``, ``poll``, ``verify``, ``simulate``.

Each command parses options, calls one library function and turns domain errors into
a message and an exit code that cron can act on. ``python -m collector`` runs this
group alone (without the analysis and report dependencies); the ``parcelproof``
console script mounts it and adds the analysis commands.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
from rich.console import Console
from rich.markup import escape

from collector import clock
from collector.config import Settings, find_config_path, load_settings
from collector.errors import ParcelproofError
from collector.paths import default_db_path

if TYPE_CHECKING:
    from collector.store import Store

F = TypeVar("F", bound=Callable[..., Any])

err_console = Console(stderr=True, highlight=False)


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

    def open_store(self, *, read_only: bool = False, busy_timeout: float | None = None) -> Store:
        """Open the database, waiting up to the configured time if another holds it."""
        timeout = (
            self.settings.poll.database_busy_timeout_seconds
            if busy_timeout is None
            else busy_timeout
        )
        from collector.store import Store

        return Store.open(self.db_path, read_only=read_only, busy_timeout=timeout)


def handle_errors(func: F) -> F:
    """Turn :class:`ParcelproofError` into ``error: ...`` on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ParcelproofError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True)
            sys.exit(exc.exit_code)

    return cast(F, wrapper)


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
        help="Configuration file. Env: PARCELPROOF_CONFIG; default ./parcelproof.toml.",
    )(func)
    func = click.option(
        "--db",
        "db_path",
        envvar="PARCELPROOF_DB",
        type=click.Path(dir_okay=False, path_type=Path),
        help="DuckDB file. Env: PARCELPROOF_DB; default data/parcelproof.duckdb.",
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
@pass_app
@handle_errors
def import_command(app: AppContext, file: Path, encoding: str) -> None:
    """Add or update shipments from a CSV or JSON FILE.

    Each bad row is reported with its line and reason and skipped; the good rows are
    stored in one transaction. Exit 0 when every row was stored, 1 when some were
    rejected, 2 when the file is unusable (nothing is stored then).
    """
    from collector.importer import import_rows, read_rows

    # Read and check the file before opening the database, so that an unusable
    # file never touches (or creates) it.
    header, rows = read_rows(file, encoding)
    with app.open_store() as store:
        result = import_rows(store, header, rows, name=str(file))
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(f'{file}: {warning}')}")
    for error in result.rejected:
        err_console.print(f"[red]rejected[/] {escape(f'{file}: {error}')}")
    click.echo(
        f"{file}: {result.rows} rows: {result.inserted} new, {result.updated} updated, "
        f"{result.unchanged} unchanged, {len(result.rejected)} rejected"
    )
    sys.exit(1 if result.rejected else 0)


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
        table(detections, Console(highlight=False))
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
    first source of [routing] that is configured ([carriers.<name>] table, plus a
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
        click.echo(line)
    sys.exit(report.exit_code)


@cli.command("verify")
@pass_app
@handle_errors
def verify_command(app: AppContext) -> None:
    """Recompute every raw document's hashes and the whole poll hash chain.

    Exit 0 when the evidence is intact, 1 when something was changed (the first
    broken row is named: a raw document's sha256 or a poll id).
    """
    from collector.verify import verify_store

    with app.open_store(read_only=True) as store:
        report = verify_store(store)
    if report.intact:
        click.echo(report.summary())
    else:
        err_console.print(f"[bold red]{escape(report.summary())}[/]", markup=True, highlight=False)
    sys.exit(report.exit_code)


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
    click.echo(f"parcelproof simulator: {len(scenarios)} numbers, Ctrl-C stops")
    click.echo(f"17TRACK v2.2  {simulator.base_url_17track}  (17token from ${api_key_env})")
    click.echo(f"Cainiao       {simulator.base_url_cainiao}/global/detail.json")
    for fault in parsed:
        click.echo(f"fault         {fault!r}")
    click.echo("\n# parcelproof.toml\n" + simulator.config_toml(api_key_env))
    if key == DEFAULT_API_KEY:
        # A comment, so that the printed snippet stays valid TOML as a whole.
        click.echo(f"# the simulator's dummy key, for your shell:\n#   export {api_key_env}={key}")
        click.echo()
    try:
        simulator.serve_forever()
    except KeyboardInterrupt:
        click.echo("simulator stopped")


def main() -> None:
    """Entry point of ``python -m collector``."""
    cli(prog_name="python -m collector")
