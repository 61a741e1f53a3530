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

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from analysis.rules import FLAG_CODES, SEVERITIES, SEVERITY_RANK, flags_statements
from analysis.rules import params as rule_params
from analysis.rules.places import CITY_EXONYMS
from analysis.rules.sql import local_time_sql
from collector.config import RulesConfig, Settings
from collector.store import Store
from collector.store.flag_writes import apply_flag_evaluation

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
    "staged_flags",
]


@dataclass(frozen=True)
class Evaluation:
    """The result of one flag evaluation at ``now``.

    ``current`` is the set of flags that hold (``shipment_id, code, severity,
    threshold, detail, evidence``); ``raised`` and ``cleared`` are the history rows
    this evaluation added or closed, with ``order_id`` and ``tracking_number``;
    ``written`` is False when ``now`` was earlier than the latest recorded
    evaluation (nothing was stored, the frames say what would change).
    """

    now: datetime
    current: pl.DataFrame
    raised: pl.DataFrame
    cleared: pl.DataFrame
    confirmed: int
    written: bool

    @property
    def changed(self) -> bool:
        """Whether any flag was raised or cleared."""
        return bool(self.raised.height or self.cleared.height)


def evaluate_flags(store: Store, now: datetime, settings: Settings) -> Evaluation:
    """Compute every flag at ``now`` and record the result in the flag history.

    Re-evaluating without new data raises and clears nothing (only
    ``confirmed_at`` moves to ``now``). The flag set is staged in a temporary
    table that the history writes read directly (no row goes through Python).
    """
    with _staged_flags(store, now, settings.rules) as table:
        changes = apply_flag_evaluation(store, table, now)
        current = _fetch(store, table)
    return Evaluation(
        now=now,
        current=current,
        raised=changes.raised,
        cleared=changes.cleared,
        confirmed=changes.confirmed,
        written=changes.written,
    )


def compute_flags(store: Store, now: datetime, rules: RulesConfig) -> pl.DataFrame:
    """The flags that hold at ``now``: one row per (shipment, code), nothing stored.

    Columns: ``shipment_id, code, severity, threshold, detail, evidence`` (evidence is
    JSON text ``{"event_keys": [...], "poll_ids": [...]}``, plus ``shipment_ids``
    for ``number_reused``), sorted by shipment and code.
    """
    with _staged_flags(store, now, rules) as table:
        return _fetch(store, table)


@contextmanager
def _staged_flags(store: Store, now: datetime, rules: RulesConfig) -> Iterator[str]:
    """Run :func:`flags_statements` into temporary tables; yields the name of the
    one that holds the flag set (dropped, with the stages, on exit)."""
    conn = store.conn
    params = rule_params(now, rules)
    made: list[str] = []
    try:
        for table, sql in flags_statements():
            used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
            made.append(table or "_pf_flags")
            conn.execute(f"CREATE OR REPLACE TEMP TABLE {made[-1]} AS {sql}", used)
        # The stages are not needed any more: free their memory first.
        while len(made) > 1:
            conn.execute(f"DROP TABLE IF EXISTS temp.{made.pop(0)}")
        yield made[0]
    finally:
        # Temporary tables end with the connection anyway: a failed drop (e.g. in a
        # transaction a failure aborted) must not hide the error that got us here.
        with suppress(duckdb.Error):
            for table in made:
                conn.execute(f"DROP TABLE IF EXISTS temp.{table}")


def fetch_flags(store: Store, table: str) -> pl.DataFrame:
    """The staged flag set ``table`` as a frame, sorted by shipment and code."""
    return _fetch(store, table)


#: The flag rules staged into temporary tables, for readers that join more to them
#: (:func:`analysis.assess.assess`): a context manager yielding the table's name.
staged_flags = _staged_flags


def _fetch(store: Store, table: str) -> pl.DataFrame:
    frame: pl.DataFrame = store.conn.execute(
        f"SELECT * FROM {table} ORDER BY shipment_id, code"
    ).pl()
    return frame


# --- reading the history ---------------------------------------------------------

_HISTORY_SQL = """
SELECT f.flag_id, f.shipment_id, s.order_id, s.tracking_number, f.code, f.severity,
       f.raised_at, f.confirmed_at, f.cleared_at, f.threshold, f.detail,
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
