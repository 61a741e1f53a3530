"""The shipment overview behind ``parcelproof status``.

It reads one assessment at "now" (:func:`analysis.assess.assess`: the flags that
hold, and each shipment's dispute window, last day and recommended action from those
same flags), so its output never depends on another command having run and agrees
with ``flags``, ``report`` and :mod:`analysis.frames` at the same instant.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from collector.config import Settings
from collector.store import Store

if TYPE_CHECKING:
    from analysis.assess import Assessment

STATUS_SQL = """
SELECT
    s.shipment_id,
    s.order_id,
    s.store,
    s.tracking_number,
    coalesce(s.carrier, s.courier) AS carrier,
    s.marketplace,
    s.status,
    s.last_event_at,
    CASE WHEN s.last_event_at IS NULL THEN NULL
         ELSE date_diff('second', s.last_event_at, $now::TIMESTAMPTZ) / 86400.0 END
        AS days_since_last_event,
    s.promised_to,
    s.protection_ends_at,
    s.archived
FROM shipment_current s
WHERE $all OR NOT s.archived
ORDER BY s.protection_ends_at NULLS LAST, s.order_id, s.tracking_number
"""


def shipment_status(  # noqa: PLR0913 - keyword options
    store: Store,
    now: datetime,
    *,
    include_archived: bool = False,
    settings: Settings | None = None,
    evaluate: bool = True,
    assessment: Assessment | None = None,
) -> pl.DataFrame:
    """One row per shipment: status, days since the last event, deadlines, flags,
    ``polled`` (False: never polled, nothing is advised), the dispute window
    (``dispute_opens_at``, ``dispute_deadline``), the real last day to act
    (``dispute_last_day``: with AliExpress's grace days) and today's ``action`` with
    its ``action_detail``; for an order with a dispute case (:mod:`analysis.cases`)
    the case's ``case_state``, ``case_action``, ``case_due`` and ``case_wait_until``
    (and its action).

    ``assessment`` is one already made at ``now`` (e.g. to list the cases due soon
    from the same one). With ``evaluate`` (the default) the assessment is recorded
    in the flag history; without it nothing is written (the flags are computed at
    ``now`` all the same).

    >>> shipment_status(store, clock.now()).columns[:4]   # doctest: +SKIP
    ['shipment_id', 'order_id', 'store', 'tracking_number']
    """
    from analysis.assess import assess

    settings = settings or Settings()
    if assessment is None:
        assessment = assess(store, now, settings, record=evaluate)
    flags = assessment.flags.sort("code").group_by("shipment_id").agg(pl.col("code").alias("flags"))
    frame = store.frame(STATUS_SQL, {"now": now, "all": include_archived})
    result = (
        frame.join(flags, on="shipment_id", how="left", maintain_order="left")
        .with_columns(pl.col("flags").fill_null(pl.lit([], pl.List(pl.String))))
        .join(
            assessment.disputes.select(
                "shipment_id",
                "polled",
                pl.col("opens_at").alias("dispute_opens_at"),
                pl.col("opens_date").alias("dispute_opens_date"),
                pl.col("deadline").alias("dispute_deadline"),
                pl.col("deadline_date").alias("dispute_deadline_date"),
                pl.col("last_day").alias("dispute_last_day"),
                pl.col("last_day_date").alias("dispute_last_day_date"),
                "action",
                "action_detail",
                "case_state",
                "case_action",
                "case_due",
                "case_wait_until",
                "case_wait_until_date",
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
