"""The poller over real loopback HTTP against the simulator (collector.simulator).

Covers the whole path (import, register then fetch, store, derive state, verify)
and what goes wrong on the way: 429 storms, 503 bursts, timeouts, malformed and
oversized bodies, a poll killed with SIGKILL mid-run, and two polls at once.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collector import clock
from collector.config import Settings, settings_from_dict
from collector.errors import NoRoomForEvidence
from collector.importer import import_file
from collector.poll import PollReport, run_poll
from collector.simulator import Fault, Simulator, serve_in_thread, synthetic_scenarios
from collector.simulator.synthetic import write_orders_csv
from collector.store import Store
from collector.verify import verify_store
from tests.conftest import SAMPLE_ORDERS

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
KEY_ENV = "PP_SIM_17TRACK_KEY"


@pytest.fixture(autouse=True)
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    clock.set_now(NOW)


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with serve_in_thread(as_of=NOW) as running:
        monkeypatch.setenv(KEY_ENV, running.api_key)
        yield running


def config(sim: Simulator, routing: list[str] | None = None, **overrides: Any) -> Settings:
    """Both sources at the simulator, fast rates and short retry waits for tests."""
    common = {"max_retry_wait_seconds": 5.0, "timeout_seconds": 5.0, **overrides}
    return settings_from_dict(
        {
            "sources": {
                "17track": {
                    "base_url": sim.base_url_17track,
                    "api_key_env": KEY_ENV,
                    "requests_per_second": 50,
                    **common,
                },
                "cainiao": {
                    "base_url": sim.base_url_cainiao,
                    "requests_per_second": 50,
                    "batch_size": 5,
                    **common,
                },
            },
            "routing": {"default": routing or ["17track", "cainiao"]},
        }
    )


@pytest.fixture
def orders(db_path: Path) -> Path:
    with Store.open(db_path) as store:
        import_file(store, SAMPLE_ORDERS)
    return db_path


def state(db: Path) -> dict[str, tuple[Any, ...]]:
    with Store.open(db) as store:
        rows = store.query(
            "SELECT s.order_id, t.status, t.last_outcome, t.event_count, t.source "
            "FROM shipments s LEFT JOIN tracking_state t USING (shipment_id)"
        )
    return {r[0]: tuple(r[1:]) for r in rows}


def table_counts(db: Path) -> dict[str, int]:
    with Store.open(db) as store:
        return {
            t: int(store.query(f"SELECT count(*) FROM {t}")[0][0])
            for t in ("raw_documents", "polls", "events", "tracking_state", "source_registrations")
        }


def assert_intact_and_unique(db: Path) -> None:
    with Store.open(db) as store:
        assert verify_store(store).intact
        dupes = store.query(
            "SELECT count(*) - count(DISTINCT (shipment_id, event_key)) FROM events"
        )[0][0]
        assert dupes == 0


EXPECTED_17TRACK = {
    "8101203344551": "delivered",
    "8101203344552": "in_transit",
    "8101203344553": "info_received",
    "8101203344554": "not_found",
    "8101203344555": "not_found",
    "8101203344556": "returned",
    "8101203344565": "exception",
    "8101203344566": "available_for_pickup",
    "8101203344569": "out_for_delivery",
    "8101203344570": "not_found",
    "8101203344571": "expired",
    "8101203344572": "delivery_failed",
}


def test_sample_orders_over_17track(orders: Path, sim: Simulator) -> None:
    report = run_poll(orders, config(sim))
    assert report.exit_code == 0, report.summary_lines()
    # 25 shipments, 24 distinct numbers: registered and fetched in the same run.
    assert sim.counts() == {"register": 1, "gettrackinfo": 1}
    summary = report.sources["17track"]
    assert (summary.shipments, summary.numbers, summary.requests) == (25, 24, 2)
    assert summary.outcomes == {"ok": 21, "not_found": 1, "invalid": 2}
    now = state(orders)
    assert {k: now[k][0] for k in EXPECTED_17TRACK} == EXPECTED_17TRACK
    assert now["8101203344555"][1] == now["8101203344570"][1] == "invalid"
    assert all(v[0] is not None for v in now.values())
    with Store.open(orders) as store:
        # Japanese times keep their +09:00 offset; the delivery happened at 14:05 JST.
        rows = store.query(
            "SELECT local_time, utc_offset_minutes, occurred_at FROM events e "
            "JOIN shipments s USING (shipment_id) WHERE s.tracking_number = 'EB908172638CN' "
            "AND e.status = 'delivered'"
        )
    assert [(r[1], r[2].astimezone(UTC).hour) for r in rows] == [(540, 5)]
    assert_intact_and_unique(orders)


def test_numbers_looked_up_after_registering_get_their_events_in_the_same_run(
    orders: Path, sim: Simulator
) -> None:
    # As at 17TRACK, a new registration answers NotFound until it has been looked up.
    sim.sync_delay = 0.3
    report = run_poll(
        orders,
        config(sim),
    )
    assert report.exit_code == 0, report.summary_lines()
    summary = report.sources["17track"]
    assert sim.counts() == {"register": 1, "gettrackinfo": 2}
    assert summary.outcomes == {"ok": 21, "not_found": 1, "invalid": 2}
    now = state(orders)
    assert {k: now[k][0] for k in EXPECTED_17TRACK} == EXPECTED_17TRACK
    assert_intact_and_unique(orders)


def test_rerun_with_nothing_changed_stores_no_new_evidence(orders: Path, sim: Simulator) -> None:
    run_poll(orders, config(sim))
    second = run_poll(orders, config(sim), all_shipments=True)
    assert second.sources["17track"].new_events == 0
    # Registered numbers are fetched straight away; only the number 17TRACK refused
    # to register is offered again.
    assert [r.numbers for r in sim.requests if r.endpoint == "register"][1:] == [("GARBAGE123",)]
    before = table_counts(orders)
    third = run_poll(orders, config(sim), all_shipments=True)
    after = table_counts(orders)
    # The same answers again: no new body, no new event; only the requests are logged.
    assert third.sources["17track"].new_documents == 0
    assert after == {**before, "polls": before["polls"] + 2}


def test_sample_orders_over_cainiao(orders: Path, sim: Simulator) -> None:
    report = run_poll(orders, config(sim, routing=["cainiao"]))
    assert report.exit_code == 0
    assert sim.counts() == {"cainiao": 5}  # 24 numbers, 5 per call
    now = state(orders)
    assert now["8101203344566"][0] == "available_for_pickup"
    assert now["8101203344554"][:2] == ("not_found", "not_found")
    with Store.open(orders) as store:
        last_mile = store.query(
            "SELECT t.last_mile_number, t.last_mile_carrier FROM tracking_state t "
            "JOIN shipments s USING (shipment_id) WHERE s.order_id = '8101203344569'"
        )
    assert last_mile[0][0] and last_mile[0][1] == "Poste Italiane"
    assert_intact_and_unique(orders)


def test_number_unknown_to_17track_is_registered_again(orders: Path, sim: Simulator) -> None:
    run_poll(orders, config(sim))
    # As if the database had been restored elsewhere: 17TRACK no longer knows the numbers.
    sim.clear_registrations()
    sim.reset_log()
    report = run_poll(orders, config(sim), all_shipments=True)
    assert report.exit_code == 0
    assert [(r.endpoint, len(r.numbers), r.status) for r in sim.requests] == [
        ("register", 1, 200),  # GARBAGE123, refused last time, is offered again
        ("gettrackinfo", 23, 200),  # every answer: -18019902 not registered
        ("register", 23, 200),
        ("gettrackinfo", 23, 200),
    ]
    assert report.sources["17track"].outcomes == {"ok": 21, "not_found": 1, "invalid": 2}


def test_429_with_retry_after_then_success(orders: Path, sim: Simulator) -> None:
    sim.set_faults([Fault("429", count=2, retry_after=0.2)])
    report = run_poll(orders, config(sim))
    assert report.exit_code == 0
    assert sim.count(status=429) == 2 and sim.count(status=200) == 2


def test_429_storm_at_the_rate_limit_is_absorbed(orders: Path, sim: Simulator) -> None:
    # The simulator allows 1 request/s with no burst, the project asks for 50/s.
    sim.set_rate_limit(1, burst=1)
    report = run_poll(orders, config(sim, routing=["17track"]))
    assert report.exit_code == 0, report.summary_lines()
    assert sim.count(status=429) >= 1
    assert report.sources["17track"].outcomes["ok"] == 21


def test_429_storm_beyond_the_retries_stops_only_that_source(orders: Path, sim: Simulator) -> None:
    with Store.open(orders) as store:
        store.conn.execute("UPDATE shipments SET courier = 'usps' WHERE tracking_number LIKE '9%'")
    settings = config(sim, max_retries=2, max_retry_wait_seconds=1.0)
    settings = settings_from_dict(
        {
            "sources": {
                n: {k: getattr(c, k) for k in ("base_url", "api_key_env", "requests_per_second",
                                               "max_retries", "max_retry_wait_seconds")
                    if getattr(c, k) is not None}
                for n, c in settings.sources.items()
            },
            "routing": {"default": ["cainiao"], "usps": ["17track"]},
        }
    )  # fmt: skip
    sim.set_faults([Fault("429", endpoint="17track")])
    report = run_poll(orders, settings)
    assert report.exit_code == 1
    stopped = report.sources["17track"].stopped or ""
    assert "HTTP 429" in stopped and "stopping this source for the run" in stopped
    assert "STOPPED" in report.sources["17track"].line()
    assert report.sources["cainiao"].stopped is None
    assert report.sources["cainiao"].count("ok") > 0
    now = state(orders)
    assert now["8101203344557"][1] == "rate_limited"
    # Faults gone: the next run picks the rate-limited shipments up again.
    sim.clear_faults()
    again = run_poll(orders, settings)
    assert again.exit_code == 0
    assert again.sources["17track"].shipments == 3
    assert state(orders)["8101203344557"][:2] == ("delivered", "ok")


def test_503_then_success(orders: Path, sim: Simulator) -> None:
    sim.set_faults([Fault("error", count=2, status=503)])
    report = run_poll(orders, config(sim))
    assert report.exit_code == 0
    assert sim.count(status=503) == 2
    assert report.sources["17track"].outcomes["ok"] == 21


def test_timeout_then_success(orders: Path, sim: Simulator) -> None:
    sim.set_faults([Fault("timeout", count=1, seconds=3)])
    report = run_poll(orders, config(sim, timeout_seconds=0.5))
    assert report.exit_code == 0, report.summary_lines()
    assert report.sources["17track"].outcomes["ok"] == 21


def test_malformed_bodies_are_error_outcomes_and_the_run_goes_on(
    orders: Path, sim: Simulator
) -> None:
    sim.set_faults(
        [
            Fault("truncate", count=1, endpoint="cainiao"),
            Fault("html", count=1, endpoint="cainiao", status=502),
            Fault("huge", count=1, endpoint="cainiao", size=10_000_000),
        ]
    )
    # No retries, so that the 502 page is an answer rather than a retried failure.
    report = run_poll(orders, config(sim, routing=["cainiao"], max_retries=0))
    summary = report.sources["cainiao"]
    assert report.exit_code == 1
    # The oversized answer's batch was asked again in halves, which were answered.
    assert summary.failed_requests == 2 and summary.stopped is None
    assert summary.split_batches == 1
    assert summary.count("error") == 10 and summary.count("ok") + summary.count("not_found") == 14
    with Store.open(orders) as store:
        errors = store.query(
            "SELECT error, body_sha256 IS NOT NULL FROM polls WHERE outcome = 'error' ORDER BY 1"
        )
    # The broken bodies are kept as evidence; the oversized one was dropped.
    assert [(e.split(" (")[0], kept) for e, kept in errors] == [
        (f"cainiao: HTTP 502: '{sim.host}:{sim.port} | 502: Bad gateway'", True),
        ("cainiao: detail: body over the 5000000 byte cap", False),
        ("detail: body is not valid JSON", True),
    ]
    assert_intact_and_unique(orders)
    # The next run asks again for the shipments whose answers were unusable.
    again = run_poll(orders, config(sim, routing=["cainiao"]))
    assert again.exit_code == 0 and again.sources["cainiao"].numbers == 10


def test_an_oversized_answer_is_asked_again_in_halves(orders: Path, sim: Simulator) -> None:
    # A batch of 24 numbers whose answer goes over the cap once: it used to fail all
    # 24; now each half is asked on its own and every number gets its answer.
    sim.set_faults([Fault("huge", count=1, endpoint="gettrackinfo", size=300_000)])
    report = run_poll(orders, config(sim, max_body_bytes=100_000))
    summary = report.sources["17track"]
    assert report.exit_code == 0, report.summary_lines()
    assert summary.split_batches == 1 and summary.failed_requests == 0
    assert summary.outcomes == {"ok": 21, "not_found": 1, "invalid": 2}
    assert "1 batch asked again in halves" in summary.line()
    now = state(orders)
    assert {k: now[k][0] for k in EXPECTED_17TRACK} == EXPECTED_17TRACK
    with Store.open(orders) as store:
        fetches = store.query(
            "SELECT len(numbers), error IS NOT NULL FROM polls "
            "WHERE operation = 'gettrackinfo' ORDER BY poll_id"
        )
    # The oversized attempt is kept in the log, as it happened, then the two halves.
    (asked, failed), *halves = fetches
    assert failed and len(halves) == 2 and not any(e for _, e in halves)
    assert sum(n for n, _ in halves) == asked and all(n >= asked // 2 - 1 for n, _ in halves)
    assert_intact_and_unique(orders)


def test_one_huge_history_fails_only_its_own_number(orders: Path, sim: Simulator) -> None:
    # Every answer that carries this number is over the cap: bisecting isolates it.
    sim.set_faults(
        [Fault("huge", endpoint="gettrackinfo", number="LP00123456789012", size=300_000)]
    )
    report = run_poll(orders, config(sim, max_body_bytes=100_000))
    summary = report.sources["17track"]
    assert report.exit_code == 1 and summary.failed_requests == 1
    assert summary.outcomes == {"ok": 20, "not_found": 1, "invalid": 2, "error": 1}
    now = state(orders)
    assert now["8101203344552"][1] == "error"
    assert {k: now[k][0] for k in EXPECTED_17TRACK if k != "8101203344552"} == {
        k: v for k, v in EXPECTED_17TRACK.items() if k != "8101203344552"
    }
    assert_intact_and_unique(orders)


# --- real processes: SIGKILL mid-poll, concurrent polls ------------------------------------


def _project(tmp_path: Path, sim: Simulator, n: int, rate: float) -> tuple[Path, Path]:
    """A database with ``n`` synthetic orders and a config pointing 17TRACK at ``sim``."""
    scenarios = synthetic_scenarios(n, seed=11)
    sim.add_scenarios(scenarios)
    csv = write_orders_csv(scenarios, tmp_path / f"orders-{n}.csv")
    db = tmp_path / f"db-{n}-{time.monotonic_ns()}.duckdb"
    with Store.open(db) as store:
        import_file(store, csv)
    config = tmp_path / "parcelproof.toml"
    config.write_text(
        f'[sources.17track]\nbase_url = "{sim.base_url_17track}"\napi_key_env = "{KEY_ENV}"\n'
        f"requests_per_second = {rate}\nbatch_size = 10\n"
    )
    return db, config


def _poll_process(db: Path, config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "collector", "--db", str(db), "--config", str(config),
         "--now", NOW.isoformat(), "poll", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ},
    )  # fmt: skip


def _wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def _events_by_shipment(db: Path) -> dict[str, set[str]]:
    with Store.open(db) as store:
        rows = store.query(
            "SELECT s.order_id, e.event_key FROM events e JOIN shipments s USING (shipment_id)"
        )
    out: dict[str, set[str]] = {}
    for order, key in rows:
        out.setdefault(order, set()).add(key)
    return out


@pytest.mark.slow
def test_sigkill_mid_poll_then_rerun_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, sim: Simulator
) -> None:
    db, cfg = _project(tmp_path, sim, n=200, rate=20)  # 20 batches, 40 calls: ~2 s
    with _poll_process(db, cfg) as proc:
        try:
            _wait_for(lambda: sim.count("gettrackinfo") >= 6)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    partial = table_counts(db)
    assert 0 < partial["tracking_state"] < 200  # some batches were written, not all
    assert_intact_and_unique(db)
    rerun = _poll_process(db, cfg)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, out + err
    assert table_counts(db)["tracking_state"] == 200
    assert_intact_and_unique(db)
    # The same events as one uninterrupted run against the same answers.
    reference, ref_cfg = _project(tmp_path, sim, n=200, rate=50)
    with _poll_process(reference, ref_cfg) as done:
        out, err = done.communicate(timeout=60)
    assert done.returncode == 0, out + err
    assert _events_by_shipment(db) == _events_by_shipment(reference)


@pytest.mark.slow
def test_concurrent_poll_exits_75_naming_the_holder(tmp_path: Path, sim: Simulator) -> None:
    db, cfg = _project(tmp_path, sim, n=100, rate=5)  # 20 calls: ~4 s
    with _poll_process(db, cfg) as first:
        try:
            _wait_for(lambda: sim.count() >= 1)
            started = time.monotonic()
            with _poll_process(db, cfg) as second:
                out, err = second.communicate(timeout=30)
            elapsed = time.monotonic() - started
            assert second.returncode == 75, out + err
            assert elapsed < 2.0
            message = " ".join(err.split())
            assert f"pid {first.pid}" in message and "another poll holds the lock" in message
            out, err = first.communicate(timeout=60)
            assert first.returncode == 0, out + err
        finally:
            if first.poll() is None:
                first.kill()
                first.communicate()
    report_line = out.strip().splitlines()[0]
    assert report_line.startswith("17track: 100 shipments")


def test_report_lines(orders: Path, sim: Simulator) -> None:
    report: PollReport = run_poll(orders, config(sim))
    line = report.summary_lines()[0]
    assert line.startswith(
        "17track: 25 shipments, 2 requests, 21 ok, 1 not found, 2 invalid, 142 new events, "
    )


def test_fetch_times_are_the_wall_clock_not_the_evaluation_clock(
    orders: Path, sim: Simulator
) -> None:
    # --now (here 2026-11-28) moves only the evaluation; the evidence records when
    # each request was really sent, from the (injected) wall clock.
    wall = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    clock.set_wall(lambda: wall)
    report = run_poll(orders, config(sim))
    assert report.exit_code == 0
    with Store.open(orders) as store:
        fetched = store.query("SELECT DISTINCT requested_at FROM polls")
        runs = store.query("SELECT started_at, finished_at FROM runs")
        polled = store.query("SELECT DISTINCT last_poll_at FROM tracking_state")
        documents = store.query("SELECT DISTINCT first_seen_at FROM raw_documents")
    assert fetched == [(wall,)]
    assert runs == [(wall, wall)]
    assert polled == [(wall,)]
    assert documents == [(wall,)]


def test_fetch_times_under_a_fixed_now_in_a_subprocess(
    tmp_path: Path, orders: Path, sim: Simulator
) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text(
        f'[sources.17track]\nbase_url = "{sim.base_url_17track}"\n'
        f'api_key_env = "{KEY_ENV}"\nrequests_per_second = 50\n'
    )
    before = datetime.now(UTC)
    env = {**os.environ, "PARCELPROOF_NOW": "2026-11-20T12:00:00Z", KEY_ENV: sim.api_key}
    done = subprocess.run(
        [sys.executable, "-m", "collector", "--db", str(orders), "--config", str(conf), "poll"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    after = datetime.now(UTC)
    assert done.returncode == 0, done.stderr
    with Store.open(orders) as store:
        fetched = [r[0] for r in store.query("SELECT requested_at FROM polls")]
    assert fetched and all(before <= t <= after for t in fetched)


def test_no_request_is_sent_once_nothing_can_be_stored(
    db_path: Path, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The disk fills up after the first write: every answer after it would be lost,
    # so the poller stops asking (each request also spends a daily quota).
    from collector.store.evidence import EvidenceWriter

    with Store.open(db_path) as store:
        import_file(store, write_orders_csv(synthetic_scenarios(1200, seed=3), tmp_path / "o.csv"))
    real = EvidenceWriter.write_batches
    calls = []

    def fill_up(self, items, now):  # type: ignore[no-untyped-def]
        calls.append(sim.count())
        if len(calls) > 1:
            raise OSError(28, "No space left on device", str(db_path))
        return real(self, items, now)

    monkeypatch.setattr(EvidenceWriter, "write_batches", fill_up)
    settings = config(sim, routing=["17track"])
    with pytest.raises(OSError, match="No space left on device"):
        run_poll(db_path, settings)
    sent = sim.count()
    # 30 batches of 40 need 60 requests; once the second write failed, only requests
    # already on the wire went out (the paced ones waiting their turn did not).
    failed_at = calls[1]
    assert sent < 60 and sent - failed_at <= 2, (calls, sent)


def test_a_full_disk_sends_no_request(orders: Path, sim: Simulator) -> None:
    settings = config(sim)
    settings = dataclasses.replace(
        settings, poll=dataclasses.replace(settings.poll, min_free_megabytes=1e12)
    )
    with pytest.raises(NoRoomForEvidence, match=r"not polling: \d+ MB free on the disk of"):
        run_poll(orders, settings)
    assert sim.count() == 0
    with Store.open(orders) as store:
        assert store.query("SELECT count(*) FROM polls")[0][0] == 0
