"""The shipment overview behind ``parcelproof status``."""

from __future__ import annotations

from datetime import datetime

import polars as pl

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
    coalesce(
        (SELECT list(f.code ORDER BY f.code) FROM flags f
         WHERE f.shipment_id = s.shipment_id AND f.cleared_at IS NULL),
        []::VARCHAR[]) AS flags,
    s.archived
FROM shipments s
LEFT JOIN tracking_state t USING (shipment_id)
WHERE $all OR NOT s.archived
ORDER BY s.protection_ends_at NULLS LAST, s.order_id, s.tracking_number
"""


def shipment_status(store: Store, now: datetime, *, include_archived: bool = False) -> pl.DataFrame:
    """One row per shipment: status, days since the last event, deadlines, open flags.

    >>> shipment_status(store, clock.now()).columns[:4]   # doctest: +SKIP
    ['shipment_id', 'order_id', 'store', 'tracking_number']
    """
    return store.frame(STATUS_SQL, {"now": now, "all": include_archived})
