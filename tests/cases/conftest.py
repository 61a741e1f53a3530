"""Fixtures of the dispute-case tests: a stalled AliExpress parcel and a step recorder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from analysis.case_log import StepInput, record_step
from collector.config import Settings
from collector.importer import parse_import_date
from collector.store import Store
from tests.flags.builder import NOW, Ev, T, World

ORDER = "8101203344552"


def at(day: str, country: str = "ES") -> datetime:
    """The instant a bare ``--on`` date stands for (start of the day, destination zone)."""
    return parse_import_date(day, country)


def record(
    store: Store,
    step: str,
    on: str | None = None,
    *,
    order: str = ORDER,
    now: str = NOW,
    settings: Settings | None = None,
    **options: Any,
) -> int:
    """Record one step as `parcelproof dispute` does; returns its step id."""
    given = StepInput(order, step, on=on, **options)
    return record_step(store, given, now=T(now), settings=settings or Settings()).step_id


def stalled_parcel(world: World, order: str = ORDER, **fields: Any) -> int:
    """An AliExpress parcel last scanned on 3 November, polled on 27 November: stalled."""
    row: dict[str, Any] = {
        "store": "Yiwu Home Official",
        "amount": 23.80,
        "currency": "EUR",
        "promised_to": "2026-11-20T22:59:59Z",
        "protection_ends_at": "2026-12-31T22:59:59Z",
    }
    row.update(fields)
    number = row.pop("number", "LP00123456789012")
    sid = world.shipment(order, number, **row)
    world.events(
        sid,
        Ev("2026-11-03T06:00:00+08:00", "in_transit", "Departed from sorting center"),
        at="2026-11-27T06:00:00Z",
    )
    return sid


@pytest.fixture
def world() -> Iterator[World]:
    with Store.open(":memory:") as store:
        yield World(store)


@pytest.fixture
def stalled(world: World) -> World:
    stalled_parcel(world)
    return world
