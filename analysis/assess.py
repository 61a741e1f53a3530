"""One assessment of the shipments at an instant: flags, their history, the advice.

"Which flags hold at ``now``, since when, and what to do about each shipment" is
computed here once, and every reader takes it from here: ``status``, ``flags``,
``report``, ``run`` and :mod:`analysis.frames`. So a pack made at an earlier
``--now`` lists exactly the flags whose advice it gives, and the four commands
agree on the same database and instant::

    with Store.open(path) as store:
        a = assess(store, clock.now(), settings)
        a.flags       # one row per (shipment, code) holding at now
        a.cleared     # history rows cleared by now
        a.disputes    # one row per shipment: window, last day, action

Everything is set-oriented: the flag rules run into temporary tables
(:func:`analysis.flags.staged_flags`), the history is joined to them in DuckDB and
the dispute windows read the same staged table; no Python loop per shipment.

``assess(..., record=True)`` (the commands) also records the evaluation in the
flag history (:func:`analysis.flags.recorded_flags`: incremental when it can be,
only the shipments whose inputs changed are evaluated; an instant earlier than
the latest evaluation is computed, never stored). ``record=False`` evaluates every
shipment and writes nothing (notebooks, read-only connections).

Columns of ``flags``: ``shipment_id, flag_id, code, severity, threshold, detail,
evidence, since, first_seen, reason_to_dispute``. ``since`` is when the condition
began (the last scan of a stalled parcel, the promised date of an overdue one, the
first scan of one scanned before its order...; ``first_seen`` where a condition has
no instant of its own, such as a number that fails its check digit); ``first_seen``
is when parcelproof first saw it hold (the raise time of the history row open at
``now``, else ``now``); ``flag_id`` is that row's id (None when never recorded);
``reason_to_dispute`` is :func:`analysis.disputes.reason_to_dispute_sql`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl
import pyarrow as pa

from analysis.disputes import (
    KNOWN,
    STATE_SQL,
    disputes_sql,
    reason_to_dispute_sql,
    windows_frame,
)
from analysis.flags import Evaluation, recorded_flags, staged_flags
from analysis.rules.sql import history_detail
from collector.config import Settings
from collector.store import Store

#: Actions on which a pack is worth writing (a claim to make or a question to ask).
PACK_ACTIONS = ("open_dispute", "escalate", "ask_seller", "send_evidence", "answer_offer")

_FLAGS_SQL = """
WITH open_then AS (
    SELECT shipment_id, code, min(raised_at) AS first_seen,
           arg_min(flag_id, raised_at) AS flag_id
    FROM flags
    WHERE raised_at <= $now AND (cleared_at IS NULL OR cleared_at > $now)
    GROUP BY shipment_id, code
),
st AS ({state})
SELECT c.shipment_id, o.flag_id, c.code, c.severity, c.threshold, c.detail, c.evidence,
       coalesce(c.began_at, o.first_seen, $now::TIMESTAMPTZ) AS since,
       coalesce(o.first_seen, $now::TIMESTAMPTZ) AS first_seen,
       {reason} AS reason_to_dispute
FROM {table} c
JOIN st USING (shipment_id)
LEFT JOIN open_then o USING (shipment_id, code)
{where}
ORDER BY c.shipment_id, c.code
"""

_CLEARED_SQL = f"""
SELECT f.flag_id, f.shipment_id, f.code, f.severity, f.raised_at, f.confirmed_at,
       f.cleared_at, f.threshold, {history_detail()} AS detail, f.evidence::VARCHAR AS evidence
FROM flags f
WHERE f.cleared_at IS NOT NULL AND f.cleared_at <= $now AND f.raised_at <= $now {{where}}
ORDER BY f.shipment_id, f.raised_at, f.flag_id
"""


@dataclass(frozen=True)
class Assessment:
    """The flags, cleared history and dispute advice of shipments at ``now``."""

    now: datetime
    #: One row per (shipment, code) holding at ``now`` (columns: module docstring).
    flags: pl.DataFrame
    #: Flag history rows cleared by ``now``: ``flag_id, shipment_id, code, severity,
    #: raised_at, confirmed_at, cleared_at, threshold, detail, evidence``.
    cleared: pl.DataFrame
    #: One row per shipment: :data:`analysis.disputes.COLUMNS`.
    disputes: pl.DataFrame
    #: What recording the evaluation changed (None with ``record=False``).
    evaluation: Evaluation | None
    #: One row per dispute case at ``now``: :data:`analysis.cases.COLUMNS` (their
    #: actions are already laid over ``disputes``).
    cases: pl.DataFrame = field(default_factory=pl.DataFrame)

    def flagged_ids(self, *, include_archived: bool = False) -> list[int]:
        """Shipments with a flag at ``now`` (non-archived ones unless asked)."""
        ids = set(self.flags["shipment_id"].to_list())
        return [
            int(r["shipment_id"])
            for r in self.disputes.select("shipment_id", "archived").iter_rows(named=True)
            if r["shipment_id"] in ids and (include_archived or not r["archived"])
        ]

    def pack_ids(self) -> list[int]:
        """Non-archived flagged shipments worth a pack: a flag that is a reason to
        dispute, or advice to act (dispute, escalate, ask the seller).

        A flag that is no reason to dispute (``info``, a reused number on a parcel
        delivered home, any flag of a parcel never polled) makes no pack.
        """
        reasons = set(self.flags.filter(pl.col("reason_to_dispute"))["shipment_id"].to_list())
        flagged = set(self.flags["shipment_id"].to_list())
        chosen = self.disputes.filter(
            ~pl.col("archived")
            & pl.col("shipment_id").is_in(list(flagged))
            & (pl.col("shipment_id").is_in(list(reasons)) | pl.col("action").is_in(PACK_ACTIONS))
        )
        return sorted(int(i) for i in chosen["shipment_id"].to_list())


def assess(
    store: Store,
    now: datetime,
    settings: Settings,
    shipment_ids: Sequence[int] | None = None,
    *,
    record: bool = True,
) -> Assessment:
    """Assess every shipment at ``now`` (or only ``shipment_ids`` in the frames).

    The rules always run over all shipments (a reused number needs the others, and a
    recorded evaluation covers everything); ``shipment_ids`` only narrows the
    frames returned. See the module docstring for ``record`` and the columns.
    """
    conn = store.conn
    params = {"now": now}
    wanted = None if shipment_ids is None else list(dict.fromkeys(int(i) for i in shipment_ids))
    if wanted is not None:
        conn.register("_assess_ids", pa.table({"shipment_id": pa.array(wanted, pa.int64())}))
    try:
        staged: AbstractContextManager[tuple[str, Evaluation | None]] = (
            recorded_flags(store, now, settings.rules)
            if record
            else _unrecorded(store, now, settings)
        )
        with staged as (table, evaluation):
            where = "" if wanted is None else "WHERE c.shipment_id IN (FROM _assess_ids)"
            reason = reason_to_dispute_sql("c.code", "c.severity", "st.delivered", KNOWN)
            flags: pl.DataFrame = conn.execute(
                _FLAGS_SQL.format(table=table, where=where, reason=reason, state=STATE_SQL), params
            ).pl()
            disputes = windows_frame(
                store,
                disputes_sql(f"SELECT shipment_id, code, severity FROM {table}"),
                now,
                settings,
            )
        and_where = "" if wanted is None else "AND f.shipment_id IN (FROM _assess_ids)"
        cleared: pl.DataFrame = conn.execute(_CLEARED_SQL.format(where=and_where), params).pl()
    finally:
        if wanted is not None:
            conn.unregister("_assess_ids")
    disputes, cases = _with_cases(store, now, settings, disputes, flags)
    if wanted is not None:
        disputes = disputes.filter(pl.col("shipment_id").is_in(wanted))
    return Assessment(
        now=now,
        flags=_utc(flags, "since", "first_seen"),
        cleared=_utc(cleared, "raised_at", "confirmed_at", "cleared_at"),
        disputes=disputes,
        evaluation=evaluation,
        cases=cases,
    )


_RECORDED_SQL = f"""
WITH st AS ({{state}})
SELECT c.shipment_id, c.flag_id, c.code, c.severity, c.threshold, {history_detail("c")} AS detail,
       c.evidence::VARCHAR AS evidence, c.raised_at AS since, c.raised_at AS first_seen,
       {{reason}} AS reason_to_dispute
FROM (SELECT *, row_number() OVER (PARTITION BY shipment_id, code ORDER BY raised_at) AS n
      FROM flags
      WHERE raised_at <= $now AND (cleared_at IS NULL OR cleared_at > $now)) c
JOIN st USING (shipment_id)
WHERE c.n = 1 {{where}}
ORDER BY c.shipment_id, c.code
"""


def assess_recorded(
    store: Store, now: datetime, settings: Settings, shipment_ids: Sequence[int] | None = None
) -> Assessment:
    """The assessment as the flag history recorded it at ``now`` (no rule runs).

    For readers of a store whose flags were written by something else (an older
    version, a test that writes flag rows): the flags are the history rows open at
    ``now`` (``since`` and ``first_seen`` are their ``raised_at``), and the advice
    is drawn from exactly those flags.
    """
    conn = store.conn
    params = {"now": now}
    wanted = None if shipment_ids is None else list(dict.fromkeys(int(i) for i in shipment_ids))
    if wanted is not None:
        conn.register("_assess_ids", pa.table({"shipment_id": pa.array(wanted, pa.int64())}))
    try:
        reason = reason_to_dispute_sql("c.code", "c.severity", "st.delivered", KNOWN)
        where = "" if wanted is None else "AND c.shipment_id IN (FROM _assess_ids)"
        flags: pl.DataFrame = conn.execute(
            _RECORDED_SQL.format(reason=reason, where=where, state=STATE_SQL), params
        ).pl()
        conn.register("_assess_flags", flags.select("shipment_id", "code", "severity").to_arrow())
        try:
            disputes = windows_frame(
                store,
                disputes_sql("SELECT shipment_id, code, severity FROM _assess_flags"),
                now,
                settings,
            )
        finally:
            conn.unregister("_assess_flags")
        and_where = "" if wanted is None else "AND f.shipment_id IN (FROM _assess_ids)"
        cleared: pl.DataFrame = conn.execute(_CLEARED_SQL.format(where=and_where), params).pl()
    finally:
        if wanted is not None:
            conn.unregister("_assess_ids")
    disputes, cases = _with_cases(store, now, settings, disputes, flags)
    if wanted is not None:
        disputes = disputes.filter(pl.col("shipment_id").is_in(wanted))
    return Assessment(
        now=now,
        flags=_utc(flags, "since", "first_seen"),
        cleared=_utc(cleared, "raised_at", "confirmed_at", "cleared_at"),
        disputes=disputes,
        evaluation=None,
        cases=cases,
    )


@contextmanager
def _unrecorded(store: Store, now: datetime, settings: Settings) -> Iterator[tuple[str, None]]:
    with staged_flags(store, now, settings.rules) as table:
        yield table, None


def _with_cases(
    store: Store, now: datetime, settings: Settings, disputes: pl.DataFrame, flags: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The dispute cases at ``now`` (:mod:`analysis.cases`), laid over the windows."""
    from analysis.cases import apply_cases, case_frame

    cases = case_frame(store, now, settings, disputes, flags=flags)
    return apply_cases(disputes, cases), cases


def _utc(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.with_columns(pl.col(c).dt.convert_time_zone("UTC") for c in columns)
