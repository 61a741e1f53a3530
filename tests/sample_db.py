# ruff: noqa: E501 - one event per line reads better than the wrapped form
"""A database of the sample orders with a tracking history, written with plain SQL.

The frames tests need exact, known histories (one scenario per sample order, as
in the team brief), independent of the simulator and poller; this module writes
them straight into the tables, the way the collector would have left them. "Now"
for these histories is 2026-11-28T12:00:00Z.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from collector.importer import import_file
from collector.store import Store
from collector.store.state import refresh_event_digest
from tests.conftest import SAMPLE_ORDERS

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

# What the sources answered for numbers without a history, and state overrides.
OUTCOMES = {
    "LY839205143CN": "not_found",
    "RR507128933CN": "invalid",
    "GARBAGE123": "invalid",
}
EXPIRED = ("LP00987654321098",)
INVALID_NUMBERS = ("RR507128933CN", "GARBAGE123")


def _event_rows() -> pl.DataFrame:
    rows = []
    for number, history in HISTORIES.items():
        for i, (local, status, text, country, city, postcode, code) in enumerate(history):
            instant = datetime.fromisoformat(local)
            offset = instant.utcoffset()
            rows.append(
                {
                    "tracking_number": number,
                    "event_key": f"{number}-{i}",
                    "occurred_at": instant.astimezone(UTC),
                    "local_time": local[:19].replace("T", " "),
                    "utc_offset_minutes": int(offset.total_seconds() // 60) if offset else 0,
                    "status": status,
                    "raw_code": code,
                    "raw_status": text,
                    "description": text,
                    "city": city,
                    "postcode": postcode,
                    "country": country,
                    "sub_status": "customs" if status == "exception" else None,
                }
            )
    return pl.DataFrame(rows)


def write_history(store: Store, now: datetime = NOW) -> None:
    """Write the events, polls, tracking state and a few flags of the sample orders."""
    conn = store.conn
    conn.register("hist", _event_rows().to_arrow())
    numbers = pl.DataFrame(
        {"tracking_number": list(HISTORIES) + list(OUTCOMES)},
    ).with_columns(
        pl.col("tracking_number")
        .replace_strict(OUTCOMES, default="ok", return_dtype=pl.String)
        .alias("outcome")
    )
    conn.register("answers", numbers.to_arrow())
    with store.transaction():
        conn.execute(
            "UPDATE shipments SET number_verdict = 'invalid', number_reason = 'check digit' "
            "WHERE list_contains($n, tracking_number)",
            {"n": list(INVALID_NUMBERS)},
        )
        # One poll per number, answered by "17track", a day before now.
        conn.execute(
            "INSERT INTO polls SELECT row_number() OVER (ORDER BY tracking_number), 'fixture', "
            "$at, '17track', 'gettrackinfo', 'POST', 'http://127.0.0.1/track', NULL, "
            "[tracking_number], 200, 12.5, outcome, NULL, NULL, 'chain-' || tracking_number "
            "FROM answers",
            {"at": now.replace(hour=6)},
        )
        conn.execute(
            "INSERT INTO poll_results SELECT p.poll_id, s.shipment_id, s.tracking_number, "
            "p.outcome, NULL, NULL FROM polls p JOIN shipments s "
            "ON s.tracking_number = p.numbers[1]"
        )
        conn.execute(
            "INSERT INTO events (shipment_id, event_key, occurred_at, local_time, "
            "utc_offset_minutes, tz_known, status, sub_status, raw_code, raw_status, "
            "description, city, postcode, country, source, first_poll_id, recorded_at) "
            "SELECT s.shipment_id, h.event_key, h.occurred_at, h.local_time, "
            "h.utc_offset_minutes, true, h.status, h.sub_status, h.raw_code, h.raw_status, "
            "h.description, h.city, h.postcode, h.country, '17track', p.poll_id, $at "
            "FROM hist h JOIN shipments s USING (tracking_number) "
            "JOIN polls p ON p.numbers[1] = h.tracking_number",
            {"at": now.replace(hour=6)},
        )
        conn.execute(
            "INSERT INTO tracking_state (shipment_id, status, sub_status, source, "
            "first_event_at, last_event_at, delivered_at, event_count, last_poll_at, "
            "last_poll_id, last_outcome, consecutive_not_found, ever_found, updated_at) "
            "SELECT s.shipment_id, "
            "coalesce(CASE WHEN list_contains($expired, s.tracking_number) THEN 'expired' END, "
            "arg_max(e.status, e.occurred_at), "
            "CASE WHEN p.outcome = 'not_found' THEN 'not_found' ELSE 'unknown' END), "
            "arg_max(e.sub_status, e.occurred_at), '17track', min(e.occurred_at), "
            "max(e.occurred_at), min(e.occurred_at) FILTER (WHERE e.status = 'delivered'), "
            "count(e.event_key), p.requested_at, p.poll_id, p.outcome, "
            "CASE WHEN p.outcome = 'not_found' THEN 4 ELSE 0 END, count(e.event_key) > 0, $at "
            "FROM shipments s JOIN polls p ON p.numbers[1] = s.tracking_number "
            "LEFT JOIN events e USING (shipment_id) "
            "GROUP BY s.shipment_id, s.tracking_number, p.requested_at, p.poll_id, p.outcome",
            {"at": now.replace(hour=6), "expired": list(EXPIRED)},
        )
        # The latest events' fields, as the collector keeps them in tracking_state.
        refresh_event_digest(conn)
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
    conn.unregister("hist")
    conn.unregister("answers")


def build_sample_db(path: Path, now: datetime = NOW) -> Path:
    """Import the sample orders into a new database at ``path`` and write their history."""
    with Store.open(path) as store:
        result = import_file(store, SAMPLE_ORDERS)
        assert not result.rejected, result.rejected
        write_history(store, now)
    return path
