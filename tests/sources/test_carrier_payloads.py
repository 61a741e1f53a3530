"""USPS, UPS, FedEx and DHL parsers against payloads built from the documented shapes (issue 13.3).

Each payload in ``tests/collector/payloads`` is compared in full against the
normalised records written by hand from it.
"""

from __future__ import annotations

from typing import Any

from collector.sources.base import Outcome
from collector.sources.dhl.source import parse_shipments
from collector.sources.fedex import Fedex
from collector.sources.fedex.source import parse_tracking
from collector.sources.ups.source import parse_details
from collector.sources.usps.source import parse_track
from tests.collector.helpers import payload, result_view


def test_usps_v3r2_multi_status_compared_in_full() -> None:
    numbers = ("9400111206206406260787", "9400100000000000000000", "XYZ")
    parsed = parse_track(payload("usps-v3r2-multistatus.json"), numbers, 207)
    assert parsed.outcome is Outcome.OK
    views = [result_view(r) for r in parsed.results]
    not_yet = (
        "tracking: 404 A status update is not yet available on your package. It will be "
        "available when the shipper provides an update or the package is delivered to USPS. "
        "Check back soon."
    )
    expected: list[dict[str, Any]] = [
        {
            "number": "9400111206206406260787",
            "outcome": "ok",
            "code": "Delivered",
            "message": "Your item was delivered in or at the mailbox at 2:18 pm on November 14, "
            "2026 in AUSTIN, TX 73301.",
            "status": "delivered",
            "sub_status": None,
            "source_status_raw": "Delivered/Delivered, In/At Mailbox",
            "last_mile_number": None,
            "last_mile_carrier": None,
            "estimated_from": "2026-11-14T14:00:00.000Z",
            "estimated_to": "2026-11-14T22:00:00.000Z",
            "events": [
                (
                    "2026-11-10T09:02:00.000Z",
                    "2026-11-10T09:02:00",
                    None,
                    False,
                    "info_received",
                    None,
                    "MA",
                    "Shipping Label Created, USPS Awaiting Item",
                    "Shipping Label Created, USPS Awaiting Item",
                    "NEW YORK, NY 10001",
                    "NEW YORK",
                    "NY",
                    "10001",
                    "US",
                    "USPS",
                ),
                (
                    "2026-11-14T13:10:00.000Z",
                    "2026-11-14T07:10:00",
                    -360,
                    True,
                    "out_for_delivery",
                    None,
                    "OF",
                    "Out for Delivery",
                    "Out for Delivery",
                    "AUSTIN, TX 73301",
                    "AUSTIN",
                    "TX",
                    "73301",
                    "US",
                    "USPS",
                ),
                (
                    "2026-11-14T20:18:00.000Z",
                    "2026-11-14T14:18:00",
                    -360,
                    True,
                    "delivered",
                    None,
                    "01",
                    "Delivered, In/At Mailbox",
                    "Delivered, In/At Mailbox",
                    "AUSTIN, TX 73301",
                    "AUSTIN",
                    "TX",
                    "73301",
                    "US",
                    "USPS",
                ),
            ],
        },
        {
            "number": "9400100000000000000000",
            "outcome": "not_found",
            "code": "404",
            "message": not_yet,
            "status": "not_found",
            "sub_status": None,
            "source_status_raw": None,
            "last_mile_number": None,
            "last_mile_carrier": None,
            "estimated_from": None,
            "estimated_to": None,
            "events": [],
        },
        {
            "number": "XYZ",
            "outcome": "invalid",
            "code": "400",
            "message": "tracking: 400 Invalid tracking number",
            "status": None,
            "sub_status": None,
            "source_status_raw": None,
            "last_mile_number": None,
            "last_mile_carrier": None,
            "estimated_from": None,
            "estimated_to": None,
            "events": [],
        },
    ]
    assert views == expected


def test_usps_v3_not_yet_in_system_is_not_found() -> None:
    parsed = parse_track(payload("usps-v3-error.json"), ("9400100000000000000000",), 404)
    assert [(r.outcome, r.message) for r in parsed.results] == [
        (Outcome.NOT_FOUND, "tracking: 404 Not Found (Tracking number not yet in system)")
    ]
    assert parsed.stop is None


def test_usps_unreadable_item_names_the_path() -> None:
    parsed = parse_track(b'[{"trackingNumber":"X1","trackingEvents":"nope"}]', ("X1",), 200)
    assert parsed.outcome is Outcome.ERROR
    assert parsed.results[0].message == (
        "tracking: unreadable answer: $[0].trackingEvents is a string, expected an array"
    )


def test_dhl_shipments_compared_in_full() -> None:
    parsed = parse_shipments(payload("dhl-shipments.json"), ("00340434161094042557",), 200)
    assert parsed.outcome is Outcome.OK
    assert [result_view(r) for r in parsed.results] == [
        {
            "number": "00340434161094042557",
            "outcome": "ok",
            "code": "delivered",
            "message": "DELIVERED",
            "status": "delivered",
            "sub_status": None,
            "source_status_raw": "parcel-de/delivered",
            "last_mile_number": None,
            "last_mile_carrier": None,
            "estimated_from": "2026-11-20T08:00:00.000Z",
            "estimated_to": "2026-11-20T18:00:00.000Z",
            "events": [
                (
                    "2026-11-18T16:30:00.000Z",
                    "2026-11-18T16:30:00Z",
                    0,
                    True,
                    "info_received",
                    None,
                    "pre-transit",
                    "The instruction data for this shipment have been provided by the sender "
                    "to DHL electronically",
                    "The instruction data for this shipment have been provided by the sender "
                    "to DHL electronically",
                    "Bonn, DE",
                    "Bonn",
                    None,
                    None,
                    "DE",
                    "DHL",
                ),
                (
                    # No offset in the answer: zone unknown, read as UTC and marked so.
                    "2026-11-20T07:05:00.000Z",
                    "2026-11-20T07:05:00",
                    None,
                    False,
                    "out_for_delivery",
                    None,
                    "transit",
                    "The shipment has been loaded onto the delivery vehicle",
                    "The shipment is out for delivery.",
                    "Berlin, DE",
                    "Berlin",
                    None,
                    None,
                    "DE",
                    "DHL",
                ),
                (
                    "2026-11-20T10:42:00.000Z",
                    "2026-11-20T11:42:00+01:00",
                    60,
                    True,
                    "delivered",
                    None,
                    "delivered",
                    "DELIVERED",
                    "The shipment has been delivered.",
                    "Berlin, 12053, DE",
                    "Berlin",
                    None,
                    "12053",
                    "DE",
                    "DHL",
                ),
            ],
        }
    ]


def test_dhl_no_result_found_is_not_found_and_429_stops() -> None:
    parsed = parse_shipments(payload("dhl-not-found.json"), ("JJD000000000000000000",), 404)
    assert [(r.outcome, r.status) for r in parsed.results] == [(Outcome.NOT_FOUND, "not_found")]
    limited = parse_shipments(
        b'{"title":"Too many requests","status":429,"detail":"Daily quota exceeded"}', ("X",), 429
    )
    assert limited.outcome is Outcome.RATE_LIMITED and limited.stop is not None


def _none_but(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(
        (
            "code",
            "message",
            "status",
            "sub_status",
            "source_status_raw",
            "last_mile_number",
            "last_mile_carrier",
            "estimated_from",
            "estimated_to",
        )
    )
    return {**base, "events": [], **fields}


def test_ups_details_compared_in_full() -> None:
    parsed = parse_details(payload("ups-details.json"), ("1Z5R89390357567127",), 200)
    assert parsed.outcome is Outcome.OK
    assert [result_view(r) for r in parsed.results] == [
        _none_but(
            number="1Z5R89390357567127",
            outcome="ok",
            code="FS",
            # The POD (receivedBy, location) is kept beside the raw body.
            message="Delivered; received by SMITH, left at Front Door",
            status="delivered",
            source_status_raw="D/FS/Delivered",
            events=[
                (
                    "2026-11-10T14:15:02.000Z",
                    "2026-11-10T09:15:02",
                    -300,
                    True,
                    "info_received",
                    None,
                    "M/MP",
                    "Label Created",
                    "Shipper created a label, UPS has not received the package yet.",
                    "US",
                    None,
                    None,
                    None,
                    "US",
                    "UPS",
                ),
                (
                    # Type X, but code SR: released by customs, not an exception.
                    "2026-11-12T12:13:56.000Z",
                    "2026-11-12T07:13:56",
                    -300,
                    True,
                    "in_transit",
                    "customs",
                    "X/SR",
                    "In Transit",
                    "Your package was released by the customs agency.",
                    "Wayne, NJ 07470, US",
                    "Wayne",
                    "NJ",
                    "07470",
                    "US",
                    "UPS",
                ),
                (
                    # No gmtDate/gmtTime/gmtOffset: zone unknown, read as UTC and marked so.
                    "2026-11-13T06:15:00.000Z",
                    "2026-11-13T06:15:00",
                    None,
                    False,
                    "in_transit",
                    None,
                    "I/OT",
                    "Out for Delivery",
                    "Out For Delivery Today",
                    "Maspeth, NY, US",
                    "Maspeth",
                    "NY",
                    None,
                    "US",
                    "UPS",
                ),
                (
                    "2026-11-13T19:33:12.000Z",
                    "2026-11-13T14:33:12",
                    -300,
                    True,
                    "delivered",
                    None,
                    "D/FS",
                    "Delivered",
                    "DELIVERED",
                    "BROOKLYN, NY 11201, US",
                    "BROOKLYN",
                    "NY",
                    "11201",
                    "US",
                    "UPS",
                ),
            ],
        )
    ]


def test_ups_tw0001_is_not_found_and_tv1002_invalid() -> None:
    missing = parse_details(payload("ups-not-found.json"), ("1Z9999999999999999",), 200)
    assert [result_view(r) for r in missing.results] == [
        _none_but(
            number="1Z9999999999999999",
            outcome="not_found",
            code="TW0001",
            message="details: TW0001 Tracking Information Not Found",
            status="not_found",
        )
    ]
    invalid = parse_details(payload("ups-invalid.json"), ("1Z0",), 400)
    assert [result_view(r) for r in invalid.results] == [
        _none_but(
            number="1Z0",
            outcome="invalid",
            code="TV1002",
            message="details: TV1002 Invalid inquiry number",
        )
    ]
    refused = parse_details(
        b'{"response":{"errors":[{"code":"250003","message":"Invalid Access License number"}]}}',
        ("1Z1",),
        401,
    )
    assert refused.stop == "details: 250003 Invalid Access License number"


def test_fedex_trackingnumbers_compared_in_full() -> None:
    numbers = ("986578788855", "477179081230")
    parsed = parse_tracking(payload("fedex-trackingnumbers.json"), numbers, 200)
    assert parsed.outcome is Outcome.OK
    assert [result_view(r) for r in parsed.results] == [
        _none_but(
            number="986578788855",
            outcome="ok",
            code="DL",
            message="Delivered; received by J.DOE",
            status="delivered",
            source_status_raw="DL/DL/Delivered",
            estimated_from="2026-11-20T05:00:00.000Z",
            estimated_to="2026-11-20T05:00:00.000Z",
            events=[
                (
                    "2026-11-18T01:29:25.000Z",
                    "2026-11-17T19:29:25-06:00",
                    -360,
                    True,
                    "in_transit",
                    "picked_up",
                    "PU/PU",
                    "Picked up",
                    "Picked up",
                    "MANKATO, MN 56001, US",
                    "MANKATO",
                    "MN",
                    "56001",
                    "US",
                    "FedEx",
                ),
                (
                    # A dateTime without an offset: zone-unknown, not UTC.
                    "2026-11-20T06:47:00.000Z",
                    "2026-11-20T06:47:00",
                    None,
                    False,
                    "out_for_delivery",
                    None,
                    "OD/IT",
                    "In transit",
                    "On FedEx vehicle for delivery",
                    "HOLBROOK, NY 11741, US",
                    "HOLBROOK",
                    "NY",
                    "11741",
                    "US",
                    "FedEx",
                ),
                (
                    "2026-11-20T17:41:57.000Z",
                    "2026-11-20T12:41:57-05:00",
                    -300,
                    True,
                    "delivered",
                    None,
                    "DL/DL",
                    "Delivered",
                    "Delivered",
                    "Blue Point, NY 11715, US",
                    "Blue Point",
                    "NY",
                    "11715",
                    "US",
                    "FedEx",
                ),
            ],
        ),
        _none_but(
            number="477179081230",
            outcome="not_found",
            code="TRACKING.TRACKINGNUMBER.NOTFOUND",
            message="trackingnumbers: TRACKING.TRACKINGNUMBER.NOTFOUND Tracking number cannot be "
            "found. Please correct the tracking number and try again.",
            status="not_found",
        ),
    ]


def test_fedex_daily_quota_429_is_recognised_and_other_429s_are_not() -> None:
    body = payload("fedex-quota.json")
    assert Fedex.quota_exhausted(429, body) == (
        "FedEx daily transaction quota exceeded (it resets at 00:00 GMT)"
    )
    assert Fedex.quota_exhausted(429, b'{"errors":[{"message":"too many requests"}]}') is None
    assert Fedex.quota_exhausted(200, body) is None


def test_a_documented_base_url_with_the_api_path_is_accepted() -> None:
    # The carriers' docs name ".../api" (UPS) or ".../track" (DHL) as the base URL;
    # the sources' own paths already carry them, so either form reaches the API.
    from collector.config import settings_from_dict
    from collector.sources.registry import create_source

    cases = {
        "ups": ("https://onlinetools.ups.com/api", "https://onlinetools.ups.com"),
        "dhl": ("https://api-eu.dhl.com/track", "https://api-eu.dhl.com"),
        "usps": ("https://apis.usps.com/tracking/v3r2", "https://apis.usps.com"),
        "fedex": ("https://apis.fedex.com/track/v1", "https://apis.fedex.com"),
    }
    for name, (given, root) in cases.items():
        settings = settings_from_dict({"sources": {name: {"base_url": given}}})
        source = create_source(name, settings.sources[name])
        assert source.base_url == root, name
    ups = create_source("ups", settings_from_dict({"sources": {"ups": {}}}).sources["ups"])
    assert ups.token_url == "https://onlinetools.ups.com/security/v1/oauth/token"
    assert ups.details_request("1Z1").url == (  # type: ignore[attr-defined]
        "https://onlinetools.ups.com/api/track/v1/details/1Z1"
    )
