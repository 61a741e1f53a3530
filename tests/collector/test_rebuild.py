"""``rebuild``: derived tables re-derived from the stored evidence (issue 11.3).

Evidence is stored through the normal poll path against the simulator (real
loopback HTTP); the derived tables are then altered, rebuilt, and compared with
what the poll path derived. ``raw_documents`` and ``polls`` are never written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collector import clock
from collector.importer import import_file
from collector.poll import run_poll
from collector.poll_lock import PollLock
from collector.simulator import Fault, Simulator, serve_in_thread
from collector.store import Store
from collector.store.rebuild import STATE_COLUMNS, rebuild
from collector.verify import verify_store
from tests.conftest import SAMPLE_ORDERS, run_cli

from .test_poll_simulator import KEY_ENV, config

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)

EVENT_COLUMNS = (
    "shipment_id, event_key, occurred_at, local_time, utc_offset_minutes, tz_known, status, "
    "sub_status, raw_code, raw_status, description, description_translation, location, city, "
    "state, postcode, country, source, provider, first_poll_id"
)


@pytest.fixture(autouse=True)
def _now() -> None:
    clock.set_now(NOW)


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with serve_in_thread(as_of=NOW) as running:
        monkeypatch.setenv(KEY_ENV, running.api_key)
        yield running


@pytest.fixture
def polled(db_path: Path, sim: Simulator) -> Path:
    """The sample orders polled twice (the second run changes no evidence)."""
    with Store.open(db_path) as store:
        import_file(store, SAMPLE_ORDERS)
    settings = config(sim)
    for _ in range(2):
        run_poll(db_path, settings, all_shipments=True, progress=False)
    return db_path


def derived(db: Path) -> dict[str, Any]:
    with Store.open(db) as store:
        return {
            "events": store.query(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY 1, 2"),
            "poll_results": store.query(
                "SELECT poll_id, shipment_id, tracking_number, outcome, code, message "
                "FROM poll_results ORDER BY ALL"
            ),
            "tracking_state": store.query(
                f"SELECT shipment_id, {', '.join(STATE_COLUMNS)} FROM tracking_state ORDER BY 1"
            ),
        }


def evidence(db: Path) -> list[Any]:
    with Store.open(db) as store:
        return [
            store.query("SELECT * FROM raw_documents ORDER BY sha256"),
            store.query("SELECT * FROM polls ORDER BY poll_id"),
        ]


def test_rebuild_of_an_untouched_database_changes_nothing(polled: Path) -> None:
    before, kept = derived(polled), evidence(polled)
    assert before["events"] and before["tracking_state"]
    with Store.open(polled) as store:
        report = rebuild(store)
    assert not report.changed, report.summary()
    assert (report.added, report.dropped, report.states_changed) == ([], [], [])
    assert report.events_before == report.events_after == len(before["events"])
    assert derived(polled) == before
    assert evidence(polled) == kept


def test_rebuild_restores_altered_derived_tables_and_verify_passes(polled: Path) -> None:
    before, kept = derived(polled), evidence(polled)
    with Store.open(polled) as store:
        gone = store.query("SELECT shipment_id, event_key FROM events ORDER BY 1, 2 LIMIT 3")
        conn = store.conn
        for sid, key in gone:
            conn.execute("DELETE FROM events WHERE shipment_id = ? AND event_key = ?", [sid, key])
        conn.execute(
            "INSERT INTO events (shipment_id, event_key, tz_known, status, source, first_poll_id,"
            " recorded_at) VALUES (1, 'forged', false, 'delivered', '17track', 1, now())"
        )
        conn.execute("UPDATE events SET status = 'delivered' WHERE status = 'in_transit'")
        conn.execute("DELETE FROM poll_results WHERE outcome = 'ok' AND poll_id % 2 = 0")
        conn.execute("UPDATE poll_results SET outcome = 'not_found' WHERE poll_id = 1")
        conn.execute("UPDATE tracking_state SET status = 'delivered', consecutive_not_found = 9")
        conn.execute("DELETE FROM tracking_state WHERE shipment_id = 2")
    done = run_cli("--db", str(polled), "rebuild", "--json")
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["events"]["added"] == [{"shipment_id": s, "event_key": k} for s, k in gone]
    assert report["events"]["dropped"] == [{"shipment_id": 1, "event_key": "forged"}]
    assert report["poll_results"]["added"] > 0 and report["tracking_state"]["changed"]
    assert derived(polled) == before
    assert evidence(polled) == kept
    with Store.open(polled, read_only=True) as store:
        assert verify_store(store).intact


def test_rebuild_fills_what_a_parser_fix_adds(polled: Path) -> None:
    """Events stored before a fix (here: without their translation) are re-derived."""
    before = derived(polled)
    with Store.open(polled) as store:
        translated = store.query(
            "SELECT count(*) FROM events WHERE description_translation IS NOT NULL"
        )[0][0]
        store.conn.execute("UPDATE events SET description_translation = NULL")
    assert translated > 0
    done = run_cli("--db", str(polled), "rebuild")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("rebuilt from ")
    assert "events +0 -0" in done.stdout
    assert derived(polled) == before


def test_rebuild_takes_the_poll_lock(polled: Path) -> None:
    with PollLock(polled):
        done = run_cli("--db", str(polled), "rebuild")
    assert done.exit_code == 75


def test_rebuild_without_a_database_says_so(tmp_path: Path) -> None:
    done = run_cli("--db", str(tmp_path / "none.duckdb"), "rebuild")
    assert done.exit_code == 2
    assert "no database at" in done.stderr
    assert not (tmp_path / "none.duckdb").exists()


def test_rebuild_reads_the_runs_at_their_own_now(polled: Path) -> None:
    with Store.open(polled) as store:
        due = store.query("SELECT shipment_id, next_poll_at, updated_at FROM tracking_state")
        rebuild(store)
        again = store.query("SELECT shipment_id, next_poll_at, updated_at FROM tracking_state")
    assert sorted(again) == sorted(due)


def test_rebuild_replays_faults_rechecks_and_both_sources(db_path: Path) -> None:
    """429s, 503s, a 502 page, truncated JSON, numbers not looked up yet, two sources."""
    with serve_in_thread(as_of=NOW, sync_delay=0.2) as sim:
        import os

        os.environ[KEY_ENV] = sim.api_key
        try:
            with Store.open(db_path) as store:
                import_file(store, SAMPLE_ORDERS)
            sim.set_faults(
                [
                    Fault("429", count=1, retry_after=0.1, endpoint="17track"),
                    Fault("error", count=1, status=503),
                    Fault("truncate", count=1, endpoint="cainiao"),
                    Fault("html", count=1, endpoint="cainiao", status=502),
                ]
            )
            half = config(sim, routing=["17track", "cainiao"], max_retries=0)
            run_poll(db_path, half, all_shipments=True, progress=False)
            cainiao = config(sim, routing=["cainiao"], max_retries=0)
            run_poll(db_path, cainiao, all_shipments=True, progress=False)
            run_poll(db_path, half, all_shipments=True, progress=False)
            run_poll(db_path, half, all_shipments=True, progress=False)
        finally:
            del os.environ[KEY_ENV]
    before = derived(db_path)
    with Store.open(db_path) as store:
        outcomes = {r[0] for r in store.query("SELECT DISTINCT outcome FROM poll_results")}
        assert {"ok", "error"} <= outcomes, outcomes
        report = rebuild(store)
    assert not report.changed, report.summary()
    assert derived(db_path) == before


# --- verify re-derives the derived tables (issue 17.8) ------------------------------------


@pytest.mark.parametrize(
    ("edit", "table"),
    [
        ("UPDATE events SET status = 'delivered' WHERE status = 'in_transit'", "events"),
        ("DELETE FROM events WHERE event_key IN (SELECT event_key FROM events LIMIT 1)",
         "events"),
        ("UPDATE poll_results SET outcome = 'not_found' WHERE outcome = 'ok'", "poll_results"),
        ("UPDATE tracking_state SET status = 'delivered'", "tracking_state"),
        ("DELETE FROM tracking_state WHERE shipment_id = 2", "tracking_state"),
    ],
)  # fmt: skip
def test_verify_reports_edited_derived_tables_as_tampered(
    polled: Path, edit: str, table: str
) -> None:
    with Store.open(polled) as store:
        store.conn.execute(edit)
    done = run_cli("--db", str(polled), "verify")
    assert done.exit_code == 1
    assert f"TAMPERED: {table} do not match the raw documents" in done.stderr
    assert run_cli("--db", str(polled), "rebuild").exit_code == 0
    done = run_cli("--db", str(polled), "verify")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.endswith("; derived tables match the evidence\n")


def test_verify_notices_polls_deleted_from_the_end_of_the_log(polled: Path) -> None:
    with Store.open(polled) as store:
        last = store.query("SELECT max(poll_id) FROM polls")[0][0]
        store.conn.execute("DELETE FROM poll_results WHERE poll_id = ?", [last])
        store.conn.execute("DELETE FROM polls WHERE poll_id = ?", [last])
    done = run_cli("--db", str(polled), "verify")
    assert done.exit_code == 1
    said = " ".join(done.stderr.split())  # the message may be wrapped on a terminal
    assert f"ended at poll {last}, which the poll log no longer holds" in said


def test_a_damaged_database_file_is_exit_3_not_tampered(polled: Path) -> None:
    data = bytearray(polled.read_bytes())
    data[:4096] = b"\xff" * 4096  # the file header
    polled.write_bytes(bytes(data))
    done = run_cli("--db", str(polled), "verify")
    assert done.exit_code == 3, done.stderr
    said = " ".join(done.stderr.split())
    assert "the database file is damaged" in said and "TAMPERED" not in said


def test_a_damaged_block_is_exit_3(polled: Path) -> None:
    data = bytearray(polled.read_bytes())
    # Every block after the headers: whatever verify reads, DuckDB's checksum fails.
    for offset in range(3 * 4096 + 8, len(data), 4096):
        data[offset : offset + 64] = b"\x5a" * 64
    polled.write_bytes(bytes(data))
    done = run_cli("--db", str(polled), "verify")
    assert done.exit_code == 3, (done.stdout, done.stderr)
    assert "damaged" in done.stderr
