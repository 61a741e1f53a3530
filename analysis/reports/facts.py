"""The facts of an evidence pack, read from the store in a few bulk queries.

:func:`load_facts` reads everything the packs of many shipments need (shipments and
their tracking state, events, the polls that asked about them, flags, numbers shared
with other orders, the head of the poll chain) with one query per table for *all*
requested shipments, then groups the rows in Python. Writing 1,000 packs therefore
costs six queries, not six thousand.

Nothing here renders or formats: the dataclasses hold UTC datetimes, Decimals and
the carrier's text exactly as stored; :mod:`analysis.reports.render` escapes and
formats them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from collector.config import Settings
from collector.model import FINAL_STATUSES
from collector.store import Store

if TYPE_CHECKING:
    from analysis.assess import Assessment

# Statuses after which silence is expected: no stall gap is marked after them
# (collector.model.FINAL_STATUSES, imported above).


@dataclass(frozen=True)
class Shipment:
    """One order line as imported (``shipments``), plus its current tracking state."""

    shipment_id: int
    order_id: str
    tracking_number: str
    tracking_number_raw: str | None
    marketplace: str
    store: str | None
    carrier: str | None
    courier: str | None
    number_format: str | None
    number_verdict: str | None
    number_reason: str | None
    carrier_mismatch: bool | None
    ordered_at: datetime | None
    shipped_at: datetime | None
    promised_from: datetime | None
    promised_to: datetime | None
    protection_ends_at: datetime | None
    destination_country: str | None
    destination_postcode: str | None
    destination_city: str | None
    item: str | None
    amount: Decimal | None
    currency: str | None
    archived: bool
    # tracking_state (None when the shipment was never polled)
    status: str
    sub_status: str | None
    state_source: str | None
    source_status_raw: str | None
    first_event_at: datetime | None
    last_event_at: datetime | None
    delivered_at: datetime | None
    last_poll_at: datetime | None
    consecutive_not_found: int
    ever_found: bool
    last_mile_number: str | None
    last_mile_carrier: str | None


@dataclass(frozen=True)
class Event:
    """One normalised tracking event (``events``)."""

    event_key: str
    occurred_at: datetime | None
    local_time: str | None
    utc_offset_minutes: int | None
    tz_known: bool
    status: str
    sub_status: str | None
    raw_code: str | None
    raw_status: str | None
    description: str | None
    location: str | None
    city: str | None
    state: str | None
    postcode: str | None
    country: str | None
    source: str
    provider: str | None
    first_poll_id: int
    #: An English rendering of ``description`` when the source gave one.
    description_translation: str | None = None

    @property
    def place(self) -> str:
        """The location as one line: the source's text, else city/state/postcode/country."""
        if self.location:
            return self.location
        parts = [self.city, self.state, self.postcode, self.country]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Gap:
    """A silence longer than the stall threshold between two events (or up to now)."""

    start: datetime
    end: datetime
    days: float
    #: True when the gap runs up to "now" (no event has ended it yet).
    open_ended: bool


@dataclass(frozen=True)
class Poll:
    """One request to a source that concerned this shipment (``polls`` + ``poll_results``)."""

    poll_id: int
    run_id: str
    requested_at: datetime
    source: str
    operation: str
    method: str
    url: str
    http_status: int | None
    duration_ms: float | None
    #: What the poll said about *this* shipment (``poll_results.outcome``).
    outcome: str
    code: str | None
    message: str | None
    body_sha256: str | None
    body_bytes: int | None
    content_type: str | None
    chain_hash: str


@dataclass(frozen=True)
class Flag:
    """One row of flag history (``flags``)."""

    flag_id: int
    code: str
    severity: str
    raised_at: datetime
    confirmed_at: datetime
    cleared_at: datetime | None
    threshold: str | None
    detail: str
    evidence: Mapping[str, Any]
    #: When the condition began (the last scan of a stalled parcel, the promised date
    #: of an overdue one...); ``raised_at`` is when parcelproof first saw it.
    since: datetime | None = None
    #: Whether this flag is a reason to open a non-delivery dispute
    #: (:func:`analysis.disputes.reason_to_dispute_sql`).
    reason_to_dispute: bool = False


@dataclass(frozen=True)
class Dispute:
    """Where and until when to dispute, from :mod:`analysis.disputes` (via the adapter)."""

    marketplace: str
    opens_at: datetime | None
    deadline: datetime | None
    #: none | wait | ask_seller | open_dispute | escalate | too_late
    action: str | None
    action_detail: str | None
    #: The marketplace rule applied (``aliexpress``, ``ebay``, ... ``other``).
    rule: str | None = None
    #: What the dispute is called there ("AliExpress dispute", "eBay item-not-received
    #: request", ...).
    name: str = "dispute"
    #: The real last day to act (AliExpress: the deadline plus its grace days).
    last_day: datetime | None = None
    #: False when the shipment was never polled (nothing is advised on it).
    polled: bool = True
    #: ``opens_at``, ``deadline`` and ``last_day`` as the destination's dates
    #: (``YYYY-MM-DD``), computed once with the window (``analysis.disputes``): every
    #: date a pack or the index shows of them is one of these.
    opens_date: str | None = None
    deadline_date: str | None = None
    last_day_date: str | None = None


@dataclass(frozen=True)
class OtherOrder:
    """Another order that carries the same tracking number."""

    order_id: str
    marketplace: str
    store: str | None
    ordered_at: datetime | None
    destination_country: str | None
    destination_city: str | None


@dataclass(frozen=True)
class ChainHead:
    """The last row of the poll hash chain when the pack was made."""

    poll_id: int
    chain_hash: str
    requested_at: datetime
    polls_total: int


@dataclass
class PackFacts:
    """Everything one evidence pack states, before any wording or formatting."""

    shipment: Shipment
    events: list[Event]
    gaps: list[Gap]
    polls: list[Poll]
    flags: list[Flag]
    cleared_flags: list[Flag]
    other_orders: list[OtherOrder]
    chain_head: ChainHead | None
    dispute: Dispute | None
    now: datetime
    stalled_days: float
    #: The order's dispute case (:mod:`analysis.reports.case_pack`), if it has one.
    case: Any = None
    #: The buyer bought for a customer (``[reports] dropshipper``): the statement for
    #: the reviewer says "my customer has not received it".
    dropshipper: bool = False

    @property
    def fetched_from(self) -> datetime | None:
        """When the first request this pack's evidence came from was made."""
        return min((p.requested_at for p in self.polls), default=None)

    @property
    def fetched_to(self) -> datetime | None:
        """When the last request this pack's evidence came from was made."""
        return max((p.requested_at for p in self.polls), default=None)

    @property
    def open_codes(self) -> list[str]:
        """Codes of the flags that are open now, most severe first."""
        return [f.code for f in self.flags]


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}

_SHIPMENTS_SQL = """
SELECT s.shipment_id, s.order_id, s.tracking_number, s.tracking_number_raw, s.marketplace,
       s.store, s.carrier, s.courier, s.number_format, s.number_verdict, s.number_reason,
       s.carrier_mismatch, s.ordered_at, s.shipped_at, s.promised_from, s.promised_to,
       s.protection_ends_at, s.destination_country, s.destination_postcode,
       s.destination_city, s.item, s.amount, s.currency, s.archived,
       s.status, s.sub_status, s.source AS state_source,
       s.source_status_raw, s.first_event_at, s.last_event_at, s.delivered_at,
       s.last_poll_at, coalesce(s.consecutive_not_found, 0) AS consecutive_not_found,
       coalesce(s.ever_found, false) AS ever_found, s.last_mile_number, s.last_mile_carrier
FROM shipment_current s
JOIN pack_ids w USING (shipment_id)
"""

_EVENTS_SQL = """
SELECT e.shipment_id, e.event_key, e.occurred_at, e.local_time, e.utc_offset_minutes,
       e.tz_known, e.status, e.sub_status, e.raw_code, e.raw_status, e.description,
       e.location, e.city, e.state, e.postcode, e.country, e.source, e.provider,
       e.first_poll_id, e.description_translation
FROM events e
JOIN pack_ids w USING (shipment_id)
ORDER BY e.shipment_id, e.occurred_at NULLS LAST, e.recorded_at, e.event_key
"""

_POLLS_SQL = """
SELECT r.shipment_id, p.poll_id, p.run_id, p.requested_at, p.source, p.operation, p.method,
       p.url, p.http_status, p.duration_ms, r.outcome, r.code, r.message, p.body_sha256,
       d.byte_length AS body_bytes, d.content_type, p.chain_hash
FROM poll_results r
JOIN pack_ids w USING (shipment_id)
JOIN polls p USING (poll_id)
LEFT JOIN raw_documents d ON d.sha256 = p.body_sha256
ORDER BY r.shipment_id, p.poll_id
"""

_OTHER_ORDERS_SQL = """
WITH mine AS (
    SELECT s.shipment_id, s.tracking_number FROM shipments s
    JOIN pack_ids w USING (shipment_id)
    WHERE s.tracking_number <> ''  -- orders awaiting a number share none
)
SELECT m.shipment_id, o.order_id, o.marketplace, o.store, o.ordered_at,
       o.destination_country, o.destination_city
FROM mine m
JOIN shipments o ON o.tracking_number = m.tracking_number AND o.shipment_id <> m.shipment_id
ORDER BY m.shipment_id, o.ordered_at NULLS LAST, o.order_id
"""

_CHAIN_HEAD_SQL = """
SELECT poll_id, chain_hash, requested_at, (SELECT count(*) FROM polls) AS total
FROM polls ORDER BY poll_id DESC LIMIT 1
"""


def load_facts(  # noqa: PLR0913 - keyword options beside the ids
    store: Store,
    shipment_ids: Sequence[int],
    *,
    now: datetime,
    settings: Settings,
    disputes: Mapping[int, Dispute] | None = None,
    assessment: Assessment | None = None,
) -> list[PackFacts]:
    """The facts of every requested shipment, in the order of ``shipment_ids``.

    One query per table for all shipments; ids that name no shipment are skipped.
    The flags are those of ``assessment`` (:func:`analysis.assess.assess` at ``now``;
    the history as recorded at ``now`` when not given): the open ones hold at ``now``
    and the cleared ones were cleared by then, so a pack made at an earlier ``now``
    states the flags of that instant, and ``disputes`` should come from the same
    assessment (:func:`analysis.reports.adapters.dispute_windows`).

    >>> [f.shipment.order_id for f in load_facts(store, [1], now=now, settings=s)]
    ... # doctest: +SKIP
    ['8101203344551']
    """
    ids = list(dict.fromkeys(int(i) for i in shipment_ids))
    if not ids:
        return []
    if assessment is None:
        from analysis.assess import assess_recorded

        assessment = assess_recorded(store, now, settings, ids)
    # The ids travel as an Arrow column: a Python list parameter is converted element
    # by element, which costs more than the queries themselves at 1,000 packs.
    store.conn.register("pack_ids", pa.table({"shipment_id": pa.array(ids, pa.int64())}))
    try:
        shipments = store.frame(_SHIPMENTS_SQL).to_dicts()
        events = _grouped(store.frame(_EVENTS_SQL).to_dicts())
        polls = _grouped(store.frame(_POLLS_SQL).to_dicts())
        others = _grouped(store.frame(_OTHER_ORDERS_SQL).to_dicts())
        head_rows = store.query(_CHAIN_HEAD_SQL)
    finally:
        store.conn.unregister("pack_ids")
    wanted = pl.col("shipment_id").is_in(ids)
    open_rows = _grouped(_open_flag_rows(assessment.flags.filter(wanted), now))
    cleared_rows = _grouped(assessment.cleared.filter(wanted).to_dicts())
    head = (
        ChainHead(
            poll_id=int(head_rows[0][0]),
            chain_hash=str(head_rows[0][1]),
            requested_at=_utc(head_rows[0][2]),
            polls_total=int(head_rows[0][3]),
        )
        if head_rows
        else None
    )
    by_id = {int(row["shipment_id"]): row for row in shipments}
    stalled_days = settings.rules.stalled_days
    out: list[PackFacts] = []
    for sid in ids:
        row = by_id.get(sid)
        if row is None:
            continue
        shipment = Shipment(**{k: _utc_or_same(v) for k, v in row.items()})
        shipment_events = [Event(**_without_id(e)) for e in events.get(sid, [])]
        open_flags = sorted(
            (_flag(f) for f in open_rows.get(sid, [])),
            key=lambda f: (_SEVERITY_ORDER.get(f.severity, 9), f.raised_at, f.code),
        )
        out.append(
            PackFacts(
                shipment=shipment,
                events=shipment_events,
                gaps=find_gaps(shipment_events, shipment.status, now=now, days=stalled_days),
                polls=[Poll(**_without_id(p)) for p in polls.get(sid, [])],
                flags=open_flags,
                cleared_flags=[_flag(f) for f in cleared_rows.get(sid, [])],
                other_orders=[OtherOrder(**_without_id(o)) for o in others.get(sid, [])],
                chain_head=head,
                dispute=(disputes or {}).get(sid),
                now=now,
                stalled_days=stalled_days,
                dropshipper=settings.reports.dropshipper,
            )
        )
    return out


def find_gaps(events: Sequence[Event], status: str, *, now: datetime, days: float) -> list[Gap]:
    """Silences longer than ``days`` between consecutive events, and from the last one
    up to ``now`` unless the shipment reached a final status.

    >>> from datetime import datetime, UTC
    >>> find_gaps([], "in_transit", now=datetime(2026, 1, 1, tzinfo=UTC), days=10)
    []
    """
    limit = timedelta(days=days)
    instants = sorted(e.occurred_at for e in events if e.occurred_at is not None)
    gaps = [
        Gap(start=a, end=b, days=(b - a) / timedelta(days=1), open_ended=False)
        for a, b in pairwise(instants)
        if b - a > limit
    ]
    if instants and status not in FINAL_STATUSES and now - instants[-1] > limit:
        last = instants[-1]
        gaps.append(
            Gap(start=last, end=now, days=(now - last) / timedelta(days=1), open_ended=True)
        )
    return gaps


def _grouped(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[int(row["shipment_id"])].append(row)
    return out


def _without_id(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _utc_or_same(v) for k, v in row.items() if k != "shipment_id"}


def _open_flag_rows(flags: pl.DataFrame, now: datetime) -> list[dict[str, Any]]:
    """Flag rows of the flags that hold at ``now`` (an assessment's ``flags``).

    ``raised_at`` is when parcelproof first saw the flag, ``since`` when its
    condition began; flags never recorded (a ``now`` earlier than the latest
    evaluation) get ids -1, -2, ... (the pack keys its findings on ids).
    """
    rows = []
    for unrecorded, row in enumerate(flags.iter_rows(named=True), start=1):
        flag_id = row["flag_id"]
        rows.append(
            {
                "shipment_id": row["shipment_id"],
                "flag_id": int(flag_id) if flag_id is not None else -unrecorded,
                "code": row["code"],
                "severity": row["severity"],
                "raised_at": _utc(row["first_seen"]),
                "confirmed_at": now,
                "cleared_at": None,
                "threshold": row["threshold"],
                "detail": row["detail"],
                "evidence": row["evidence"],
                "since": _utc(row["since"]),
                "reason_to_dispute": bool(row["reason_to_dispute"]),
            }
        )
    return rows


def _flag(row: dict[str, Any]) -> Flag:
    values = _without_id(row)
    raw = values.pop("evidence")
    try:
        evidence = json.loads(raw) if raw else {}
    except ValueError:
        evidence = {"raw": raw}
    if not isinstance(evidence, dict):
        evidence = {"value": evidence}
    return Flag(evidence=evidence, **values)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _utc_or_same(value: Any) -> Any:
    # polars hands TIMESTAMPTZ back with a zoneinfo UTC; normalise to datetime.UTC so
    # that equality and formatting behave the same everywhere.
    return _utc(value) if isinstance(value, datetime) else value
