"""Writes of the flag history (``flags``) and of the run log (``runs``).

A flag evaluation computes the set of flags that hold "now" elsewhere (analysis);
this module turns that set into history in one transaction:

- a flag in the set with no open row for its (shipment, code) is *raised*: a new row
  with ``raised_at = confirmed_at = now``;
- a flag in the set with an open row is *confirmed*: ``confirmed_at = now`` and its
  severity, threshold, detail and evidence follow the new evaluation when they
  changed (a day count that grew, "12 days" to "13 days", is not a change: the
  text is stored with a marker for it, ``template``, and rendered when read);
- an open row whose flag is no longer in the set is *cleared*: ``cleared_at = now``.

A cleared flag that comes back is a new row, so the history shows every period a
condition held. Evaluating again at the same instant with the same data writes
nothing new (``confirmed_at`` is already ``now``). History is never rewritten
backwards: an evaluation at an instant earlier than the latest one recorded (a
``--now`` in the past) is computed but not stored.

An incremental evaluation hands over only the shipments it evaluated (``scope``)
and records what it read (``flag_inputs``, ``flag_evaluation``: migration 0009) in
the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import polars as pl
import pyarrow as pa

from collector.store import Store

#: Columns of the flag set an evaluation hands to :func:`apply_flag_evaluation`.
FLAG_SET_COLUMNS = ("shipment_id", "code", "severity", "threshold", "detail", "evidence")
#: Further columns a staged flag set may have: ``began_at`` (when the condition
#: began), ``template`` (``detail`` with its day count left as U+001F), ``age_from``
#: and ``age_kind`` (``since``/``until``: what the day count counts).
FLAG_TEXT_COLUMNS = ("began_at", "template", "age_from", "age_kind")

#: The columns of ``flag_early_events``: an early scan as ``events`` holds it.
EARLY_SCAN_COLUMNS = (
    "shipment_id, event_key, first_poll_id, occurred_at, utc_offset_minutes, tz_known, "
    "description, raw_status, status, city, location"
)

_FLAG_ROW = (
    "flag_id, shipment_id, code, severity, raised_at, confirmed_at, cleared_at, "
    "threshold, detail, evidence::VARCHAR AS evidence"
)


@dataclass(frozen=True)
class FlagChanges:
    """What one evaluation changed in ``flags``.

    ``raised`` and ``cleared`` hold flag rows (``flag_id`` ... ``evidence``) with the
    shipment's ``order_id`` and ``tracking_number``; ``written`` is False when the
    evaluation was earlier than the latest recorded one, in which case the frames
    say what *would* change (raised rows have no ``flag_id``) and nothing was stored.
    ``raised`` is read from the history when first used (a first evaluation raises
    every flag, and most callers only count them: ``raised_count``), so read it
    before the history changes again.
    """

    raised_count: int
    cleared: pl.DataFrame
    confirmed: int
    written: bool
    load_raised: Callable[[], pl.DataFrame] = field(repr=False, compare=False)

    @cached_property
    def raised(self) -> pl.DataFrame:
        """The raised rows (see the class docstring)."""
        return self.load_raised()


@dataclass(frozen=True)
class FlagInputs:
    """What an evaluation read, recorded beside its flags (incremental evaluation).

    ``table`` holds ``shipment_id, tracking_number, shipment_version, state_version,
    state_events, next_at`` for every shipment evaluated; ``evaluation`` the
    ``flag_evaluation`` columns ``evaluated_at, rules_digest, version_watermark,
    poll_watermark, shipments, states`` (the flag watermarks are taken after the
    writes); ``early`` a table of the early scans found (``flag_early_events``'
    columns), None when the evaluation looked for none.
    """

    table: str
    evaluation: dict[str, Any]
    early: str | None = None


def latest_evaluation(store: Store) -> datetime | None:
    """The latest instant recorded in the flag history (None when it is empty)."""
    row = store.conn.execute(
        "SELECT max(greatest(confirmed_at, coalesce(cleared_at, confirmed_at))) FROM flags"
    ).fetchone()
    return row[0] if row and row[0] is not None else None


def flags_watermark(store: Store) -> tuple[int, int]:
    """``(highest flag_id, open rows)`` of the flag history: an evaluation records
    them, and the next one is incremental only if they still hold."""
    row = store.conn.execute(
        "SELECT coalesce(max(flag_id), 0), count(*) FILTER (WHERE cleared_at IS NULL) FROM flags"
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def recorded_evaluation(store: Store) -> dict[str, Any] | None:
    """The ``flag_evaluation`` row (None when there is none)."""
    cursor = store.conn.execute("SELECT * FROM flag_evaluation")
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def forget_flag_inputs(store: Store) -> None:
    """Drop the record of the latest evaluation: the next one is a full evaluation
    (after anything that rewrites events other than by a poll adding them)."""
    for table in ("flag_evaluation", "flag_inputs", "flag_early_events"):
        store.conn.execute(f"DELETE FROM {table}")


def apply_flag_evaluation(
    store: Store,
    current: pa.Table | pl.DataFrame | str,
    now: datetime,
    *,
    scope: str | None = None,
    inputs: FlagInputs | None = None,
) -> FlagChanges:
    """Record the flag set ``current`` (one row per shipment and code) as of ``now``.

    ``current`` has the columns of :data:`FLAG_SET_COLUMNS` and optionally
    :data:`FLAG_TEXT_COLUMNS` (``evidence`` is a JSON text): a frame, or the name of
    a table or view on this connection, e.g. the temporary table an evaluation
    staged (then no row leaves DuckDB to be written). ``scope`` names a table of
    the ``shipment_id`` evaluated (an incremental evaluation): only their open rows
    are compared with ``current``; every other open row is confirmed as it is.
    ``inputs`` is recorded in the same transaction. Returns the raised and cleared
    rows; see the module docstring for the rules.
    """
    conn = store.conn
    registered = not isinstance(current, str)
    if isinstance(current, str):
        source = current
    else:
        table = current.to_arrow() if isinstance(current, pl.DataFrame) else current
        conn.register("_fw_current", table)
        source = "_fw_current"
    names = {d[0] for d in conn.execute(f"SELECT * FROM {source} LIMIT 0").description}
    extra = ", ".join(
        c if c in names else f"{'detail' if c == 'template' else 'NULL'} AS {c}"
        for c in FLAG_TEXT_COLUMNS
    )
    source = f"(SELECT {', '.join(FLAG_SET_COLUMNS)}, {extra} FROM {source})"
    latest = latest_evaluation(store)
    write = latest is None or now >= latest
    params = {"now": now}
    top_before = flags_watermark(store)[0]
    in_scope = "" if scope is None else f"AND shipment_id IN (SELECT shipment_id FROM {scope})"
    try:
        with store.transaction() if write else nullcontext():
            # One join of the open rows with the new set says what each row becomes;
            # the raised and cleared rows are staged from it, so that the frames
            # returned come from the same tables the writes read.
            conn.execute(_DIFF_SQL.format(source=source, scope=in_scope))
            if not write:
                # Nothing is stored: the raised rows exist only as this table.
                new = _NEW_SQL.format(new_id="NULL::BIGINT")
                conn.execute(f"CREATE OR REPLACE TEMP TABLE _fw_new AS {new}", params)
            conn.execute(_GONE_SQL, params)
            confirmed = 0
            if write:
                conn.execute(
                    "UPDATE flags SET cleared_at = $now "
                    "WHERE flag_id IN (SELECT flag_id FROM _fw_gone)",
                    params,
                )
                conn.execute(_UNWRITE_CHANGED_SQL)
                row = conn.execute(_CONFIRM_SQL, params).fetchone()
                confirmed += int(row[0]) if row else 0
                # The changed rows and the raised ones straight from the diff (a first
                # evaluation raises every flag: a staged copy of them cost as much as
                # the insert), in one INSERT: DuckDB 1.5.6 loses the rows of a large
                # insert (over a row group) that follows an empty one with an ORDER BY
                # into the same table in one transaction (tests/flags/test_history.py).
                new = _NEW_SQL.format(new_id="nextval('flag_id_seq')")
                conn.execute(
                    f"INSERT INTO flags ({_FLAG_COLUMNS}) {_CHANGED_ROWS_SQL} UNION ALL {new}",
                    params,
                )
                if inputs is not None:
                    _record_inputs(store, inputs, scope)
            counts = store.query(
                "SELECT count(*) FILTER (WHERE change = 'new'), "
                "count(*) FILTER (WHERE change = 'changed') FROM _fw_diff"
            )[0]
            raised_count = int(counts[0])
            if write:
                confirmed += int(counts[1])
            top_after = flags_watermark(store)[0]
            # Not written: the rows exist only here (no flag_id), read them now.
            early = None if write else _with_orders(conn, "_fw_new")
            cleared = _with_orders(conn, "_fw_gone")
    finally:
        for name in ("_fw_diff", "_fw_new", "_fw_gone"):
            conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
        if registered:
            conn.unregister("_fw_current")

    def load_raised() -> pl.DataFrame:
        if early is not None:
            return early
        span = f"flag_id BETWEEN {int(top_before) + 1} AND {int(top_after)}"
        return _with_orders(conn, f"(FROM flags WHERE {span})")

    return FlagChanges(raised_count, cleared, confirmed, write, load_raised)


#: The columns of ``flag_inputs``: what an evaluation read of each shipment.
FLAG_INPUT_COLUMNS = (
    "shipment_id",
    "tracking_number",
    "shipment_version",
    "state_version",
    "state_events",
    "next_at",
)


def _record_inputs(store: Store, inputs: FlagInputs, scope: str | None) -> None:
    conn = store.conn
    tables = ("flag_inputs", "flag_early_events")
    for table in tables:
        if scope is None:
            conn.execute(f"DELETE FROM {table}")
        else:
            conn.execute(
                f"DELETE FROM {table} WHERE shipment_id IN (SELECT shipment_id FROM {scope})"
            )
    conn.execute(
        f"INSERT INTO flag_inputs ({', '.join(FLAG_INPUT_COLUMNS)}) "
        f"SELECT {', '.join(FLAG_INPUT_COLUMNS)} "
        f"FROM {inputs.table} ORDER BY shipment_id"
    )
    if inputs.early is not None:
        conn.execute(
            f"INSERT INTO flag_early_events ({EARLY_SCAN_COLUMNS}) SELECT {EARLY_SCAN_COLUMNS} "
            f"FROM {inputs.early} ORDER BY shipment_id, occurred_at, event_key"
        )
    top, open_rows = flags_watermark(store)
    row = {**inputs.evaluation, "flags_watermark": top, "open_flags": open_rows}
    conn.execute("DELETE FROM flag_evaluation")
    conn.execute(
        f"INSERT INTO flag_evaluation ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
        list(row.values()),
    )


_FLAG_COLUMNS = (
    "flag_id, shipment_id, code, severity, raised_at, confirmed_at, cleared_at, "
    "threshold, detail, evidence, began_at, template, age_from, age_kind"
)

# Each open row (of the shipments evaluated) and each flag of the new set, matched on
# (shipment, code): `new` (no open row: raised), `gone` (not in the set: cleared),
# `changed` (severity, threshold, evidence, when it began, or the text apart from its
# day count differ) or `same`. A row written before templates were kept compares its
# detail.
_DIFF_SQL = """
CREATE OR REPLACE TEMP TABLE _fw_diff AS
SELECT f.flag_id, f.raised_at, coalesce(c.shipment_id, f.shipment_id) AS shipment_id,
       coalesce(c.code, f.code) AS code,
       CASE WHEN f.flag_id IS NULL THEN 'new'
            WHEN c.code IS NULL THEN 'gone'
            WHEN f.severity IS DISTINCT FROM c.severity
                 OR f.threshold IS DISTINCT FROM c.threshold
                 OR coalesce(f.template, f.detail) IS DISTINCT FROM c.template
                 OR f.age_from IS DISTINCT FROM c.age_from
                 OR f.age_kind IS DISTINCT FROM c.age_kind
                 OR f.began_at IS DISTINCT FROM c.began_at
                 OR f.evidence::VARCHAR IS DISTINCT FROM c.evidence::VARCHAR THEN 'changed'
            ELSE 'same' END AS change,
       c.severity, c.threshold, c.detail, c.evidence::JSON AS evidence, c.began_at,
       CASE WHEN c.age_kind IS NOT NULL THEN c.template END AS template, c.age_from,
       c.age_kind
FROM (SELECT * FROM flags WHERE cleared_at IS NULL {scope}) f
FULL JOIN {source} c ON f.shipment_id = c.shipment_id AND f.code = c.code
"""
# What is raised: new rows, numbered from flag_id_seq when written. (The ORDER BY
# does not make the numbers follow (shipment, code): DuckDB draws them in parallel,
# and 231,424 of a first evaluation's 317,676 rows are out of that order, as before
# this code was last changed. Nothing relies on the order; readers sort.)
_NEW_SQL = """
SELECT {new_id} AS flag_id, shipment_id, code, severity, $now::TIMESTAMPTZ AS raised_at,
       $now::TIMESTAMPTZ AS confirmed_at, NULL::TIMESTAMPTZ AS cleared_at, threshold,
       detail, evidence, began_at, template, age_from, age_kind
FROM (FROM _fw_diff WHERE change = 'new' ORDER BY shipment_id, code)
"""
# What is cleared: the open rows as they will read.
_GONE_SQL = f"""
CREATE OR REPLACE TEMP TABLE _fw_gone AS
SELECT {_FLAG_ROW.replace("cleared_at", "$now::TIMESTAMPTZ AS cleared_at")}
FROM flags WHERE flag_id IN (SELECT flag_id FROM _fw_diff WHERE change = 'gone')
"""
# Changed rows take the evaluation's text (as of now), written again whole: the row
# keeps its flag_id and raised_at, and is deleted and inserted rather than updated.
# An UPDATE of text columns on a few thousand rows spread over the history made
# DuckDB's checkpoint rewrite those columns of every row group it touched (0.3 s of
# a 1 s cron run at 323,000 rows, and growing with the history); an insert is an
# append and a delete a marker. Every other open row only moves confirmed_at (an
# UPDATE costs per column it sets; a day count that grew is not a change).
_UNWRITE_CHANGED_SQL = (
    "DELETE FROM flags WHERE flag_id IN (SELECT flag_id FROM _fw_diff WHERE change = 'changed')"
)
_CHANGED_ROWS_SQL = """
SELECT flag_id, shipment_id, code, severity, raised_at, $now::TIMESTAMPTZ, NULL::TIMESTAMPTZ,
       threshold, detail, evidence, began_at, template, age_from, age_kind
FROM _fw_diff WHERE change = 'changed'
"""
_CONFIRM_SQL = """
UPDATE flags SET confirmed_at = $now WHERE cleared_at IS NULL AND confirmed_at < $now
"""


def _with_orders(conn: Any, table: str) -> pl.DataFrame:
    frame: pl.DataFrame = conn.execute(
        "SELECT r.flag_id, r.shipment_id, r.code, r.severity, r.raised_at, r.confirmed_at, "
        "r.cleared_at, r.threshold, r.detail, r.evidence, s.order_id, s.tracking_number "
        f"FROM {table} r "
        "LEFT JOIN shipments s USING (shipment_id) "
        "ORDER BY r.flag_id NULLS LAST, r.shipment_id, r.code"
    ).pl()
    return frame


@dataclass(frozen=True)
class RunRecord:
    """One row of ``runs``: a command's run and what it found (``summary``, JSON)."""

    run_id: str
    command: str
    started_at: datetime
    finished_at: datetime
    summary: dict[str, Any]


def record_run(store: Store, run: RunRecord) -> None:
    """Add one row to ``runs``."""
    store.conn.execute(
        "INSERT INTO runs (run_id, command, started_at, finished_at, summary) "
        "VALUES (?, ?, ?, ?, ?::JSON)",
        [
            run.run_id,
            run.command,
            run.started_at,
            run.finished_at,
            json.dumps(run.summary, default=str),
        ],
    )
