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
            "UPDATE shipments SET archived = $archived, updated_at = $now, "
            # A new input version: the next flag evaluation looks at it again.
            "input_version = nextval('input_version_seq') "
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
    store.conn.register("staged_shipments", frame.select(_insert_columns()).to_arrow())
    try:
        return upsert_staged_shipments(
            store, "staged_shipments", present_columns=present_columns, now=now
        )
    finally:
        store.conn.unregister("staged_shipments")


def _insert_columns() -> list[str]:
    return ["order_id", "tracking_number", *SHIPMENT_IMPORT_COLUMNS, *NUMBER_COLUMNS]


def upsert_staged_shipments(
    store: Store,
    staged: str,
    *,
    present_columns: Collection[str],
    now: datetime,
) -> tuple[int, int, int]:
    """:func:`upsert_shipments` from the table or view named ``staged`` (one row per
    (order_id, tracking_number), the same columns), in one transaction: an import
    too large for one frame stages its rows in DuckDB first (:mod:`collector.importer`).
    """
    update_cols = [c for c in SHIPMENT_IMPORT_COLUMNS if c in present_columns]
    # The mismatch verdict depends on the declared carrier: without that column in
    # the file, the stored carrier (and so the stored verdict) stands.
    update_cols += [
        c for c in NUMBER_COLUMNS if c != "carrier_mismatch" or "carrier" in present_columns
    ]
    insert_cols = _insert_columns()
    join = "s.order_id = t.order_id AND s.tracking_number = t.tracking_number"
    changed = " OR ".join(f"s.{c} IS DISTINCT FROM t.{c}" for c in update_cols) or "false"
    conn = store.conn
    with store.transaction():
        total_row = conn.execute(f"SELECT count(*) FROM {staged}").fetchone()
        total = int(total_row[0]) if total_row else 0
        skipped = _count(store, f"SELECT count(*) FROM {staged} t WHERE {_STALE_AWAITING}")
        if skipped:
            # Rows awaiting a number for orders that have one: nothing to store.
            staged = f"(SELECT * FROM {staged} t WHERE NOT ({_STALE_AWAITING}))"
        _adopt_awaiting(store, staged, now)
        existing_row = conn.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {changed}) "
            f"FROM shipments s JOIN {staged} t ON {join}"
        ).fetchone()
        existing, updated = (int(existing_row[0]), int(existing_row[1])) if existing_row else (0, 0)
        if updated:
            conn.execute(
                "INSERT INTO shipment_history SELECT s.shipment_id, ?, to_json(s) "
                f"FROM shipments s JOIN {staged} t ON {join} WHERE {changed}",
                [now],
            )
            sets = ", ".join(f"{c} = t.{c}" for c in update_cols)
            conn.execute(
                f"UPDATE shipments s SET {sets}, updated_at = ?, "
                "input_version = nextval('input_version_seq') "
                f"FROM {staged} t WHERE {join} AND ({changed})",
                [now],
            )
        cols = ", ".join(insert_cols)
        conn.execute(
            f"INSERT INTO shipments ({cols}, created_at, updated_at) "
            f"SELECT {', '.join(_insert_value(c) for c in insert_cols)}, ?, ? "
            f"FROM {staged} t WHERE NOT EXISTS "
            f"(SELECT 1 FROM shipments s WHERE {join})",
            [now, now],
        )
    return total - existing - skipped, updated, existing - updated + skipped


#: A staged row (``t``) awaiting its number whose order has a shipment with one.
_STALE_AWAITING = (
    f"t.tracking_number = '{AWAITING}' AND EXISTS (SELECT 1 FROM shipments o "
    f"WHERE o.order_id = t.order_id AND o.tracking_number <> '{AWAITING}')"
)


def _count(store: Store, sql: str) -> int:
    row = store.conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _adopt_awaiting(store: Store, staged: str, now: datetime) -> None:
    """A number arriving for an order stored as awaiting one: that shipment takes it.

    The row keeps its id (and so its history, flags and cases); its previous version
    goes to ``shipment_history``. With several new numbers for one order, the first
    (in sort order) takes the row and the others are new shipments.
    """
    adopt = f"""
        SELECT s.shipment_id, min(t.tracking_number) AS number
        FROM shipments s JOIN {staged} t
          ON s.order_id = t.order_id AND s.tracking_number = $awaiting
         AND t.tracking_number <> $awaiting
        WHERE NOT EXISTS (SELECT 1 FROM shipments o
                          WHERE o.order_id = t.order_id AND o.tracking_number = t.tracking_number)
        GROUP BY s.shipment_id
    """
    params = {"now": now, "awaiting": AWAITING}
    if not _count(store, f"SELECT count(*) FROM ({adopt.replace('$awaiting', repr(AWAITING))})"):
        return
    store.conn.execute(
        f"INSERT INTO shipment_history SELECT s.shipment_id, $now, to_json(s) "
        f"FROM shipments s JOIN ({adopt}) a USING (shipment_id)",
        params,
    )
    store.conn.execute(
        f"UPDATE shipments s SET tracking_number = a.number, updated_at = $now, "
        "input_version = nextval('input_version_seq') "
        f"FROM ({adopt}) a WHERE s.shipment_id = a.shipment_id",
        params,
    )
