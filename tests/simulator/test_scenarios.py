"""The scenario library: every sample order covered, times right, each scenario as promised."""

from __future__ import annotations

import csv
import hashlib
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector.numbers.detect import detect
from collector.simulator import (
    KINDS,
    Scenario,
    ScenarioError,
    final_canonical,
    load_scenarios,
    sample_scenarios,
    synthetic_orders,
    synthetic_scenarios,
    write_orders_csv,
)
from collector.simulator.model import normalise_number, scenarios_from_dict
from collector.simulator.synthetic import MIXED_SHARES, s10_check_digit, synthetic_mixed
from tests.conftest import SAMPLE_ORDERS, run_cli

DEMO_NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def sample_numbers() -> list[str]:
    with SAMPLE_ORDERS.open(newline="", encoding="utf-8") as handle:
        return [normalise_number(row["tracking_number"]) for row in csv.DictReader(handle)]


def check_offsets(scenario: Scenario) -> None:
    for event in scenario.events:
        if event.place is None or event.place.zone is None:
            continue
        zone = ZoneInfo(event.place.zone)
        expected = event.at.astimezone(zone).utcoffset()
        assert event.at.utcoffset() == expected, (scenario.number, event.at.isoformat(), zone)


def test_every_sample_order_number_has_a_scenario() -> None:
    library = sample_scenarios()
    wanted = sample_numbers()
    assert len(wanted) == 25
    missing = [n for n in wanted if n not in library]
    assert missing == []
    assert set(library) == set(wanted)  # and nothing else: 24 numbers, one on two orders


def test_sample_offsets_match_the_place_zones_and_nothing_is_in_the_future() -> None:
    for scenario in sample_scenarios().values():
        check_offsets(scenario)
        assert all(e.at <= DEMO_NOW for e in scenario.events), scenario.number
        assert list(scenario.events) == sorted(scenario.events, key=lambda e: e.at)


def test_each_sample_shows_its_expected_status() -> None:
    for scenario in sample_scenarios().values():
        assert scenario.expect == final_canonical(scenario, DEMO_NOW), scenario.number
        assert scenario.shows, scenario.number


def at(scenario: Scenario, index: int) -> str:
    return scenario.events[index].at.isoformat()


def test_the_scenarios_of_the_brief() -> None:
    s = sample_scenarios()
    stalled = s["LP00123456789012"]
    assert stalled.events[-1].kind == "sorting_outbound"
    assert stalled.events[-1].place is not None and stalled.events[-1].place.city == "Guangzhou"
    assert stalled.events[-1].at.date().isoformat() == "2026-10-24"
    label = s["YT2412345678901234"]
    assert [e.kind for e in label.events] == ["info_received"]
    assert at(label, 0).startswith("2026-11-08")
    assert s["LY839205143CN"].outcome == "not_found"
    assert s["RR507128933CN"].outcome == "invalid"
    assert s["GARBAGE123"].register_error == -18019903
    assert s["UH204817360CN"].events[-1].kind == "returned"
    elsewhere = s["9400111206206406260787"].events[-1]
    assert elsewhere.place is not None
    assert (elsewhere.kind, elsewhere.place.city, elsewhere.place.postal_code) == (
        "delivered",
        "Austin",
        "73301",
    )
    recycled = s["1Z4F8W310368260410"]
    assert at(recycled, 0).startswith("2026-09-02")
    assert recycled.events[-1].kind == "delivered" and at(recycled, -1).startswith("2026-09-05")
    assert s["772986123539"].events[-1].kind == "customs_held"
    assert s["LX593028170CN"].events[-1].spec.action == "GTMS_STA_SIGNED"
    jst = s["EB908172638CN"]
    assert {e.at.utcoffset() for e in jst.events if e.place and e.place.country == "JP"} == {
        timedelta(hours=9)
    }
    assert s["YT2498765432109876"].events[-1].kind == "out_for_delivery"
    assert s["LP00987654321098"].outcome == "expired"
    assert s["RS312456780NL"].events[-1].kind == "delivery_failed"
    late = s["1Z9AA293YW03482200"].events[-1]
    assert late.at.isoformat() == "2026-11-18T23:30:00-08:00"
    assert late.at.astimezone(UTC).isoformat() == "2026-11-19T07:30:00+00:00"
    fresh = s["LP00555666777888"]
    assert at(fresh, 0).startswith("2026-11-25") and fresh.expect == "in_transit"
    assert len(s["UB123456785CN"].carriers) == 2  # first mile China + last mile destination


def document(**changes: Any) -> dict[str, Any]:
    scenario = {
        "number": "LX123456785CN",
        "events": [{"at": "2026-11-01T10:00:00+08:00", "kind": "info_received"}],
        **changes,
    }
    return {"carriers": {}, "places": {}, "scenarios": [scenario]}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"events": [{"at": "2026-11-01T10:00:00+08:00", "kind": "teleported"}]}, "unknown kind"),
        ({"events": [{"at": "2026-11-01T10:00:00", "kind": "delivered"}]}, "needs an offset"),
        ({"events": [{"at": "yesterday", "kind": "delivered"}]}, "not an ISO 8601 instant"),
        ({"events": [{"at": "2026-11-01T10:00:00Z", "kind": "delivered", "place": "x"}]}, "place"),
        ({"carriers": ["nobody"]}, "unknown carrier"),
        ({"outcome": "lost"}, "outcome"),
        ({"colour": "red"}, "unknown field"),
        ({"number": ""}, "without a number"),
    ],
)
def test_malformed_scenarios_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenarios_from_dict(document(**changes))


def test_a_number_defined_twice_is_refused(tmp_path: Path) -> None:
    twice = document()
    twice["scenarios"] = twice["scenarios"] * 2
    with pytest.raises(ScenarioError, match="defined twice"):
        scenarios_from_dict(twice)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenarios(bad)


def test_every_kind_renders_in_both_formats() -> None:
    for name, kind in KINDS.items():
        assert kind.sub_status.split("_")[0] in {
            "InfoReceived", "InTransit", "OutForDelivery", "AvailableForPickup",
            "DeliveryFailure", "Delivered", "Exception",
        }, name  # fmt: skip
        assert kind.action and kind.text and kind.canonical


def test_synthetic_scenarios_are_deterministic_and_plausible() -> None:
    started = time.perf_counter()
    many = synthetic_scenarios(4000, seed=3)
    assert time.perf_counter() - started < 10
    assert len({s.number for s in many}) == 4000
    again = synthetic_scenarios(4000, seed=3)
    assert [(s.number, s.events) for s in many] == [(s.number, s.events) for s in again]
    other = synthetic_scenarios(50, seed=4)
    assert [s.number for s in other] != [s.number for s in many[:50]]
    end = datetime(2026, 11, 28, 12, tzinfo=UTC)
    outcomes: set[str] = set()
    for scenario in many:
        assert all(e.at <= end for e in scenario.events)
        assert list(scenario.events) == sorted(scenario.events, key=lambda e: e.at)
        check_offsets(scenario)
        if scenario.number.endswith("CN") and scenario.number[:2].isalpha():
            assert int(scenario.number[10]) == s10_check_digit(scenario.number[2:10])
        outcomes.add(scenario.shows.removeprefix("synthetic "))
        assert scenario.expect == final_canonical(scenario)
    assert outcomes >= {
        "delivered", "in_transit", "stalled", "label_only", "not_found", "invalid",
        "exception", "returned", "available_for_pickup", "delivery_failed", "out_for_delivery",
    }  # fmt: skip


def test_synthetic_scenarios_keep_their_numbers_and_events() -> None:
    # The mixed book (issue 13.5) reshaped this module: what existing benchmarks
    # and tests draw must not change.
    scenarios = synthetic_scenarios(400, seed=4)
    digest = hashlib.sha256(
        repr([(s.number, s.events, s.extra, s.eta, s.carriers) for s in scenarios]).encode()
    ).hexdigest()
    assert digest == "63f01e84107e6c73d42302b1f817f8569dae533c7fa90d5864bcf930f0f68c6d"


def test_synthetic_mixed_splits_the_book_exactly_and_deterministically() -> None:
    mixed = synthetic_mixed(2000, seed=13)
    assert [(s.number, s.events) for s in mixed] == [
        (s.number, s.events) for s in synthetic_mixed(2000, seed=13)
    ]
    assert len({s.number for s in mixed}) == 2000
    kinds = Counter(
        (s.carriers[0].code if len(s.carriers) == 1 else "china",
         s.carriers[-1].code if s.last_mile_number else None)
        for s in mixed
    )  # fmt: skip
    assert kinds == {(own, last): round(2000 * share) for own, last, share in MIXED_SHARES}
    end = datetime(2026, 11, 28, 12, tzinfo=UTC)
    for scenario in mixed:
        assert all(e.at <= end for e in scenario.events)
        check_offsets(scenario)
        assert scenario.expect == final_canonical(scenario)
        own = scenario.carriers[0].code
        if len(scenario.carriers) == 1:  # the carrier's own number
            assert detect(scenario.number).courier == own
            assert scenario.origin == scenario.destination
        if scenario.last_mile_number:
            found = detect(scenario.last_mile_number)
            assert (found.verdict, found.courier) == ("valid", scenario.carriers[-1].code)
    handed = sum(1 for s in mixed if s.last_mile_number and s.handed_over(s.visible(end)))
    assert 0 < handed < 600


def test_synthetic_orders_import_cleanly(tmp_path: Path, db_path: Path) -> None:
    scenarios = synthetic_scenarios(200, seed=1)
    rows = synthetic_orders(scenarios)
    assert [r["tracking_number"] for r in rows] == [s.number for s in scenarios]
    path = write_orders_csv(scenarios, tmp_path / "orders.csv")
    result = run_cli("--db", str(db_path), "import", str(path))
    assert result.exit_code == 0, result.output
    assert "200 new" in result.output
