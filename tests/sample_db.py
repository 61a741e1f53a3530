# ruff: noqa: E501 - one event per line reads better than the wrapped form
"""A database of the sample orders with a tracking history, through the production path.

The frames tests need exact, known histories (one scenario per sample order, as
in the team brief), independent of the simulator and poller: the sample orders go
through the importer and each history in as 17TRACK's answer through the evidence
writer (:mod:`tests.factory`), so ``tracking_state`` is what the collector derives.
"Now" for these histories is 2026-11-28T12:00:00Z.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collector.importer import import_file
from collector.sources.base import Event
from collector.store import Store
from tests.conftest import SAMPLE_ORDERS
from tests.factory import Factory, event, wall_at

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)

# fmt: off
# tracking number -> events as (local ISO time, status, description, country, city,
# postcode, raw_code). A None country tests the wording/status rules of arrival.
HISTORIES: dict[str, list[tuple[str, str, str, str | None, str | None, str | None, str | None]]] = {
    "UB123456785CN": [  # delivered on time
        ("2026-10-04T09:00:00+08:00", "info_received", "Electronic information received", "CN", None, None, None),
        ("2026-10-05T10:00:00+08:00", "in_transit", "Accepted by carrier", "CN", "Shenzhen", None, None),
        ("2026-10-08T02:00:00+08:00", "in_transit", "Departed from origin country", "CN", "Shenzhen", None, None),
        ("2026-10-12T08:00:00-04:00", "in_transit", "Arrived at destination country", None, None, None, None),
        ("2026-10-15T11:00:00-04:00", "in_transit", "Import customs clearance complete", "US", "New York", None, None),
        ("2026-10-30T09:00:00-04:00", "out_for_delivery", "Out for delivery", "US", "New York", "10001", None),
        ("2026-10-30T14:20:00-04:00", "delivered", "Delivered, in mailbox", "US", "New York", "10001", None),
    ],
    "LP00123456789012": [  # stalled since 2026-10-24
        ("2026-10-12T10:00:00+08:00", "info_received", "Order information received", "CN", None, None, "GTMS_ASN"),
        ("2026-10-14T15:00:00+08:00", "in_transit", "Accepted by carrier", "CN", "Guangzhou", None, "PU_PICKUP_SUCCESS"),
        ("2026-10-24T06:00:00+08:00", "in_transit", "Departed sorting center", "CN", "Guangzhou", None, "SC_OUTBOUND_SUCCESS"),
    ],
    "YT2412345678901234": [  # label only
        ("2026-11-08T12:00:00+08:00", "info_received", "Shipment information received", "CN", None, None, None),
    ],
    "UH204817360CN": [  # returned to sender
        ("2026-09-17T10:00:00+08:00", "info_received", "Electronic information received", "CN", None, None, None),
        ("2026-09-18T10:00:00+08:00", "in_transit", "Accepted by carrier", "CN", "Shanghai", None, None),
        ("2026-09-22T10:00:00+08:00", "in_transit", "Departed from origin country", "CN", "Shanghai", None, None),
        ("2026-10-01T09:00:00+01:00", "in_transit", "Arrived in the UK", "GB", "London", None, None),
        ("2026-10-20T09:00:00+01:00", "returning", "Returning to sender: refused", "GB", "London", None, None),
        ("2026-11-15T10:00:00+08:00", "returned", "Returned to sender", "CN", "Shanghai", None, None),
    ],
    "9400111206206406260787": [  # delivered elsewhere (Austin, not San Francisco)
        ("2026-10-08T10:00:00+08:00", "in_transit", "Departed Shenzhen", "CN", "Shenzhen", None, None),
        ("2026-10-16T08:00:00-07:00", "in_transit", "Arrived at USPS regional facility", "US", "Los Angeles", None, None),
        ("2026-10-21T08:00:00-05:00", "out_for_delivery", "Out for delivery", "US", "Austin", "73301", None),
        ("2026-10-21T15:00:00-05:00", "delivered", "Delivered, front door", "US", "Austin", "73301", None),
    ],
    "RB640192835SG": [  # in transit, overdue
        ("2026-10-03T10:00:00+08:00", "info_received", "Information received", "SG", None, None, None),
        ("2026-10-04T10:00:00+08:00", "in_transit", "Accepted at post office", "SG", "Singapore", None, None),
        ("2026-10-08T10:00:00+08:00", "in_transit", "Despatched to overseas", "SG", "Singapore", None, None),
        ("2026-11-22T10:00:00+11:00", "in_transit", "In transit to delivery facility", "AU", "Sydney", None, None),
    ],
    "4PX3001234567890CN": [  # in transit, overdue, protection expiring
        ("2026-09-22T10:00:00+08:00", "info_received", "Order created", "CN", None, None, None),
        ("2026-09-23T10:00:00+08:00", "in_transit", "Picked up", "CN", "Shenzhen", None, None),
        ("2026-10-02T10:00:00+08:00", "in_transit", "Departed from origin country", "CN", "Shenzhen", None, None),
        ("2026-11-10T10:00:00-03:00", "in_transit", "Import customs inspection", "BR", "Sao Paulo", None, None),
        ("2026-11-24T10:00:00-03:00", "in_transit", "Customs cleared", "BR", "Sao Paulo", None, None),
    ],
    "1Z4F8W310368260410": [  # recycled: scans before the order, delivered elsewhere
        ("2026-09-02T10:00:00-04:00", "in_transit", "Origin scan", "US", "Louisville", None, None),
        ("2026-09-05T13:00:00-05:00", "delivered", "Delivered", "US", "Dallas", "75201", None),
    ],
    "LE703159285NL": [  # normal, in transit
        ("2026-11-14T10:00:00+08:00", "info_received", "Pre-alert received", "CN", None, None, None),
        ("2026-11-15T10:00:00+08:00", "in_transit", "Accepted by carrier", "CN", "Shenzhen", None, None),
        ("2026-11-20T10:00:00+08:00", "in_transit", "Departed from origin country", "CN", "Shenzhen", None, None),
        ("2026-11-26T10:00:00+01:00", "in_transit", "Arrived at sorting center", "NL", "Amsterdam", None, None),
    ],
    "CE119832745CN": [  # one number, two orders (IT and PT): delivered in Milano
        ("2026-10-17T10:00:00+08:00", "info_received", "Electronic information received", "CN", None, None, None),
        ("2026-10-18T10:00:00+08:00", "in_transit", "Accepted by carrier", "CN", "Yiwu", None, None),
        ("2026-10-25T10:00:00+08:00", "in_transit", "Departed from origin country", "CN", "Yiwu", None, None),
        ("2026-11-06T10:00:00+01:00", "in_transit", "Arrived at destination country", "IT", "Milano", None, None),
        ("2026-11-10T10:00:00+01:00", "delivered", "Delivered", "IT", "Milano", "20121", None),
    ],
    "UG390176528CN": [  # declared UPS; in transit
        ("2026-11-04T10:00:00+08:00", "info_received", "Electronic information received", "CN", None, None, None),
        ("2026-11-05T10:00:00+08:00", "in_transit", "Accepted by carrier", "CN", "Shenzhen", None, None),
        ("2026-11-12T10:00:00+08:00", "in_transit", "Departed from origin country", "CN", "Shenzhen", None, None),
        ("2026-11-22T10:00:00+01:00", "in_transit", "Arrived at destination country", "CH", "Zurich", None, None),
    ],
    "772986123539": [  # customs exception
        ("2026-10-29T10:00:00+08:00", "info_received", "Shipment information sent to FedEx", "CN", None, None, None),
        ("2026-10-30T10:00:00+08:00", "in_transit", "Picked up", "CN", "Shenzhen", None, None),
        ("2026-11-02T10:00:00+08:00", "in_transit", "Left FedEx origin facility", "CN", "Shenzhen", None, None),
        ("2026-11-05T10:00:00-05:00", "in_transit", "Arrived at FedEx location", "CA", "Toronto", None, None),
        ("2026-11-06T10:00:00-05:00", "exception", "Clearance delay - Import", "CA", "Toronto", None, None),
    ],
    "LX593028170CN": [  # available for pickup; arrival known only from the Cainiao code
        ("2026-10-20T10:00:00+08:00", "info_received", "Order information received", "CN", None, None, "GTMS_ASN"),
        ("2026-10-21T10:00:00+08:00", "in_transit", "Accepted by carrier", "CN", "Guangzhou", None, "PU_PICKUP_SUCCESS"),
        ("2026-10-28T10:00:00+08:00", "in_transit", "Hand over to airline", "CN", "Guangzhou", None, "LH_HO_AIRLINE"),
        ("2026-11-14T10:00:00+01:00", "in_transit", "Received by local company", None, None, None, "GTMS_ACCEPT"),
        ("2026-11-20T10:00:00+01:00", "available_for_pickup", "Arrived at pickup point", None, "Warszawa", None, "GTMS_STA_SIGNED"),
    ],
    "9200190305014376214122": [  # domestic USPS, delivered on time
        ("2026-10-09T10:00:00-07:00", "in_transit", "USPS in possession of item", "US", "Los Angeles", None, None),
        ("2026-10-14T12:00:00-05:00", "delivered", "Delivered", "US", "Cambridge", "02139", None),
    ],
    "EB908172638CN": [  # delivered, times in JST
        ("2026-10-23T10:00:00+08:00", "in_transit", "Posting/Collection", "CN", "Beijing", None, None),
        ("2026-10-25T08:00:00+09:00", "in_transit", "Arrival at inward office of exchange", "JP", "Tokyo", None, None),
        ("2026-10-27T14:00:00+09:00", "delivered", "Final delivery", "JP", "Tokyo", "150-0002", None),
    ],
    "YT2498765432109876": [  # out for delivery
        ("2026-11-07T10:00:00+08:00", "info_received", "Shipment information received", "CN", None, None, None),
        ("2026-11-08T10:00:00+08:00", "in_transit", "Accepted by carrier", "CN", "Shenzhen", None, None),
        ("2026-11-12T10:00:00+08:00", "in_transit", "Departed from origin country", "CN", "Shenzhen", None, None),
        ("2026-11-22T10:00:00+01:00", "in_transit", "Arrived at destination country", "IT", "Roma", None, None),
        ("2026-11-28T08:00:00+01:00", "out_for_delivery", "Out for delivery", "IT", "Roma", "00184", None),
    ],
    "LP00987654321098": [  # expired: the source stopped tracking
        ("2026-08-22T10:00:00+08:00", "info_received", "Order information received", "CN", None, None, "GTMS_ASN"),
        ("2026-08-23T10:00:00+08:00", "in_transit", "Accepted by carrier", "CN", "Guangzhou", None, "PU_PICKUP_SUCCESS"),
        ("2026-09-01T10:00:00+08:00", "in_transit", "Departed sorting center", "CN", "Guangzhou", None, "SC_OUTBOUND_SUCCESS"),
    ],
    "RS312456780NL": [  # delivery failed
        ("2026-11-01T10:00:00+08:00", "info_received", "Pre-alert received", "CN", None, None, None),
        ("2026-11-02T10:00:00+08:00", "in_transit", "Accepted by carrier", "CN", "Shenzhen", None, None),
        ("2026-11-08T10:00:00+08:00", "in_transit", "Departed from origin country", "CN", "Shenzhen", None, None),
        ("2026-11-16T10:00:00+01:00", "in_transit", "Arrived at sorting center", "SE", "Goteborg", None, None),
        ("2026-11-21T10:00:00+01:00", "delivery_failed", "Delivery attempt failed: no recipient", "SE", "Goteborg", "41101", None),
    ],
    "9400109690083461234562": [  # eBay, domestic, in transit
        ("2026-11-04T10:00:00-08:00", "in_transit", "USPS in possession of item", "US", "Los Angeles", None, None),
        ("2026-11-06T10:00:00-08:00", "in_transit", "In transit to next facility", "US", None, None, None),
        ("2026-11-26T10:00:00-05:00", "in_transit", "Arrived at USPS facility", "US", "Atlanta", None, None),
    ],
    "1Z9AA293YW03482200": [  # delivered 23:30 local on the promised day (07:30Z next day)
        ("2026-11-04T10:00:00+08:00", "in_transit", "Origin scan", "CN", "Shenzhen", None, None),
        ("2026-11-10T10:00:00+08:00", "in_transit", "Departed from facility", "CN", "Shenzhen", None, None),
        ("2026-11-15T10:00:00-08:00", "in_transit", "Import scan", "US", "Anchorage", None, None),
        ("2026-11-18T23:30:00-08:00", "delivered", "Delivered", "US", "Seattle", "98101", None),
    ],
    "LP00555666777888": [  # just shipped, first scans only
        ("2026-11-25T10:00:00+08:00", "info_received", "Order information received", "CN", None, None, "GTMS_ASN"),
        ("2026-11-26T10:00:00+08:00", "in_transit", "Accepted by carrier", "CN", "Guangzhou", None, "PU_PICKUP_SUCCESS"),
    ],
}
# fmt: on

# What the sources answered for numbers without a history, and the number whose
# source stopped tracking it (17TRACK's "Expired").
OUTCOMES = {
    "LY839205143CN": "not_found",
    "RR507128933CN": "invalid",
    "GARBAGE123": "invalid",
}
EXPIRED = ("LP00987654321098",)


def _events(
    history: list[tuple[str, str, str, str | None, str | None, str | None, str | None]],
) -> list[Event]:
    return [
        event(
            local,
            status,
            text,
            raw_code=code,
            city=city,
            postcode=postcode,
            country=country,
            sub_status="customs" if status == "exception" else None,
        )
        for local, status, text, country, city, postcode, code in history
    ]


def write_history(store: Store, now: datetime = NOW) -> None:
    """Write the answers (hence events and tracking state) and a few flags of the sample orders."""
    factory = Factory(store, run_id="fixture")
    at = now.replace(hour=6)
    # One answer per number from "17track", a day before now, in number order.
    for number in sorted([*HISTORIES, *OUTCOMES]):
        outcome = OUTCOMES.get(number, "ok")
        status = "expired" if number in EXPIRED else None
        events = _events(HISTORIES.get(number, []))
        # An answer tells only of what had happened (YT2498765432109876 was out for
        # delivery at 07:00Z): fetched after its latest event.
        fetched = max([at, *(e.occurred_at for e in events if e.occurred_at)])
        factory.answer(fetched, [factory.result(number, outcome, events, status=status)])
    conn = store.conn
    with store.transaction():
        # A few flags as the rules would have stored them; one of them cleared.
        conn.execute(
            "INSERT INTO flags (shipment_id, code, severity, raised_at, confirmed_at, "
            "cleared_at, threshold, detail, evidence) "
            "SELECT shipment_id, code, severity, $raised, $at, cleared, threshold, detail, "
            '\'{"event_keys": [], "poll_ids": []}\' FROM shipments JOIN (VALUES '
            "('LP00123456789012', 'stalled', 'warning', NULL::TIMESTAMPTZ, 'stalled_days=10', "
            "'no event for 35 days'), "
            "('RR507128933CN', 'invalid_number', 'critical', NULL, NULL, 'check digit fails'), "
            "('GARBAGE123', 'invalid_number', 'critical', NULL, NULL, 'not a tracking number'), "
            "('RB640192835SG', 'overdue', 'warning', NULL, NULL, 'promised by 2026-11-12'), "
            "('UB123456785CN', 'stalled', 'warning', TIMESTAMPTZ '2026-11-22 00:00:00+00', "
            "'stalled_days=10', 'cleared by a new scan')"
            ") AS v(tracking_number, code, severity, cleared, threshold, detail) "
            "USING (tracking_number)",
            {"raised": now.replace(day=20), "at": now.replace(hour=6)},
        )


def build_sample_db(path: Path, now: datetime = NOW) -> Path:
    """Import the sample orders into a new database at ``path`` and write their history."""
    with Store.open(path) as store, wall_at(now.replace(hour=5)):
        result = import_file(store, SAMPLE_ORDERS)
        assert not result.rejected, result.rejected
        write_history(store, now)
    return path
