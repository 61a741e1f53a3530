"""Each flag rule: when it is raised, its boundaries, severity and plain-language detail."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from collector.config import RulesConfig
from tests.flags.builder import Ev, World

RULES = RulesConfig()


# --- invalid_number -----------------------------------------------------------------


def test_invalid_check_digit_is_invalid_number(world: World) -> None:
    sid = world.shipment(
        "o1", "RR507128933CN", number_format="s10", number_verdict="invalid",
        number_reason="check digit 3 does not match computed 2 (S10)",
    )  # fmt: skip
    world.answer(sid, "invalid")
    row = world.flags()["o1"]["invalid_number"]
    assert row["severity"] == "critical"
    assert row["detail"] == (
        "RR507128933CN fails the check of its format s10 "
        "(check digit 3 does not match computed 2 (S10)); "
        "17track answered that the number is invalid"
    )
    assert row["threshold"] is None
    assert json.loads(row["evidence"]) == {"event_keys": [], "poll_ids": [1]}


def test_invalid_check_digit_with_events_is_only_a_warning(world: World) -> None:
    sid = world.shipment("o1", "RR507128933CN", number_verdict="invalid")
    world.events(sid, Ev("2026-11-25T10:00:00+08:00", "in_transit", "Accepted"))
    row = world.flags()["o1"]["invalid_number"]
    assert row["severity"] == "warning"
    assert row["detail"].endswith("although a source has tracking events for it")


def test_format_without_published_check_is_never_invalid_on_format_alone(world: World) -> None:
    # A recognised format with no check digit ("unknown" verdict) that a source does
    # not find is not_found, not invalid_number.
    sid = world.shipment(
        "o1", "LP00123456789012", number_format="cainiao-lp", number_verdict="unknown"
    )
    world.answer(sid, "not_found")
    assert world.codes()["o1"] == {"not_found"}


def test_unmatched_plausible_number_needs_a_source_to_deny_it(world: World) -> None:
    sid = world.shipment(
        "o1", "GARBAGE123", courier=None, number_format=None, number_verdict="unknown",
        shipped_at="2026-11-03T00:00:00Z",
    )  # fmt: skip
    assert "o1" not in world.codes()  # never asked: plausible, so nothing yet
    world.answer(sid, "not_found", at="2026-11-05T00:00:00Z")
    # A "not found" counts only once not_found_days have passed since shipping ...
    assert "o1" not in world.codes("2026-11-09T23:59:59Z")
    # One cause, one flag: a number that is no tracking number is invalid, not also
    # "not found" (the detail names the answer).
    assert world.codes("2026-11-10T00:00:00Z")["o1"] == {"invalid_number"}
    detail = world.flags("2026-11-10T00:00:00Z")["o1"]["invalid_number"]["detail"]
    assert detail == (
        "GARBAGE123 matches no known tracking-number format; "
        "17track answered 'not found' on 2026-11-05"
    )


def test_unmatched_number_answered_invalid_is_invalid_at_once(world: World) -> None:
    sid = world.shipment("o1", "GARBAGE123", courier=None, number_format=None,
                         number_verdict=None)  # fmt: skip
    world.answer(sid, "invalid", at="2026-11-02T00:00:00Z")
    assert world.codes("2026-11-02T00:00:00Z")["o1"] == {"invalid_number"}


@pytest.mark.parametrize("number", ["N/A", "TBD", "1234567", "SHIPPEDBYSELLER", "AB 12"])
def test_implausible_strings_are_invalid_without_asking(world: World, number: str) -> None:
    world.shipment("o1", number, courier=None, number_format=None, number_verdict="unknown")
    row = world.flags()["o1"]["invalid_number"]
    # The importer stores the number without its spaces ("AB 12" is AB12).
    assert row["detail"] == f"{number.replace(' ', '')} is not a plausible tracking number"


def test_a_number_in_scientific_notation_is_invalid_and_says_why(world: World) -> None:
    reason = (
        "scientific notation, as a spreadsheet writes a long number: its last digits are "
        "lost; format the column as text and export again"
    )
    world.shipment("o1", "9.40011E+21", courier=None, number_format=None,
                   number_verdict="unknown", number_reason=reason)  # fmt: skip
    assert world.flags()["o1"]["invalid_number"]["detail"] == (
        f"9.40011E+21 is not a plausible tracking number ({reason})"
    )


def test_source_answering_invalid_raises_invalid_number(world: World) -> None:
    sid = world.shipment("o1", "LP00123456789012")
    world.answer(sid, "invalid", source="cainiao")
    assert "invalid_number" in world.codes()["o1"]
    assert world.flags()["o1"]["invalid_number"]["detail"] == (
        "cainiao answered that the number is invalid"
    )


def test_source_answering_invalid_is_overruled_by_events(world: World) -> None:
    sid = world.shipment("o1", "LP00123456789012")
    world.answer(sid, "invalid", source="cainiao", at="2026-11-02T00:00:00Z")
    world.events(sid, Ev("2026-11-20T10:00:00+08:00", "in_transit", "Accepted"))
    assert "invalid_number" not in world.codes().get("o1", set())


def test_one_cause_raises_one_flag(world: World) -> None:
    # "ASDFGH" typed as a tracking number, a declared carrier, a "not found" answer
    # long after shipping: the one cause is the number, so one flag names it.
    sid = world.shipment(
        "o1", "ASDFGH", carrier="Cainiao", courier=None, number_format=None,
        number_verdict="unknown", carrier_mismatch=True,
    )  # fmt: skip
    world.answer(sid, "not_found", at="2026-11-27T06:00:00Z")
    flags = world.flags()["o1"]
    assert set(flags) == {"invalid_number"}
    assert flags["invalid_number"]["detail"] == (
        "ASDFGH is not a plausible tracking number; 17track answered 'not found' on 2026-11-27"
    )
    # A check digit that fails: invalid, not also "the carrier cannot issue it".
    world.shipment(
        "o2", "RR507128933CN", carrier="UPS", courier="china-post", number_format="s10",
        number_verdict="invalid", carrier_mismatch=True,
    )  # fmt: skip
    assert world.codes()["o2"] == {"invalid_number"}
    # A plausible number no source finds stays not_found (invalid_number does not hold).
    other = world.shipment("o3", "LP00123456789013", number_verdict="unknown")
    world.answer(other, "not_found")
    assert world.codes()["o3"] == {"not_found"}


# --- carrier_mismatch ---------------------------------------------------------------


def test_carrier_mismatch(world: World) -> None:
    world.shipment("o1", "UG390176528CN", carrier="UPS", courier="china-post",
                   number_format="s10", carrier_mismatch=True)  # fmt: skip
    world.shipment("o2", "UG390176528CN", carrier="China Post", carrier_mismatch=False)
    world.shipment("o3", "UG390176528CN", carrier=None, carrier_mismatch=None)
    flags = world.flags()
    assert flags["o1"]["carrier_mismatch"]["detail"] == (
        "declared carrier 'UPS' cannot issue this number: it is a UPU S10 postal number from CN"
    )
    assert flags["o1"]["carrier_mismatch"]["severity"] == "warning"
    assert "carrier_mismatch" not in flags.get("o2", {})
    assert "carrier_mismatch" not in flags.get("o3", {})


# --- not_found ----------------------------------------------------------------------


def test_not_found_after_exactly_n_days(world: World) -> None:
    sid = world.shipment("o1", shipped_at="2026-11-10T00:00:00+01:00", country="FR")
    world.answer(sid, "not_found", at="2026-11-12T06:00:00Z")
    assert "o1" not in world.codes("2026-11-16T22:59:59Z")
    row = world.flags("2026-11-16T23:00:00Z")["o1"]["not_found"]
    assert row["severity"] == "warning"
    assert row["threshold"] == "not_found_days=7"
    assert row["detail"] == (
        "no source has found it: 17track answered 'not found' (latest 2026-11-12); "
        "shipped 2026-11-10, 7 days ago"
    )
    assert json.loads(row["evidence"]) == {"event_keys": [], "poll_ids": [1]}


def test_one_not_found_answer_is_enough_but_the_latest_answer_counts(world: World) -> None:
    sid = world.shipment("o1")
    world.answer(sid, "not_found", source="cainiao", at="2026-11-20T00:00:00Z")
    world.answer(sid, "error", source="17track", at="2026-11-21T00:00:00Z")
    world.answer(sid, "rate_limited", source="17track", at="2026-11-22T00:00:00Z")
    assert world.codes()["o1"] == {"not_found"}
    world.events(sid, Ev("2026-11-26T10:00:00+08:00", "in_transit", "Accepted"))
    assert "not_found" not in world.codes().get("o1", set())


def test_not_found_turns_critical(world: World) -> None:
    sid = world.shipment("o1", shipped_at="2026-11-01T00:00:00Z")
    world.answer(sid, "not_found")
    assert world.flags("2026-11-21T23:59:59Z")["o1"]["not_found"]["severity"] == "warning"
    assert world.flags("2026-11-22T00:00:00Z")["o1"]["not_found"]["severity"] == "critical"


def test_never_polled_shipment_is_not_not_found(world: World) -> None:
    world.shipment("o1", shipped_at="2026-10-01T00:00:00Z", promised_to=None)
    assert "o1" not in world.codes()


# --- label_only ---------------------------------------------------------------------


def test_label_only_after_exactly_n_days(world: World) -> None:
    sid = world.shipment("o1", shipped_at="2026-11-08T00:00:00+01:00", country="DE")
    world.events(sid, Ev("2026-11-08T12:00:00+08:00", "info_received",
                         "Shipment information received"))  # fmt: skip
    assert "o1" not in world.codes("2026-11-14T22:59:59Z")
    row = world.flags("2026-11-14T23:00:00Z")["o1"]["label_only"]
    assert row["detail"] == (
        "only pre-shipment information ('Shipment information received', 2026-11-08) "
        "7 days after shipping on 2026-11-08: never handed to the carrier"
    )
    assert json.loads(row["evidence"])["event_keys"] == [
        world.key("o1", "Shipment information received")
    ]


def test_label_only_counts_from_the_order_when_no_shipping_date(world: World) -> None:
    sid = world.shipment("o1", ordered_at="2026-11-01T00:00:00Z", shipped_at=None)
    world.events(sid, Ev("2026-11-02T00:00:00Z", "info_received", "Label created"))
    assert "label_only" in world.codes("2026-11-08T00:00:00Z")["o1"]


def test_a_collection_scan_ends_label_only(world: World) -> None:
    sid = world.shipment("o1")
    world.events(
        sid,
        Ev("2026-11-02T00:00:00Z", "info_received", "Label created"),
        Ev("2026-11-25T00:00:00Z", "in_transit", "Accepted by carrier"),
    )
    assert "o1" not in world.codes()


# --- stalled ------------------------------------------------------------------------


def test_stalled_after_exactly_n_days_with_the_brief_detail(world: World) -> None:
    sid = world.shipment("o1", ordered_at="2026-10-10T00:00:00Z", shipped_at="2026-10-12T00:00:00Z")
    world.events(
        sid,
        Ev("2026-10-14T15:00:00+08:00", "in_transit", "Accepted by carrier", city="Guangzhou"),
        Ev("2026-10-24T06:00:00+08:00", "in_transit", "Departed from sorting center",
           city="Guangzhou"),
    )  # fmt: skip
    # 2026-10-24T06:00+08:00 is 2026-10-23T22:00Z; ten days later to the second.
    assert "o1" not in world.codes("2026-11-02T21:59:59Z")
    row = world.flags("2026-11-02T22:00:00Z")["o1"]["stalled"]
    assert row["severity"] == "warning"
    assert row["threshold"] == "stalled_days=10"
    assert row["detail"] == (
        "no movement for 10 days since 'Departed from sorting center', Guangzhou, 2026-10-24"
    )
    row = world.flags("2026-11-20T00:00:00Z")["o1"]["stalled"]
    assert row["detail"].startswith("no movement for 27 days since")
    assert json.loads(row["evidence"]) == {
        "event_keys": [world.key("o1", "Departed from sorting center")],
        "poll_ids": [1],
    }


def test_stalled_boundary_for_an_event_at_2330_local_on_the_last_day(world: World) -> None:
    # 23:30 in Seattle on 2026-11-18 is 07:30Z on 11-19: the day count and the date in
    # the text follow the source's local day, the boundary follows the instant.
    sid = world.shipment("o1", country="US", city="Seattle", postcode="98101", promised_to=None)
    world.events(sid, Ev("2026-11-18T23:30:00-08:00", "in_transit", "Arrived at facility",
                         city="Seattle"))  # fmt: skip
    assert "o1" not in world.codes("2026-11-29T07:29:59Z")
    row = world.flags("2026-11-29T07:30:00Z")["o1"]["stalled"]
    assert row["detail"] == (
        "no movement for 10 days since 'Arrived at facility', Seattle, 2026-11-18"
    )


def test_stalled_turns_critical_and_follows_its_threshold(world: World) -> None:
    sid = world.shipment("o1", promised_to=None)
    world.events(sid, Ev("2026-11-01T00:00:00Z", "in_transit", "Departed"))
    assert world.flags("2026-11-21T23:59:59Z")["o1"]["stalled"]["severity"] == "warning"
    assert world.flags("2026-11-22T00:00:00Z")["o1"]["stalled"]["severity"] == "critical"
    rules = replace(RULES, stalled_days=3)
    row = world.flags("2026-11-04T00:00:00Z", rules)["o1"]["stalled"]
    assert row["threshold"] == "stalled_days=3"


@pytest.mark.parametrize(
    "status", ["delivered", "returned", "returning", "expired", "info_received"]
)
def test_final_or_other_flagged_states_are_not_stalled(world: World, status: str) -> None:
    sid = world.shipment("o1", promised_to=None)
    world.events(sid, Ev("2026-10-01T00:00:00Z", status, "Something"))
    assert "stalled" not in world.codes().get("o1", set())


def test_available_for_pickup_and_exception_can_stall(world: World) -> None:
    a = world.shipment("o1", promised_to=None)
    world.events(a, Ev("2026-11-01T00:00:00Z", "available_for_pickup", "At pickup point"))
    b = world.shipment("o2", "LP00000000000002", promised_to=None)
    world.events(b, Ev("2026-11-01T00:00:00Z", "exception", "Held by customs"))
    codes = world.codes()
    assert "stalled" in codes["o1"]
    assert {"stalled", "exception"} <= codes["o2"]
    assert world.flags()["o1"]["stalled"]["detail"] == (
        "waiting for pickup, no movement for 27 days since 'At pickup point', 2026-11-01"
    )


# --- overdue ------------------------------------------------------------------------


def test_overdue_strictly_after_the_promised_instant(world: World) -> None:
    # A bare promised date is stored as the last microsecond of that day.
    sid = world.shipment("o1", promised_to="2026-11-12T23:59:59.999999+11:00", country="AU",
                         protection_ends_at=None)  # fmt: skip
    world.events(sid, Ev("2026-11-25T10:00:00+11:00", "in_transit", "In transit"))
    assert "o1" not in world.codes("2026-11-12T12:59:59.999999Z")
    row = world.flags("2026-11-12T13:00:00Z")["o1"]["overdue"]
    assert row["detail"] == (
        "not delivered by the promised date 2026-11-12 (less than a day ago); status in transit"
    )
    assert row["threshold"] == "overdue_grace_days=0"
    assert world.flags("2026-11-28T12:00:00Z")["o1"]["overdue"]["detail"].startswith(
        "not delivered by the promised date 2026-11-12 (15 days ago)"
    )


def test_overdue_grace(world: World) -> None:
    world.shipment("o1", promised_to="2026-11-20T00:00:00Z", protection_ends_at=None)
    rules = replace(RULES, overdue_grace_days=2)
    assert "o1" not in world.codes("2026-11-22T00:00:00Z", rules)
    assert world.codes("2026-11-22T00:00:01Z", rules)["o1"] == {"overdue"}


def test_shipment_with_no_events_can_only_be_overdue_or_expiring(world: World) -> None:
    world.shipment("o1", promised_to="2026-11-20T00:00:00Z",
                   protection_ends_at="2026-12-01T00:00:00Z")  # fmt: skip
    assert world.codes()["o1"] == {"overdue", "protection_expiring"}
    row = world.flags()["o1"]["overdue"]
    assert row["detail"].endswith("status unknown")


# --- protection_expiring ------------------------------------------------------------


def test_protection_expiring_window(world: World) -> None:
    sid = world.shipment(
        "o1", promised_to=None, protection_ends_at="2026-12-01T23:59:59.999999+11:00", country="AU"
    )
    world.events(sid, Ev("2026-11-26T10:00:00+11:00", "in_transit", "In transit"))
    ends = "2026-12-01T12:59:59.999999Z"
    assert "o1" not in world.codes("2026-11-24T12:59:59.999998Z")
    row = world.flags("2026-11-24T12:59:59.999999Z")["o1"]["protection_expiring"]
    assert row["severity"] == "critical"
    assert row["threshold"] == "protection_warning_days=7"
    assert row["detail"] == (
        "buyer protection ends 2026-12-01 (in 7 days); not delivered, status in transit"
    )
    assert world.flags("2026-11-28T12:00:00Z")["o1"]["protection_expiring"]["detail"].startswith(
        "buyer protection ends 2026-12-01 (in 3 days)"
    )
    assert "protection_expiring" in world.codes(ends)["o1"]
    assert "o1" not in world.codes("2026-12-01T13:00:00Z")


# --- delivered parcels --------------------------------------------------------------


def test_a_delivered_parcel_is_never_stalled_overdue_label_only_or_not_found(world: World) -> None:
    sid = world.shipment("o1", promised_to="2026-11-05T00:00:00Z",
                         protection_ends_at="2026-11-30T00:00:00Z")  # fmt: skip
    world.answer(sid, "not_found", at="2026-11-02T00:00:00Z")
    world.events(
        sid,
        Ev("2026-11-02T00:00:00Z", "info_received", "Label"),
        Ev("2026-11-20T00:00:00+01:00", "delivered", "Delivered", city="Madrid",
           postcode="28013", country="ES"),
    )  # fmt: skip
    assert "o1" not in world.codes("2027-03-01T00:00:00Z")


def test_delivered_late_is_not_overdue(world: World) -> None:
    # Delivered at 23:30 local on the promised day (07:30Z the next day).
    sid = world.shipment(
        "o1", "1Z9AA293YW03482200", country="US", city="Seattle", postcode="98101",
        promised_to="2026-11-18T23:59:59.999999-08:00",
    )  # fmt: skip
    world.events(sid, Ev("2026-11-18T23:30:00-08:00", "delivered", "Delivered",
                         city="Seattle", postcode="98101", country="US"))  # fmt: skip
    assert "o1" not in world.codes("2026-11-19T07:45:00Z")


# --- scan_before_order --------------------------------------------------------------


def test_scan_before_order(world: World) -> None:
    sid = world.shipment("o1", "1Z4F8W310368260410", ordered_at="2026-10-25T15:45:00+08:00",
                         country="US", city="Chicago", postcode="60614")  # fmt: skip
    world.events(
        sid,
        Ev("2026-09-02T10:00:00-04:00", "in_transit", "Origin scan", city="Louisville"),
        Ev("2026-09-05T13:00:00-05:00", "delivered", "Delivered", city="Chicago",
           postcode="60614", country="US"),
    )  # fmt: skip
    row = world.flags()["o1"]["scan_before_order"]
    assert row["severity"] == "critical"
    assert row["detail"] == (
        "first scan 'Origin scan', Louisville, 2026-09-02 is 52 days before the order "
        "(2026-10-25): the number was used for an earlier parcel"
    )
    assert json.loads(row["evidence"]) == {
        "event_keys": [world.key("o1", "Origin scan"), world.key("o1", "Delivered")],
        "poll_ids": [1],
    }


def test_scan_at_the_order_instant_is_not_before_it(world: World) -> None:
    sid = world.shipment("o1", ordered_at="2026-11-01T10:00:00Z")
    world.events(sid, Ev("2026-11-01T18:00:00+08:00", "info_received", "Label"))
    assert "scan_before_order" not in world.codes("2026-11-02T00:00:00Z").get("o1", set())
    sid = world.shipment("o2", "LP00000000000002", ordered_at="2026-11-01T10:00:00Z")
    world.events(sid, Ev("2026-11-01T17:59:59+08:00", "info_received", "Label"))
    row = world.flags("2026-11-02T00:00:00Z")["o2"]["scan_before_order"]
    assert " is 0 hours before the order" in row["detail"]


def test_scan_before_order_allows_for_an_unknown_zone(world: World) -> None:
    sid = world.shipment("o1", ordered_at="2026-11-01T10:00:00Z")
    # Local time with no zone: it may be anywhere from UTC-12 to UTC+14.
    world.events(sid, Ev("2026-10-31T21:00:00", "info_received", "Label", tz_known=False))
    assert "scan_before_order" not in world.codes("2026-11-02T00:00:00Z").get("o1", set())
    sid = world.shipment("o2", "LP00000000000002", ordered_at="2026-11-01T10:00:00Z")
    world.events(sid, Ev("2026-10-31T19:59:59", "info_received", "Label", tz_known=False))
    assert "scan_before_order" in world.codes("2026-11-02T00:00:00Z")["o2"]


def test_no_order_date_no_scan_before_order(world: World) -> None:
    sid = world.shipment("o1", ordered_at=None, shipped_at="2026-11-01T00:00:00Z")
    world.events(sid, Ev("2026-09-01T00:00:00Z", "in_transit", "Old"))
    assert "scan_before_order" not in world.codes().get("o1", set())


# --- number_reused ------------------------------------------------------------------


def test_number_reused_on_two_orders(world: World) -> None:
    world.shipment("8101203344562", "CE119832745CN", country="IT", city="Milano",
                   store="MiniParts")  # fmt: skip
    world.shipment("8101203344563", "CE119832745CN", country="PT", city="Lisboa",
                   store="MiniParts")  # fmt: skip
    world.shipment("o3", "LP00000000000003")
    flags = world.flags()
    row = flags["8101203344562"]["number_reused"]
    assert row["severity"] == "warning"
    assert row["threshold"] == "number_reused_days=365"
    assert row["detail"] == "the same number is on order 8101203344563 (Lisboa, PT)"
    assert json.loads(row["evidence"])["shipment_ids"] == [2]
    assert flags["8101203344563"]["number_reused"]["detail"] == (
        "the same number is on order 8101203344562 (Milano, IT)"
    )
    assert "o3" not in flags


def test_number_reused_ignores_archived_and_distant_orders(world: World) -> None:
    world.shipment("old", "CE119832745CN", ordered_at="2025-10-01T00:00:00Z",
                   shipped_at="2025-10-02T00:00:00Z")  # fmt: skip
    world.shipment("new", "CE119832745CN", ordered_at="2026-10-30T00:00:00Z")
    world.shipment("gone", "CE119832745CN", archived=True)
    codes = world.codes()
    assert "number_reused" not in codes.get("new", set())
    assert "number_reused" not in codes.get("old", set())
    # The archived one is still evaluated (shown with --all): its twin is active.
    assert "number_reused" in codes["gone"]


def test_number_reused_same_store_and_destination_is_info(world: World) -> None:
    world.shipment("a", "CE119832745CN", store="S")
    world.shipment("b", "CE119832745CN", store="S")
    row = world.flags()["a"]["number_reused"]
    assert row["severity"] == "info"
    assert row["detail"].endswith("(same store and destination: possibly one parcel for "
                                  "several orders)")  # fmt: skip


# --- returned, exception, expired ---------------------------------------------------


def test_returned_and_returning(world: World) -> None:
    a = world.shipment("a", promised_to=None, protection_ends_at=None)
    world.events(a, Ev("2026-11-20T10:00:00+00:00", "returning", "Returning to sender: refused",
                       city="London"))  # fmt: skip
    b = world.shipment("b", "LP00000000000002", promised_to=None, protection_ends_at=None)
    world.events(b, Ev("2026-11-15T10:00:00+08:00", "returned", "Returned to sender",
                       city="Shanghai"))  # fmt: skip
    c = world.shipment("c", "LP00000000000003", promised_to=None, protection_ends_at=None)
    world.events(c, Ev("2026-11-25T10:00:00Z", "exception", "Returning", sub_status="returning"))
    flags = world.flags()
    assert flags["a"]["returned"]["detail"] == (
        "being returned to sender: 'Returning to sender: refused', London, 2026-11-20"
    )
    assert flags["b"]["returned"]["detail"] == (
        "returned to sender: 'Returned to sender', Shanghai, 2026-11-15"
    )
    assert flags["b"]["returned"]["severity"] == "critical"
    assert set(flags["c"]) == {"returned"}


def test_exception_and_delivery_failed(world: World) -> None:
    a = world.shipment("a", promised_to=None, protection_ends_at=None)
    world.events(a, Ev("2026-11-26T10:00:00-05:00", "exception", "Clearance delay - Import",
                       city="Toronto", sub_status="customs"))  # fmt: skip
    b = world.shipment("b", "LP00000000000002", promised_to=None, protection_ends_at=None)
    world.events(b, Ev("2026-11-21T10:00:00+01:00", "delivery_failed",
                       "Delivery attempt failed: no recipient", city="Goteborg",
                       sub_status="no_recipient"))  # fmt: skip
    flags = world.flags()
    assert flags["a"]["exception"]["detail"] == (
        "exception (customs): 'Clearance delay - Import', Toronto, 2026-11-26"
    )
    assert flags["a"]["exception"]["severity"] == "warning"
    assert flags["b"]["exception"]["detail"] == (
        "delivery failed (no recipient): 'Delivery attempt failed: no recipient', "
        "Goteborg, 2026-11-21"
    )
    assert set(flags["b"]) == {"exception"}


def test_exception_from_the_source_status_without_an_exception_event(world: World) -> None:
    sid = world.shipment("a", promised_to=None, protection_ends_at=None)
    world.events(sid, Ev("2026-11-26T10:00:00Z", "in_transit", "Arrived"))
    world.state(sid, status="exception", source_status_raw="Exception_Security")
    assert world.codes()["a"] == {"exception"}


def test_expired(world: World) -> None:
    sid = world.shipment(
        "a", ordered_at="2026-08-20T00:00:00Z", promised_to=None, protection_ends_at=None
    )
    world.events(sid, Ev("2026-09-01T10:00:00+08:00", "in_transit", "Departed sorting center",
                         city="Guangzhou"))  # fmt: skip
    world.state(sid, status="expired")
    flags = world.flags()
    assert set(flags["a"]) == {"expired"}
    assert flags["a"]["expired"]["detail"] == (
        "17track stopped tracking it without a delivery; last event "
        "'Departed sorting center', Guangzhou, 2026-09-01"
    )


def test_every_code_is_in_the_catalogue(world: World) -> None:
    from analysis.flags import FLAG_CODES, SEVERITIES

    sid = world.shipment("o1", "RR507128933CN", number_verdict="invalid")
    world.events(sid, Ev("2026-09-01T00:00:00Z", "exception", "x"))
    frame = world.flags()
    for rows in frame.values():
        for code, row in rows.items():
            assert code in FLAG_CODES
            assert row["severity"] in SEVERITIES


def test_a_fresh_registrations_not_found_counts_as_not_found(world: World) -> None:
    # 17TRACK's "NotFound" in the run that registered the number is stored as an ok
    # answer ("not looked up yet") so that the poller asks again soon.
    sid = world.shipment("o1", shipped_at="2026-11-01T00:00:00Z")
    world.answer(sid, "ok", code="NotFound_Other", pending=True)
    assert world.codes()["o1"] == {"not_found"}
