"""Parsers against payload shapes found in real 17TRACK and Cainiao bodies (issue 11.3, 17.6).

Each recorded payload in ``payloads/`` is compared in full against the normalised
records written by hand from it; every event row ends with its
``description_translation``. Bodies whose JSON types do not match the protocol are
"unreadable answers" naming the JSON path of the bad field, never a status.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from collector.sources.base import UNREADABLE, Outcome, Parsed, Result
from collector.sources.cainiao.source import parse_detail
from collector.sources.seventeentrack.source import parse_push, parse_register, parse_trackinfo

from .helpers import event_row, payload, result_view


def full(result: Result) -> dict[str, Any]:
    view = result_view(result)
    view["events"] = [(*event_row(e), e.description_translation) for e in result.events]
    return view


def blank(number: str, **fields: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "number": number,
        "outcome": "ok",
        "code": None,
        "message": None,
        "status": None,
        "sub_status": None,
        "source_status_raw": None,
        "last_mile_number": None,
        "last_mile_carrier": None,
        "estimated_from": None,
        "estimated_to": None,
        "events": [],
    }
    return {**view, **fields}


# --- 17TRACK: latest_event when the providers list no events -----------------------------


def test_latest_event_is_the_event_when_providers_have_none() -> None:
    parsed = parse_trackinfo(
        payload("17track-latest-event-only.json"), ("LV112233445CN", "LV998877665CN"), 200
    )
    assert (parsed.outcome, parsed.message) == (Outcome.OK, None)
    assert [full(r) for r in parsed.results] == [
        blank(
            "LV112233445CN",
            code="InTransit_Departure",
            status="in_transit",
            sub_status="departure",
            source_status_raw="InTransit/InTransit_Departure",
            events=[
                ("2026-11-01T23:15:00.000Z", "2026-11-02T07:15:00", 480, True, "in_transit",
                 "departure", "InTransit_Departure", "Departure",
                 "Departed from the international office of exchange", "SHANGHAI", "Shanghai",
                 None, None, "CN", "China Post", None),
            ],
        ),
        # providers absent: the latest event still counts; "NL" in location is the country;
        # no stage of its own, so the latest status (delivered) describes it.
        blank(
            "LV998877665CN",
            code="Delivered_Other",
            status="delivered",
            source_status_raw="Delivered/Delivered_Other",
            events=[
                ("2026-11-20T13:02:00.000Z", "2026-11-20T14:02:00", 60, True, "delivered", None,
                 None, None, "Bezorgd", "NL", None, None, None, "NL", None, "Delivered"),
            ],
        ),
    ]  # fmt: skip


# --- 17TRACK: zone-less time_raw, translations, countries in location -------------------


def test_zoneless_times_take_the_providers_agreed_offset() -> None:
    parsed = parse_trackinfo(payload("17track-zoneless-translation.json"), ("RS556677889NL",), 200)
    assert [full(r) for r in parsed.results] == [
        blank(
            "RS556677889NL",
            code="InTransit_Other",
            status="in_transit",
            source_status_raw="InTransit/InTransit_Other",
            last_mile_carrier="PostNL",
            events=[
                ("2026-11-05T12:00:00.000Z", "2026-11-05T20:00:00", 480, True, "in_transit",
                 "departure", "InTransit_Departure", "Departure", "Departed from sorting center",
                 "Shenzhen", "Shenzhen", None, None, "CN", "Cainiao", None),
                ("2026-11-07T10:00:00.000Z", "2026-11-07T10:00:00", 0, True, "in_transit",
                 "arrival", "InTransit_Arrival", "Arrival", "Arrived at transit hub",
                 "Liege, Belgium", None, None, None, "BE", "Cainiao", None),
                # Cainiao's zoned events disagree (+08:00, +00:00): read as UTC, zone unknown.
                ("2026-11-08T06:00:00.000Z", "2026-11-08T06:00:00", None, False, "in_transit",
                 None, None, None, "Handed over to airline", "Germany", None, None, None, "DE",
                 "Cainiao", None),
                ("2026-11-10T21:30:00.000Z", "2026-11-10T22:30:00", 60, True, "info_received",
                 None, "InfoReceived", "InfoReceived", "Zending is voorgemeld",
                 "Utrecht, Netherlands", "Utrecht", None, None, "NL", "PostNL",
                 "Shipment is pre-announced"),
                ("2026-11-11T08:05:00.000Z", "2026-11-11T09:05:00", 60, True, "in_transit",
                 "arrival", "InTransit_Arrival", "Arrival", "Zending is aangekomen in Nederland",
                 "NL", None, None, None, "NL", "PostNL", "Shipment has arrived in the Netherlands"),
                # PostNL's zoned events agree on +01:00: 18:40 local is 17:40Z, zone still unknown.
                ("2026-11-11T17:40:00.000Z", "2026-11-11T18:40:00", 60, False, "in_transit",
                 None, "InTransit_Other", None, "Zending is gesorteerd", "Nederland", None, None,
                 None, "NL", "PostNL", "Shipment has been sorted"),
            ],
        )
    ]  # fmt: skip


def test_a_translation_equal_to_the_text_is_not_repeated() -> None:
    parsed = parse_trackinfo(payload("17track-gettrackinfo.json"), ("UB123456785CN",), 200)
    posting = [e for e in parsed.results[0].events if e.description == "Posting/Collection"]
    assert [e.description_translation for e in posting] == [None]


# --- 17TRACK: bodies that are not v2.x envelopes -----------------------------------------


def unreadable(parsed: Parsed) -> list[tuple[str, str, str | None, str | None, bool]]:
    return [(r.number, r.outcome.value, r.code, r.message, r.pending) for r in parsed.results]


def test_a_v1_body_is_unreadable_naming_what_is_missing() -> None:
    parsed = parse_trackinfo(payload("17track-v1-track.json"), ("RR123456785CN",), 200)
    message = (
        "gettrackinfo: unreadable answer: $.code is missing (a v1 answer?); "
        "the body's keys: dat, msg, ret"
    )
    assert (parsed.outcome, parsed.message) == (Outcome.ERROR, message)
    assert unreadable(parsed) == [("RR123456785CN", "error", UNREADABLE, message, False)]


def test_a_push_payload_given_as_a_poll_answer_is_unreadable() -> None:
    parsed = parse_trackinfo(payload("17track-push-updated.json"), ("UB123456785CN",), 200)
    assert parsed.message == (
        "gettrackinfo: unreadable answer: a push payload (TRACKING_UPDATED), "
        "not a call's answer: $.code is missing"
    )
    assert [r.code for r in parsed.results] == [UNREADABLE]


def test_track_info_fields_beside_the_entry_are_unreadable_not_pending() -> None:
    body = json.dumps(
        {
            "code": 0,
            "data": {
                "accepted": [
                    {"number": "A1", "latest_status": {"status": "Delivered"}, "tracking": {}},
                    {"number": "B2", "track": {"e": 40}},
                    {"number": "C3", "carrier": 3011},
                ],
                "rejected": [],
            },
        }
    ).encode()
    parsed = parse_trackinfo(body, ("A1", "B2", "C3"), 200)
    a1 = (
        "gettrackinfo: unreadable answer: $.data.accepted[0].track_info is missing "
        "(latest_status, tracking found beside it)"
    )
    b2 = (
        "gettrackinfo: unreadable answer: $.data.accepted[1].track_info is missing "
        "('track' found: a v1 answer?)"
    )
    assert unreadable(parsed)[:2] == [
        ("A1", "error", UNREADABLE, a1, False),
        ("B2", "error", UNREADABLE, b2, False),
    ]
    # A bare entry is still 17TRACK's "nothing yet" (unchanged).
    assert parsed.results[2].outcome is Outcome.NOT_FOUND
    assert parsed.outcome is Outcome.ERROR
    assert parsed.message == f"gettrackinfo: unreadable answer for 2 numbers (first: {a1})"


# --- 17TRACK: push payloads ----------------------------------------------------------------


def test_push_tracking_updated_with_data_as_an_object() -> None:
    parsed = parse_push(payload("17track-push-updated.json"))
    assert (parsed.outcome, parsed.message) == (Outcome.OK, None)
    assert [full(r) for r in parsed.results] == [
        blank(
            "UB123456785CN",
            code="OutForDelivery_Other",
            status="out_for_delivery",
            source_status_raw="OutForDelivery/OutForDelivery_Other",
            estimated_from="2026-10-29T04:00:00.000Z",
            estimated_to="2026-11-02T04:00:00.000Z",
            events=[
                ("2026-10-28T01:05:00.000Z", "2026-10-27T21:05:00", -240, True, "in_transit",
                 "arrival", "InTransit_Arrival", "Arrival", "Arrived at USPS Regional Facility",
                 "JAMAICA NY INTERNATIONAL DISTRIBUTION CENTER", "JAMAICA", "NY", None, "US",
                 "USPS", None),
                ("2026-10-30T12:10:00.000Z", "2026-10-30T08:10:00", -240, True,
                 "out_for_delivery", None, "OutForDelivery_Other", "OutForDelivery",
                 "Out for Delivery", "NEW YORK, NY 10001", "NEW YORK", "NY", "10001", "US",
                 "USPS", None),
            ],
        )
    ]  # fmt: skip


def test_push_tracking_stopped_with_data_as_a_list() -> None:
    parsed = parse_push(payload("17track-push-stopped.json"), ("LY839205143CN", "UB123456785CN"))
    stopped = {"code": "TRACKING_STOPPED", "message": "17TRACK stopped tracking this number"}
    assert [full(r) for r in parsed.results] == [
        blank("LY839205143CN", **stopped),
        blank("UB123456785CN", **stopped),
    ]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"event": "TRACKING_DELETED", "data": {}}',
         "$.event is 'TRACKING_DELETED', expected TRACKING_UPDATED or TRACKING_STOPPED"),
        (b'{"event": "TRACKING_UPDATED", "data": "X1"}',
         "$.data is a string, expected an object"),
        (b'{"event": "TRACKING_UPDATED", "data": [{"number": "X1"}, 7]}',
         "$.data[1] is a number, expected an object"),
        (b'{"event": "TRACKING_UPDATED", "data": {"number": "X1", "track_info": []}}',
         "$.data.track_info is an array, expected an object"),
    ],
)  # fmt: skip
def test_malformed_push_payloads_are_unreadable(body: bytes, problem: str) -> None:
    parsed = parse_push(body, ("X1",))
    assert [(r.number, r.code, r.message) for r in parsed.results] == [
        ("X1", UNREADABLE, f"push: unreadable answer: {problem}")
    ]
    assert parsed.outcome is Outcome.ERROR


# --- 17TRACK: types that do not match the protocol (issue 17.6) ---------------------------

ACCEPTED = "$.data.accepted[0]"


def answer(entry: Any) -> bytes:
    return json.dumps({"code": 0, "data": {"accepted": [entry], "rejected": []}}).encode()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (answer({"number": "A1", "track_info": "NotFound"}),
         f"{ACCEPTED}.track_info is a string, expected an object"),
        (answer({"number": "A1", "track_info": {"tracking": {"providers": "USPS"}}}),
         f"{ACCEPTED}.track_info.tracking.providers is a string, expected an array"),
        (answer({"number": "A1", "track_info": {"tracking": {"providers": [{"events": [1]}]}}}),
         f"{ACCEPTED}.track_info.tracking.providers[0].events[0] is a number, expected an object"),
        (answer({"number": "A1", "track_info": {"latest_status": {"status": ["Delivered"]}}}),
         f"{ACCEPTED}.track_info.latest_status.status is an array, expected a string"),
        (answer({"number": "A1", "track_info": {"latest_event": {"description": {"x": 1}}}}),
         f"{ACCEPTED}.track_info.latest_event.description is an object, expected a string"),
        (answer({"number": "A1", "track_info": {"tracking": {"providers": [
            {"events": [{"time_utc": True, "description": "x"}]}]}}}),
         f"{ACCEPTED}.track_info.tracking.providers[0].events[0].time_utc is a boolean, "
         "expected a string"),
    ],
)  # fmt: skip
def test_a_mistyped_field_makes_that_number_unreadable(body: bytes, problem: str) -> None:
    parsed = parse_trackinfo(body, ("A1",), 200)
    message = f"gettrackinfo: unreadable answer: {problem}"
    assert unreadable(parsed) == [("A1", "error", UNREADABLE, message, False)]
    assert parsed.results[0].status is None and parsed.results[0].events == ()
    assert parsed.outcome is Outcome.ERROR and parsed.message is not None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"accepted": "nope"}', "$.code is missing; the body's keys: accepted"),
        (b'{"code": 0, "data": {"accepted": "nope"}}',
         "$.data.accepted is a string, expected an array"),
        (b'{"code": 0, "data": "ok"}', "$.data is a string, expected an object"),
        (b'{"code": 0}', "$.data is missing, expected an object"),
        (b'{"code": 0, "data": {}}', "$.data has neither 'accepted' nor 'rejected'"),
        (b'{"code": "zero", "data": {}}', "$.code is a string, expected an integer"),
        (b'{"code": 0, "data": {"accepted": [], "rejected": ["A1"]}}',
         "$.data.rejected[0] is a string, expected an object"),
        (b'{"code": 0, "data": {"accepted": [{"number": {"n": "A1"}}]}}',
         "$.data.accepted[0].number is an object, expected a string"),
        (b'[{"number": "A1"}]', "$ is an array, expected an object with 'code' and 'data'"),
    ],
)  # fmt: skip
def test_a_mistyped_envelope_makes_the_whole_call_unreadable(body: bytes, problem: str) -> None:
    for parse, what in ((parse_trackinfo, "gettrackinfo"), (parse_register, "register")):
        parsed = parse(body, ("A1", "B2"), 200)
        message = f"{what}: unreadable answer: {problem}"
        assert (parsed.outcome, parsed.message) == (Outcome.ERROR, message)
        assert unreadable(parsed) == [
            ("A1", "error", UNREADABLE, message, False),
            ("B2", "error", UNREADABLE, message, False),
        ]


def test_a_saved_body_is_parsed_for_every_number_it_names() -> None:
    parsed = parse_trackinfo(payload("17track-gettrackinfo.json"), None, None)
    assert [(r.number, r.outcome.value) for r in parsed.results] == [
        ("UB123456785CN", "ok"),
        ("LY839205143CN", "not_found"),
        ("RR507128933CN", "invalid"),
        ("LE703159285NL", "error"),
    ]


# --- Cainiao -------------------------------------------------------------------------------


def test_cainiao_seller_preparing_is_info_received_not_not_found() -> None:
    numbers = ("LP00712345678901", "LP00798765432101")
    parsed = parse_detail(payload("cainiao-seller-preparing.json"), numbers, 200)
    assert (parsed.outcome, parsed.message) == (Outcome.OK, None)
    assert [full(r) for r in parsed.results] == [
        blank(
            "LP00712345678901",
            code="SELLER_PREPARING",
            message="Awaiting seller dispatch",
            status="info_received",
            sub_status="seller_preparing",
            source_status_raw="AE/SELLER_PREPARING",
        ),
        blank(
            "LP00798765432101",
            code="CLEAR_CUSTOMS",
            status="in_transit",
            sub_status="customs",
            source_status_raw="AE/CLEAR_CUSTOMS",
            events=[
                ("2026-11-09T15:00:00.000Z", "2026-11-09 23:00:00", 480, True, "in_transit",
                 None, "PU_PICKUP_SUCCESS", "Received by logistics company",
                 "Received by logistics company", None, None, None, None, None, None, None),
                # "[NL]" names only a country: it fills country.
                ("2026-11-11T13:00:00.000Z", "2026-11-11 14:00:00", 60, True, "in_transit",
                 "customs", "CC_IM_START", "[NL] Import customs clearance started",
                 "[NL] Import customs clearance started", "NL", None, None, None, "NL", None,
                 None),
            ],
        ),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "problem", "whole"),
    [
        (b'{"success": true, "module": "LP1"}', "$.module is a string, expected an array", True),
        (b'{"success": true}', "$.module is missing, expected an array", True),
        (b'{"success": "yes", "module": []}', "$.success is a string, expected a boolean", True),
        (b'["LP1"]', "$ is an array, expected an object", True),
        (b'{"success": true, "module": [7]}', "$.module[0] is a number, expected an object",
         True),
        (b'{"success": true, "module": [{"mailNo": "LP1", "detailList": {"a": 1}}]}',
         "$.module[0].detailList is an object, expected an array", False),
        (b'{"success": true, "module": [{"mailNo": "LP1", "detailList": ["x"]}]}',
         "$.module[0].detailList[0] is a string, expected an object", False),
        (b'{"success": true, "module": [{"mailNo": "LP1", "detailList": [{"desc": [1]}]}]}',
         "$.module[0].detailList[0].desc is an array, expected a string", False),
        (b'{"success": true, "module": [{"mailNo": "LP1", "status": {"s": 1}}]}',
         "$.module[0].status is an object, expected a string", False),
    ],
)  # fmt: skip
def test_cainiao_mistyped_fields_are_unreadable(body: bytes, problem: str, whole: bool) -> None:
    parsed = parse_detail(body, ("LP1",), 200)
    message = f"detail: unreadable answer: {problem}"
    assert unreadable(parsed) == [("LP1", "error", UNREADABLE, message, False)]
    assert parsed.outcome is Outcome.ERROR
    assert parsed.message == (
        message if whole else f"detail: unreadable answer for 1 number (first: {message})"
    )
