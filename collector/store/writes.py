"""Every write to the database goes through this module.

Writes are set-oriented: a batch arrives as a polars/Arrow frame and lands with a
few SQL statements inside one transaction, never row by row.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import polars as pl

from collector.model import AWAITING
from collector.store import Store

# Columns an import may set; a column absent from a file's header is left untouched
# on re-import, so that a partial file never erases what a fuller one stored.
SHIPMENT_IMPORT_COLUMNS = (
    "marketplace",
    "store",
    "carrier",
    "ordered_at",
    "shipped_at",
    "promised_from",
    "promised_to",
    "protection_ends_at",
    "destination_country",
    "destination_postcode",
    "destination_city",
    "item",
    "amount",
    "currency",
    "archived",
)
# Derived from the number (and the declared carrier): refreshed on every import.
NUMBER_COLUMNS = (
    "tracking_number_raw",
    "courier",
    "number_format",
    "number_verdict",
    "number_reason",
    "carrier_mismatch",
)


def _insert_value(column: str) -> str:
    # A file without an ``archived`` column tracks its new shipments.
    return "coalesce(t.archived, false)" if column == "archived" else f"t.{column}"


def set_archived(
    store: Store, shipment_ids: Collection[int], *, archived: bool, now: datetime
) -> int:
    """Archive (or bring back) shipments; how many changed.

    Archived shipments are no longer polled, listed or packed; nothing is deleted
    (their evidence, events and flag history stay, and ``verify`` covers them). The
    previous row goes to ``shipment_history`` like any update.
    """
    ids = sorted(set(shipment_ids))
    if not ids:
        return 0
    with store.transaction():
        changed = store.conn.execute(
            "SELECT count(*) FROM shipments WHERE shipment_id IN (SELECT unnest($ids)) "
            "AND archived <> $archived",
            {"ids": ids, "archived": archived},
        ).fetchone()
        store.conn.execute(
            "INSERT INTO shipment_history SELECT s.shipment_id, $now, to_json(s) FROM shipments s "
            "WHERE shipment_id IN (SELECT unnest($ids)) AND archived <> $archived",
            {"ids": ids, "archived": archived, "now": now},
        )
        store.conn.execute(
            "UPDATE shipments SET archived = $archived, updated_at = $now "
            "WHERE shipment_id IN (SELECT unnest($ids)) AND archived <> $archived",
            {"ids": ids, "archived": archived, "now": now},
        )
    return int(changed[0]) if changed else 0


def upsert_shipments(
    store: Store,
    frame: pl.DataFrame,
    *,
    present_columns: Collection[str],
    now: datetime,
) -> tuple[int, int, int]:
    """Insert new shipments and update changed ones; returns (inserted, updated, unchanged).

    ``frame`` holds one row per (order_id, tracking_number) with the columns of
    :data:`SHIPMENT_IMPORT_COLUMNS` and :data:`NUMBER_COLUMNS`. The previous version
    of every updated row is kept in ``shipment_history``; rows whose values did not
    change are not touched, so re-importing a file changes nothing.
    """
    update_cols = [c for c in SHIPMENT_IMPORT_COLUMNS if c in present_columns]
    # The mismatch verdict depends on the declared carrier: without that column in
    # the file, the stored carrier (and so the stored verdict) stands.
    update_cols += [
        c for c in NUMBER_COLUMNS if c != "carrier_mismatch" or "carrier" in present_columns
    ]
    insert_cols = ["order_id", "tracking_number", *SHIPMENT_IMPORT_COLUMNS, *NUMBER_COLUMNS]
    join = "s.order_id = t.order_id AND s.tracking_number = t.tracking_number"
    changed = " OR ".join(f"s.{c} IS DISTINCT FROM t.{c}" for c in update_cols) or "false"
    conn = store.conn
    with store.transaction():
        total = frame.height
        frame, skipped = _without_stale_awaiting(store, frame)
        conn.register("staged_shipments", frame.select(insert_cols).to_arrow())
        try:
            _adopt_awaiting(store, now)
            existing_row = conn.execute(
                f"SELECT count(*), count(*) FILTER (WHERE {changed}) "
                f"FROM shipments s JOIN staged_shipments t ON {join}"
            ).fetchone()
            existing, updated = (
                (int(existing_row[0]), int(existing_row[1])) if existing_row else (0, 0)
            )
            if updated:
                conn.execute(
                    "INSERT INTO shipment_history SELECT s.shipment_id, ?, to_json(s) "
                    f"FROM shipments s JOIN staged_shipments t ON {join} WHERE {changed}",
                    [now],
                )
                sets = ", ".join(f"{c} = t.{c}" for c in update_cols)
                conn.execute(
                    f"UPDATE shipments s SET {sets}, updated_at = ? "
                    f"FROM staged_shipments t WHERE {join} AND ({changed})",
                    [now],
                )
            cols = ", ".join(insert_cols)
            conn.execute(
                f"INSERT INTO shipments ({cols}, created_at, updated_at) "
                f"SELECT {', '.join(_insert_value(c) for c in insert_cols)}, ?, ? "
                "FROM staged_shipments t WHERE NOT EXISTS "
                f"(SELECT 1 FROM shipments s WHERE {join})",
                [now, now],
            )
        finally:
            conn.unregister("staged_shipments")
    return total - existing - skipped, updated, existing - updated + skipped


def _without_stale_awaiting(store: Store, frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Drop the rows awaiting a number whose order already has a shipment with one
    (an older export, or a re-import after the number came): nothing to store."""
    waiting = frame.filter(pl.col("tracking_number") == AWAITING)
    if not waiting.height:
        return frame, 0
    known = {
        order
        for (order,) in store.conn.execute(
            "SELECT DISTINCT order_id FROM shipments WHERE tracking_number <> ? "
            "AND order_id IN (SELECT unnest(?))",
            [AWAITING, waiting["order_id"].to_list()],
        ).fetchall()
    }
    if not known:
        return frame, 0
    stale = (pl.col("tracking_number") == AWAITING) & pl.col("order_id").is_in(list(known))
    return frame.filter(~stale), int(frame.select(stale.sum()).item())


def _adopt_awaiting(store: Store, now: datetime) -> None:
    """A number arriving for an order stored as awaiting one: that shipment takes it.

    The row keeps its id (and so its history, flags and cases); its previous version
    goes to ``shipment_history``. With several new numbers for one order, the first
    (in sort order) takes the row and the others are new shipments.
    """
    adopt = """
        SELECT s.shipment_id, min(t.tracking_number) AS number
        FROM shipments s JOIN staged_shipments t
          ON s.order_id = t.order_id AND s.tracking_number = $awaiting
         AND t.tracking_number <> $awaiting
        WHERE NOT EXISTS (SELECT 1 FROM shipments o
                          WHERE o.order_id = t.order_id AND o.tracking_number = t.tracking_number)
        GROUP BY s.shipment_id
    """
    conn = store.conn
    conn.execute(
        f"INSERT INTO shipment_history SELECT s.shipment_id, $now, to_json(s) "
        f"FROM shipments s JOIN ({adopt}) a USING (shipment_id)",
        {"now": now, "awaiting": AWAITING},
    )
    conn.execute(
        f"UPDATE shipments s SET tracking_number = a.number, updated_at = $now "
        f"FROM ({adopt}) a WHERE s.shipment_id = a.shipment_id",
        {"now": now, "awaiting": AWAITING},
    )
