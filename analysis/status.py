"""The shipment overview behind ``parcelproof status``.

It evaluates the flag rules at "now" first (so its output never depends on another
command having run), then adds each shipment's dispute window and recommended
action (:mod:`analysis.disputes`).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from collector.config import Settings
from collector.store import Store

STATUS_SQL = """
SELECT
    s.shipment_id,
    s.order_id,
    s.store,
    s.tracking_number,
    coalesce(s.carrier, s.courier) AS carrier,
    s.marketplace,
    coalesce(t.status, 'unknown') AS status,
    t.last_event_at,
    CASE WHEN t.last_event_at IS NULL THEN NULL
         ELSE date_diff('second', t.last_event_at, $now::TIMESTAMPTZ) / 86400.0 END
        AS days_since_last_event,
    s.promised_to,
    s.protection_ends_at,
    s.archived
FROM shipments s
LEFT JOIN tracking_state t USING (shipment_id)
WHERE $all OR NOT s.archived
ORDER BY s.protection_ends_at NULLS LAST, s.order_id, s.tracking_number
"""

_OPEN_FLAGS_SQL = "SELECT shipment_id, code FROM flags WHERE cleared_at IS NULL"


def shipment_status(
    store: Store,
    now: datetime,
    *,
    include_archived: bool = False,
    settings: Settings | None = None,
    evaluate: bool = True,
) -> pl.DataFrame:
    """One row per shipment: status, days since the last event, deadlines, flags,
    the dispute window (``dispute_opens_at``, ``dispute_deadline``) and today's
    ``action`` with its ``action_detail``.

    With ``evaluate`` (the default) the flag rules run at ``now`` first and their
    result is recorded; without it the open flags of the history are shown.

    >>> shipment_status(store, clock.now()).columns[:4]   # doctest: +SKIP
    ['shipment_id', 'order_id', 'store', 'tracking_number']
    """
    from analysis.disputes import dispute_windows
    from analysis.flags import evaluate_flags

    settings = settings or Settings()
    if evaluate:
        current = evaluate_flags(store, now, settings).current
        windows = dispute_windows(store, now, settings, flags=current)
    else:
        current = store.frame(_OPEN_FLAGS_SQL)
        windows = dispute_windows(store, now, settings)
    flags = current.sort("code").group_by("shipment_id").agg(pl.col("code").alias("flags"))
    frame = store.frame(STATUS_SQL, {"now": now, "all": include_archived})
    result = (
        frame.join(flags, on="shipment_id", how="left", maintain_order="left")
        .with_columns(pl.col("flags").fill_null(pl.lit([], pl.List(pl.String))))
        .join(
            windows.select(
                "shipment_id",
                pl.col("opens_at").alias("dispute_opens_at"),
                pl.col("deadline").alias("dispute_deadline"),
                pl.col("deadline_date").alias("dispute_deadline_date"),
                "action",
                "action_detail",
            ),
            on="shipment_id",
            how="left",
            maintain_order="left",
        )
    )
    return _plausible_instants(result)


def _plausible_instants(frame: pl.DataFrame) -> pl.DataFrame:
    """Instants outside :mod:`collector.plausible`'s range as null (a row stored before
    imports checked the range, e.g. shipped_at 9999-12-31, or a deadline derived from
    it, cannot even be a Python datetime)."""
    from collector.plausible import EARLIEST, LATEST

    return frame.with_columns(
        pl.when(pl.col(c).is_between(EARLIEST, LATEST, closed="left")).then(pl.col(c)).alias(c)
        for c, kind in frame.schema.items()
        if isinstance(kind, pl.Datetime)
    )
