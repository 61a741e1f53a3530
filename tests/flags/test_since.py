"""Each flag says when its condition began, apart from when it was first seen (18.5)."""

from __future__ import annotations

from analysis.assess import assess
from collector.config import Settings
from tests.flags.builder import NOW, Ev, T, World


def _since(world: World, now: str = NOW) -> dict[str, tuple[object, object]]:
    flags = assess(world.store, T(now), Settings(), record=False).flags
    return {row["code"]: (row["since"], row["first_seen"]) for row in flags.iter_rows(named=True)}


def test_the_condition_start_of_each_kind(world: World) -> None:
    sid = world.shipment(
        "o1", shipped_at="2026-10-01T00:00:00Z", promised_to="2026-11-10T00:00:00Z",
        protection_ends_at="2026-12-01T00:00:00Z",
    )  # fmt: skip
    world.events(sid, Ev("2026-10-24T06:00:00+08:00", "in_transit", "Departed", city="Guangzhou"))
    got = _since(world)
    now = T(NOW)
    assert got["stalled"] == (T("2026-10-23T22:00:00Z"), now)  # the last scan
    assert got["overdue"] == (T("2026-11-10T00:00:00Z"), now)  # the promised date
    # Protection ends 1 Dec; the warning window (7 days) opened on 24 Nov.
    assert got["protection_expiring"] == (T("2026-11-24T00:00:00Z"), now)


def test_first_seen_is_the_first_evaluation_that_saw_it(world: World) -> None:
    # RR507128933CN fails its check digit (the importer's verdict: invalid).
    sid = world.shipment("o1", "RR507128933CN", shipped_at="2026-10-01T00:00:00Z",
                         promised_to=None, protection_ends_at=None)  # fmt: skip
    world.events(sid, Ev("2026-10-24T06:00:00+08:00", "in_transit", "Departed"))
    world.evaluate("2026-11-10T00:00:00Z")
    got = _since(world)
    assert got["stalled"] == (T("2026-10-23T22:00:00Z"), T("2026-11-10T00:00:00Z"))
    # A number that fails its check digit has no instant of its own: since = first seen.
    assert got["invalid_number"] == (T("2026-11-10T00:00:00Z"), T("2026-11-10T00:00:00Z"))
