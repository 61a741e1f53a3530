"""Writes of the flag history (``flags``) and of the run log (``runs``).

A flag evaluation computes the set of flags that hold "now" elsewhere (analysis);
this module turns that set into history in one transaction:

- a flag in the set with no open row for its (shipment, code) is *raised*: a new row
  with ``raised_at = confirmed_at = now``;
- a flag in the set with an open row is *confirmed*: ``confirmed_at = now`` and its
  severity, threshold, detail and evidence follow the new evaluation;
- an open row whose flag is no longer in the set is *cleared*: ``cleared_at = now``.

A cleared flag that comes back is a new row, so the history shows every period a
condition held. Evaluating again at the same instant with the same data writes
nothing new (``confirmed_at`` is already ``now``). History is never rewritten
backwards: an evaluation at an instant earlier than the latest one recorded (a
``--now`` in the past) is computed but not stored.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
import pyarrow as pa

from collector.store import Store

#: Columns of the flag set an evaluation hands to :func:`apply_flag_evaluation`.
FLAG_SET_COLUMNS = ("shipment_id", "code", "severity", "threshold", "detail", "evidence")

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
    """

    raised: pl.DataFrame
    cleared: pl.DataFrame
    confirmed: int
    written: bool


def latest_evaluation(store: Store) -> datetime | None:
    """The latest instant recorded in the flag history (None when it is empty)."""
    row = store.conn.execute(
        "SELECT max(greatest(confirmed_at, coalesce(cleared_at, confirmed_at))) FROM flags"
    ).fetchone()
    return row[0] if row and row[0] is not None else None


def apply_flag_evaluation(
    store: Store, current: pa.Table | pl.DataFrame | str, now: datetime
) -> FlagChanges:
    """Record the flag set ``current`` (one row per shipment and code) as of ``now``.

    ``current`` has the columns of :data:`FLAG_SET_COLUMNS` (``evidence`` is a JSON
    text): a frame, or the name of a table or view on this connection, e.g. the
    temporary table an evaluation staged (then no row leaves DuckDB to be written).
    Returns the raised and cleared rows; see the module docstring for the rules.
    """
    conn = store.conn
    if isinstance(current, str):
        source = current
    else:
        table = current.to_arrow() if isinstance(current, pl.DataFrame) else current
        conn.register("_fw_current", table.select(list(FLAG_SET_COLUMNS)))
        source = "_fw_current"
    latest = latest_evaluation(store)
    write = latest is None or now >= latest
    params = {"now": now}
    try:
        with store.transaction() if write else nullcontext():
            # One join of the open rows with the new set says what each row becomes;
            # the raised and cleared rows are staged from it, so that the frames
            # returned come from the same tables the writes read.
            conn.execute(_DIFF_SQL.format(source=source), params)
            new_id = "nextval('flag_id_seq')" if write else "NULL::BIGINT"
            conn.execute(_NEW_SQL.format(new_id=new_id), params)
            conn.execute(_GONE_SQL, params)
            confirmed = 0
            if write:
                conn.execute(
                    "UPDATE flags SET cleared_at = $now "
                    "WHERE flag_id IN (SELECT flag_id FROM _fw_gone)",
                    params,
                )
                for sql in (_CHANGE_SQL, _CONFIRM_SQL):
                    row = conn.execute(sql, params).fetchone()
                    confirmed += int(row[0]) if row else 0
                conn.execute(f"INSERT INTO flags ({_FLAG_COLUMNS}) SELECT * FROM _fw_new")
            raised = _with_orders(conn, "_fw_new")
            cleared = _with_orders(conn, "_fw_gone")
    finally:
        for name in ("_fw_diff", "_fw_new", "_fw_gone"):
            conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
        if source == "_fw_current":
            conn.unregister("_fw_current")
    return FlagChanges(raised=raised, cleared=cleared, confirmed=confirmed, written=write)


_FLAG_COLUMNS = (
    "flag_id, shipment_id, code, severity, raised_at, confirmed_at, cleared_at, "
    "threshold, detail, evidence"
)

# Each open row and each flag of the new set, matched on (shipment, code): `new`
# (no open row: raised), `gone` (not in the set: cleared), `changed` (severity,
# threshold, detail or evidence differ) or `same`; `stale` when confirmed before now.
_DIFF_SQL = """
CREATE OR REPLACE TEMP TABLE _fw_diff AS
SELECT f.flag_id, coalesce(c.shipment_id, f.shipment_id) AS shipment_id,
       coalesce(c.code, f.code) AS code,
       CASE WHEN f.flag_id IS NULL THEN 'new'
            WHEN c.code IS NULL THEN 'gone'
            WHEN f.severity IS DISTINCT FROM c.severity
                 OR f.threshold IS DISTINCT FROM c.threshold
                 OR f.detail IS DISTINCT FROM c.detail
                 OR f.evidence::VARCHAR IS DISTINCT FROM c.evidence::VARCHAR THEN 'changed'
            ELSE 'same' END AS change,
       f.confirmed_at < $now AS stale,
       c.severity, c.threshold, c.detail, c.evidence::JSON AS evidence
FROM (SELECT * FROM flags WHERE cleared_at IS NULL) f
FULL JOIN {source} c ON f.shipment_id = c.shipment_id AND f.code = c.code
"""
# What is raised: new rows, numbered in (shipment, code) order when written.
_NEW_SQL = """
CREATE OR REPLACE TEMP TABLE _fw_new AS
SELECT {new_id} AS flag_id, shipment_id, code, severity, $now::TIMESTAMPTZ AS raised_at,
       $now::TIMESTAMPTZ AS confirmed_at, NULL::TIMESTAMPTZ AS cleared_at, threshold,
       detail, evidence
FROM (FROM _fw_diff WHERE change = 'new' ORDER BY shipment_id, code)
"""
# What is cleared: the open rows as they will read.
_GONE_SQL = f"""
CREATE OR REPLACE TEMP TABLE _fw_gone AS
SELECT {_FLAG_ROW.replace("cleared_at", "$now::TIMESTAMPTZ AS cleared_at")}
FROM flags WHERE flag_id IN (SELECT flag_id FROM _fw_diff WHERE change = 'gone')
"""
# Changed rows take the evaluation's text; the others only move confirmed_at (an
# UPDATE costs per column it sets, and most rows change nothing else).
_CHANGE_SQL = """
UPDATE flags SET confirmed_at = $now, severity = d.severity, threshold = d.threshold,
    detail = d.detail, evidence = d.evidence
FROM _fw_diff d
WHERE flags.flag_id = d.flag_id AND d.change = 'changed'
"""
_CONFIRM_SQL = """
UPDATE flags SET confirmed_at = $now
WHERE flag_id IN (SELECT flag_id FROM _fw_diff WHERE change = 'same' AND stale)
"""


def _with_orders(conn: Any, table: str) -> pl.DataFrame:
    frame: pl.DataFrame = conn.execute(
        f"SELECT r.*, s.order_id, s.tracking_number FROM {table} r "
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
