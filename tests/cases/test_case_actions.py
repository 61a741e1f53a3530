"""The recommended action knows the case: every step's clock checked at its boundaries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl
import pytest

from analysis.assess import assess
from analysis.cases import add_days, due_soon
from analysis.cli import print_status_table
from analysis.status import shipment_status
from collector.config import CasesConfig, Settings
from collector.console import make_console
from collector.countries import zone_for
from tests.cases.conftest import ORDER, at, record, stalled_parcel
from tests.flags.builder import Ev, World

S = Settings()
SECOND = timedelta(seconds=1)


def case(world: World, now: datetime, settings: Settings = S) -> dict[str, Any]:
    cases = assess(world.store, now, settings, record=False).cases
    return cases.filter(pl.col("order_id") == ORDER).row(0, named=True)


def action(world: World, now: datetime) -> str:
    return str(case(world, now)["action"])


def test_after_contacting_the_seller_wait_the_reply_time_then_open(stalled: World) -> None:
    record(stalled.store, "contacted_seller", "2026-11-20", now="2026-11-20T12:00:00Z")
    reply_by = at("2026-11-20") + timedelta(days=3)
    row = case(stalled, reply_by - SECOND)
    assert row["action"] == "wait"
    assert row["wait_until"] == reply_by
    assert "the seller has until 2026-11-23 to reply" in row["action_detail"]
    row = case(stalled, reply_by)
    assert row["action"] == "open_dispute"
    assert row["due_date"] == "2027-01-15"  # protection end + 15 grace days
    assert "open the AliExpress dispute by 2027-01-15" in row["action_detail"]


def test_the_reply_wait_never_runs_into_the_deadline(world: World) -> None:
    stalled_parcel(world, protection_ends_at="2026-11-24T22:59:59Z")
    settings = Settings(cases=CasesConfig(aliexpress_reply_days=30))
    record(world.store, "contacted_seller", "2026-11-10", now="2026-11-10T12:00:00Z")
    # Seven days before the last day (grace included: 2026-12-09) it is time to open.
    last_day = datetime.fromisoformat("2026-12-09T22:59:59+00:00")
    assert case(world, last_day - timedelta(days=7) - SECOND, settings)["action"] == "wait"
    assert case(world, last_day - timedelta(days=7), settings)["action"] == "open_dispute"
    assert case(world, last_day, settings)["action"] == "open_dispute"
    row = case(world, last_day + SECOND, settings)
    assert row["action"] == "escalate"  # only a card chargeback is left
    assert "ask your card issuer for a chargeback" in row["action_detail"]


def test_a_seller_offer_before_the_dispute_is_answered(stalled: World) -> None:
    record(stalled.store, "contacted_seller", "2026-11-20")
    record(stalled.store, "seller_offer", "2026-11-21", amount="5")
    row = case(stalled, at("2026-11-21") + SECOND)
    assert row["action"] == "answer_offer"
    assert "the seller offered 5.00 EUR on 2026-11-21" in row["action_detail"]


def test_after_opening_wait_the_response_time_then_escalate_before_the_deadline(
    stalled: World,
) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="refund", now="2026-11-10T12:00:00Z")
    opened = at("2026-11-10")
    answer_by, escalate_by = opened + timedelta(days=5), opened + timedelta(days=15)
    row = case(stalled, answer_by - SECOND)
    assert (row["action"], row["wait_until"], row["due_at"]) == ("wait", answer_by, escalate_by)
    row = case(stalled, answer_by)
    assert (row["action"], row["due_date"]) == ("escalate", "2026-11-25")
    assert row["action_detail"] == (
        "the seller has not answered within 5 days of the AliExpress dispute opened on "
        "2026-11-10: escalate to AliExpress by 2026-11-25"
    )
    assert case(stalled, escalate_by)["action"] == "escalate"
    # AliExpress escalates by itself after day 15 (older rules): wait for its decision.
    row = case(stalled, escalate_by + SECOND)
    assert row["action"] == "wait"
    assert "escalates an open dispute by itself" in row["action_detail"]
    assert case(stalled, escalate_by + timedelta(days=7) - SECOND)["action"] == "wait"
    assert case(stalled, escalate_by + timedelta(days=7))["action"] == "follow_up"


def test_a_reply_without_settlement_still_escalates_and_says_so(stalled: World) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="refund")
    record(stalled.store, "seller_replied", "2026-11-12")
    row = case(stalled, at("2026-11-15"))
    assert row["action"] == "escalate"
    assert row["action_detail"].startswith("the seller answered on 2026-11-12 but did not settle")


def test_an_offer_after_opening_is_answered_until_the_escalation_deadline(stalled: World) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="refund")
    record(stalled.store, "seller_offer", "2026-11-12", amount="10")
    row = case(stalled, at("2026-11-13"))
    assert (row["action"], row["due_date"], row["offer_amount"]) == (
        "answer_offer",
        "2026-11-25",
        10.0,
    )


def test_after_escalation_wait_the_decision_then_follow_up(stalled: World) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="refund")
    record(stalled.store, "escalated", "2026-11-16")
    decided = at("2026-11-16") + timedelta(days=7)
    assert case(stalled, decided - SECOND)["action"] == "wait"
    assert case(stalled, decided)["action"] == "follow_up"


def test_evidence_requested_gives_a_deadline_until_it_is_sent(stalled: World) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="refund")
    record(stalled.store, "escalated", "2026-11-16")
    record(stalled.store, "evidence_requested", "2026-11-17")
    row = case(stalled, at("2026-11-18"))
    assert (row["action"], row["due_at"]) == ("send_evidence", at("2026-11-17") + timedelta(days=3))
    assert "send it by 2026-11-20" in row["action_detail"]
    assert "deadline 2026-11-20 has passed" in case(stalled, at("2026-11-21"))["action_detail"]
    record(stalled.store, "evidence_sent", "2026-11-19")
    assert case(stalled, at("2026-11-21"))["action"] == "wait"  # the decision again


def test_the_requests_own_deadline_wins(stalled: World) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="refund")
    record(stalled.store, "evidence_requested", "2026-11-17", due="2026-11-18")
    assert case(stalled, at("2026-11-18"))["due_date"] == "2026-11-18"


def test_resolved_ends_the_actions_but_the_flags_stay(stalled: World) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="refund")
    record(stalled.store, "resolved", "2026-11-20", outcome="refunded")
    now = at("2026-11-28")
    a = assess(stalled.store, now, S, record=False)
    row = a.cases.row(0, named=True)
    assert (row["action"], row["open"], row["recovered"], row["lost"]) == ("none", False, 23.8, 0.0)
    assert row["days_to_resolution"] == 10.0
    assert set(a.flags["code"].to_list()) >= {"stalled"}
    assert a.disputes["action"].to_list() == ["none"]
    assert due_soon(a.cases, now, S) == []


def test_a_rejected_case_lost_the_amount(stalled: World) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="refund")
    record(stalled.store, "resolved", "2026-11-20", outcome="rejected")
    row = case(stalled, at("2026-11-28"))
    assert (row["recovered"], row["lost"], row["open"]) == (0.0, 23.8, False)


def test_the_case_watches_the_resent_parcel(stalled: World) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="resend")
    record(stalled.store, "resolved", "2026-11-15", outcome="resent", tracking="LP00999888777666")
    row = case(stalled, at("2026-11-16"))
    assert (row["action"], row["open"], row["linked_tracking_number"]) == (
        "wait",
        True,
        "LP00999888777666",
    )
    sid = int(row["linked_shipment_id"])
    # It is a shipment like any other: polled, flagged, with its own window.
    stalled.events(sid, Ev("2026-11-16T06:00:00+08:00", "in_transit", "Accepted"),
                   at="2026-11-27T06:00:00Z")  # fmt: skip
    row = case(stalled, at("2026-11-28"))
    assert row["action"] == "ask_seller"
    assert "the new parcel LP00999888777666 has a problem (stalled)" in row["action_detail"]
    stalled.events(sid, Ev("2026-11-28T09:00:00+01:00", "delivered", "Delivered"),
                   at="2026-11-28T10:00:00Z")  # fmt: skip
    row = case(stalled, at("2026-11-29"))
    assert (row["action"], row["open"]) == ("none", False)
    assert "the new parcel LP00999888777666 was delivered on 2026-11-28" in row["action_detail"]


def test_steps_after_now_do_not_count(stalled: World) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="refund")
    record(stalled.store, "escalated", "2026-11-16")
    assert case(stalled, at("2026-11-15"))["state"] == "opened"
    assert case(stalled, at("2026-11-16"))["state"] == "escalated"
    assert assess(stalled.store, at("2026-11-09"), S, record=False).cases.height == 0


def test_a_correction_moves_the_clock(stalled: World) -> None:
    first = record(stalled.store, "opened", "2026-11-10", ask="refund")
    record(stalled.store, "opened", "2026-11-14", ask="refund", corrects=first)
    assert case(stalled, at("2026-11-18"))["action"] == "wait"  # 14 + 5 days


def test_ebay_counts_business_days(world: World) -> None:
    stalled_parcel(world, marketplace="ebay")
    # Opened on Friday 2026-11-06 in Madrid: three business days end on Wednesday.
    record(world.store, "opened", "2026-11-06", ask="refund")
    opened, madrid = at("2026-11-06"), zone_for("ES")
    answer_by = add_days(opened, 3, business=True, zone=madrid)
    assert answer_by == at("2026-11-11")
    assert case(world, answer_by - SECOND)["action"] == "wait"
    row = case(world, answer_by)
    assert row["action"] == "escalate"
    assert row["due_at"] == add_days(opened, 21, business=True, zone=madrid)
    assert row["due_date"] == "2026-12-07"  # 21 business days: a Monday
    assert "3 business days" in row["action_detail"]


def test_amazon_has_no_escalation_step(world: World) -> None:
    stalled_parcel(world, marketplace="amazon")
    record(world.store, "opened", "2026-11-10", ask="refund")
    decided = at("2026-11-10") + timedelta(days=2 + 7)
    assert case(world, decided - SECOND)["action"] == "wait"
    assert case(world, decided)["action"] == "follow_up"


def test_the_case_is_laid_over_status_and_listed_first(stalled: World) -> None:
    other = stalled_parcel(stalled, "8101203344599", number="LP00000000000002")
    record(stalled.store, "opened", "2026-11-10", ask="refund")
    now = at("2026-11-23")
    frame = shipment_status(stalled.store, now, settings=S, evaluate=False)
    row = frame.filter(pl.col("order_id") == ORDER).row(0, named=True)
    assert (row["action"], row["case_state"], row["case_action"]) == (
        "escalate",
        "opened",
        "escalate",
    )
    assert row["dispute_last_day_date"] == "2026-11-25"  # the case's deadline
    assert row["case_wait_until"] is None  # escalate: no wait
    assert frame.filter(pl.col("shipment_id") == other)["case_state"].to_list() == [None]
    lines = due_soon(assess(stalled.store, now, S, record=False).cases, now, S)
    assert lines == [f"case {ORDER}: escalate to AliExpress by 2026-11-25"]
    # More than due_soon_days (3) ahead: not listed.
    early = at("2026-11-21") - SECOND
    assert due_soon(assess(stalled.store, early, S, record=False).cases, early, S) == []


@pytest.mark.parametrize("rule", ["paypal", "visa", "mastercard", "other"])
def test_every_marketplace_has_clocks(world: World, rule: str) -> None:
    stalled_parcel(world, marketplace=rule)
    record(world.store, "contacted_seller", "2026-11-10")
    record(world.store, "opened", "2026-11-12", ask="refund")
    row = case(world, at("2026-11-13"))
    assert row["action"] == "wait"
    assert row["rule"] == rule


def test_run_quiet_reminds_of_a_close_deadline_once_a_day(stalled: World) -> None:
    import json
    from dataclasses import dataclass, field

    from analysis.run import _case_deadlines

    @dataclass
    class Result:
        case_deadlines: list[str] = field(default_factory=list)
        case_reminders: list[str] = field(default_factory=list)

    record(stalled.store, "opened", "2026-11-10", ask="refund")
    line = f"case {ORDER}: escalate to AliExpress by 2026-11-25"

    def remind(now: datetime) -> list[str]:
        result = Result()
        _case_deadlines(stalled.store, result, assess(stalled.store, now, S, record=False), S)  # type: ignore[arg-type]
        stalled.store.conn.execute(
            "INSERT INTO runs (run_id, command, started_at, finished_at, summary) "
            "VALUES (?, 'run', ?, ?, ?)",
            [f"r{now:%d%H}", now, now, json.dumps({"evaluated_at": now.isoformat(),
                                                  "case_deadlines": result.case_deadlines})],
        )  # fmt: skip
        return result.case_reminders

    assert remind(at("2026-11-23") + timedelta(hours=1)) == [line]
    assert remind(at("2026-11-23") + timedelta(hours=2)) == []  # told today
    assert remind(at("2026-11-24") + timedelta(hours=1)) == [line]  # a new day


def test_the_status_table_waits_for_the_case_not_the_window(stalled: World) -> None:
    # The window opened long ago; the case waits for the seller's reply (3 days).
    record(stalled.store, "contacted_seller", "2026-11-20", now="2026-11-20T12:00:00Z")
    frame = shipment_status(stalled.store, at("2026-11-21"), settings=S, evaluate=False)
    row = frame.filter(pl.col("order_id") == ORDER).row(0, named=True)
    assert row["case_wait_until"] == at("2026-11-20") + timedelta(days=3)
    console = make_console(width=200, record=True)
    print_status_table(frame.filter(pl.col("order_id") == ORDER), console)
    text = console.export_text()
    assert "wait until 2026-11-23" in text, text
    assert f"wait until {row['dispute_opens_date']}" not in text
