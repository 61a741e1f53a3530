"""What the cases are worth (frames), the seller's record, and `status --json` with the case."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis import frames
from collector.store import Store
from tests.cases.conftest import ORDER, at, record, stalled_parcel
from tests.conftest import run_cli
from tests.flags.builder import NOW, World


def three_cases(store: Store) -> None:
    world = World(store)
    stalled_parcel(world, ordered_at="2026-09-20T00:00:00Z")  # Yiwu Home Official, 23.80 EUR
    stalled_parcel(world, "O2", number="LP00000000000002", amount=10, currency="EUR")
    stalled_parcel(world, "O3", number="LP00000000000003", store="Other Shop", amount=5,
                   currency="USD")  # fmt: skip
    record(store, "opened", "2026-10-05", ask="refund")
    record(store, "resolved", "2026-10-15", outcome="partially_refunded", amount="20")
    record(store, "opened", "2026-11-01", ask="refund", order="O2")
    record(store, "resolved", "2026-11-11", outcome="rejected", order="O2")
    record(store, "opened", "2026-11-20", ask="refund", order="O3")


def test_case_stats_by_store_and_currency(store: Store) -> None:
    three_cases(store)
    stats = frames.case_stats(store, by="store", now=at("2026-11-28"))
    yiwu = stats.filter(pl.col("store") == "Yiwu Home Official").row(0, named=True)
    assert (yiwu["cases"], yiwu["won"], yiwu["lost_cases"], yiwu["win_rate"]) == (2, 1, 1, 0.5)
    assert (yiwu["recovered"], yiwu["lost"], yiwu["at_risk"]) == (20.0, 13.8, 0.0)
    assert yiwu["days_to_resolution_p50"] == 10.0
    other = stats.filter(pl.col("store") == "Other Shop").row(0, named=True)
    assert (other["currency"], other["open"], other["at_risk"], other["win_rate"]) == (
        "USD",
        1,
        5.0,
        None,
    )
    months = frames.case_stats(store, by="resolved_month", now=at("2026-11-28"))
    assert sorted(months["resolved_month"].drop_nulls().to_list()) == ["2026-10", "2026-11"]
    for by in ("marketplace", "carrier", "month"):
        assert frames.case_stats(store, by=by, now=at("2026-11-28"))["cases"].sum() == 3
    with pytest.raises(ValueError, match="cannot group cases by 'colour'"):
        frames.case_stats(store, by="colour")


def test_cases_respect_now(store: Store) -> None:
    three_cases(store)
    assert frames.cases(store, now=at("2026-10-10"))["order_id"].to_list() == [ORDER]
    assert frames.cases(store, now=at("2026-11-28"), open_only=True)["order_id"].to_list() == ["O3"]


def test_seller_scorecard(store: Store) -> None:
    three_cases(store)
    card = frames.seller_scorecard(store, now=at("2026-11-28"))
    yiwu = card.filter(pl.col("store") == "Yiwu Home Official").row(0, named=True)
    assert (yiwu["orders"], yiwu["shipments"], yiwu["flagged_share"]) == (2, 2, 1.0)
    assert (yiwu["disputes_opened"], yiwu["disputes_won"], yiwu["disputes_lost"]) == (2, 1, 1)
    assert (yiwu["win_rate"], yiwu["dead_numbers"], yiwu["dead_share"]) == (0.5, 0, 0.0)


def test_status_json_includes_the_case(db_path: Path) -> None:
    with Store.open(db_path) as store:
        stalled_parcel(World(store))
    result = run_cli("--db", str(db_path), "--now", NOW, "dispute", ORDER, "opened",
                     "--ask", "refund", "--on", "2026-11-20")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "recorded step 1: opened on 2026-11-20 for order 8101203344552" in result.output
    status = run_cli("--db", str(db_path), "--now", NOW, "status", "--json")
    row = json.loads(status.output.splitlines()[0])
    assert (row["case_state"], row["case_action"], row["action"]) == (
        "opened",
        "escalate",
        "escalate",
    )
    assert row["case_due"] == at("2026-12-05").isoformat()
    listed = run_cli("--db", str(db_path), "--now", NOW, "disputes", "--open", "--json")
    [case] = [json.loads(line) for line in listed.output.splitlines()]
    assert (case["order_id"], case["state"], case["ask"]) == (ORDER, "opened", "refund")
    shown = run_cli("--db", str(db_path), "--now", NOW, "dispute", ORDER, "--json")
    assert [s["step"] for s in json.loads(shown.output)["log"]] == ["opened"]
    bad = run_cli("--db", str(db_path), "--now", NOW, "dispute", ORDER, "escalated",
                  "--on", "2026-11-19")  # fmt: skip
    assert bad.exit_code == 2
    assert "escalated on 2026-11-19: order 8101203344552 has no earlier opened step" in bad.output
    missing = run_cli("--db", str(db_path), "dispute", "nope", "opened", "--ask", "refund")
    assert missing.exit_code == 1 and "no order 'nope'" in missing.output
