"""The flag history: raise, confirm, clear, raise again; idempotency; no rewriting."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis.flags import flag_history
from tests.flags.builder import Ev, T, World

FLAG_ROWS = (
    "SELECT flag_id, shipment_id, code, severity, raised_at, confirmed_at, cleared_at, "
    "threshold, detail, evidence::VARCHAR FROM flags ORDER BY flag_id"
)


def stalled_world(world: World) -> int:
    sid = world.shipment("o1", promised_to=None, protection_ends_at=None)
    world.events(sid, Ev("2026-11-01T00:00:00Z", "in_transit", "Departed", city="Guangzhou"))
    return sid


def test_raise_confirm_clear_and_raise_again(world: World) -> None:
    sid = stalled_world(world)
    assert world.evaluate("2026-11-10T00:00:00Z").raised.is_empty()

    first = world.evaluate("2026-11-11T00:00:00Z")
    assert first.raised.select("order_id", "code", "severity").rows() == [
        ("o1", "stalled", "warning")
    ]
    assert first.raised["raised_at"][0] == T("2026-11-11T00:00:00Z")
    rows = world.store.query(FLAG_ROWS)
    assert len(rows) == 1
    flag_id, _, code, _, raised, confirmed, cleared, threshold, detail, evidence = rows[0]
    assert (code, raised, confirmed, cleared) == (
        "stalled",
        T("2026-11-11T00:00:00Z"),
        T("2026-11-11T00:00:00Z"),
        None,
    )
    assert threshold == "stalled_days=10"
    assert detail == "no movement for 10 days since 'Departed', Guangzhou, 2026-11-01"
    assert json.loads(evidence) == {"event_keys": [world.key("o1", "Departed")], "poll_ids": [1]}

    # Later, still stalled: the same row, confirmed now; its text is read up to date
    # while the stored row keeps the text of its last write (a day passing is no
    # change: the day count is rendered from the stored template when read).
    later = world.evaluate("2026-11-15T00:00:00Z")
    assert later.raised.is_empty() and later.cleared.is_empty() and later.confirmed == 1
    rows = world.store.query(FLAG_ROWS)
    assert len(rows) == 1 and rows[0][0] == flag_id
    assert rows[0][4] == T("2026-11-11T00:00:00Z")
    assert rows[0][5] == T("2026-11-15T00:00:00Z")
    assert rows[0][8].startswith("no movement for 10 days")
    assert later.current["detail"].to_list() == [
        "no movement for 14 days since 'Departed', Guangzhou, 2026-11-01"
    ]
    # Readers of the history get the text as of the row's last confirmation.
    assert flag_history(world.store)["detail"].to_list() == later.current["detail"].to_list()
    assert world.store.query("SELECT template, age_from, age_kind FROM flags") == [
        (
            "no movement for \x1f since 'Departed', Guangzhou, 2026-11-01",
            T("2026-11-01T00:00:00Z"),
            "since",
        )
    ]

    # A new scan: cleared, and the row is kept.
    world.events(sid, Ev("2026-11-16T00:00:00Z", "in_transit", "Arrived", city="Madrid"))
    cleared = world.evaluate("2026-11-17T00:00:00Z")
    assert cleared.cleared.select("order_id", "code").rows() == [("o1", "stalled")]
    assert cleared.cleared["cleared_at"][0] == T("2026-11-17T00:00:00Z")
    rows = world.store.query(FLAG_ROWS)
    assert len(rows) == 1 and rows[0][6] == T("2026-11-17T00:00:00Z")
    assert rows[0][5] == T("2026-11-15T00:00:00Z")  # last confirmed while it held

    # Stalled again: a new row; the old one stays cleared.
    again = world.evaluate("2026-11-26T00:00:00Z")
    assert again.raised.select("code").rows() == [("stalled",)]
    rows = world.store.query(FLAG_ROWS)
    assert [(r[2], r[4], r[6]) for r in rows] == [
        ("stalled", T("2026-11-11T00:00:00Z"), T("2026-11-17T00:00:00Z")),
        ("stalled", T("2026-11-26T00:00:00Z"), None),
    ]
    assert rows[1][7] == "stalled_days=10"
    assert json.loads(rows[1][9])["event_keys"] == [world.key("o1", "Arrived")]


def test_evaluating_twice_without_new_data_changes_nothing(world: World) -> None:
    stalled_world(world)
    world.shipment("o2", "CE119832745CN", promised_to="2026-11-20T00:00:00Z")
    world.shipment("o3", "CE119832745CN")
    world.evaluate()
    before = world.store.query(FLAG_ROWS)
    again = world.evaluate()
    assert not again.changed and again.confirmed == 0
    assert world.store.query(FLAG_ROWS) == before
    assert len(before) == 4  # stalled, overdue, 2x number_reused


def test_severity_change_updates_the_open_row(world: World) -> None:
    stalled_world(world)
    world.evaluate("2026-11-12T00:00:00Z")
    world.evaluate("2026-11-23T00:00:00Z")
    rows = world.store.query(FLAG_ROWS)
    assert len(rows) == 1 and rows[0][3] == "critical"


def test_an_earlier_now_never_rewrites_history(world: World) -> None:
    stalled_world(world)
    world.evaluate("2026-11-20T00:00:00Z")
    before = world.store.query(FLAG_ROWS)
    past = world.evaluate("2026-11-05T00:00:00Z")
    assert not past.written
    # What would change is still reported, and the set at that instant is computed.
    assert past.cleared.select("code").rows() == [("stalled",)]
    assert past.current.is_empty()
    assert world.store.query(FLAG_ROWS) == before


def test_raised_and_cleared_rows_name_their_order(world: World) -> None:
    stalled_world(world)
    evaluation = world.evaluate()
    assert set(evaluation.raised.columns) >= {
        "flag_id", "shipment_id", "order_id", "tracking_number", "code", "severity",
        "raised_at", "detail", "evidence",
    }  # fmt: skip
    assert evaluation.raised["tracking_number"].to_list() == ["LP00123456789012"]


def test_the_sets_read_later_are_those_of_the_evaluation(world: World) -> None:
    # ``current`` and ``raised`` are read from the history when first used; their
    # counts are taken at once. Read after the evaluation, they are its own rows
    # (not a later evaluation's), with the texts rendered at its instant.
    stalled_world(world)
    first = world.evaluate("2026-11-12T00:00:00Z")
    assert (first.open_flags, first.open_shipments, first.raised_count) == (1, 1, 1)
    assert first.current.height == first.open_flags
    assert first.raised.height == first.raised_count == 1
    later = world.evaluate("2026-11-23T00:00:00Z")
    assert later.raised_count == 0 and later.raised.is_empty()
    assert later.current["detail"].to_list() != first.current["detail"].to_list()
    flag_id = world.store.query("SELECT flag_id FROM flags")[0][0]
    assert first.raised["flag_id"].to_list() == [flag_id]


def test_a_large_evaluation_writes_every_row_it_raises_and_changes(tmp_path: Path) -> None:
    # More raised rows than a DuckDB row group (122,880), first with nothing changed,
    # then with changed rows too: DuckDB 1.5.6 loses such an insert when an empty
    # ordered insert into the same table precedes it in the transaction, so the
    # changed and raised rows go in as one statement.
    from collector.store import Store
    from collector.store.flag_writes import apply_flag_evaluation

    n = 200_000

    def flag_set(severity: str, count: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "shipment_id": range(count),
                "code": ["stalled"] * count,
                "severity": [severity] * count,
                "threshold": ["stalled_days=10"] * count,
                "detail": ["no movement"] * count,
                "evidence": ['{"event_keys": [], "poll_ids": []}'] * count,
            }
        )

    with Store.open(tmp_path / "big.duckdb") as store:
        first = apply_flag_evaluation(store, flag_set("warning", n), T("2026-11-01T00:00:00Z"))
        assert first.raised_count == n
        assert store.query("SELECT count(*) FROM flags") == [(n,)]
        # The first n/2 change severity, n new ones are raised.
        later = pl.concat([flag_set("critical", n // 2), flag_set("warning", 2 * n)[n // 2 :]])
        second = apply_flag_evaluation(store, later, T("2026-11-02T00:00:00Z"))
        assert second.raised_count == n and second.confirmed == n
        counts = store.query(
            "SELECT count(*), count(*) FILTER (WHERE severity = 'critical'), "
            "count(DISTINCT flag_id) FROM flags"
        )
        assert counts == [(2 * n, n // 2, 2 * n)]


_ONE_FLAG = {
    "shipment_id": [1],
    "code": ["stalled"],
    "severity": ["warning"],
    "threshold": ["stalled_days=10"],
    "detail": ["no movement for 12 days"],
    "evidence": ['{"event_keys": ["k1"], "poll_ids": [1]}'],
    "began_at": [T("2026-10-20T00:00:00Z")],
    "template": ["no movement for \x1f"],
    "age_from": [T("2026-10-20T00:00:00Z")],
    "age_kind": ["since"],
}
_STORED = (
    "SELECT rowid, flag_id, raised_at, severity, threshold, detail, evidence::VARCHAR, "
    "began_at, template, age_from, age_kind FROM flags"
)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("severity", "critical"),
        ("threshold", "stalled_days=11"),
        ("template", "no scan for \x1f"),
        ("evidence", '{"event_keys": ["k1", "k2"], "poll_ids": [1, 2]}'),
        ("began_at", T("2026-10-21T00:00:00Z")),
        ("age_from", T("2026-10-21T00:00:00Z")),
        ("age_kind", "until"),
    ],
)
def test_an_open_row_follows_each_part_of_its_flag_that_changes(
    tmp_path: Path, column: str, value: object
) -> None:
    # A flag that holds as it was leaves its row untouched; one whose severity,
    # threshold, text (apart from its day count), age, start or evidence changed is
    # written again as the same flag (flag_id, raised_at) with the new value.
    from collector.store import Store
    from collector.store.flag_writes import apply_flag_evaluation

    with Store.open(tmp_path / "f.duckdb") as store:
        apply_flag_evaluation(store, pl.DataFrame(_ONE_FLAG), T("2026-11-01T00:00:00Z"))
        first = store.query(_STORED)
        apply_flag_evaluation(store, pl.DataFrame(_ONE_FLAG), T("2026-11-02T00:00:00Z"))
        assert store.query(_STORED) == first  # same: not written again
        changed = {**_ONE_FLAG, column: [value]}
        result = apply_flag_evaluation(store, pl.DataFrame(changed), T("2026-11-03T00:00:00Z"))
        (row,) = store.query(_STORED)
        assert result.raised_count == 0 and result.confirmed == 1
        assert row[0] != first[0][0]  # written again (another rowid) ...
        assert row[1:3] == first[0][1:3]  # ... as the same flag, raised when it was
        names = ["severity", "threshold", "detail", "evidence", "began_at", "template"]
        names += ["age_from", "age_kind"]
        assert dict(zip(names, row[3:], strict=True))[column] == value
