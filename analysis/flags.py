"""Flag rules over the store, and the flag history they keep.

Every rule of the catalogue (ARCHITECTURE.md, "Flags") is one set-oriented SQL
query over *all* shipments: the rules read ``shipments``, ``tracking_state`` (the
collector's current picture of each shipment, with the fields of its latest event
and latest delivery scan), ``poll_results`` (what each source answered) and
``events`` only for ``scan_before_order`` (every scan before the order is
evidence), of the few shipments whose first event precedes the order. Thresholds
come from ``[rules]`` (:class:`collector.config.RulesConfig`; the README names the
source of each default). A rule's "N days" are complete at the same clock time N
days later: at that instant the flag is raised (``>=``).

:func:`evaluate_flags` computes the set of flags that hold at "now" and records it
in the ``flags`` history (raised, confirmed, cleared; see
:mod:`collector.store.flag_writes`)::

    with Store.open(path) as store:
        evaluation = evaluate_flags(store, clock.now(), settings)
        for row in evaluation.raised.iter_rows(named=True):
            print(row["order_id"], row["code"], row["detail"])

``flags``, ``status``, ``report`` and ``run`` read flags through
:func:`analysis.assess.assess`, which runs these rules and records them, so that
their output never depends on another command having run first.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from analysis.rules import FLAG_CODES, SEVERITIES, SEVERITY_RANK, flags_statements
from analysis.rules import params as rule_params
from analysis.rules.places import CITY_EXONYMS
from analysis.rules.sql import history_detail, local_time_sql, rendered_detail
from analysis.rules.stages import inputs_sql
from collector.config import RulesConfig, Settings
from collector.store import LATEST_VERSION, Store, duckdb_setting, memory_limit
from collector.store.flag_writes import (
    FlagChanges,
    FlagInputs,
    apply_flag_evaluation,
    flags_watermark,
    latest_evaluation,
    recorded_evaluation,
)

if TYPE_CHECKING:
    from analysis.assess import Assessment

# Kept importable from here for the modules that did (the catalogue is their home).
__all__ = [
    "CITY_EXONYMS",
    "FLAG_CODES",
    "SEVERITIES",
    "SEVERITY_RANK",
    "Evaluation",
    "compute_flags",
    "evaluate_flags",
    "fetch_flags",
    "flag_history",
    "flag_listing",
    "flags_statements",
    "list_flags",
    "listing_json_lines",
    "local_time_sql",
    "recorded_flags",
    "rules_digest",
    "staged_flags",
]


@dataclass(frozen=True)
class Evaluation:
    """The result of one flag evaluation at ``now``.

    ``current`` is the set of flags that hold (``shipment_id, code, severity,
    threshold, detail, evidence, began_at``), ``open_flags`` and ``open_shipments``
    its size; ``raised`` and ``cleared`` are the history rows this evaluation added
    or closed, with ``order_id`` and ``tracking_number`` (``raised_count`` counts the
    first); ``written`` is False when ``now`` was earlier than the latest recorded
    evaluation (nothing was stored, the frames say what would change).
    ``incremental`` says whether only the shipments whose inputs changed (or whose
    next instant came) were evaluated, ``evaluated`` how many were, and ``reason``
    why the evaluation was full.

    ``current`` and ``raised`` are read from the store when first used (a cron run
    only counts them; a first evaluation raises every flag): use them while the
    store is open and before the history changes again.
    """

    now: datetime
    open_flags: int
    open_shipments: int
    changes: FlagChanges = field(repr=False)
    load_current: Callable[[], pl.DataFrame] = field(repr=False, compare=False)
    incremental: bool = False
    evaluated: int = 0
    reason: str = ""

    @cached_property
    def current(self) -> pl.DataFrame:
        """Every flag that holds at ``now`` (see the class docstring)."""
        return self.load_current()

    @property
    def raised(self) -> pl.DataFrame:
        """The rows this evaluation raised."""
        return self.changes.raised

    @property
    def raised_count(self) -> int:
        """How many rows this evaluation raised."""
        return self.changes.raised_count

    @property
    def cleared(self) -> pl.DataFrame:
        """The rows this evaluation cleared."""
        return self.changes.cleared

    @property
    def confirmed(self) -> int:
        """How many open rows this evaluation confirmed."""
        return self.changes.confirmed

    @property
    def written(self) -> bool:
        """Whether the evaluation was recorded."""
        return self.changes.written

    @property
    def changed(self) -> bool:
        """Whether any flag was raised or cleared."""
        return bool(self.raised_count or self.cleared.height)


def evaluate_flags(
    store: Store, now: datetime, settings: Settings, *, full: bool = False
) -> Evaluation:
    """Compute every flag at ``now`` and record the result in the flag history.

    Incremental when it can be (see :func:`recorded_flags`; ``full`` forces a full
    evaluation): the result is the same either way. Re-evaluating without new data
    raises and clears nothing (only ``confirmed_at`` moves to ``now``).
    """
    with recorded_flags(store, now, settings.rules, full=full) as (_, evaluation):
        return evaluation


def compute_flags(store: Store, now: datetime, rules: RulesConfig) -> pl.DataFrame:
    """The flags that hold at ``now``: one row per (shipment, code), nothing stored.

    Columns: ``shipment_id, code, severity, threshold, detail, evidence, began_at``
    (evidence is JSON text ``{"event_keys": [...], "poll_ids": [...]}``, plus
    ``shipment_ids`` for ``number_reused``), sorted by shipment and code. Every
    shipment is evaluated (nothing is read from the history).
    """
    with _staged_flags(store, now, rules) as table:
        return _fetch(store, table)


@dataclass(frozen=True)
class _Staged:
    table: str
    only: str | None
    inputs: FlagInputs | None
    evaluated: int
    reason: str


@contextmanager
def recorded_flags(
    store: Store, now: datetime, rules: RulesConfig, *, full: bool = False
) -> Iterator[tuple[str, Evaluation]]:
    """Evaluate the rules at ``now``, record the result, and yield the name of a
    temporary table holding every flag that holds at ``now`` (the columns of
    :data:`analysis.rules.stages.FLAG_COLUMNS`, ``detail`` rendered at ``now``)
    with the :class:`Evaluation`.

    The evaluation is incremental when the latest recorded one allows it: then
    only the shipments whose rows were written since, that got a poll answer
    since, whose next instant of change (:attr:`analysis.rules.Rule.changes_at`)
    has come, or that share a number with a shipment whose row changed are
    evaluated; every other shipment keeps the flags the history holds for it. It is
    full the first time, after a change of the rules or thresholds, at an instant
    earlier than the latest evaluation, when rows were deleted, or when the flag
    history was written by something else since.
    """
    conn = store.conn
    with _staged_flags(store, now, rules, record=not full, force_full=full) as staged:
        changes = apply_flag_evaluation(
            store, staged.table, now, scope=staged.only, inputs=staged.inputs
        )
        table = staged.table
        made = False
        try:
            if changes.written:
                # Every flag now is an open row of the history: the evaluated
                # shipments' just written, the others' as the last evaluation left them.
                # A view, not a table: the texts are rendered once, as they are read
                # (a view takes no parameter: the instant is written into it).
                conn.execute(f"CREATE OR REPLACE TEMP VIEW _pf_current AS {_open_sql(now)}")
                table, made = "_pf_current", True
                counted = "flags WHERE cleared_at IS NULL"
            else:
                counted = table
            open_flags, open_shipments = _pair(
                conn, f"SELECT count(*), count(DISTINCT shipment_id) FROM {counted}"
            )
            # Written: read from the history when asked; not written: the staged
            # table ends with this block, so read it now.
            early = None if changes.written else _fetch(store, table)
            evaluation = Evaluation(
                now=now,
                open_flags=open_flags,
                open_shipments=open_shipments,
                changes=changes,
                incremental=staged.only is not None,
                evaluated=staged.evaluated,
                reason=staged.reason,
                load_current=_loader(store, now, early),
            )
            yield table, evaluation
        finally:
            if made:
                with suppress(duckdb.Error):
                    conn.execute("DROP VIEW IF EXISTS temp._pf_current")


def _loader(store: Store, now: datetime, early: pl.DataFrame | None) -> Callable[[], pl.DataFrame]:
    def load() -> pl.DataFrame:
        return early if early is not None else _fetch(store, f"({_open_sql(now)})")

    return load


def _open_sql(now: datetime) -> str:
    """The open rows of the history as a flag set, texts rendered at ``now``."""
    detail = rendered_detail("coalesce(template, detail)", "age_from", "age_kind")
    instant = f"TIMESTAMPTZ '{now.astimezone(UTC).isoformat()}'"
    return (
        "SELECT shipment_id, code, severity, threshold, "
        f"{detail.replace('$now', instant)} AS detail, "
        "evidence::VARCHAR AS evidence, began_at, template, age_from, age_kind "
        "FROM flags WHERE cleared_at IS NULL"
    )


def rules_digest(rules: RulesConfig) -> str:
    """A digest of everything but the data an evaluation's result depends on: the
    rules' SQL (the city exonyms are part of it), every field of ``[rules]``, the
    parameters made of them and the schema. Stored with each evaluation: a
    different digest next time means a full evaluation.

        >>> rules_digest(RulesConfig()) == rules_digest(RulesConfig(stalled_days=10.0))
        True
        >>> rules_digest(RulesConfig()) == rules_digest(RulesConfig(stalled_days=11.0))
        False
    """
    fixed = {k: repr(v) for k, v in rule_params(EPOCH, rules).items() if k != "now"}
    config = {k: repr(v) for k, v in asdict(rules).items()}
    statements = [
        flags_statements("_pf_ids"),
        flags_statements("_pf_ids", "_pf_inputs"),
        inputs_sql("_pf_ids"),
    ]
    text = json.dumps(
        [INPUTS_FORMAT, LATEST_VERSION, statements, fixed, config],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


#: DuckDB's memory limit while the rules are staged and recorded: the stages of a
#: full evaluation of a million shipments then spill to disk instead of growing the
#: process past 1 GiB (docs/perf-flags.md has the figures).
EVALUATION_MEMORY_LIMIT = "512MB"
#: DuckDB's ``dynamic_or_filter_threshold`` while evaluating: a join whose build side
#: has at most this many distinct keys pushes them into the scan of the other side as
#: a filter, so that only the matching rows' other columns are read. DuckDB's 50 is
#: below what a cron run has (the early scans of about 50 shipments read ``events``:
#: 0.31 s for 51 at 50, 0.13 s at 1,000); well above it the filter itself costs
#: more than the join saves (the 17,540 shipments of a cron run: 0.11 s joined,
#: 0.22 s as a filter). docs/perf-flags.md has the figures.
EVALUATION_JOIN_FILTER_KEYS = 1000
#: Bumped when what an evaluation records per shipment changes meaning.
INPUTS_FORMAT = 2
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _full_reason(
    store: Store, now: datetime, digest: str, recorded: dict[str, Any] | None
) -> str | None:
    """Why the evaluation at ``now`` must be full (None: it can be incremental)."""
    if recorded is None:
        return "no earlier evaluation recorded"
    if recorded["rules_digest"] != digest:
        return "the rules or thresholds changed"
    if now < recorded["evaluated_at"]:
        return "earlier than the latest evaluation"
    latest = latest_evaluation(store)
    if flags_watermark(store) != (recorded["flags_watermark"], recorded["open_flags"]) or (
        latest is not None and latest > recorded["evaluated_at"]
    ):
        return "the flag history was written by something else"
    return None


# The shipments an incremental evaluation looks at: rows written since, new poll
# answers, next instants come, and the orders sharing a number with a changed row.
_MOVED_SQL = """
CREATE OR REPLACE TEMP TABLE _pf_moved AS
SELECT shipment_id, bool_or(ship) AS ship, bool_or(state) AS state,
       any_value(tracking_number) AS tracking_number
FROM (SELECT shipment_id, true AS ship, false AS state, tracking_number
      FROM shipments WHERE input_version > $version
      UNION ALL
      SELECT shipment_id, false, true, NULL FROM tracking_state WHERE input_version > $version
      UNION ALL
      SELECT shipment_id, false, false, NULL FROM poll_results WHERE poll_id > $poll)
GROUP BY shipment_id
"""
# Rows that appeared since (to tell a deletion from a count that grew).
_APPEARED_SQL = """
SELECT count(*) FILTER (WHERE m.ship AND i.shipment_id IS NULL),
       count(*) FILTER (WHERE m.state AND i.state_version IS NULL)
FROM _pf_moved m LEFT JOIN flag_inputs i USING (shipment_id)
"""
_IDS_SQL = """
CREATE OR REPLACE TEMP TABLE _pf_ids AS
SELECT shipment_id FROM _pf_moved
UNION
SELECT shipment_id FROM flag_inputs WHERE next_at <= $now
UNION
SELECT shipment_id FROM shipments WHERE tracking_number IN (
    SELECT tracking_number FROM _pf_moved WHERE ship
    UNION
    SELECT i.tracking_number FROM _pf_moved m JOIN flag_inputs i USING (shipment_id)
    WHERE m.ship)
"""


@contextmanager
def _staged_flags(
    store: Store,
    now: datetime,
    rules: RulesConfig,
    *,
    record: bool = False,
    force_full: bool = False,
) -> Iterator[Any]:
    """Run :func:`flags_statements` into temporary tables (dropped on exit).

    Without ``record`` (and ``force_full``), yields the name of the table holding
    every flag at ``now``. With ``record`` or ``force_full``, yields a ``_Staged``:
    the flag set of the shipments evaluated, their ids (None: all), and the inputs
    to record with them (see :func:`recorded_flags`).
    """
    conn = store.conn
    params = rule_params(now, rules)
    made: list[str] = []

    def run(table: str, sql: str) -> None:
        used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
        made.append(table)
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}", used)

    with (
        memory_limit(conn, EVALUATION_MEMORY_LIMIT),
        duckdb_setting(conn, "dynamic_or_filter_threshold", EVALUATION_JOIN_FILTER_KEYS),
    ):
        try:
            staged: _Staged | None = None
            only: str | None = None
            if record or force_full:
                digest = rules_digest(rules)
                # Watermarks before any read: whatever is written later is newer.
                version = _one(conn, "SELECT nextval('input_version_seq')")
                poll = _one(conn, "SELECT coalesce(max(poll_id), 0) FROM poll_results")
                ships = _one(conn, "SELECT count(*) FROM shipments")
                states = _one(conn, "SELECT count(*) FROM tracking_state")
                recorded = recorded_evaluation(store)
                reason = "asked for" if force_full else _full_reason(store, now, digest, recorded)
                if reason is None and recorded is not None:
                    made.append("_pf_moved")
                    watermarks = {
                        "version": recorded["version_watermark"],
                        "poll": recorded["poll_watermark"],
                    }
                    conn.execute(_MOVED_SQL, watermarks)
                    new_ships, new_states = _pair(conn, _APPEARED_SQL)
                    if (ships, states) != (
                        recorded["shipments"] + new_ships,
                        recorded["states"] + new_states,
                    ):
                        reason = "rows were deleted since the latest evaluation"
                    else:
                        made.append("_pf_ids")
                        conn.execute(_IDS_SQL, {"now": now})
                        only = "_pf_ids"
                        # The events since the latest evaluation (analysis.rules.stages).
                        params["early_poll"] = recorded["poll_watermark"]
                run("_pf_inputs", inputs_sql(only, wide=only is not None))
                evaluated = _one(conn, "SELECT count(*) FROM _pf_inputs")
                inputs = FlagInputs(
                    "_pf_inputs",
                    {
                        "evaluated_at": now,
                        "rules_digest": digest,
                        "version_watermark": version,
                        "poll_watermark": poll,
                        "shipments": ships,
                        "states": states,
                    },
                )
                staged = _Staged("_pf_flags", only, inputs, evaluated, reason or "")
            rows = "_pf_inputs" if staged is not None and only is not None else None
            for table, sql in flags_statements(only, rows):
                run(table or "_pf_flags", sql)
            if staged is not None and staged.inputs is not None and "_pf_early_rows" in made:
                inputs = replace(staged.inputs, early="_pf_early_rows")
                staged = replace(staged, inputs=inputs)
            # The stages are not needed any more: free their memory first (the early
            # scans are recorded with the inputs).
            for table in made[:]:
                if table not in ("_pf_flags", "_pf_ids", "_pf_inputs", "_pf_early_rows"):
                    conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
                    made.remove(table)
            yield staged if staged is not None else "_pf_flags"
        finally:
            # Temporary tables end with the connection anyway: a failed drop (e.g. in a
            # transaction a failure aborted) must not hide the error that got us here.
            with suppress(duckdb.Error):
                for table in made:
                    conn.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _one(conn: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _pair(conn: duckdb.DuckDBPyConnection, sql: str) -> tuple[int, int]:
    row = conn.execute(sql).fetchone()
    return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)


def fetch_flags(store: Store, table: str) -> pl.DataFrame:
    """The staged flag set ``table`` as a frame, sorted by shipment and code."""
    return _fetch(store, table)


@contextmanager
def staged_flags(store: Store, now: datetime, rules: RulesConfig) -> Iterator[str]:
    """The flag rules staged into temporary tables over every shipment, nothing
    recorded, for readers that join more to them (:func:`analysis.assess.assess`):
    yields the name of the table holding every flag at ``now``."""
    with _staged_flags(store, now, rules) as table:
        yield str(table)


def _fetch(store: Store, table: str) -> pl.DataFrame:
    frame: pl.DataFrame = store.conn.execute(
        "SELECT shipment_id, code, severity, threshold, detail, evidence, began_at "
        f"FROM {table} ORDER BY shipment_id, code"
    ).pl()
    return frame


# --- reading the history ---------------------------------------------------------

_HISTORY_SQL = f"""
SELECT f.flag_id, f.shipment_id, s.order_id, s.tracking_number, f.code, f.severity,
       f.raised_at, f.confirmed_at, f.cleared_at, f.threshold, {history_detail()} AS detail,
       f.evidence::VARCHAR AS evidence
FROM flags f JOIN shipments s USING (shipment_id)
WHERE ($cleared OR f.cleared_at IS NULL) AND ($archived OR NOT s.archived)
ORDER BY s.order_id, s.tracking_number, f.raised_at, f.flag_id
"""


def flag_history(
    store: Store, *, include_cleared: bool = False, include_archived: bool = False
) -> pl.DataFrame:
    """Flag rows with their order id and number (open ones only, by default).

    Columns: ``flag_id, shipment_id, order_id, tracking_number, code, severity,
    raised_at, confirmed_at, cleared_at, threshold, detail, evidence``.
    """
    return store.frame(_HISTORY_SQL, {"cleared": include_cleared, "archived": include_archived})


# --- listing ---------------------------------------------------------------------

_SHIPMENTS_SQL = """
SELECT s.shipment_id, s.order_id, s.tracking_number, coalesce(t.status, 'unknown') AS status,
       s.archived, s.destination_country
FROM shipments s LEFT JOIN tracking_state t USING (shipment_id)
WHERE $all OR NOT s.archived
ORDER BY s.order_id, s.tracking_number, s.shipment_id
"""

_FLAG_ITEM = pl.Struct(
    {
        "code": pl.String,
        "severity": pl.String,
        "since": pl.Datetime("us", "UTC"),
        "first_seen": pl.Datetime("us", "UTC"),
        "detail": pl.String,
        "cleared_at": pl.Datetime("us", "UTC"),
    }
)


def flag_listing(
    store: Store, assessment: Assessment, *, include_all: bool = False
) -> pl.DataFrame:
    """One row per shipment with its flags at ``assessment.now``, for ``flags``.

    Columns: ``shipment_id, order_id, tracking_number, status, archived,
    destination_country, flags`` where
    ``flags`` is a list of ``{code, severity, since, first_seen, detail, cleared_at}``
    (most severe first). Non-archived shipments and open flags only, unless
    ``include_all`` (archived shipments and cleared flags too). ``since`` is when the
    condition began, ``first_seen`` when parcelproof first saw it
    (:mod:`analysis.assess`); for a cleared flag both are its history row's
    ``raised_at``.
    """
    ships = store.frame(_SHIPMENTS_SQL, {"all": include_all})
    items = assessment.flags.select(
        "shipment_id",
        "code",
        "severity",
        "since",
        "first_seen",
        "detail",
        pl.lit(None, pl.Datetime("us", "UTC")).alias("cleared_at"),
    )
    if include_all:
        cleared = assessment.cleared.select(
            "shipment_id",
            "code",
            "severity",
            pl.col("raised_at").alias("since"),
            pl.col("raised_at").alias("first_seen"),
            "detail",
            "cleared_at",
        )
        items = pl.concat([items, cleared], how="vertical_relaxed")
    items = items.with_columns(
        pl.col("since").dt.convert_time_zone("UTC"),
        pl.col("first_seen").dt.convert_time_zone("UTC"),
        pl.col("cleared_at").dt.convert_time_zone("UTC"),
        pl.col("severity").replace_strict(SEVERITY_RANK, default=0).alias("_rank"),
    ).sort(
        ["shipment_id", "cleared_at", "_rank", "since", "code"],
        descending=[False, False, True, False, False],
        nulls_last=False,
    )
    grouped = items.group_by("shipment_id", maintain_order=True).agg(
        pl.struct("code", "severity", "since", "first_seen", "detail", "cleared_at").alias("flags")
    )
    out = ships.join(grouped, on="shipment_id", how="left", maintain_order="left")
    return out.with_columns(pl.col("flags").fill_null(pl.lit([], pl.List(_FLAG_ITEM))))


def list_flags(
    store: Store, now: datetime, settings: Settings, *, include_all: bool = False
) -> tuple[Assessment, pl.DataFrame]:
    """Assess (and record) at ``now``, then list every shipment's flags and advice.

    The listing is :func:`flag_listing`'s frame plus ``deadline``, ``deadline_date``,
    ``last_day``, ``last_day_date`` (the real last day to act), ``action``,
    ``action_detail`` (:mod:`analysis.disputes`, from the same assessment) and
    ``urgency`` (the rank of the most severe open flag, 0 with none).
    """
    from analysis.assess import assess

    assessment = assess(store, now, settings)
    listing = flag_listing(store, assessment, include_all=include_all)
    listing = listing.join(
        assessment.disputes.select(
            "shipment_id",
            "deadline",
            "deadline_date",
            "last_day",
            "last_day_date",
            "action",
            "action_detail",
        ),
        on="shipment_id",
        how="left",
        maintain_order="left",
    ).with_columns(
        pl.col("flags")
        .list.eval(
            pl.when(pl.element().struct.field("cleared_at").is_null())
            .then(pl.element().struct.field("severity").replace_strict(SEVERITY_RANK, default=0))
            .otherwise(0)
        )
        .list.max()
        .fill_null(0)
        .alias("urgency")
    )
    return assessment, listing


def listing_json_lines(listing: pl.DataFrame, *, include_all: bool = False) -> list[str]:
    """The ``flags --json`` lines of a :func:`flag_listing` frame.

    Each line is exactly ``{"order_id", "tracking_number", "status", "flags":
    [{"code", "severity", "since", "first_seen", "detail"}]}``: ``since`` is when
    the condition began (the last scan of a stalled parcel...), ``first_seen`` when
    parcelproof first saw it; with ``include_all`` every flag also has
    ``"cleared_at"`` (null while open).
    """
    lines = []
    for row in listing.iter_rows(named=True):
        flags = []
        for item in row["flags"]:
            flag: dict[str, Any] = {
                "code": item["code"],
                "severity": item["severity"],
                "since": _iso(item["since"]),
                "first_seen": _iso(item["first_seen"]),
                "detail": item["detail"],
            }
            if include_all:
                flag["cleared_at"] = _iso(item["cleared_at"])
            flags.append(flag)
        line = {
            "order_id": row["order_id"],
            "tracking_number": row["tracking_number"],
            "status": row["status"],
            "flags": flags,
        }
        lines.append(json.dumps(line, ensure_ascii=False))
    return lines


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
