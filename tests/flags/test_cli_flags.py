"""`parcelproof flags` and `status`: the JSON shape in full, --all, the table, evaluation first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.store import Store
from tests.conftest import SAMPLE_ORDERS, run_cli
from tests.flags.builder import NOW, SAMPLE_SCENARIOS, Ev, World, assert_scenarios
from tests.sample_db import write_history


def small_db(path: Path) -> None:
    with Store.open(path) as store:
        world = World(store)
        a = world.shipment("A1", "LP00123456789012", promised_to=None, protection_ends_at=None)
        world.events(a, Ev("2026-11-01T06:00:00+08:00", "in_transit",
                           "Departed from sorting center", city="Guangzhou"))  # fmt: skip
        b = world.shipment("B2", "LP00000000000002", promised_to=None, protection_ends_at=None)
        world.events(b, Ev("2026-11-27T06:00:00+01:00", "in_transit", "Arrived", city="Madrid"))
        world.shipment("C3", "RR507128933CN", number_verdict="invalid", archived=True,
                       promised_to=None, protection_ends_at=None)  # fmt: skip


def lines(*args: str) -> list[dict[str, object]]:
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_flags_json_shape_in_full(db_path: Path) -> None:
    small_db(db_path)
    rows = lines("--db", str(db_path), "--now", NOW, "flags", "--json")
    assert rows == [
        {
            "order_id": "A1",
            "tracking_number": "LP00123456789012",
            "status": "in_transit",
            "flags": [
                {
                    "code": "stalled",
                    "severity": "critical",
                    # When the condition began (the last scan), and apart when
                    # parcelproof first saw it (issue 18.5).
                    "since": "2026-10-31T22:00:00+00:00",
                    "first_seen": "2026-11-28T12:00:00+00:00",
                    "detail": "no movement for 27 days since "
                    "'Departed from sorting center', Guangzhou, 2026-11-01",
                }
            ],
        },
        {"order_id": "B2", "tracking_number": "LP00000000000002", "status": "in_transit",
         "flags": []},
    ]  # fmt: skip


def test_since_is_when_the_problem_began_and_first_seen_when_it_was_raised(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    small_db(db_path)
    lines("--db", str(db_path), "--now", "2026-11-20T00:00:00Z", "flags", "--json")
    rows = lines("--db", str(db_path), "--now", NOW, "flags", "--json")
    flag = rows[0]["flags"][0]  # type: ignore[index]
    assert flag["since"] == "2026-10-31T22:00:00+00:00"  # the last scan
    assert flag["first_seen"] == "2026-11-20T00:00:00+00:00"
    table = run_cli("--db", str(db_path), "--now", NOW, "flags").output
    assert "since 2026-10-31, first seen 2026-11-20" in table


def test_flags_all_adds_archived_shipments_and_cleared_flags(db_path: Path) -> None:
    small_db(db_path)
    assert run_cli("--db", str(db_path), "--now", NOW, "flags").exit_code == 0
    with Store.open(db_path) as store:
        world = World(store)
        world.events(1, Ev("2026-11-28T13:00:00Z", "in_transit", "Moving again"))
    rows = lines("--db", str(db_path), "--now", "2026-11-29T00:00:00Z", "flags", "--json", "--all")
    assert [r["order_id"] for r in rows] == ["A1", "B2", "C3"]
    assert rows[0]["flags"] == [
        {
            "code": "stalled",
            "severity": "critical",
            "since": "2026-11-28T12:00:00+00:00",
            "first_seen": "2026-11-28T12:00:00+00:00",
            "detail": "no movement for 27 days since "
            "'Departed from sorting center', Guangzhou, 2026-11-01",
            "cleared_at": "2026-11-29T00:00:00+00:00",
        }
    ]
    assert rows[2]["flags"] == [
        {
            "code": "invalid_number",
            "severity": "critical",
            "since": "2026-11-28T12:00:00+00:00",  # no instant of its own: first seen
            "first_seen": "2026-11-28T12:00:00+00:00",
            "detail": "RR507128933CN fails the check of its format s10 "
            "(check digit 3 does not match computed 2 (S10))",
            "cleared_at": None,
        }
    ]
    plain = lines("--db", str(db_path), "--now", "2026-11-29T00:00:00Z", "flags", "--json")
    assert [r["flags"] for r in plain] == [[], []]


def test_flags_table_most_urgent_first(db_path: Path) -> None:
    small_db(db_path)
    with Store.open(db_path) as store:
        world = World(store)
        world.shipment("D4", "LP00000000000004", promised_to="2026-11-27T00:00:00Z",
                       protection_ends_at=None)  # fmt: skip
    result = run_cli("--db", str(db_path), "--now", NOW, "flags")
    assert result.exit_code == 0
    out = result.output
    assert "2 of 3 shipments flagged" in out
    assert out.index("A1") < out.index("D4")  # critical before warning
    assert "stalled" in out and "overdue" in out and "B2" not in out


def test_flags_table_sorts_by_the_last_day_to_act_not_by_severity(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    small_db(db_path)  # A1: critical (stalled), buyer protection ends 2026-12-31
    with Store.open(db_path) as store:
        world = World(store)
        sid = world.shipment("E5", "LP00000000000005", promised_to="2026-11-20T00:00:00Z",
                             protection_ends_at="2026-12-05T00:00:00Z")  # fmt: skip
        world.events(sid, Ev("2026-11-27T06:00:00+01:00", "in_transit", "Arrived", city="Madrid"))
    out = run_cli("--db", str(db_path), "--now", NOW, "flags").output
    # E5's flags are warnings, but its last day (2026-12-20) comes before A1's.
    assert "2026-12-20" in out and out.index("E5") < out.index("A1")


def test_flags_on_an_empty_database(db_path: Path) -> None:
    assert lines("--db", str(db_path), "--now", NOW, "flags", "--json") == []
    result = run_cli("--db", str(db_path), "--now", NOW, "flags")
    assert result.exit_code == 0 and "0 of 0 shipments flagged" in result.output


def test_status_evaluates_first_and_shows_deadline_and_action(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    small_db(db_path)
    rows = lines("--db", str(db_path), "--now", NOW, "status", "--json")
    by_order = {r["order_id"]: r for r in rows}
    assert by_order["A1"]["flags"] == ["stalled"]
    assert by_order["A1"]["action"] == "open_dispute"
    assert by_order["A1"]["dispute_deadline_date"] == "2026-12-31"
    assert str(by_order["A1"]["action_detail"]).startswith("open the AliExpress dispute now")
    assert by_order["B2"]["action"] == "wait"
    table = run_cli("--db", str(db_path), "--now", NOW, "status")
    # The real last day: buyer protection ends 2026-12-31, plus AliExpress's 15 days.
    assert by_order["A1"]["dispute_last_day_date"] == "2027-01-15"
    assert "Last day" in table.output and "2027-01-15" in table.output


def test_sample_orders_show_their_scenarios(db_path: Path) -> None:
    assert run_cli("--db", str(db_path), "import", str(SAMPLE_ORDERS)).exit_code == 0
    with Store.open(db_path) as store:
        write_history(store)
        store.conn.execute("DELETE FROM flags")
    rows = lines("--db", str(db_path), "--now", NOW, "flags", "--json")
    got = {(r["order_id"], r["tracking_number"]): {f["code"] for f in r["flags"]} for r in rows}  # type: ignore[attr-defined]
    by_number = {number: codes for (_, number), codes in got.items()}
    expected = {**SAMPLE_SCENARIOS, "LX593028170CN": set()}  # its pickup came recently here
    assert_scenarios(by_number, expected)
    # Never a delivered parcel stalled, overdue, label-only or not found.
    for r in rows:
        if r["status"] == "delivered":
            codes = {f["code"] for f in r["flags"]}  # type: ignore[attr-defined]
            assert not codes & {"stalled", "overdue", "label_only", "not_found"}
    assert got[("8101203344562", "CE119832745CN")] == {"number_reused"}
    assert got[("8101203344563", "CE119832745CN")] == {"number_reused", "delivered_elsewhere"}


def test_flags_at_an_earlier_now_show_that_instant_without_rewriting(db_path: Path) -> None:
    small_db(db_path)
    later = lines("--db", str(db_path), "--now", NOW, "flags", "--json")
    assert later[0]["flags"]  # stalled at NOW
    with Store.open(db_path) as store:
        before = store.query("SELECT * FROM flags ORDER BY flag_id")
    earlier = lines("--db", str(db_path), "--now", "2026-11-05T00:00:00Z", "flags", "--json")
    assert [r["flags"] for r in earlier] == [[], []]
    with Store.open(db_path) as store:
        assert store.query("SELECT * FROM flags ORDER BY flag_id") == before
