"""Reading the facts: one bulk query per table whatever the number of packs; gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analysis.reports import write_packs
from analysis.reports.facts import Event, find_gaps, load_facts
from collector.config import Settings
from collector.store import Store
from tests.reports.builder import NOW


def event(day: int, status: str = "in_transit") -> Event:
    return Event(
        event_key=str(day),
        occurred_at=datetime(2026, 10, day, tzinfo=UTC),
        local_time=None,
        utc_offset_minutes=None,
        tz_known=False,
        status=status,
        sub_status=None,
        raw_code=None,
        raw_status=None,
        description=None,
        location=None,
        city=None,
        state=None,
        postcode=None,
        country=None,
        source="s",
        provider=None,
        first_poll_id=1,
    )


def test_gaps_between_events_and_up_to_now() -> None:
    now = datetime(2026, 10, 31, tzinfo=UTC)
    gaps = find_gaps([event(1), event(3), event(15)], "in_transit", now=now, days=10)
    assert [(g.start.day, g.end.day, g.days, g.open_ended) for g in gaps] == [
        (3, 15, 12.0, False),
        (15, 31, 16.0, True),
    ]
    # Exactly the threshold is not a gap; after delivery silence is expected.
    assert find_gaps([event(1), event(11)], "delivered", now=now, days=10) == []


def test_many_packs_cost_a_fixed_number_of_queries(
    store: Store, scenarios: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    frame, query = Store.frame, Store.query

    def counted_frame(self: Store, sql: str, params: object = None) -> object:
        calls.append(sql)
        return frame(self, sql, params)

    def counted_query(self: Store, sql: str, params: object = None) -> object:
        calls.append(sql)
        return query(self, sql, params)

    monkeypatch.setattr(Store, "frame", counted_frame)
    monkeypatch.setattr(Store, "query", counted_query)
    load_facts(store, [scenarios["stalled"]], now=NOW, settings=Settings())
    one = len(calls)
    calls.clear()
    facts = load_facts(store, list(scenarios.values()), now=NOW, settings=Settings())
    assert len(calls) == one == 5  # the flags come with the assessment
    assert len(facts) == len(scenarios)


def test_packs_keep_the_requested_order_and_skip_unknown_ids(
    store: Store, scenarios: dict[str, int], tmp_path: Path
) -> None:
    wanted = [scenarios["expired"], 999_999, scenarios["stalled"], scenarios["expired"]]
    packs = write_packs(
        store, wanted, now=NOW, settings=Settings(), formats=["json"], out_dir=tmp_path
    )
    assert [p.shipment_id for p in packs] == [scenarios["expired"], scenarios["stalled"]]


def test_times_are_utc_and_deadline_falls_back_to_protection(
    store: Store, scenarios: dict[str, int]
) -> None:
    (facts,) = load_facts(store, [scenarios["stalled"]], now=NOW, settings=Settings())
    assert facts.shipment.protection_ends_at is not None
    assert facts.shipment.protection_ends_at.utcoffset() == timedelta(0)
    assert facts.events[0].occurred_at is not None
    assert facts.events[0].occurred_at.tzinfo is UTC
