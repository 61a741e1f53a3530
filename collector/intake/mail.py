"""``import-mail``: shipping e-mails become tracked shipments, and stay as evidence.

Each message of each source is read (:mod:`collector.intake.mailsources`), parsed
(:func:`collector.intake.mailparse.parse_message`), and, when it is a shipping
notice naming a tracking number:

- with an order id, its shipment(s) are created or updated through the same path
  as ``import`` (:func:`collector.importer.import_rows`: same normalisation,
  history kept); only the fields the notice states are given, so a notice never
  empties what another one or a CSV stored;
- without one (a carrier's own notice), it is linked to the shipments that have its
  number, now or when their order is imported later; it creates none;
- the whole message is stored in ``raw_documents`` and described in
  ``mail_notices``, linked to its shipments. A carrier's "delivered" e-mail is
  recorded as what the carrier wrote, never as a delivery scan.

A message already stored (same bytes) is not read again; IMAP UIDs are remembered
per folder and UIDVALIDITY once their message is stored::

    result = import_mail(store, ["mail/Inbox.mbox"], MailConfig())
    print(result.exit_code, [m.line() for m in result.messages])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from collector import clock
from collector.config import MailConfig
from collector.errors import ImportFileError, MailSourceError
from collector.importer import MARKETPLACES, import_rows
from collector.intake.mailparse import MailParseError, Notice, parse_message
from collector.intake.mailsources import RawMessage, open_source
from collector.store import Store
from collector.store.evidence import sha256_hex
from collector.store.mail_writes import (
    link_by_number,
    notice_known,
    record_uid,
    seen_uids,
    store_notice,
)
from collector.terminal import plural

__all__ = ["MailImportResult", "MessageResult", "import_mail", "notice_json"]


@dataclass
class MessageResult:
    """What happened to one message."""

    source: str
    outcome: str  # stored | known | skipped | unreadable | dry_run
    detail: str
    notice: Notice | None = None

    def line(self) -> str:
        """The one output line for this message."""
        return f"{self.source}: {self.outcome}: {self.detail}"


@dataclass
class MailImportResult:
    """What ``import-mail`` did, message by message."""

    messages: list[MessageResult] = field(default_factory=list)
    failed_sources: list[str] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    linked_later: int = 0

    @property
    def unreadable(self) -> list[MessageResult]:
        """Messages that could not be parsed."""
        return [m for m in self.messages if m.outcome == "unreadable"]

    @property
    def exit_code(self) -> int:
        """2 a source could not be opened or read, 1 a message was unreadable, else 0."""
        if self.failed_sources:
            return 2
        return 1 if self.unreadable else 0

    def summary(self) -> str:
        """One closing line."""
        counts: dict[str, int] = {}
        for message in self.messages:
            counts[message.outcome] = counts.get(message.outcome, 0) + 1
        parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no new messages"
        return (
            f"{plural(len(self.messages), 'message')}: {parts}; shipments {self.inserted} new, "
            f"{self.updated} updated"
            + (
                f"; {plural(len(self.failed_sources), 'source')} failed"
                if self.failed_sources
                else ""
            )
        )


def notice_json(source: str, notice: Notice) -> dict[str, Any]:
    """The ``--dry-run --json`` object of one message."""
    return {
        "source": source,
        "message_id": notice.message_id,
        "from": notice.sender,
        "subject": notice.subject,
        "date": notice.sent_at.isoformat() if notice.sent_at else None,
        "kind": notice.kind,
        "marketplace": notice.marketplace,
        "order_id": notice.order_id,
        "tracking_numbers": list(notice.tracking_numbers),
        "carrier": notice.carrier,
        "promised_to": _iso(notice.promised_to),
        "promised_from": _iso(notice.promised_from),
        "shipped_on": _iso(notice.shipped_at),
        "store": notice.store,
        "forwarded_from": notice.forwarded_from,
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def import_mail(
    store: Store | None,
    sources: Iterable[str],
    config: MailConfig,
    *,
    on_message: Callable[[MessageResult], None] | None = None,
) -> MailImportResult:
    """Read every source; ``store=None`` is a dry run (nothing stored, nothing remembered).

    ``on_message`` is called with each message's result as soon as it is known.
    A source that cannot be opened, or breaks off (a dropped IMAP connection), is
    named in ``failed_sources``; what was read from it before is kept.
    """
    result = MailImportResult()

    def seen(mailbox: str, uidvalidity: int) -> frozenset[int]:
        return seen_uids(store, mailbox, uidvalidity) if store is not None else frozenset()

    for spec in sources:
        try:
            for message in open_source(spec, config, seen=seen):
                outcome = _one(store, message, result)
                result.messages.append(outcome)
                if on_message:
                    on_message(outcome)
        except MailSourceError as exc:
            result.failed_sources.append(str(exc))
    if store is not None:
        result.linked_later = link_by_number(store, clock.now())
    return result


def _one(store: Store | None, message: RawMessage, result: MailImportResult) -> MessageResult:
    label = message.label
    sha = sha256_hex(message.raw)
    if store is not None and notice_known(store, sha):
        _remember(store, message)
        return MessageResult(label, "known", f"already read (sha256 {sha[:12]})")
    try:
        notice = parse_message(message.raw)
    except MailParseError as exc:
        return MessageResult(label, "unreadable", str(exc))
    if store is None:
        return MessageResult(label, "dry_run", _found(notice), notice)
    reason = _skip_reason(notice)
    shipment_ids: list[int] = []
    if reason is None and notice.tracking_numbers and notice.order_id:
        shipment_ids = _upsert(store, notice, result)
    elif reason is None:
        shipment_ids = _existing(store, notice)
        if not shipment_ids and not notice.tracking_numbers:
            reason = (
                f"a {notice.kind} notice for order {notice.order_id} with no tracking number, "
                "and no shipment of that order yet"
            )
    if reason is not None:
        _remember(store, message)
        return MessageResult(label, "skipped", reason, notice)
    store_notice(
        store,
        message.raw,
        source=label,
        fields=_fields(notice),
        shipment_ids=shipment_ids,
        now=clock.now(),
    )
    _remember(store, message)
    linked = (
        f"linked to {len(shipment_ids)} shipment(s)"
        if shipment_ids
        else "no shipment has this number yet (linked when its order is imported)"
    )
    return MessageResult(label, "stored", f"{_found(notice)}; {linked}", notice)


def _remember(store: Store, message: RawMessage) -> None:
    if message.imap is not None:
        position = message.imap
        record_uid(store, position.mailbox, position.uidvalidity, position.uid, clock.now())


def _skip_reason(notice: Notice) -> str | None:
    if notice.kind == "other":
        what = f"from {notice.marketplace}" if notice.marketplace else "from an unknown sender"
        return f"not a shipping notice ({what}: {notice.subject or 'no subject'!r})"
    if not notice.tracking_numbers and not notice.order_id:
        return f"a {notice.kind} notice naming no order and no tracking number"
    return None


def _found(notice: Notice) -> str:
    parts = [notice.kind.replace("_", " ")]
    if notice.marketplace:
        parts.append(f"{notice.marketplace} notice")
    elif notice.carrier:
        parts.append(f"{notice.carrier} notice")
    if notice.order_id:
        parts.append(f"order {notice.order_id}")
    if notice.tracking_numbers:
        parts.append("tracking " + ", ".join(notice.tracking_numbers))
    if notice.promised_to:
        window = (
            f"{notice.promised_from.isoformat()}..{notice.promised_to.isoformat()}"
            if notice.promised_from
            else notice.promised_to.isoformat()
        )
        parts.append(f"promised {window}")
    return " ".join(parts[:2]) + (": " + ", ".join(parts[2:]) if parts[2:] else "")


def _fields(notice: Notice) -> dict[str, Any]:
    return {
        "message_id": notice.message_id,
        "sender": notice.sender,
        "sender_name": notice.sender_name,
        "subject": notice.subject,
        "sent_at": notice.sent_at,
        "kind": notice.kind,
        "marketplace": notice.marketplace,
        "store": notice.store,
        "carrier": notice.carrier,
        "order_id": notice.order_id,
        "tracking_numbers": list(notice.tracking_numbers),
        "shipped_on": notice.shipped_at,
        "promised_from": notice.promised_from,
        "promised_to": notice.promised_to,
        "forwarded_from": notice.forwarded_from,
    }


def _existing(store: Store, notice: Notice) -> list[int]:
    """Shipments a notice without both an order and a number belongs to."""
    if notice.tracking_numbers:
        rows = store.query(
            "SELECT shipment_id FROM shipments WHERE list_contains(?, tracking_number) "
            "ORDER BY shipment_id",
            [list(notice.tracking_numbers)],
        )
    else:
        rows = store.query(
            "SELECT shipment_id FROM shipments WHERE order_id = ? ORDER BY shipment_id",
            [notice.order_id],
        )
    return [int(r[0]) for r in rows]


def _upsert(store: Store, notice: Notice, result: MailImportResult) -> list[int]:
    """Create or update the notice's shipments through ``import``'s own path."""
    assert notice.order_id is not None
    stated: dict[str, str] = {}
    if notice.marketplace:
        stated["marketplace"] = (
            notice.marketplace if notice.marketplace in MARKETPLACES else "other"
        )
    for key, value in (
        ("store", notice.store),
        ("carrier", notice.carrier),
        ("ordered_at", _iso(notice.ordered_at)),
        ("shipped_at", _iso(notice.shipped_at)),
        ("promised_from", _iso(notice.promised_from)),
        ("promised_to", _iso(notice.promised_to)),
    ):
        if value:
            stated[key] = value
    ids: list[int] = []
    order_known = bool(
        store.query("SELECT 1 FROM shipments WHERE order_id = ? LIMIT 1", [notice.order_id])
    )
    for number in notice.tracking_numbers:
        if not order_known:
            # The number is tracked under an order id written another way ("EB-23-..."
            # in a CSV, "23-..." in the mail): join it rather than track it twice,
            # which would read as a reused number.
            others = store.query(
                "SELECT shipment_id FROM shipments WHERE tracking_number = ? ORDER BY 1",
                [number],
            )
            if others:
                ids.extend(int(r[0]) for r in others)
                continue
        row = {"order_id": notice.order_id, "tracking_number": number, **stated}
        existing = store.query(
            "SELECT ordered_at, shipped_at, destination_country FROM shipments WHERE order_id = ? "
            "AND tracking_number = ?",
            [notice.order_id, number],
        )
        if not existing:
            row.setdefault("marketplace", "other")
            sent = notice.forwarded_sent_at or notice.sent_at
            if "ordered_at" not in row and "shipped_at" not in row and sent:
                # The notice says it has shipped by the time it was sent: the latest
                # the parcel can have left, until a notice or a CSV states the day.
                row["shipped_at"] = sent.isoformat()
        else:
            ordered, shipped, country = existing[0]
            if country:
                # Bare dates are days in the destination's zone, as in ``import``.
                row["destination_country"] = country
        if existing and "ordered_at" not in row and "shipped_at" not in row:
            # import needs one date column; give the stored one back unchanged.
            if shipped is not None:
                row["shipped_at"] = shipped.isoformat()
            elif ordered is not None:
                row["ordered_at"] = ordered.isoformat()
        try:
            imported = import_rows(store, list(row), [(1, row)], name=notice.message_id or "")
        except ImportFileError:
            continue  # no date at all for a new shipment: the notice is still kept
        if imported.rejected:
            continue
        result.inserted += imported.inserted
        result.updated += imported.updated
        found = store.query(
            "SELECT shipment_id FROM shipments WHERE order_id = ? AND tracking_number = ?",
            [notice.order_id, number],
        )
        ids.extend(int(r[0]) for r in found)
    return ids
