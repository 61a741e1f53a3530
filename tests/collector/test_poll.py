"""The poller without a network: routing, what counts as configured, due-ness, filters, lock.

Sources are answered by an ``httpx.MockTransport`` that speaks just enough of both
protocols (everything "not found"); the simulator tests cover real loopback HTTP.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from collector import clock
from collector.config import Settings, settings_from_dict
from collector.errors import ConfigError, LockHeld
from collector.importer import import_rows
from collector.poll import PollReport, run_poll
from collector.poll_lock import PollLock, ensure_free, lock_path_for
from collector.sources.base import (
    BatchOutcome,
    Exchange,
    Outcome,
    Parsed,
    Request,
    Result,
    Sender,
    Source,
)
from collector.sources.registry import register_source
from collector.store import Store

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
KEY_ENV = "PP_TEST_17TRACK_KEY"


class FakeSources:
    """Both protocols, minimally: 17TRACK registers and answers NotFound; Cainiao EXTERNAL."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[str]]] = []
        #: gettrackinfo calls answered "not looked up yet" (no provider) before the
        #: numbers count as looked up; -1: never looked up.
        self.lookups_pending = 0
        #: Events a looked-up number has (none: "not found").
        self.events: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/detail.json"):
            numbers = request.url.params["mailNos"].split(",")
            self.seen.append(("detail", numbers))
            modules = [{"mailNo": n, "mailNoSource": "EXTERNAL", "detailList": []} for n in numbers]
            return httpx.Response(200, json={"module": modules, "success": True})
        assert request.headers["17token"] == "k-123456"
        operation = request.url.path.rsplit("/", 1)[1]
        numbers = [item["number"] for item in json.loads(request.content)]
        self.seen.append((operation, numbers))
        if operation == "register":
            accepted: list[dict[str, Any]] = [{"number": n, "carrier": 3011} for n in numbers]
        else:
            fetches = sum(1 for op, _ in self.seen if op == "gettrackinfo")
            info: dict[str, Any] = {"latest_status": {"status": "NotFound"}}
            if self.lookups_pending < 0 or fetches <= self.lookups_pending:
                pass  # no provider has answered yet
            elif self.events:
                provider = {"latest_sync_status": "Success", "events": self.events}
                info = {
                    "latest_status": {"status": "InTransit"},
                    "tracking": {"providers": [provider]},
                }
            else:  # looked up, nothing found
                info["tracking"] = {"providers": [{"latest_sync_status": "Success", "events": []}]}
            accepted = [{"number": n, "track_info": info} for n in numbers]
        return httpx.Response(200, json={"code": 0, "data": {"accepted": accepted, "rejected": []}})

    def operations(self) -> list[str]:
        return [op for op, _ in self.seen]


@pytest.fixture
def fake() -> FakeSources:
    return FakeSources()


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # Due-ness and backoff run on the wall clock; tests inject one.
    clock.set_now(NOW)
    clock.set_wall(lambda: NOW)
    monkeypatch.setenv(KEY_ENV, "k-123456")


def settings(**tables: Any) -> Settings:
    return settings_from_dict(tables)


BOTH = {
    "sources": {
        "17track": {
            "api_key_env": KEY_ENV,
            "base_url": "https://17.test/track/v2.2",
            "requests_per_second": 100,
        },
        "cainiao": {"base_url": "https://cn.test", "requests_per_second": 100},
    },
}
CAINIAO_FIRST = {**BOTH, "routing": {"default": ["cainiao", "17track"]}}


def seed(db_path: Path, rows: list[tuple[str, str, str | None]]) -> None:
    """Shipments (order id, number, detected courier)."""
    header = ["order_id", "tracking_number", "shipped_at"]
    with Store.open(db_path) as store:
        result = import_rows(
            store,
            header,
            [(i + 2, {"order_id": o, "tracking_number": n, "shipped_at": "2026-11-01"})
             for i, (o, n, _) in enumerate(rows)],
        )  # fmt: skip
        assert not result.rejected
        for order, _, courier in rows:
            store.conn.execute(
                "UPDATE shipments SET courier = ? WHERE order_id = ?", [courier, order]
            )


@pytest.fixture
def shipments(db_path: Path) -> Path:
    seed(
        db_path,
        [
            ("o1", "UB123456785CN", "s10"),
            ("o2", "9400111206206406260787", "usps"),
            ("o3", "LP00123456789012", None),
            ("o4", "1Z4F8W310368260410", "ups"),
        ],
    )
    return db_path


def poll(db: Path, config: Settings, fake: FakeSources, **options: Any) -> PollReport:
    transport = httpx.MockTransport(fake)
    transports = {"17track": transport, "cainiao": transport, **options.pop("transports", {})}
    return run_poll(db, config, transports=transports, **options)


def test_nothing_is_called_when_nothing_is_configured(shipments: Path, fake: FakeSources) -> None:
    with pytest.raises(ConfigError, match="no tracking source is configured"):
        poll(shipments, Settings(), fake)
    assert fake.seen == []


def test_a_source_needing_a_key_without_one_is_not_used(
    shipments: Path, fake: FakeSources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    routing = {"default": ["17track", "cainiao"], "usps": ["17track"], "ups": ["17track"]}
    report = poll(shipments, settings_from_dict({**BOTH, "routing": routing}), fake)
    assert set(report.sources) == {"cainiao"}
    assert f"[sources.17track] has no key (set {KEY_ENV}); source not used" in report.warnings
    # USPS and UPS numbers may only go to 17TRACK, which is not usable: left over.
    assert report.sources["cainiao"].shipments == 2
    assert report.unserved == 2
    assert report.summary_lines()[-2] == (
        "2 shipments no configured source can serve (e.g. o2/9400111206206406260787, "
        "o4/1Z4F8W310368260410): add a source for them ([sources.<name>], [routing])"
    )
    assert report.exit_code == 0


class UpsOnly(Source):
    """A plug-in source that can only serve UPS numbers (one call per number)."""

    name: ClassVar[str] = "ups-only"
    batch_size: ClassVar[int] = 1
    default_rate: ClassVar[float] = 100.0
    default_base_url: ClassVar[str] = "https://ups.test"

    def serves(self, courier: str | None) -> bool:
        return courier == "ups"

    async def track(
        self, numbers: Sequence[str], *, registered: frozenset[str], send: Sender
    ) -> BatchOutcome:
        request = Request("track", "GET", f"{self.base_url}/track", tuple(numbers),
                          params=(("n", numbers[0]),))  # fmt: skip
        response = await send(request)
        result = Result(numbers[0], Outcome.NOT_FOUND, message="nothing")
        parsed = Parsed(Outcome.NOT_FOUND, (result,))
        return BatchOutcome([Exchange(response, parsed)], {numbers[0]: result})


def test_first_configured_source_that_serves_the_courier_wins(
    shipments: Path, fake: FakeSources
) -> None:
    register_source(UpsOnly)
    config = settings_from_dict(
        {
            "sources": {**BOTH["sources"], "ups-only": {}},
            "routing": {"default": ["ups-only", "17track"]},
        }
    )
    ups = httpx.MockTransport(lambda request: httpx.Response(200, text="{}"))
    report = poll(shipments, config, fake, transports={"ups-only": ups})
    assert {n: s.shipments for n, s in report.sources.items()} == {"ups-only": 1, "17track": 3}
    assert report.unserved == 0
    # New numbers at 17TRACK are registered, then fetched in the same run.
    assert [(op, len(ns)) for op, ns in fake.seen] == [("register", 3), ("gettrackinfo", 3)]


def test_per_courier_routing(shipments: Path, fake: FakeSources) -> None:
    config = settings_from_dict({**BOTH, "routing": {"default": ["17track"], "s10": ["cainiao"]}})
    report = poll(shipments, config, fake)
    assert {n: s.shipments for n, s in report.sources.items()} == {"cainiao": 1, "17track": 3}


def test_unknown_source_in_config_is_a_config_error(shipments: Path, fake: FakeSources) -> None:
    with pytest.raises(ConfigError, match="unknown source 'fedex-direct'"):
        poll(shipments, settings_from_dict({"sources": {"fedex-direct": {}}}), fake)
    with pytest.raises(ConfigError, match="unknown source 'nope'"):
        poll(shipments, settings_from_dict({**BOTH, "routing": {"default": ["nope"]}}), fake)


def test_disabled_source_is_not_used(shipments: Path, fake: FakeSources) -> None:
    config = settings_from_dict({"sources": {**BOTH["sources"], "cainiao": {"enabled": False}}})
    report = poll(shipments, config, fake)
    assert set(report.sources) == {"17track"}


def test_due_ness_and_backoff(shipments: Path, fake: FakeSources) -> None:
    fake.lookups_pending = 1  # the first fetch after registering finds nothing looked up
    config = settings_from_dict({**BOTH, "poll": {"pending_rechecks": 0}})
    assert poll(shipments, config, fake).polled == 4
    # "NotFound" right after registering means "not looked up yet": due again at once.
    with Store.open(shipments) as store:
        assert store.query("SELECT DISTINCT last_outcome, next_poll_at FROM tracking_state") == [
            ("ok", NOW)
        ]
    assert poll(shipments, config, fake).polled == 4
    # Now "not found" is an answer: backed off 12 h, so nothing is due now...
    again = poll(shipments, config, fake)
    assert again.polled == 0 and again.summary_lines() == ["nothing to poll"]
    # ...but --all polls every non-archived shipment regardless.
    assert poll(shipments, config, fake, all_shipments=True).polled == 4
    # A second "not found" in a row: the wait doubles to 24 h.
    clock.set_wall(lambda: NOW + timedelta(hours=23))
    assert poll(shipments, config, fake).polled == 0
    clock.set_wall(lambda: NOW + timedelta(hours=24))
    assert poll(shipments, config, fake).polled == 4


def test_numbers_not_looked_up_yet_are_asked_again_in_the_same_run(
    shipments: Path, fake: FakeSources
) -> None:
    fake.lookups_pending = 2
    fake.events = [
        {"time_utc": "2026-11-27T08:00:00Z", "description": "Accepted", "stage": "PickedUp"}
    ]
    config = settings_from_dict({**BOTH, "poll": {"pending_recheck_seconds": 0.05}})
    report = poll(shipments, config, fake)
    summary = report.sources["17track"]
    # register, the first fetch, two rechecks (the second finds the events).
    assert [op for op, _ in fake.seen if op != "detail"] == ["register"] + ["gettrackinfo"] * 3
    assert (summary.rechecked, summary.count(Outcome.OK), summary.new_events) == (8, 4, 4)
    assert "8 asked again after registering" in summary.line()
    with Store.open(shipments) as store:
        states = store.query(
            "SELECT DISTINCT status, last_outcome, event_count FROM tracking_state t"
            " JOIN shipments USING (shipment_id) WHERE t.source = '17track'"
        )
    assert states == [("in_transit", "ok", 1)]


def test_rechecks_stop_after_the_configured_number(shipments: Path, fake: FakeSources) -> None:
    fake.lookups_pending = -1
    config = settings_from_dict({**BOTH, "poll": {"pending_recheck_seconds": 0.01}})
    started = time.perf_counter()
    report = poll(shipments, config, fake)
    assert sum(1 for op, _ in fake.seen if op == "gettrackinfo") == 1 + 2
    assert report.sources["17track"].count(Outcome.OK) == 4  # still pending: due next run
    assert time.perf_counter() - started < 5
    with Store.open(shipments) as store:
        assert store.query(
            "SELECT DISTINCT next_poll_at FROM tracking_state WHERE source = '17track'"
        ) == [(NOW,)]


def test_a_number_not_looked_up_yet_shows_not_found_not_unknown(
    shipments: Path, fake: FakeSources
) -> None:
    # 17TRACK's literal answer right after registering is "NotFound": the shipment's
    # status says so (the poller still treats it as pending, not as a "not found").
    fake.lookups_pending = -1
    config = settings_from_dict({**BOTH, "poll": {"pending_rechecks": 0}})
    poll(shipments, config, fake)
    with Store.open(shipments) as store:
        assert store.query(
            "SELECT DISTINCT status, last_outcome, consecutive_not_found FROM tracking_state"
            " WHERE source = '17track'"
        ) == [("not_found", "ok", 0)]


def test_new_shipments_go_first_and_limit(shipments: Path, fake: FakeSources) -> None:
    config = settings_from_dict(CAINIAO_FIRST)
    poll(shipments, config, fake)
    seed(shipments, [("o9", "LP00999999999999", None)])
    report = poll(shipments, config, fake, all_shipments=True, limit=1)
    assert report.polled == 1
    assert fake.seen[-1] == ("detail", ["LP00999999999999"])


def test_archived_shipments_are_not_polled(shipments: Path, fake: FakeSources) -> None:
    with Store.open(shipments) as store:
        store.conn.execute("UPDATE shipments SET archived = true WHERE order_id <> 'o3'")
    report = poll(shipments, settings_from_dict(BOTH), fake, all_shipments=True)
    assert report.polled == 1


@pytest.mark.parametrize(
    ("option", "values", "expected"),
    [
        ("shipments", ["o1"], {"17track": 1}),
        ("shipments", ["lp00123456789012"], {"17track": 1}),
        ("carriers", ["17track"], {"17track": 4}),
        ("carriers", ["usps", "UPS"], {"17track": 2}),
    ],
)
def test_filters(
    shipments: Path, fake: FakeSources, option: str, values: list[str], expected: dict[str, int]
) -> None:
    report = poll(shipments, settings_from_dict(BOTH), fake, **{option: values})
    assert {n: s.shipments for n, s in report.sources.items()} == expected


def test_shipments_sharing_a_number_are_polled_once(db_path: Path, fake: FakeSources) -> None:
    seed(db_path, [("a", "LP00123456789012", None), ("b", "LP00123456789012", None)])
    report = poll(db_path, settings_from_dict(CAINIAO_FIRST), fake)
    assert fake.seen == [("detail", ["LP00123456789012"])]
    assert report.sources["cainiao"].shipments == 2
    with Store.open(db_path) as store:
        assert store.query("SELECT count(*) FROM poll_results") == [(2,)]


def test_run_is_recorded(shipments: Path, fake: FakeSources) -> None:
    report = poll(shipments, settings_from_dict(BOTH), fake, run_id="run-42")
    with Store.open(shipments) as store:
        ((command, finished, summary),) = store.query(
            "SELECT command, finished_at, summary FROM runs WHERE run_id = 'run-42'"
        )
        assert {r[0] for r in store.query("SELECT DISTINCT run_id FROM polls")} == {"run-42"}
    assert command == "poll" and finished is not None
    assert json.loads(summary)["selected"] == report.selected == 4


def test_progress_bar_does_not_disturb(shipments: Path, fake: FakeSources) -> None:
    assert poll(shipments, settings_from_dict(BOTH), fake, progress=True).exit_code == 0


# --- the poll lock ---------------------------------------------------------------------------


def test_second_poll_gets_lock_held_naming_the_holder(shipments: Path, fake: FakeSources) -> None:
    with PollLock(shipments, command="poll"):
        started = time.monotonic()
        with pytest.raises(LockHeld) as caught:
            poll(shipments, settings_from_dict(BOTH), fake)
        assert time.monotonic() - started < 2
    message = str(caught.value)
    assert f"pid {__import__('os').getpid()}" in message and "poll started" in message
    assert caught.value.exit_code == 75
    assert fake.seen == []
    # Released: the next poll goes ahead, and the file's text is cleared.
    assert poll(shipments, settings_from_dict(BOTH), fake).exit_code == 0
    assert lock_path_for(shipments).read_text() == ""


def test_lock_is_taken_before_the_database_is_opened(tmp_path: Path) -> None:
    # While another poll holds the lock, the database is not even created.
    db = tmp_path / "never-created.duckdb"
    with PollLock(db), pytest.raises(LockHeld):
        run_poll(db, settings_from_dict(BOTH))
    assert not db.exists()


HOLD_LOCK = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from collector.poll_lock import PollLock\n"
    "with PollLock(Path(sys.argv[1])):\n"
    "    print('holding', flush=True)\n"
    "    time.sleep(60)\n"
)


def _while_lock_held(
    shipments: Path, tmp_path: Path, *command: str
) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run ``python <command>`` while another process holds the poll lock.

    Returns the finished command, its wall time and the holder's pid.
    """
    config = tmp_path / "parcelproof.toml"
    config.write_text('[sources.cainiao]\nbase_url = "http://127.0.0.1:9"\n')
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(shipments)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, *command[:-1], "--db", str(shipments), "--config", str(config),
                 command[-1]],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            elapsed = time.monotonic() - started
        finally:
            holder.kill()
            holder.wait()
    assert done.returncode == 75, done.stderr
    assert f"pid {holder.pid}" in " ".join(done.stderr.split())
    return done, elapsed, holder.pid


@pytest.mark.slow
def test_poll_command_exits_75_within_two_seconds(shipments: Path, tmp_path: Path) -> None:
    _, elapsed, _ = _while_lock_held(shipments, tmp_path, "-m", "collector", "poll")
    assert elapsed < 2.0


@pytest.mark.slow
def test_run_command_also_answers_75_before_loading_the_poller(
    shipments: Path, tmp_path: Path
) -> None:
    done, _, _ = _while_lock_held(shipments, tmp_path, "-X", "importtime", "-m", "analysis", "run")
    # Refused before the poller, httpx or DuckDB were imported.
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "collector.cli" in imported
    assert not {"collector.poll", "httpx", "duckdb"} & imported


def test_ensure_free_probes_without_keeping_the_lock(shipments: Path) -> None:
    ensure_free(shipments)
    # Free again after the probe; held, the probe refuses at once.
    with PollLock(shipments), pytest.raises(LockHeld, match="another poll holds the lock"):
        ensure_free(shipments, wait=0.0)


def test_poll_command_without_sources_exits_2(shipments: Path, cli_run: Any) -> None:
    result = cli_run("--db", str(shipments), "poll")
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "no tracking source is configured" in said
    # Bracketed text (TOML table names) is printed as text, not taken as markup.
    assert "[sources." in said


def test_a_base_url_that_is_not_http_is_a_config_error(shipments: Path, fake: FakeSources) -> None:
    config = settings_from_dict({"sources": {"cainiao": {"base_url": "global.cainiao.com"}}})
    with pytest.raises(ConfigError, match=r"sources\.cainiao\.base_url: expected an http"):
        poll(shipments, config, fake)
