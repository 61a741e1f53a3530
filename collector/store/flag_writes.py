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

    ``raised`` and ``cleared`` hold flag rows (``flag_id`` ... ``evidence``);
    ``written`` is False when the evaluation was earlier than the latest recorded
    one, in which case the frames say what *would* change and nothing was stored.
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
    store: Store, current: pa.Table | pl.DataFrame, now: datetime
) -> FlagChanges:
    """Record the flag set ``current`` (one row per shipment and code) as of ``now``.

    ``current`` has the columns of :data:`FLAG_SET_COLUMNS`; ``evidence`` is a JSON
    text. Returns the raised and cleared rows; see the module docstring for the rules.
    """
    table = current.to_arrow() if isinstance(current, pl.DataFrame) else current
    table = table.select(list(FLAG_SET_COLUMNS))
    conn = store.conn
    latest = latest_evaluation(store)
    write = latest is None or now >= latest
    conn.register("current_flags", table)
    try:
        if not write:
            return FlagChanges(
                raised=_frame(conn, _NEW_SQL, now),
                cleared=_frame(conn, _GONE_SQL, now),
                confirmed=0,
                written=False,
            )
        with store.transaction():
            cleared = _frame(
                conn,
                "UPDATE flags SET cleared_at = $now WHERE cleared_at IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM current_flags c WHERE c.shipment_id = flags.shipment_id "
                f"AND c.code = flags.code) RETURNING {_FLAG_ROW}",
                now,
            )
            confirmed_row = conn.execute(
                """
                UPDATE flags SET confirmed_at = $now, severity = c.severity,
                    threshold = c.threshold, detail = c.detail, evidence = c.evidence::JSON
                FROM current_flags c
                WHERE flags.cleared_at IS NULL AND flags.shipment_id = c.shipment_id
                  AND flags.code = c.code
                  AND (flags.confirmed_at < $now
                       OR flags.severity IS DISTINCT FROM c.severity
                       OR flags.threshold IS DISTINCT FROM c.threshold
                       OR flags.detail IS DISTINCT FROM c.detail
                       OR flags.evidence::VARCHAR IS DISTINCT FROM c.evidence::JSON::VARCHAR)
                """,
                {"now": now},
            ).fetchone()
            raised = _frame(
                conn,
                "INSERT INTO flags (shipment_id, code, severity, raised_at, confirmed_at, "
                "threshold, detail, evidence) "
                "SELECT shipment_id, code, severity, $now, $now, threshold, detail, "
                f"evidence::JSON FROM ({_NEW_SQL}) RETURNING {_FLAG_ROW}",
                now,
            )
    finally:
        conn.unregister("current_flags")
    return FlagChanges(
        raised=raised.sort("flag_id"),
        cleared=cleared.sort("flag_id"),
        confirmed=int(confirmed_row[0]) if confirmed_row else 0,
        written=True,
    )


# Flags in the new set with no open row (what would be raised).
_NEW_SQL = """
SELECT NULL::BIGINT AS flag_id, c.shipment_id, c.code, c.severity,
       $now::TIMESTAMPTZ AS raised_at, $now::TIMESTAMPTZ AS confirmed_at,
       NULL::TIMESTAMPTZ AS cleared_at, c.threshold, c.detail, c.evidence
FROM current_flags c
WHERE NOT EXISTS (SELECT 1 FROM flags f WHERE f.cleared_at IS NULL
                  AND f.shipment_id = c.shipment_id AND f.code = c.code)
"""
# Open rows whose flag is not in the new set (what would be cleared).
_GONE_SQL = f"""
SELECT {_FLAG_ROW.replace("cleared_at", "$now::TIMESTAMPTZ AS cleared_at")}
FROM flags WHERE cleared_at IS NULL AND NOT EXISTS
    (SELECT 1 FROM current_flags c WHERE c.shipment_id = flags.shipment_id
     AND c.code = flags.code)
"""


def _frame(conn: Any, sql: str, now: datetime) -> pl.DataFrame:
    # execute() runs a statement exactly once (a relation from sql() might re-run a
    # RETURNING statement when fetched).
    frame: pl.DataFrame = conn.execute(sql, {"now": now}).pl()
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
