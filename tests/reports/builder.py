"""Build report test data straight into the schema (shipments, polls, events, flags).

The packs only read the store, so their tests need no collector or rule engine: a
:class:`Builder` inserts plausible rows (hash-chained polls, raw documents, events
with local offsets, tracking state derived from the events, flag rows), and
:func:`scenario` builds the named situations of the sample orders.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from collector.store import Store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    """``"2026-10-24T06:05"`` (UTC) -> aware datetime."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class Builder:
    store: Store
    now: datetime = NOW
    _chain: str = "0" * 64
    _poll_id: int = 0
    _events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def shipment(self, order_id: str, tracking_number: str, **values: Any) -> int:
        row: dict[str, Any] = {
            "order_id": order_id,
            "tracking_number": tracking_number,
            "tracking_number_raw": tracking_number,
            "marketplace": "aliexpress",
            "store": "Test Store",
            "carrier": "China Post",
            "courier": "china-post",
            "number_format": "s10",
            "number_verdict": "valid",
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
            "created_at": self.now,
            "updated_at": self.now,
        }
        row.update(values)
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        got = self.store.conn.execute(
            f"INSERT INTO shipments ({cols}) VALUES ({marks}) RETURNING shipment_id",
            list(row.values()),
        ).fetchone()
        assert got is not None
        return int(got[0])

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
        self._poll_id += 1
        pid = self._poll_id
        numbers = [
            r[0]
            for r in self.store.query(
                "SELECT tracking_number FROM shipments WHERE list_contains($ids, shipment_id)",
                {"ids": list(results)},
            )
        ]
        body = body if body is not None else json.dumps({"poll": pid, "numbers": numbers}).encode()
        sha = hashlib.sha256(body).hexdigest() if body else None
        if body:
            stored = zlib.compress(body)
            self.store.conn.execute(
                "INSERT INTO raw_documents VALUES (?, 'application/json', ?, 'zlib', ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [sha, len(body), hashlib.sha256(stored).hexdigest(), stored, when],
            )
        outcome = sorted(set(results.values()))[0] if len(set(results.values())) == 1 else "ok"
        canonical = json.dumps(
            [
                pid,
                when.isoformat(),
                source,
                operation,
                "POST",
                url,
                numbers,
                http_status,
                outcome,
                sha,
            ]
        )
        self._chain = hashlib.sha256((self._chain + canonical).encode()).hexdigest()
        self.store.conn.execute(
            "INSERT INTO polls VALUES "
            "(?, 'run-1', ?, ?, ?, 'POST', ?, NULL, ?, ?, 120.0, ?, NULL, ?, ?)",
            [pid, when, source, operation, url, numbers, http_status, outcome, sha, self._chain],
        )
        for sid, result in results.items():
            number = self.store.query(
                "SELECT tracking_number FROM shipments WHERE shipment_id = ?", [sid]
            )[0][0]
            self.store.conn.execute(
                "INSERT INTO poll_results VALUES (?, ?, ?, ?, ?, ?)",
                [pid, sid, number, result, code, message],
            )
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
        key = hashlib.sha256(
            f"{sid}|{when.isoformat()}|{description}|{location}".encode()
        ).hexdigest()[:32]
        local = (
            (when + timedelta(minutes=offset)).strftime("%Y-%m-%d %H:%M")
            if offset is not None
            else when.strftime("%Y-%m-%d %H:%M")
        )
        self.store.conn.execute(
            """INSERT INTO events (shipment_id, event_key, occurred_at, local_time,
               utc_offset_minutes, tz_known, status, sub_status, raw_code, raw_status,
               description, location, city, state, postcode, country, source, provider,
               first_poll_id, recorded_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, NULL, ?, ?)""",
            [
                sid,
                key,
                when,
                local,
                offset,
                offset is not None,
                status,
                sub_status,
                raw_code,
                None,
                description,
                location,
                city,
                postcode,
                country,
                source,
                poll_id,
                when,
            ],
        )
        self._events.setdefault(sid, []).append({"at": when, "status": status, "key": key})
        return key

    def state(self, sid: int, status: str | None = None, **values: Any) -> None:
        events = sorted(self._events.get(sid, []), key=lambda e: e["at"])
        last_poll = self.store.query(
            "SELECT max(p.requested_at), max(p.poll_id) FROM poll_results r "
            "JOIN polls p USING (poll_id) WHERE r.shipment_id = ?",
            [sid],
        )[0]
        row: dict[str, Any] = {
            "shipment_id": sid,
            "status": status or (events[-1]["status"] if events else "not_found"),
            "source": "17track",
            "first_event_at": events[0]["at"] if events else None,
            "last_event_at": events[-1]["at"] if events else None,
            "last_event_key": events[-1]["key"] if events else None,
            "delivered_at": next((e["at"] for e in events if e["status"] == "delivered"), None),
            "event_count": len(events),
            "last_poll_at": last_poll[0],
            "last_poll_id": last_poll[1],
            "ever_found": bool(events),
            "updated_at": self.now,
        }
        row.update(values)
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.store.conn.execute(
            f"INSERT OR REPLACE INTO tracking_state ({cols}) VALUES ({marks})", list(row.values())
        )

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
    polls = daily_polls(b, sid, at("2026-10-13T06:00"), 6)
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
        number_reason="S10 check digit is 2, not 3",
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
        sid, "invalid_number", "S10 check digit is 2, not 3", severity="critical", poll_ids=[pid]
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
    polls = daily_polls(b, sid, at("2026-10-13T06:00"), 5)
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
    polls = daily_polls(b, sid, at("2026-10-13T06:00"), 5)
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
    polls = daily_polls(b, sid, at("2026-10-13T06:00"), 20)
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
