"""The dispute log: every step and option is recorded, and every bad input is named."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

from analysis.case_log import STEPS, StepInput, effective, order_steps, record_step
from collector.config import Settings
from collector.errors import DisputeStepError, NotFoundError
from collector.store import Store
from tests.cases.conftest import ORDER, at, record
from tests.flags.builder import T, World


def test_every_step_is_stored_with_its_options(stalled: World) -> None:
    store = stalled.store
    record(store, "contacted_seller", "2026-11-20", note="asked where it is")
    record(store, "seller_replied", "2026-11-21")
    record(store, "opened", "2026-11-22", ask="partial_refund", amount="10", currency="eur")
    record(store, "seller_offer", "2026-11-23", amount="5.50")
    record(store, "escalated", "2026-11-24")
    record(store, "evidence_requested", "2026-11-25", due="2026-11-27")
    record(store, "evidence_sent", "2026-11-26")
    record(store, "resolved", "2026-11-27", outcome="partially_refunded", amount="8")
    record(store, "feedback_left", "2026-11-28")
    rows = order_steps(store, ORDER)
    assert sorted(r["step"] for r in rows) == sorted(STEPS)
    opened = rows[2]
    assert (opened["ask"], opened["amount"], opened["currency"]) == (
        "partial_refund",
        Decimal("10.00"),
        "EUR",
    )
    assert rows[3]["currency"] == "EUR"  # the order's currency by default
    # A bare date is the start of that day in the destination's zone (Madrid).
    assert rows[0]["occurred_at"] == T("2026-11-19T23:00:00Z")
    assert rows[0]["note"] == "asked where it is"
    assert rows[5]["due_at"] == T("2026-11-27T22:59:59.999999Z")  # end of the due day
    assert rows[7]["outcome"] == "partially_refunded"


def test_the_log_is_append_only_and_a_correction_replaces_a_step(stalled: World) -> None:
    store = stalled.store
    first = record(store, "opened", "2026-11-22", ask="refund")
    with pytest.raises(DisputeStepError, match=rf"already has it on 2026-11-22 \(step {first}\)"):
        record(store, "opened", "2026-11-23", ask="refund")
    fixed = record(store, "opened", "2026-11-23", ask="replacement", corrects=first)
    rows = order_steps(store, ORDER)
    assert [r["step_id"] for r in rows] == [first, fixed]  # the mistake stays
    assert [r["ask"] for r in effective(rows)] == ["replacement"]


@pytest.mark.parametrize(
    ("step", "options", "message"),
    [
        ("openned", {}, "step 'openned' is not one of: contacted_seller"),
        ("opened", {}, "opened needs --ask refund|replacement|resend|partial_refund"),
        ("opened", {"ask": "money"}, "--ask 'money' is not one of: refund"),
        ("contacted_seller", {"ask": "refund"}, "--ask is for the opened step"),
        ("resolved", {}, "resolved needs --outcome"),
        ("resolved", {"outcome": "won"}, "--outcome 'won' is not one of"),
        ("opened", {"ask": "refund", "outcome": "refunded"}, "--outcome is for the resolved"),
        ("contacted_seller", {"on": "20/11/2026"}, "--on '20/11/2026' is not an ISO 8601"),
        ("contacted_seller", {"on": "2026-11-29"}, "--on 2026-11-29 is after now"),
        ("contacted_seller", {"on": "2026-10-01"}, "is before the order was placed"),
        ("contacted_seller", {"amount": "ten"}, "--amount 'ten' is not a number"),
        ("contacted_seller", {"amount": "1.005"}, "more than two decimal places"),
        ("contacted_seller", {"amount": "-1"}, "not a plausible amount"),
        ("contacted_seller", {"amount": "1", "currency": "EURO"}, "'EURO' is not an ISO 4217"),
        ("contacted_seller", {"currency": "EUR"}, "--currency goes with --amount"),
        ("contacted_seller", {"due": "2026-11-30"}, "--due is for the evidence_requested"),
        ("contacted_seller", {"tracking": "LP1"}, "--tracking is for resolved --outcome"),
        ("resolved", {"outcome": "refunded", "tracking": "LP1"}, "--tracking is for resolved"),
        ("contacted_seller", {"carrier": "UPS"}, "--carrier goes with --tracking"),
        ("resolved", {"outcome": "partially_refunded"}, "partially_refunded needs --amount"),
        ("seller_offer", {}, "seller_offer needs --amount"),
        ("escalated", {}, "has no earlier opened step"),
        ("seller_replied", {}, "has no earlier contacted_seller or opened step"),
        ("evidence_requested", {}, "has no earlier opened step"),
        ("evidence_sent", {}, "has no earlier evidence_requested step"),
        ("contacted_seller", {"corrects": 99}, "--corrects 99: order 8101203344552 has no step 99"),
    ],
)
def test_bad_input_is_named(
    stalled: World, step: str, options: dict[str, str], message: str
) -> None:
    with pytest.raises(DisputeStepError, match=_re(message)):
        record(stalled.store, step, **options)
    assert order_steps(stalled.store, ORDER) == []  # nothing stored


def test_an_unknown_order_is_named(stalled: World) -> None:
    with pytest.raises(NotFoundError, match="no order '999'"):
        record(stalled.store, "contacted_seller", order="999")


def test_a_tracking_number_names_its_order(stalled: World) -> None:
    sid = record(stalled.store, "contacted_seller", order="lp 0012 3456 7890 12")
    assert order_steps(stalled.store, ORDER)[0]["step_id"] == sid


def test_after_resolved_only_feedback(stalled: World) -> None:
    store = stalled.store
    record(store, "opened", "2026-11-20", ask="refund")
    record(store, "resolved", "2026-11-25", outcome="refunded")
    with pytest.raises(DisputeStepError, match="was resolved on 2026-11-25"):
        record(store, "escalated", "2026-11-26")
    # A step dated before the resolution is placed before it, and checked there.
    record(store, "seller_replied", "2026-11-21")
    record(store, "feedback_left", "2026-11-26")
    assert order_steps(store, ORDER)[1]["amount"] == Decimal("23.80")  # the order's amount


def test_refunded_without_an_amount_needs_one_when_the_order_has_none(world: World) -> None:
    world.shipment(ORDER, amount=None, currency=None)
    with pytest.raises(DisputeStepError, match="refunded needs --amount: order"):
        record(world.store, "resolved", outcome="refunded")


def test_attaching_a_pack_records_its_manifest_sha256(stalled: World, tmp_path: Path) -> None:
    pack = _pack(tmp_path / "pack", ORDER)
    step = record(stalled.store, "opened", ask="refund", attach=pack)
    row = order_steps(stalled.store, ORDER)[0]
    assert row["step_id"] == step
    assert (
        row["pack_manifest_sha256"]
        == hashlib.sha256((pack / "manifest.json").read_bytes()).hexdigest()
    )
    assert row["pack_dir"] == str(pack.resolve())


def test_a_pack_must_be_whole_and_this_orders(stalled: World, tmp_path: Path) -> None:
    with pytest.raises(DisputeStepError, match=r"no readable manifest\.json"):
        record(stalled.store, "opened", ask="refund", attach=tmp_path)
    other = _pack(tmp_path / "other", "12345")
    with pytest.raises(DisputeStepError, match="the pack is for order 12345, not"):
        record(stalled.store, "opened", ask="refund", attach=other)
    changed = _pack(tmp_path / "changed", ORDER)
    (changed / "evidence.html").write_text("edited", encoding="utf-8")
    with pytest.raises(DisputeStepError, match=r"evidence\.html does not match its manifest"):
        record(stalled.store, "opened", ask="refund", attach=changed)
    (changed / "manifest.json").write_text("[]", encoding="utf-8")
    with pytest.raises(DisputeStepError, match="is not a pack manifest"):
        record(stalled.store, "opened", ask="refund", attach=changed)


def test_resent_with_a_new_number_creates_a_linked_shipment(stalled: World) -> None:
    store = stalled.store
    record(store, "opened", "2026-11-20", ask="resend")
    record(store, "resolved", "2026-11-25", outcome="resent", tracking="lp 0099 9888 7776 66")
    row = order_steps(store, ORDER)[-1]
    ship = store.frame(
        "SELECT * FROM shipments WHERE shipment_id = $s", {"s": row["linked_shipment_id"]}
    ).row(0, named=True)
    assert (ship["order_id"], ship["tracking_number"]) == (ORDER, "LP00999888777666")
    assert row["new_tracking_number"] == "LP00999888777666"
    assert ship["shipped_at"] == at("2026-11-25")
    assert (ship["destination_country"], ship["store"]) == ("ES", "Yiwu Home Official")


def test_steps_are_kept_across_reopening(db_path: Path) -> None:
    with Store.open(db_path) as store:
        World(store).shipment(ORDER)
        record_step(
            store,
            StepInput(ORDER, "contacted_seller"),
            now=T("2026-11-28T12:00:00Z"),
            settings=Settings(),
        )
    with Store.open(db_path) as store:
        assert len(order_steps(store, ORDER)) == 1


def _pack(folder: Path, order: str) -> Path:
    folder.mkdir(parents=True)
    html = folder / "evidence.html"
    html.write_text("<p>evidence</p>", encoding="utf-8")
    manifest = {
        "shipment": {"order_id": order},
        "files": [{"name": html.name, "sha256": hashlib.sha256(html.read_bytes()).hexdigest()}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def _re(text: str) -> str:
    import re

    return re.escape(text)
