"""Dispute windows per marketplace and today's recommended action, at their boundaries."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from analysis.disputes import MARKETPLACE_RULES, dispute_windows
from analysis.flags import compute_flags
from collector.config import DisputesConfig, Settings
from tests.flags.builder import NOW, Ev, T, World


def windows(world: World, now: str = NOW, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or Settings()
    _polled(world)
    flags = compute_flags(world.store, T(now), settings.rules)
    frame = dispute_windows(world.store, T(now), settings, flags=flags)
    return {row["order_id"]: row for row in frame.iter_rows(named=True)}


def _polled(world: World) -> None:
    """Give every shipment never polled a poll that learnt nothing (status unknown):
    these tests are about the windows, and nothing is advised before a first poll."""
    for (sid,) in world.store.query(
        "SELECT shipment_id FROM shipments WHERE shipment_id NOT IN "
        "(SELECT shipment_id FROM tracking_state)"
    ):
        world.state(int(sid), last_poll_at="2026-01-01T00:00:00Z")


def action(world: World, now: str, order: str = "o1", settings: Settings | None = None) -> str:
    return str(windows(world, now, settings)[order]["action"])


def moving(world: World, sid: int, at: str = "2026-11-25T10:00:00Z") -> None:
    world.events(sid, Ev(at, "in_transit", "In transit"))


# --- AliExpress ----------------------------------------------------------------------


def test_aliexpress_problem_opens_on_day_11_and_closes_with_protection(world: World) -> None:
    sid = world.shipment(
        "o1", ordered_at="2026-10-01T00:00:00Z", shipped_at="2026-10-02T00:00:00Z",
        promised_to="2026-11-20T00:00:00Z", protection_ends_at="2026-12-01T00:00:00Z",
    )  # fmt: skip
    world.answer(sid, "invalid", at="2026-10-03T00:00:00Z")  # invalid_number: a problem
    row = windows(world, "2026-10-05T00:00:00Z")["o1"]
    assert row["opens_at"] == T("2026-10-13T00:00:00Z")
    assert row["deadline"] == T("2026-12-01T00:00:00Z")
    assert row["rule"] == "aliexpress"
    assert row["action"] == "ask_seller"
    assert row["action_detail"] == (
        "contact the seller now about: invalid number; the AliExpress dispute can be opened "
        "from 2026-10-13 until 2026-12-01"
    )
    assert action(world, "2026-10-12T23:59:59Z") == "ask_seller"
    assert action(world, "2026-10-13T00:00:00Z") == "open_dispute"
    detail = windows(world, "2026-10-13T00:00:00Z")["o1"]["action_detail"]
    assert detail == (
        "open the AliExpress dispute now (invalid number); last day 2026-12-01; "
        "the seller has 5 days to respond"
    )
    assert action(world, "2026-12-01T00:00:00Z") == "open_dispute"
    # After the timer, 15 days in which a refund request is still possible ...
    row = windows(world, "2026-12-01T00:00:01Z")["o1"]
    assert row["action"] == "open_dispute"
    assert row["action_detail"] == (
        "buyer protection ended 2026-12-01; AliExpress allows a refund request up to 15 days "
        "after the order closes (until 2026-12-16): open it today"
    )
    assert action(world, "2026-12-16T00:00:00Z") == "open_dispute"
    # ... then a card chargeback (120 days after the expected date), then nothing.
    row = windows(world, "2026-12-16T00:00:01Z")["o1"]
    assert row["action"] == "escalate"
    assert row["action_detail"] == (
        "the AliExpress dispute window closed on 2026-12-16; if you paid by card, ask your "
        "card issuer for a chargeback (Visa 13.1 / Mastercard 4855) by 2027-03-20"
    )
    assert action(world, "2027-03-20T00:00:00Z") == "escalate"
    assert action(world, "2027-03-20T00:00:01Z") == "too_late"
    no_card = replace(Settings(), disputes=replace(DisputesConfig(), escalate_to_card=False))
    assert action(world, "2026-12-16T00:00:01Z", settings=no_card) == "too_late"


def test_aliexpress_moving_parcel_waits_for_the_delivery_time(world: World) -> None:
    sid = world.shipment(
        "o1", ordered_at="2026-11-10T00:00:00Z", shipped_at="2026-11-12T00:00:00Z",
        promised_to="2026-12-10T00:00:00Z", protection_ends_at="2027-01-12T00:00:00Z",
    )  # fmt: skip
    moving(world, sid, "2026-11-26T10:00:00Z")
    row = windows(world)["o1"]
    assert row["action"] == "wait"
    assert row["opens_at"] == T("2026-12-10T00:00:00Z")
    assert row["action_detail"] == (
        "wait until 2026-12-10: the AliExpress dispute window opens then (last day 2027-01-12)"
    )


def test_aliexpress_ask_the_seller_to_extend_protection_near_its_end(world: World) -> None:
    sid = world.shipment(
        "o1", ordered_at="2026-11-01T00:00:00Z", shipped_at="2026-11-02T00:00:00Z",
        promised_to="2026-12-20T00:00:00Z", protection_ends_at="2026-12-12T00:00:00Z",
    )  # fmt: skip
    moving(world, sid, "2026-12-04T00:00:00Z")
    assert action(world, "2026-12-04T23:59:59Z") == "wait"
    row = windows(world, "2026-12-05T00:00:00Z")["o1"]
    assert row["action"] == "ask_seller"
    assert row["action_detail"] == (
        "buyer protection ends 2026-12-12 and the parcel is not delivered: ask the seller "
        "to extend it; if they refuse, open the dispute before then"
    )


@pytest.mark.parametrize(("country", "days"), [("ES", 60), ("RU", 90), ("BR", 120)])
def test_aliexpress_default_protection(world: World, country: str, days: int) -> None:
    world.shipment("o1", shipped_at="2026-10-01T00:00:00Z", protection_ends_at=None,
                   country=country)  # fmt: skip
    deadline = windows(world)["o1"]["deadline"]
    assert (deadline - T("2026-10-01T00:00:00Z")).days == days


def test_delivered_is_nothing_to_do_unless_contested(world: World) -> None:
    a = world.shipment("o1", promised_to="2026-11-20T00:00:00Z")
    world.events(a, Ev("2026-11-18T10:00:00+01:00", "delivered", "Delivered", city="Madrid",
                       postcode="28013", country="ES"))  # fmt: skip
    b = world.shipment("o2", "LP00000000000002", promised_to="2026-11-20T00:00:00Z",
                       protection_ends_at="2026-12-20T00:00:00Z")  # fmt: skip
    world.events(b, Ev("2026-11-18T10:00:00+01:00", "delivered", "Delivered", city="Sevilla",
                       postcode="41001", country="ES"))  # fmt: skip
    rows = windows(world)
    assert rows["o1"]["action"] == "none"
    assert rows["o1"]["action_detail"] == "delivered on 2026-11-18; nothing to do"
    assert rows["o2"]["action"] == "open_dispute"
    assert rows["o2"]["action_detail"].startswith(
        "open the AliExpress dispute now (delivered elsewhere); last day 2026-12-20"
    )


# --- eBay, Amazon, PayPal ------------------------------------------------------------


def test_ebay_opens_at_the_estimated_delivery_date(world: World) -> None:
    sid = world.shipment("o1", marketplace="ebay", ordered_at="2026-11-01T00:00:00Z",
                         shipped_at="2026-11-03T00:00:00Z",
                         promised_to="2026-11-20T23:59:59.999999-05:00",
                         protection_ends_at=None, country="US")  # fmt: skip
    moving(world, sid, "2026-11-19T10:00:00Z")
    row = windows(world, "2026-11-21T04:59:59.999998Z")["o1"]
    assert row["action"] == "wait"
    assert row["opens_at"] == T("2026-11-21T04:59:59.999999Z")
    assert row["deadline"] == T("2026-12-21T04:59:59.999999Z")
    assert row["action_detail"] == (
        "wait until 2026-11-20: the eBay item-not-received request window opens then "
        "(last day 2026-12-20)"
    )
    row = windows(world, "2026-11-21T05:00:00Z")["o1"]  # overdue now: a reason
    assert row["action"] == "open_dispute"
    assert row["action_detail"] == (
        "open the eBay item-not-received request now (overdue); last day 2026-12-20; "
        "the seller has 3 business days, then ask eBay to step in"
    )
    assert action(world, "2026-12-21T04:59:59.999999Z") == "open_dispute"
    assert action(world, "2026-12-21T05:00:00Z") == "escalate"


def test_amazon_asks_the_seller_first_then_opens_three_days_after(world: World) -> None:
    sid = world.shipment("o1", marketplace="amazon", promised_to="2026-11-20T00:00:00Z",
                         protection_ends_at=None)  # fmt: skip
    moving(world, sid, "2026-11-19T10:00:00Z")
    assert action(world, "2026-11-19T23:59:59Z") == "wait"
    row = windows(world, "2026-11-20T00:00:01Z")["o1"]
    assert row["action"] == "ask_seller"
    assert row["opens_at"] == T("2026-11-23T00:00:00Z")
    assert row["deadline"] == T("2027-02-18T00:00:00Z")
    assert row["action_detail"] == (
        "contact the seller now about: overdue; the Amazon A-to-z claim can be opened from "
        "2026-11-23 until 2027-02-18"
    )
    assert action(world, "2026-11-23T00:00:00Z") == "open_dispute"


def test_amazon_without_a_problem_still_asks_the_seller_after_the_date(world: World) -> None:
    sid = world.shipment("o1", marketplace="amazon", promised_to="2026-11-20T00:00:00Z",
                         protection_ends_at=None)  # fmt: skip
    moving(world, sid, "2026-11-20T10:00:00Z")
    settings = replace(Settings(), rules=replace(Settings().rules, overdue_grace_days=5))
    row = windows(world, "2026-11-21T00:00:00Z", settings)["o1"]
    assert row["action"] == "ask_seller"
    assert row["action_detail"] == (
        "contact the seller now: Amazon expects 48 h for an answer before an A-to-z claim, "
        "possible from 2026-11-23 until 2027-02-18"
    )


def test_paypal_window_is_180_days_from_payment(world: World) -> None:
    sid = world.shipment("o1", marketplace="paypal", ordered_at="2026-06-01T00:00:00Z",
                         shipped_at="2026-06-02T00:00:00Z", promised_to="2026-07-01T00:00:00Z",
                         protection_ends_at=None)  # fmt: skip
    moving(world, sid, "2026-06-20T00:00:00Z")
    row = windows(world, "2026-06-21T00:00:00Z")["o1"]
    assert (row["opens_at"], row["deadline"]) == (
        T("2026-06-01T00:00:00Z"), T("2026-11-28T00:00:00Z"),
    )  # fmt: skip
    assert row["action"] == "wait"
    assert row["action_detail"] == (
        "on its way and nothing is wrong; the PayPal dispute window is open until 2026-11-28: "
        "wait until 2026-07-01"
    )
    detail = windows(world, "2026-07-02T00:00:00Z")["o1"]["action_detail"]
    assert detail.endswith("; escalate it to a claim within 20 days")
    assert action(world, "2026-11-28T00:00:00Z") == "open_dispute"
    # A card's 120 days from the expected date ended before PayPal's 180 from payment.
    assert action(world, "2026-11-28T00:00:01Z") == "too_late"


# --- cards ---------------------------------------------------------------------------


def test_visa_with_and_without_an_expected_date(world: World) -> None:
    world.shipment("o1", marketplace="visa", ordered_at="2026-06-01T00:00:00Z",
                   promised_to="2026-07-01T00:00:00Z", protection_ends_at=None)  # fmt: skip
    world.shipment("o2", "LP00000000000002", marketplace="visa",
                   ordered_at="2026-06-01T00:00:00Z", promised_to=None,
                   protection_ends_at=None)  # fmt: skip
    rows = windows(world, "2026-06-10T00:00:00Z")
    assert (rows["o1"]["opens_at"], rows["o1"]["deadline"]) == (
        T("2026-07-01T00:00:00Z"), T("2026-10-29T00:00:00Z"),
    )  # fmt: skip
    assert (rows["o2"]["opens_at"], rows["o2"]["deadline"]) == (
        T("2026-06-16T00:00:00Z"), T("2026-09-29T00:00:00Z"),
    )  # fmt: skip
    assert action(world, "2026-10-29T00:00:00Z") == "open_dispute"
    assert action(world, "2026-10-29T00:00:01Z") == "too_late"  # no card escalation


def test_visa_deadline_is_capped_at_540_days(world: World) -> None:
    world.shipment("o1", marketplace="visa", ordered_at="2026-01-01T00:00:00Z",
                   promised_to="2027-05-01T00:00:00Z", protection_ends_at=None)  # fmt: skip
    row = windows(world)["o1"]
    assert row["deadline"] == T("2027-06-25T00:00:00Z")  # 2026-01-01 + 540 days


def test_mastercard_with_and_without_an_expected_date(world: World) -> None:
    world.shipment("o1", marketplace="mastercard", ordered_at="2026-06-01T00:00:00Z",
                   promised_to="2026-07-01T00:00:00Z", protection_ends_at=None)  # fmt: skip
    world.shipment("o2", "LP00000000000002", marketplace="mastercard",
                   ordered_at="2026-06-01T00:00:00Z", promised_to=None,
                   protection_ends_at=None)  # fmt: skip
    rows = windows(world, "2026-06-10T00:00:00Z")
    assert (rows["o1"]["opens_at"], rows["o1"]["deadline"]) == (
        T("2026-07-01T00:00:00Z"), T("2026-10-29T00:00:00Z"),
    )  # fmt: skip
    assert (rows["o2"]["opens_at"], rows["o2"]["deadline"]) == (
        T("2026-07-01T00:00:00Z"), T("2026-09-29T00:00:00Z"),
    )  # fmt: skip
    assert rows["o2"]["action_detail"] == (
        "wait until 2026-07-01: the Mastercard chargeback (4855) window opens then "
        "(last day 2026-09-29)"
    )


# --- other ---------------------------------------------------------------------------


@pytest.mark.parametrize("marketplace", ["other", "temu", "shein"])
def test_other_marketplaces_use_the_generic_rule(world: World, marketplace: str) -> None:
    world.shipment("o1", marketplace=marketplace, promised_to="2026-11-20T00:00:00Z",
                   protection_ends_at=None)  # fmt: skip
    world.shipment("o2", "LP00000000000002", marketplace=marketplace, promised_to=None,
                   shipped_at="2026-11-01T00:00:00Z",
                   protection_ends_at="2026-12-24T00:00:00Z")  # fmt: skip
    rows = windows(world, "2026-11-10T00:00:00Z")
    assert rows["o1"]["rule"] == "other"
    assert (rows["o1"]["opens_at"], rows["o1"]["deadline"]) == (
        T("2026-11-20T00:00:00Z"), T("2026-12-20T00:00:00Z"),
    )  # fmt: skip
    assert (rows["o2"]["opens_at"], rows["o2"]["deadline"]) == (
        T("2026-12-01T00:00:00Z"), T("2026-12-24T00:00:00Z"),
    )  # fmt: skip


def test_every_marketplace_of_the_import_has_a_rule() -> None:
    from collector.importer import MARKETPLACES

    assert set(MARKETPLACE_RULES) == set(MARKETPLACES)


def test_reads_open_flags_from_the_history_without_a_flag_frame(world: World) -> None:
    sid = world.shipment("o1", promised_to=None)
    world.answer(sid, "invalid", at="2026-11-02T00:00:00Z")
    world.evaluate()
    frame = dispute_windows(world.store, T(NOW), Settings())
    assert frame.row(0, named=True)["action"] == "open_dispute"


def test_a_carrier_mismatch_alone_is_a_question_for_the_seller(world: World) -> None:
    sid = world.shipment("o1", carrier="UPS", carrier_mismatch=True, number_format="s10",
                         courier="china-post", promised_to="2026-12-05T00:00:00Z",
                         protection_ends_at="2027-01-03T00:00:00Z")  # fmt: skip
    moving(world, sid, "2026-11-25T10:00:00Z")
    row = windows(world)["o1"]
    assert row["action"] == "ask_seller"
    assert row["action_detail"] == (
        "ask the seller about: carrier mismatch (which carrier has the parcel?); the "
        "AliExpress dispute can be opened from 2026-12-05 until 2027-01-03"
    )
