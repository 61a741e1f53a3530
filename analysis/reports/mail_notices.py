"""The shipping e-mails behind a pack (``import-mail``): who sent them, when, their hash.

A marketplace's own shipping notice with its promised date backs a dispute; a
carrier's "delivered" e-mail is shown as what the carrier wrote, never as a scan.
Kept apart from :mod:`analysis.reports.facts` so the pack's other facts do not
depend on it::

    notices = load_mail_notices(store, [3, 7])   # {shipment_id: [MailNoticeFact, ...]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from analysis.reports import fmt
from collector.store import Store

_KIND_WORDS = {
    "shipped": "shipped",
    "out_for_delivery": "out for delivery",
    "delivered": "says delivered (the sender's word, not a scan)",
    "other": "other",
}


@dataclass(frozen=True)
class MailNoticeFact:
    """One stored shipping e-mail linked to a shipment."""

    notice_id: int
    sent_at: datetime | None
    sender: str | None
    sender_name: str | None
    subject: str | None
    message_id: str | None
    kind: str
    marketplace: str | None
    order_id: str | None
    promised_from: date | None
    promised_to: date | None
    forwarded_from: str | None
    sha256: str
    byte_length: int

    @property
    def kind_words(self) -> str:
        """What the message is, in words for the pack."""
        return _KIND_WORDS.get(self.kind, self.kind)


def load_mail_notices(store: Store, shipment_ids: Sequence[int]) -> dict[int, list[MailNoticeFact]]:
    """The notices of each shipment, oldest first (one query for all of them)."""
    if not shipment_ids:
        return {}
    rows = store.query(
        "SELECT l.shipment_id, n.notice_id, n.sent_at, n.sender, n.sender_name, n.subject, "
        "n.message_id, n.kind, n.marketplace, n.order_id, n.promised_from, n.promised_to, "
        "n.forwarded_from, n.sha256, d.byte_length "
        "FROM mail_notice_shipments l JOIN mail_notices n USING (notice_id) "
        "JOIN raw_documents d ON d.sha256 = n.sha256 "
        "WHERE list_contains(?, l.shipment_id) ORDER BY l.shipment_id, n.sent_at, n.notice_id",
        [list(shipment_ids)],
    )
    out: dict[int, list[MailNoticeFact]] = {}
    for shipment_id, *values in rows:
        out.setdefault(int(shipment_id), []).append(MailNoticeFact(*values))
    return out


def mail_notices_json(notices: Sequence[MailNoticeFact]) -> list[dict[str, Any]]:
    """The notices in the pack's manifest."""
    return [
        {
            "sent_at": fmt.iso(n.sent_at),
            "from": n.sender,
            "subject": n.subject,
            "message_id": n.message_id,
            "kind": n.kind,
            "marketplace": n.marketplace,
            "order_id": n.order_id,
            "promised_from": n.promised_from.isoformat() if n.promised_from else None,
            "promised_to": n.promised_to.isoformat() if n.promised_to else None,
            "forwarded_from": n.forwarded_from,
            "sha256": n.sha256,
            "bytes": n.byte_length,
        }
        for n in notices
    ]
