"""An independent stand-in for the 17TRACK Tracking API v2.2, for the tests.

Written only from the public documentation (summarised in the team's carriers
reference, section 1), without looking at ``collector.simulator`` or at our
17TRACK client, so that it does not share their assumptions. It is deliberately
less tidy than our simulator wherever the documentation allows it:

- ``POST {base}/register`` and ``{base}/gettrackinfo`` take a JSON array of at most
  40 items (more: top-level code ``-18010014``); the key comes in the ``17token``
  header (a wrong one: HTTP 401 with a non-zero code and ``data.errors``);
- every answer is ``{"code": 0, "data": {"accepted": [...], "rejected": [...]}}``,
  with ``-18019901`` (already registered), ``-18019902`` (not registered) and
  ``-18019903`` (carrier cannot be detected) per number;
- more than 3 requests within one second: HTTP 429 without ``Retry-After``;
- optional fields are absent or null, some events carry only ``time_raw``, some
  parcels have two providers (first mile and last mile), events are newest first;
- with a ``sync_delay``, a freshly registered number answers ``NotFound`` with no
  provider until that many seconds have passed ("expect NotFound immediately after
  register").

The scenarios below have known expected flags at ``NOW``; ``write_orders_csv``
writes the matching orders in the import format.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

NOW = "2026-11-28T12:00:00Z"
_NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)

CHINA_POST = 3011
USPS = 21051
CAINIAO = 190271
YUNEXPRESS = 190107

_PROVIDERS = {
    CHINA_POST: {"key": CHINA_POST, "name": "China Post", "country": "CN"},
    USPS: {"key": USPS, "name": "USPS", "country": "US"},
    CAINIAO: {"key": CAINIAO, "name": "Cainiao", "country": "CN"},
    YUNEXPRESS: {"key": YUNEXPRESS, "name": "YunExpress", "country": "CN"},
}


def s10(prefix: str, serial: int, country: str = "CN") -> str:
    """A UPU S10 number with a correct check digit."""
    digits = f"{serial:08d}"
    total = sum(int(d) * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    check = 11 - total % 11
    check = {10: 0, 11: 5}.get(check, check)
    return f"{prefix}{digits}{check}{country}"


# --- events -------------------------------------------------------------------


def ev(
    days_ago: float,
    description: str,
    *,
    offset_h: int = 8,
    location: str | None = None,
    stage: str | None = None,
    sub_status: str | None = None,
    address: dict[str, Any] | None = None,
    raw_only: bool = False,
    raw_zone: bool = True,
) -> dict[str, Any]:
    """One provider event ``days_ago`` before NOW, in a zone ``offset_h`` hours from UTC.

    ``raw_only`` gives only ``time_raw`` (no ``time_iso``/``time_utc``), as the docs
    allow; ``raw_zone=False`` then leaves its timezone unknown.
    """
    utc = _NOW - timedelta(days=days_ago)
    local = utc.astimezone(timezone(timedelta(hours=offset_h)))
    out: dict[str, Any] = {"description": description, "location": location}
    if raw_only:
        out["time_iso"] = None
        out["time_utc"] = None
        out["time_raw"] = {
            "date": local.strftime("%Y-%m-%d"),
            "time": local.strftime("%H:%M:%S"),
            "timezone": f"{offset_h:+03d}:00" if raw_zone else None,
        }
    else:
        out["time_iso"] = local.isoformat(timespec="seconds")
        out["time_utc"] = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    if stage is not None:
        out["stage"] = stage
    if sub_status is not None:
        out["sub_status"] = sub_status
    if address is not None:
        out["address"] = address
    return out


def addr(
    country: str | None,
    city: str | None = None,
    postal_code: str | None = None,
    state: str | None = None,
) -> dict[str, Any]:
    return {
        "country": country,
        "state": state,
        "city": city,
        "street": None,
        "postal_code": postal_code,
        "coordinates": {"longitude": None, "latitude": None},
    }


def provider(
    carrier: int, events: list[dict[str, Any]], *, sync: str = "Success"
) -> dict[str, Any]:
    return {
        "provider": {**_PROVIDERS[carrier], "homepage": None},
        "service_type": None,
        "latest_sync_status": sync,
        "latest_sync_time": "2026-11-28T11:50:00Z",
        "events_hash": len(events) * 7919,
        "events": events,
    }


def track_info(
    status: str,
    sub_status: str | None,
    providers: list[dict[str, Any]],
    *,
    eta: tuple[str | None, str | None] | None = None,
    milestones: bool = True,
) -> dict[str, Any]:
    """A ``track_info``: latest status, the newest event, metrics and providers."""
    events = [e for p in providers for e in p["events"]]
    timed = [e for e in events if e.get("time_utc")]
    latest = max(timed, key=lambda e: e["time_utc"]) if timed else (events[0] if events else None)
    info: dict[str, Any] = {
        "shipping_info": {"shipper_address": None, "recipient_address": None},
        "latest_status": {"status": status, "sub_status": sub_status, "sub_status_descr": None},
        "latest_event": latest,
        "tracking": {"providers_hash": len(providers), "providers": providers},
    }
    if eta is not None:
        info["time_metrics"] = {
            "days_after_order": None,
            "days_of_transit": None,
            "days_of_transit_done": None,
            "days_after_last_update": None,
            "estimated_delivery_date": {"source": "Official", "from": eta[0], "to": eta[1]},
        }
    if milestones:
        info["milestone"] = [
            {"key_stage": e["stage"], "time_iso": e.get("time_iso"), "time_utc": e.get("time_utc")}
            for e in reversed(timed)
            if e.get("stage")
        ]
    return info


# --- scenarios ----------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One parcel: its order row, what the stand-in answers, what we expect."""

    order_id: str
    number: str
    carrier: int
    order: dict[str, str]
    expected_status: str
    expected_flags: frozenset[str]
    info: Callable[[], dict[str, Any]] | None = None
    register_error: int | None = None


def _not_found(sub: str = "NotFound_Other") -> dict[str, Any]:
    return track_info("NotFound", sub, [provider(CHINA_POST, [], sync="Failure")], milestones=False)


def _delivered_to(city: str, postcode: str, state: str) -> Callable[[], dict[str, Any]]:
    def info() -> dict[str, Any]:
        first = provider(
            CHINA_POST,
            [
                ev(
                    18,
                    "Departed from the international exchange office",
                    location="Shanghai",
                    stage="Departure",
                    sub_status="InTransit_Departure",
                ),
                ev(
                    20,
                    "Posting / collection",
                    location="Shenzhen",
                    stage="PickedUp",
                    address=addr("CN", "Shenzhen", None, "Guangdong"),
                ),
                # Only the carrier's own clock, zone given.
                ev(21, "Electronic information received", raw_only=True, stage="InfoReceived"),
            ],
        )
        last = provider(
            USPS,
            [
                ev(
                    8,
                    "Delivered, In/At Mailbox",
                    offset_h=-5,
                    location=f"{city.upper()}, {state} {postcode}",
                    stage="Delivered",
                    sub_status="Delivered_Other",
                    address=addr("US", city.upper(), postcode, state),
                ),
                ev(
                    8.2,
                    "Out for Delivery",
                    offset_h=-5,
                    location=f"{city.upper()}, {state}",
                    stage="OutForDelivery",
                    address=addr("US", city, None, state),
                ),
                ev(
                    12,
                    "Arrived at USPS Regional Facility",
                    offset_h=-5,
                    location="JAMAICA NY",
                    stage="Arrival",
                    address=addr("US", None, None, None),
                ),
            ],
        )
        # Last mile listed first, as the carrier that holds the parcel now.
        return track_info(
            "Delivered",
            "Delivered_Other",
            [last, first],
            eta=("2026-11-20T00:00:00-05:00", "2026-12-05T00:00:00-05:00"),
        )

    return info


def one_carrier(
    status: str, sub: str, carrier: int, *events: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    """A ``track_info`` with a single provider."""
    return track_info(status, sub, [provider(carrier, list(events))], **kw)


def _stalled() -> dict[str, Any]:
    return one_carrier(
        "InTransit",
        "InTransit_Other",
        CAINIAO,
        ev(30, "Departed from the sorting center", location="Guangzhou", stage="Departure"),
        ev(33, "Accepted by carrier", stage="PickedUp", sub_status="InTransit_PickedUp"),
        # The carrier's clock without a zone.
        ev(35, "Order information received", raw_only=True, raw_zone=False),
        eta=(None, None),
    )


def _label_only() -> dict[str, Any]:
    return one_carrier(
        "InfoReceived",
        "InfoReceived",
        YUNEXPRESS,
        ev(13, "Shipment information received", stage="InfoReceived"),
    )


def _returned() -> dict[str, Any]:
    return one_carrier(
        "Exception",
        "Exception_Returned",
        CHINA_POST,
        ev(2, "Returned to sender", location="Shenzhen", sub_status="Exception_Returned"),
        ev(9, "Return to sender: addressee unknown", location="Frankfurt", offset_h=1),
        ev(20, "Posting / collection", location="Shenzhen", stage="PickedUp"),
    )


def _exception() -> dict[str, Any]:
    damaged = ev(
        3,
        "Item damaged, held at office of exchange",
        location="London",
        offset_h=0,
        sub_status="Exception_Damage",
        address=addr("GB", "London"),
    )
    picked_up = ev(12, "Posting / collection", location="Yiwu", stage="PickedUp")
    return one_carrier("Exception", "Exception_Damage", CHINA_POST, damaged, picked_up)


def _in_transit() -> dict[str, Any]:
    return one_carrier(
        "InTransit",
        "InTransit_Arrival",
        CHINA_POST,
        ev(2, "Arrived at sorting center", location="Beijing", stage="Arrival"),
        eta=(None, "2026-12-20T00:00:00+00:00"),
    )


def _order(
    ordered: str, shipped: str, promised_to: str = "2026-12-31", **extra: str
) -> dict[str, str]:
    row = {
        "ordered_at": ordered,
        "shipped_at": shipped,
        "promised_to": promised_to,
        "protection_ends_at": "2027-02-15",
        "destination_country": "US",
        "destination_postcode": "10001",
        "destination_city": "New York",
    }
    row.update(extra)
    return row


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "SI-delivered",
        s10("LB", 10000001),
        CHINA_POST,
        _order("2026-10-30", "2026-11-06T09:00:00+08:00"),
        "delivered",
        frozenset(),
        info=_delivered_to("New York", "10001-2345", "NY"),
    ),
    Scenario(
        "SI-elsewhere",
        s10("LB", 10000002),
        CHINA_POST,
        _order("2026-10-30", "2026-11-06T09:00:00+08:00"),
        "delivered",
        frozenset({"delivered_elsewhere"}),
        info=_delivered_to("Los Angeles", "90001", "CA"),
    ),
    Scenario(
        "SI-stalled",
        s10("LP", 10000003),
        CAINIAO,
        _order("2026-10-20", "2026-10-23"),
        "in_transit",
        frozenset({"stalled"}),
        info=_stalled,
    ),
    Scenario(
        "SI-label",
        "YT2411000000000001",
        YUNEXPRESS,
        _order("2026-11-10", "2026-11-15"),
        "info_received",
        frozenset({"label_only"}),
        info=_label_only,
    ),
    Scenario(
        "SI-never",
        s10("LB", 10000005),
        CHINA_POST,
        _order("2026-11-15", "2026-11-18"),
        "not_found",
        frozenset({"not_found"}),
        info=_not_found,
    ),
    Scenario(
        "SI-invalid",
        "YT2411000000000002",
        YUNEXPRESS,
        _order("2026-11-22", "2026-11-24"),
        "not_found",
        frozenset({"invalid_number"}),
        info=lambda: _not_found("NotFound_InvalidCode"),
    ),
    Scenario(
        "SI-undetected",
        "QX7Z0000000001",
        0,
        _order("2026-11-22", "2026-11-24"),
        "not_found",
        frozenset({"invalid_number"}),
        register_error=-18019903,
    ),
    Scenario(
        "SI-returned",
        s10("RR", 10000008),
        CHINA_POST,
        _order(
            "2026-10-25",
            "2026-11-06",
            destination_country="DE",
            destination_postcode="60311",
            destination_city="Frankfurt am Main",
        ),
        "returned",
        frozenset({"returned"}),
        info=_returned,
    ),
    Scenario(
        "SI-exception",
        s10("RR", 10000009, "GB"),
        CHINA_POST,
        _order(
            "2026-11-10",
            "2026-11-14",
            destination_country="GB",
            destination_postcode="SW1A 1AA",
            destination_city="London",
        ),
        "exception",
        frozenset({"exception"}),
        info=_exception,
    ),
)


def fillers(count: int) -> tuple[Scenario, ...]:
    """Plain parcels in transit with no flag, to make several batches of 40."""
    return tuple(
        Scenario(
            f"SI-fill-{i:03d}",
            s10("LX", 20000000 + i),
            CHINA_POST,
            _order("2026-11-20", "2026-11-22"),
            "in_transit",
            frozenset(),
            info=_in_transit,
        )
        for i in range(count)
    )


ORDER_COLUMNS = (
    "order_id",
    "tracking_number",
    "ordered_at",
    "shipped_at",
    "promised_to",
    "protection_ends_at",
    "destination_country",
    "destination_postcode",
    "destination_city",
)


def write_orders_csv(path: Path, scenarios: Iterable[Scenario]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=ORDER_COLUMNS)
        writer.writeheader()
        for s in scenarios:
            writer.writerow({"order_id": s.order_id, "tracking_number": s.number, **s.order})
    return path


# --- the server ----------------------------------------------------------------


@dataclass
class Hit:
    path: str
    items: int
    status: int
    at: float


@dataclass
class StandIn17:
    """The stand-in; use as a context manager, then point ``base_url`` at it."""

    key: str
    scenarios: tuple[Scenario, ...] = SCENARIOS
    sync_delay: float = 0.0
    rate_per_second: int = 3
    hits: list[Hit] = field(default_factory=list)
    registered: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _served: list[float] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    PREFIX = "/track/v2.2"

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.PREFIX}"

    def __enter__(self) -> StandIn17:
        by_number = {s.number: s for s in self.scenarios}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._send(404, {"code": 404, "data": {"errors": []}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, body, items = outer._answer(
                    self.path, self.headers.get("17token"), raw, by_number
                )
                with outer._lock:
                    outer.hits.append(Hit(self.path, items, status, time.monotonic()))
                self._send(status, body)

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def count(self, endpoint: str, status: int | None = None) -> int:
        return sum(
            1
            for h in self.hits
            if h.path.endswith(endpoint) and (status is None or h.status == status)
        )

    # -- protocol --

    def _answer(
        self, path: str, token: str | None, raw: bytes, by_number: dict[str, Scenario]
    ) -> tuple[int, dict[str, Any], int]:
        endpoint = path.removeprefix(self.PREFIX)
        if endpoint not in ("/register", "/gettrackinfo"):
            return 404, _failure(-18010013, "Not found"), 0
        if token != self.key:
            return 401, _failure(-18010002, "Invalid access key."), 0
        with self._lock:
            now = time.monotonic()
            self._served = [t for t in self._served if now - t < 1.0]
            if len(self._served) >= self.rate_per_second:
                return 429, _failure(-18010003, "Too many requests."), 0
            self._served.append(now)
        try:
            items = json.loads(raw)
        except ValueError:
            return 200, _failure(-18010012, "The data format is invalid."), 0
        if not isinstance(items, list):
            return 200, _failure(-18010012, "The data format is invalid."), 0
        if len(items) > 40:
            return 200, _failure(-18010014, "More than 40 numbers submitted."), len(items)
        accepted: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for item in items:
            number = item.get("number") if isinstance(item, dict) else None
            if not number:
                rejected.append(_reject(number, -18010010, "The number is missing."))
                continue
            scenario = by_number.get(number)
            if endpoint == "/register":
                self._register(number, scenario, accepted, rejected)
            else:
                self._track(number, scenario, accepted, rejected)
        return 200, {"code": 0, "data": {"accepted": accepted, "rejected": rejected}}, len(items)

    def _register(
        self,
        number: str,
        scenario: Scenario | None,
        accepted: list[dict[str, Any]],
        rejected: list[dict[str, Any]],
    ) -> None:
        if scenario is None or scenario.register_error is not None:
            code = scenario.register_error if scenario else -18019903
            rejected.append(_reject(number, code or -18019903, "The carrier cannot be detected."))
        elif number in self.registered:
            rejected.append(
                _reject(
                    number,
                    -18019901,
                    f"The tracking number '{number}' "
                    "has been registered, don't need to repeat registration.",
                )
            )
        else:
            with self._lock:
                self.registered[number] = time.monotonic()
            accepted.append({"origin": 1, "number": number, "carrier": scenario.carrier})

    def _track(
        self,
        number: str,
        scenario: Scenario | None,
        accepted: list[dict[str, Any]],
        rejected: list[dict[str, Any]],
    ) -> None:
        at = self.registered.get(number)
        if at is None or scenario is None or scenario.info is None:
            rejected.append(
                _reject(
                    number,
                    -18019902,
                    f"The tracking number '{number}' does not register, please register first.",
                )
            )
            return
        if time.monotonic() - at < self.sync_delay:
            info: dict[str, Any] = {
                "latest_status": {"status": "NotFound", "sub_status": "NotFound_Other"},
                "latest_event": None,
                "tracking": {"providers_hash": 0, "providers": []},
            }
        else:
            info = scenario.info()
        accepted.append(
            {
                "number": number,
                "carrier": scenario.carrier,
                "param": None,
                "tag": "",
                "track_info": info,
            }
        )


def _failure(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "data": {"errors": [{"code": code, "message": message}]}}


def _reject(number: str | None, code: int, message: str) -> dict[str, Any]:
    return {"number": number, "error": {"code": code, "message": message}}
