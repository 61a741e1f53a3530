"""Report test data written through the production path (:mod:`tests.factory`).

The packs only read the store; a :class:`Builder` states plausible histories briefly
(requests to sources, the events their answers carried, flag rows) and writes them
as the collector does: shipments through the importer, each request as a source's
answer through the evidence writer (hash-chained polls, raw documents, events,
``tracking_state`` derived by the collector). :func:`scenario` functions build the
named situations of the sample orders.

A request is written once every shipment it concerns is complete (:meth:`Builder.state`),
so that events stated after their request still arrive in that request's answer;
each answer carries every event its shipment had been told so far, as sources do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from collector.sources.base import Event, Result
from collector.store import Store
from tests.factory import DERIVED_COLUMNS, Factory, event

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    """``"2026-10-24T06:05"`` (UTC) -> aware datetime."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class _Call:
    """A request stated but not written yet."""

    poll_id: int
    when: datetime
    results: dict[int, str]
    options: dict[str, Any]
    events: dict[int, list[Event]] = field(default_factory=dict)


@dataclass
class Builder:
    store: Store
    now: datetime = NOW
    _pending: list[_Call] = field(default_factory=list)
    _told: dict[int, list[Event]] = field(default_factory=dict)
    _done: set[int] = field(default_factory=set)
    _factory: Factory | None = None

    @property
    def factory(self) -> Factory:
        if self._factory is None:
            self._factory = Factory(self.store, run_id="run-1")
        return self._factory

    def shipment(self, order_id: str, tracking_number: str, **values: Any) -> int:
        row: dict[str, Any] = {
            "marketplace": "aliexpress",
            "store": "Test Store",
            "carrier": "China Post",
            "ordered_at": at("2026-10-10T12:41"),
            "shipped_at": at("2026-10-12T00:00"),
            "promised_from": at("2026-10-27T23:00"),
            "promised_to": at("2026-11-15T22:59:59"),
            "protection_ends_at": at("2026-12-14T22:59:59"),
            "destination_country": "ES",
            "destination_postcode": "28013",
            "destination_city": "Madrid",
            "item": "LED desk lamp",
            "amount": Decimal("18.45"),
            "currency": "EUR",
        }
        row.update(values)
        # Derived by the importer from the number and the declared carrier.
        for column in DERIVED_COLUMNS:
            row.pop(column, None)
        return self.factory.shipment(order_id, tracking_number, imported_at=self.now, **row)

    def poll(
        self,
        when: datetime,
        results: dict[int, str],
        *,
        source: str = "17track",
        operation: str = "gettrackinfo",
        http_status: int | None = 200,
        body: bytes | None = None,
        code: str | None = None,
        message: str | None = None,
        url: str = "https://api.17track.net/track/v2.2/gettrackinfo",
    ) -> int:
        """One request about ``results`` ({shipment_id: outcome}); returns its poll_id."""
        head = self.store.conn.execute("SELECT coalesce(max(poll_id), 0) FROM polls").fetchone()
        pid = int(head[0] if head else 0) + len(self._pending) + 1
        options = {
            "source": source,
            "operation": operation,
            "http_status": http_status,
            "body": body,
            "code": code,
            "message": message,
            "url": url,
        }
        self._pending.append(_Call(pid, when, dict(results), options))
        return pid

    def event(
        self,
        sid: int,
        when: datetime,
        status: str,
        description: str,
        *,
        location: str | None = None,
        offset: int | None = 480,
        poll_id: int = 1,
        source: str = "17track",
        raw_code: str | None = None,
        sub_status: str | None = None,
        country: str | None = None,
        city: str | None = None,
        postcode: str | None = None,
    ) -> str:
        """An event the answer of request ``poll_id`` carried; its event key.

        No answer tells of an event before it happened: when request ``poll_id`` was
        sent earlier (or is not about this shipment), the event comes with the first
        later request about it, else with a new one an hour after the event.
        """
        record = event(
            when,
            status,
            description,
            offset=offset if offset is not None else 0,
            tz_known=offset is not None,
            local_time=(when + timedelta(minutes=offset or 0)).strftime("%Y-%m-%d %H:%M"),
            sub_status=sub_status,
            raw_code=raw_code,
            raw_status=None,
            location=location,
            city=city,
            postcode=postcode,
            country=country,
        )
        about = [c for c in self._pending if sid in c.results and c.when >= when]
        call = next((c for c in about if c.poll_id == poll_id), about[0] if about else None)
        if call is None:
            self.poll(when + timedelta(hours=1), {sid: "ok"}, source=source)
            call = self._pending[-1]
        call.events.setdefault(sid, []).append(record)
        return record.key

    def state(self, sid: int, status: str | None = None, **values: Any) -> None:
        """The shipment is complete: write the requests whose shipments all are, then
        check that the collector derived ``status`` and ``values`` (what production
        writes for this history)."""
        self._done.add(sid)
        while self._pending and set(self._pending[0].results) <= self._done:
            self._write(self._pending.pop(0))
        if status == "expired":
            self._expire(sid)
        written = self.factory.state_of(sid)
        expected = {"status": status, **values} if status else values
        for column, value in expected.items():
            assert written.get(column) == value, (sid, column, written.get(column), value)

    def _write(self, call: _Call) -> None:
        options = dict(call.options)
        code, message = options.pop("code"), options.pop("message")
        results: list[Result] = []
        ids: dict[str, list[int]] = {}
        for sid, outcome in call.results.items():
            number = self.factory.number_of(sid)
            told = self._told.setdefault(sid, [])
            told += call.events.get(sid, [])
            ids.setdefault(number, []).append(sid)
            if any(r.number == number for r in results):
                continue
            events = told if outcome == "ok" else []
            results.append(self.factory.result(number, outcome, events, code=code, message=message))
        pid = self.factory.answer(call.when, results, ids=ids, message=message, **options)
        assert pid == call.poll_id, (pid, call.poll_id)

    def _expire(self, sid: int) -> None:
        """The source says it stopped tracking (17TRACK ``Expired``) in a last answer."""
        last = self.store.conn.execute(
            "SELECT max(p.requested_at) FROM poll_results r JOIN polls p USING (poll_id) "
            "WHERE r.shipment_id = ?",
            [sid],
        ).fetchone()
        when = (last[0] if last and last[0] else self.now) + timedelta(minutes=1)
        number = self.factory.number_of(sid)
        told = self._told.get(sid, [])
        expired = self.factory.result(number, "ok", told, status="expired")
        self.factory.answer(when, [expired], ids={number: [sid]})

    def flag(
        self,
        sid: int,
        code: str,
        detail: str,
        *,
        severity: str = "warning",
        raised_at: datetime | None = None,
        threshold: str | None = None,
        event_keys: list[str] | None = None,
        poll_ids: list[int] | None = None,
        cleared_at: datetime | None = None,
    ) -> None:
        self.store.conn.execute(
            """INSERT INTO flags (shipment_id, code, severity, raised_at, confirmed_at,
               cleared_at, threshold, detail, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                sid,
                code,
                severity,
                raised_at or self.now - timedelta(days=2),
                self.now,
                cleared_at,
                threshold,
                detail,
                json.dumps({"event_keys": event_keys or [], "poll_ids": poll_ids or []}),
            ],
        )


# -- scenarios --------------------------------------------------------------------------


def daily_polls(
    b: Builder, sid: int, start: datetime, count: int, outcome: str = "ok"
) -> list[int]:
    return [b.poll(start + timedelta(days=2 * i), {sid: outcome}) for i in range(count)]


def stalled(b: Builder, **overrides: Any) -> int:
    sid = b.shipment(
        "8101203344552",
        "LP00123456789012",
        carrier="Cainiao",
        courier="cainiao",
        store="Yiwu Home Official",
        **overrides,
    )
    polls = daily_polls(b, sid, at("2026-10-15T06:00"), 6)
    b.event(
        sid,
        at("2026-10-12T02:10"),
        "info_received",
        "Seller shipped; awaiting pickup",
        location="Yiwu",
        raw_code="GTMS_ASN",
        poll_id=polls[0],
    )
    b.event(
        sid,
        at("2026-10-14T09:00"),
        "in_transit",
        "Received by sorting center",
        location="Guangzhou",
        raw_code="SC_INBOUND_SUCCESS",
        poll_id=polls[1],
    )
    last = b.event(
        sid,
        at("2026-10-24T06:05"),
        "in_transit",
        "Departed sorting center",
        location="Guangzhou",
        raw_code="SC_OUTBOUND_SUCCESS",
        poll_id=polls[3],
    )
    b.state(sid)
    b.flag(
        sid,
        "stalled",
        "no tracking event for 35 days (last: Departed sorting center)",
        severity="critical",
        threshold="stalled_days=10",
        event_keys=[last],
        raised_at=at("2026-11-03T12:00"),
    )
    b.flag(
        sid,
        "overdue",
        "promised_to 2026-11-15 passed 13 days ago",
        severity="warning",
        threshold="overdue_grace_days=0",
        raised_at=at("2026-11-16T00:00"),
    )
    return sid


def label_only(b: Builder) -> int:
    sid = b.shipment(
        "8101203344553",
        "YT2412345678901234",
        carrier="YunExpress",
        courier="yunexpress",
        ordered_at=at("2026-11-06T03:02"),
        shipped_at=at("2026-11-07T23:00"),
        promised_from=at("2026-11-21T23:00"),
        promised_to=at("2026-12-04T22:59:59"),
        protection_ends_at=at("2027-01-06T22:59:59"),
        destination_country="DE",
        destination_city="Berlin",
        destination_postcode="10115",
        item="Bluetooth earbuds",
        amount=Decimal("29.99"),
    )
    polls = daily_polls(b, sid, at("2026-11-09T06:00"), 4)
    key = b.event(
        sid,
        at("2026-11-08T02:00"),
        "info_received",
        "Shipment information received",
        location="Shenzhen",
        poll_id=polls[0],
    )
    b.state(sid)
    b.flag(
        sid,
        "label_only",
        "only info_received 20 days after shipped_at",
        severity="critical",
        threshold="label_only_days=7",
        event_keys=[key],
        raised_at=at("2026-11-15T00:00"),
    )
    return sid


def not_found(b: Builder) -> int:
    sid = b.shipment(
        "8101203344554",
        "LY839205143CN",
        ordered_at=at("2026-11-07T23:30"),
        shipped_at=at("2026-11-09T23:00"),
        promised_to=at("2026-12-12T22:59:59"),
        protection_ends_at=at("2027-01-08T22:59:59"),
        destination_country="FR",
        destination_city="Paris",
        destination_postcode="75011",
        item="Arduino sensor kit",
        amount=Decimal("15.20"),
    )
    polls = [
        b.poll(
            at("2026-11-11T06:00") + timedelta(days=2 * i),
            {sid: "not_found"},
            code="-18019902",
            message="not found",
        )
        for i in range(5)
    ]
    polls.append(
        b.poll(
            at("2026-11-20T06:00"),
            {sid: "not_found"},
            source="cainiao",
            url="https://global.cainiao.com/global/detail.json?mailNos=LY839205143CN",
        )
    )
    b.state(sid, "not_found", consecutive_not_found=6)
    b.flag(
        sid,
        "not_found",
        "not found at 17track, cainiao; shipped 18 days ago",
        severity="critical",
        threshold="not_found_days=7",
        poll_ids=polls,
    )
    return sid


def invalid(b: Builder) -> int:
    sid = b.shipment(
        "8101203344555",
        "RR507128933CN",
        number_verdict="invalid",
        number_reason="check digit 3 does not match computed 2 (S10)",
        destination_country="FR",
        destination_city="Lyon",
        destination_postcode="69003",
    )
    pid = b.poll(
        at("2026-11-01T06:00"),
        {sid: "invalid"},
        code="NotFound_InvalidCode",
        message="invalid number",
    )
    b.state(sid, "not_found")
    b.flag(
        sid,
        "invalid_number",
        "check digit 3 does not match computed 2 (S10)",
        severity="critical",
        poll_ids=[pid],
    )
    return sid


def returned(b: Builder) -> int:
    sid = b.shipment(
        "8101203344556",
        "UH204817360CN",
        destination_country="GB",
        destination_city="London",
        destination_postcode="E1 6AN",
    )
    polls = daily_polls(b, sid, at("2026-10-29T06:00"), 5)
    b.event(
        sid, at("2026-10-13T03:00"), "in_transit", "Posting", location="Shanghai", poll_id=polls[0]
    )
    b.event(
        sid,
        at("2026-10-30T10:00"),
        "in_transit",
        "Arrived in destination country",
        location="London",
        offset=0,
        poll_id=polls[2],
    )
    key = b.event(
        sid,
        at("2026-11-05T10:00"),
        "returned",
        "Returned to sender: unclaimed",
        location="Shanghai",
        poll_id=polls[4],
        sub_status="unclaimed",
    )
    b.state(sid)
    b.flag(
        sid, "returned", "returned to sender on 2026-11-05", severity="critical", event_keys=[key]
    )
    return sid


def delivered_elsewhere(b: Builder) -> int:
    sid = b.shipment(
        "8101203344557",
        "9400111206206406260787",
        carrier="USPS",
        courier="usps",
        number_format="usps-22",
        destination_country="US",
        destination_city="San Francisco",
        destination_postcode="94107",
        item="Phone case",
        amount=Decimal("9.99"),
        currency="USD",
        promised_to=at("2026-11-20T07:59:59"),
        protection_ends_at=at("2026-12-20T07:59:59"),
    )
    polls = daily_polls(b, sid, at("2026-10-17T06:00"), 5)
    b.event(
        sid,
        at("2026-10-20T15:00"),
        "in_transit",
        "Arrived at USPS Regional Facility",
        location="Los Angeles, CA 90052",
        offset=-420,
        poll_id=polls[1],
    )
    key = b.event(
        sid,
        at("2026-10-24T20:12"),
        "delivered",
        "Delivered, In/At Mailbox",
        location="AUSTIN, TX 73301",
        offset=-300,
        city="AUSTIN",
        postcode="73301",
        country="US",
        poll_id=polls[3],
    )
    b.state(sid)
    b.flag(
        sid,
        "delivered_elsewhere",
        "delivered in AUSTIN 73301, destination San Francisco 94107",
        severity="critical",
        event_keys=[key],
    )
    return sid


def expiring(b: Builder) -> int:
    sid = b.shipment(
        "8101203344558",
        "RB640192835SG",
        carrier="Singapore Post",
        courier="singpost",
        destination_country="AU",
        destination_city="Sydney",
        destination_postcode="2000",
        promised_from=at("2026-10-25T13:00"),
        promised_to=at("2026-11-12T12:59:59"),
        protection_ends_at=at("2026-12-01T12:59:59"),
        amount=Decimal("42.00"),
        currency="AUD",
        item="Mechanical keyboard",
    )
    polls = daily_polls(b, sid, at("2026-10-19T06:00"), 20)
    for i, day in enumerate((13, 16, 22, 30)):
        b.event(
            sid,
            at(f"2026-10-{day}T08:00") if day < 32 else at("2026-11-01T08:00"),
            "in_transit",
            f"In transit step {i}",
            location="Singapore",
            poll_id=polls[i],
        )
    b.event(
        sid,
        at("2026-11-25T01:00"),
        "in_transit",
        "Arrived at facility",
        location="Sydney NSW",
        offset=660,
        poll_id=polls[-1],
    )
    b.state(sid)
    b.flag(
        sid,
        "overdue",
        "promised_to 2026-11-12 passed 16 days ago",
        severity="warning",
        threshold="overdue_grace_days=0",
    )
    b.flag(
        sid,
        "protection_expiring",
        "protection ends 2026-12-01, in 3 days",
        severity="critical",
        threshold="protection_warning_days=7",
    )
    return sid


def scan_before_order(b: Builder) -> int:
    sid = b.shipment(
        "8101203344560",
        "1Z4F8W310368260410",
        carrier="UPS",
        courier="ups",
        ordered_at=at("2026-10-25T15:00"),
        shipped_at=at("2026-10-27T05:00"),
        destination_country="US",
        destination_city="Chicago",
        destination_postcode="60601",
        currency="USD",
    )
    polls = daily_polls(b, sid, at("2026-10-28T06:00"), 3)
    first = b.event(
        sid,
        at("2026-09-02T14:00"),
        "info_received",
        "Shipper created a label",
        location="Dallas, TX, US",
        offset=-300,
        poll_id=polls[0],
    )
    b.event(
        sid,
        at("2026-09-05T18:30"),
        "delivered",
        "Delivered, front door",
        location="Plano, TX, US",
        offset=-300,
        poll_id=polls[0],
        city="Plano",
        country="US",
        postcode="75023",
    )
    b.state(sid)
    b.flag(
        sid,
        "scan_before_order",
        "first event 2026-09-02 precedes ordered_at 2026-10-25",
        severity="critical",
        event_keys=[first],
    )
    return sid


def reused(b: Builder) -> tuple[int, int]:
    one = b.shipment(
        "8101203344562", "CE119832745CN", destination_country="IT", destination_city="Rome"
    )
    two = b.shipment(
        "8101203344563",
        "CE119832745CN",
        destination_country="IT",
        destination_city="Milan",
        store="Other Store",
    )
    pid = b.poll(at("2026-10-20T06:00"), {one: "ok", two: "ok"})
    for sid in (one, two):
        b.event(
            sid, at("2026-10-19T06:00"), "in_transit", "Departed", location="Beijing", poll_id=pid
        )
        b.state(sid)
        b.flag(sid, "number_reused", "tracking number also on another order", severity="critical")
    return one, two


def mismatch(b: Builder) -> int:
    sid = b.shipment(
        "8101203344564", "UG390176528CN", carrier="UPS", courier="china-post", carrier_mismatch=True
    )
    pid = b.poll(at("2026-11-20T06:00"), {sid: "ok"})
    b.event(sid, at("2026-11-19T06:00"), "in_transit", "Departed", location="Beijing", poll_id=pid)
    b.state(sid)
    b.flag(sid, "carrier_mismatch", "UPS does not issue S10 numbers (UG...CN)", severity="warning")
    return sid


def exception(b: Builder) -> int:
    sid = b.shipment(
        "8101203344565",
        "772986123539",
        carrier="FedEx",
        courier="fedex",
        destination_country="CA",
        destination_city="Toronto",
        destination_postcode="M5V 2T6",
        currency="CAD",
    )
    pid = b.poll(at("2026-11-20T06:00"), {sid: "ok"})
    b.event(
        sid,
        at("2026-11-10T06:00"),
        "in_transit",
        "Departed FedEx hub",
        location="Memphis, TN",
        offset=-360,
        poll_id=pid,
    )
    key = b.event(
        sid,
        at("2026-11-18T16:00"),
        "exception",
        "Held by customs: import documents missing",
        location="Mississauga, ON",
        offset=-300,
        poll_id=pid,
        sub_status="customs",
    )
    b.state(sid, sub_status="customs")
    b.flag(
        sid,
        "exception",
        "current status exception (customs)",
        severity="critical",
        event_keys=[key],
    )
    return sid


def expired(b: Builder) -> int:
    sid = b.shipment(
        "8101203344571",
        "LP00987654321098",
        carrier="Cainiao",
        courier="cainiao",
        destination_country="SE",
        destination_city="Stockholm",
    )
    pid = b.poll(at("2026-11-20T06:00"), {sid: "ok"})
    b.event(
        sid,
        at("2026-10-14T06:00"),
        "in_transit",
        "Departed from origin",
        location="Shenzhen",
        poll_id=pid,
    )
    b.state(sid, "expired")
    b.flag(sid, "expired", "source stopped tracking without delivery", severity="critical")
    return sid


def delivered_ok(b: Builder) -> int:
    sid = b.shipment(
        "8101203344551",
        "UB123456785CN",
        destination_country="US",
        destination_city="New York",
        destination_postcode="10001",
        currency="USD",
    )
    pid = b.poll(at("2026-10-31T06:00"), {sid: "ok"})
    b.event(sid, at("2026-10-13T06:00"), "in_transit", "Posting", location="Shenzhen", poll_id=pid)
    b.event(
        sid,
        at("2026-10-30T15:00"),
        "delivered",
        "Delivered",
        location="NEW YORK, NY 10001",
        offset=-240,
        poll_id=pid,
    )
    b.state(sid)
    return sid


SCENARIOS = {
    "stalled": stalled,
    "label_only": label_only,
    "not_found": not_found,
    "invalid_number": invalid,
    "returned": returned,
    "delivered_elsewhere": delivered_elsewhere,
    "protection_expiring": expiring,
    "scan_before_order": scan_before_order,
    "carrier_mismatch": mismatch,
    "exception": exception,
    "expired": expired,
    "delivered_ok": delivered_ok,
}


def build_all(store: Store) -> tuple[Builder, dict[str, int]]:
    """Every scenario in one store; returns the builder and {scenario: shipment_id}."""
    b = Builder(store)
    ids = {name: make(b) for name, make in SCENARIOS.items()}
    one, two = reused(b)
    ids["number_reused"] = one
    ids["number_reused_other"] = two
    return b, ids
