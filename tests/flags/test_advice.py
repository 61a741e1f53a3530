"""Advice that is never false: no dispute on a flag that is no reason for one, and no
advice at all on a parcel never tracked (issue 18, items 2 and 3)."""

from __future__ import annotations

import polars as pl
import pytest

from analysis.disputes import dispute_windows
from analysis.flags import FLAG_CODES, SEVERITIES
from collector.config import Settings
from tests.flags.builder import NOW, Ev, T, World

DISPUTE_ACTIONS = {"open_dispute", "escalate"}
# No reason to dispute whatever the parcel's state.
NEVER_A_REASON = {"protection_expiring", "carrier_mismatch"}


def _one_flag(sid: int, code: str, severity: str) -> pl.DataFrame:
    return pl.DataFrame({"shipment_id": [sid], "code": [code], "severity": [severity]})


def _shipment(world: World, *, delivered: bool) -> int:
    # Window open (AliExpress: day 11 after shipping), far from its end.
    sid = world.shipment(
        "o1", shipped_at="2026-11-01T00:00:00Z", promised_to="2026-11-20T00:00:00Z",
        protection_ends_at="2027-01-30T00:00:00Z",
    )  # fmt: skip
    if delivered:
        world.events(sid, Ev("2026-11-24T10:00:00+01:00", "delivered", "Delivered", city="Madrid"))
    else:
        world.events(sid, Ev("2026-11-24T10:00:00+01:00", "in_transit", "In transit"))
    return sid


@pytest.mark.parametrize("delivered", [False, True], ids=["on-its-way", "delivered"])
@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("code", FLAG_CODES)
def test_a_flag_that_is_no_reason_to_dispute_never_advises_one(
    world: World, code: str, severity: str, delivered: bool
) -> None:
    sid = _shipment(world, delivered=delivered)
    row = dispute_windows(world.store, T(NOW), Settings(), flags=_one_flag(sid, code, severity))
    action = row["action"][0]
    reason = (
        severity != "info"
        and code not in NEVER_A_REASON
        and (not delivered or code == "delivered_elsewhere")
    )
    if reason:
        assert action == "open_dispute", (code, severity, row["action_detail"][0])
    else:
        assert action not in DISPUTE_ACTIONS, (code, severity, row["action_detail"][0])


def test_a_reused_number_on_a_parcel_delivered_home_is_nothing_to_do(world: World) -> None:
    sid = _shipment(world, delivered=True)
    other = world.shipment("o2", store="Another store", ordered_at="2026-10-31T00:00:00Z")
    world.events(other, Ev("2026-11-24T10:00:00+01:00", "delivered", "Delivered", city="Madrid"))
    codes = world.codes()
    assert "number_reused" in codes["o1"]
    rows = {r["order_id"]: r for r in dispute_windows(world.store, T(NOW), Settings()).to_dicts()}
    assert rows["o1"]["action"] == "none"
    assert sid


def test_a_doubted_delivery_asks_the_seller_and_claims_nothing(world: World) -> None:
    sid = _shipment(world, delivered=True)
    frame = _one_flag(sid, "scan_before_order", "critical")
    row = dispute_windows(world.store, T(NOW), Settings(), flags=frame).to_dicts()[0]
    assert row["action"] == "ask_seller"
    assert row["action_detail"] == (
        "the carrier reports it delivered on 2026-11-24, but: scan before order; if the "
        "parcel you received is not this order, ask the seller for its real tracking number"
    )


@pytest.mark.parametrize("code", FLAG_CODES)
def test_nothing_is_advised_on_a_parcel_never_polled(world: World, code: str) -> None:
    sid = world.shipment(
        "o1", shipped_at="2026-09-01T00:00:00Z", promised_to="2026-09-20T00:00:00Z",
        protection_ends_at="2026-11-30T00:00:00Z",
    )  # fmt: skip
    row = dispute_windows(
        world.store, T(NOW), Settings(), flags=_one_flag(sid, code, "critical")
    ).to_dicts()[0]
    assert row["action"] == "wait"
    assert row["polled"] is False
    assert row["action_detail"] == "not polled yet: run parcelproof poll to fetch its tracking"


def test_an_order_awaiting_its_number_waits_until_the_promised_date_passes(
    world: World,
) -> None:
    # Imported with an empty number cell: stored as awaiting one (tracking_number "").
    for order in ("a1", "a2"):
        world.shipment(
            order, "", courier=None, number_format=None, number_verdict=None,
            number_reason="awaiting a tracking number", shipped_at=None,
            ordered_at="2026-11-01T00:00:00Z", promised_to="2026-12-10T00:00:00Z",
        )  # fmt: skip
    # Nothing to judge: not an invalid number, not one number on two orders.
    assert world.codes() == {}
    rows = dispute_windows(world.store, T(NOW), Settings(), flags=world.evaluate().current)
    assert rows["action"].to_list() == ["wait", "wait"]
    assert rows["action_detail"][0] == (
        "awaiting a tracking number: import it when the seller sends one; promised by 2026-12-10"
    )
    # The promised date passed with no number: that is a reason to dispute.
    late = "2026-12-12T12:00:00Z"
    assert world.codes(late) == {"a1": {"overdue"}, "a2": {"overdue"}}
    assert world.flags(late)["a1"]["overdue"]["detail"] == (
        "not delivered by the promised date 2026-12-10 (2 days ago); no tracking number yet"
    )
    evaluation = world.evaluate(late)
    rows = dispute_windows(world.store, T(late), Settings(), flags=evaluation.current)
    assert rows["action"].to_list() == ["open_dispute", "open_dispute"]
