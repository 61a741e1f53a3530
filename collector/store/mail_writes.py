"""Writes of ``import-mail``: the message as evidence, its notice, links, IMAP UIDs.

A message is stored content-addressed in ``raw_documents`` (the whole RFC 822
bytes, zlib-compressed like every body, so ``verify`` covers it); reading the same
bytes again stores nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from collector.store import Store
from collector.store.evidence import COMPRESSION, compress, sha256_hex

MESSAGE_CONTENT_TYPE = "message/rfc822"


def notice_known(store: Store, sha256: str) -> bool:
    """Whether a message with these bytes is already stored as a notice."""
    row = store.conn.execute("SELECT 1 FROM mail_notices WHERE sha256 = ?", [sha256]).fetchone()
    return row is not None


def store_notice(  # noqa: PLR0913 - one row's parts, named
    store: Store,
    raw: bytes,
    *,
    source: str,
    fields: dict[str, Any],
    shipment_ids: Iterable[int],
    now: datetime,
) -> int:
    """Store ``raw`` and its notice row (``fields``), linked to ``shipment_ids``.

    Returns the notice id (the existing one when these bytes were stored before).
    """
    sha = sha256_hex(raw)
    body = compress(raw)
    conn = store.conn
    with store.transaction():
        conn.execute(
            "INSERT INTO raw_documents (sha256, content_type, byte_length, compression, "
            "stored_sha256, body, first_seen_at) SELECT ?, ?, ?, ?, ?, ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM raw_documents WHERE sha256 = ?)",
            [sha, MESSAGE_CONTENT_TYPE, len(raw), COMPRESSION, sha256_hex(body), body, now, sha],
        )
        row = conn.execute("SELECT notice_id FROM mail_notices WHERE sha256 = ?", [sha]).fetchone()
        if row is None:
            columns = ["sha256", "source", "read_at", *fields]
            values = [sha, source, now, *(_sql_value(v) for v in fields.values())]
            found = conn.execute(
                f"INSERT INTO mail_notices ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)}) RETURNING notice_id",
                values,
            ).fetchone()
            assert found is not None
            row = found
        notice_id = int(row[0])
        for shipment_id in shipment_ids:
            conn.execute(
                "INSERT INTO mail_notice_shipments SELECT ?, ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM mail_notice_shipments WHERE notice_id = ? AND shipment_id = ?)",
                [notice_id, shipment_id, now, notice_id, shipment_id],
            )
    return notice_id


def _sql_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return value


def link_by_number(store: Store, now: datetime) -> int:
    """Link notices to shipments they name by tracking number alone; returns new links.

    A carrier's notice names no order: it joins every shipment with one of its
    numbers, including orders imported after the notice was read.
    """
    conn = store.conn
    with store.transaction():
        before = _count(conn)
        conn.execute(
            "INSERT INTO mail_notice_shipments "
            "SELECT DISTINCT n.notice_id, s.shipment_id, ? FROM mail_notices n "
            "JOIN shipments s ON list_contains(n.tracking_numbers, s.tracking_number) "
            "AND (n.order_id IS NULL OR n.order_id = s.order_id "
            "OR NOT EXISTS (SELECT 1 FROM shipments o WHERE o.order_id = n.order_id)) "
            "WHERE NOT EXISTS (SELECT 1 FROM mail_notice_shipments l "
            "WHERE l.notice_id = n.notice_id AND l.shipment_id = s.shipment_id)",
            [now],
        )
        return _count(conn) - before


def _count(conn: Any) -> int:
    row = conn.execute("SELECT count(*) FROM mail_notice_shipments").fetchone()
    return int(row[0]) if row else 0


def seen_uids(store: Store, mailbox: str, uidvalidity: int) -> frozenset[int]:
    """The UIDs of ``mailbox`` already read under this UIDVALIDITY."""
    rows = store.conn.execute(
        "SELECT uid FROM mail_imap_seen WHERE mailbox = ? AND uidvalidity = ?",
        [mailbox, uidvalidity],
    ).fetchall()
    return frozenset(int(r[0]) for r in rows)


def record_uid(store: Store, mailbox: str, uidvalidity: int, uid: int, now: datetime) -> None:
    """Remember that ``uid`` was read (after its message was stored)."""
    store.conn.execute(
        "INSERT INTO mail_imap_seen SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM "
        "mail_imap_seen WHERE mailbox = ? AND uidvalidity = ? AND uid = ?)",
        [mailbox, uidvalidity, uid, now, mailbox, uidvalidity, uid],
    )
