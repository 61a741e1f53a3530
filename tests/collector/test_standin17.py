"""The real CLI against an independent 17TRACK v2.2 stand-in (tests/collector/standin17.py).

Only ``[sources.17track] base_url`` and ``api_key_env`` select the stand-in, as an
outside check would; every scenario has known expected flags and status at NOW. Some
cases add settings only for speed (``[poll] pending_recheck_seconds``, ``[reports]
formats``) or to provoke 429s (``requests_per_second``); one keeps every default.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.collector.standin17 import NOW, SCENARIOS, Scenario, StandIn17, fillers, write_orders_csv
from tests.conftest import run_cli

KEY_ENV = "PP_STANDIN17_KEY"
KEY = "standin-17track-key"
#: Numbers still "not looked up" after every recheck make each run that registers
#: them wait the whole recheck series (5 + 10 s by default).
FAST_RECHECK = "[poll]\npending_recheck_seconds = 0.1\n"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def _config(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    path = tmp_path / "parcelproof.toml"
    path.write_text(
        f'[sources.17track]\nbase_url = "{base_url}"\napi_key_env = "{KEY_ENV}"\n{extra}',
        encoding="utf-8",
    )
    return path


def _cli(tmp_path: Path, *args: str) -> Any:
    db = str(tmp_path / "pp.duckdb")
    return run_cli("--db", db, "--config", str(tmp_path / "parcelproof.toml"), "--now", NOW, *args)


def _import(tmp_path: Path, scenarios: Iterable[Scenario]) -> None:
    csv_path = write_orders_csv(tmp_path / "orders.csv", scenarios)
    result = _cli(tmp_path, "import", str(csv_path))
    assert result.exit_code == 0, result.output


def _flags(tmp_path: Path) -> dict[str, dict[str, Any]]:
    result = _cli(tmp_path, "flags", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    return {row["order_id"]: row for row in rows}


def _assert_expected(tmp_path: Path, scenarios: Iterable[Scenario]) -> None:
    got = _flags(tmp_path)
    wrong = {}
    for s in scenarios:
        row = got[s.order_id]
        codes = {f["code"] for f in row["flags"]}
        if row["status"] != s.expected_status or codes != s.expected_flags:
            wrong[s.order_id] = (row["status"], sorted(codes), row["flags"])
    assert not wrong, json.dumps(wrong, indent=1)


def test_cli_run_without_sync_delay(tmp_path: Path) -> None:
    with StandIn17(KEY) as api:
        # JSON packs only: PDF and PNG packs of eight parcels take half a minute.
        _config(tmp_path, api.base_url, FAST_RECHECK + '[reports]\nformats = ["json"]\n')
        _import(tmp_path, SCENARIOS)
        result = _cli(tmp_path, "run")
    # The undetectable number is refused at register; that is the number's fault,
    # not the source's, so the run itself is ok.
    assert result.exit_code == 0, result.output
    _assert_expected(tmp_path, SCENARIOS)
    assert api.count("/register") == 1
    # One fetch: the never-found number's provider answered its look-up ("Failure"),
    # so it is not asked again.
    assert api.count("/gettrackinfo", status=200) == 1
    assert len(list((tmp_path / "reports").glob("SI-*"))) == 8  # beside the database


def test_cli_poll_with_sync_delay_default_recheck(tmp_path: Path) -> None:
    """Fresh numbers answer NotFound for 2 s; the default 5 s recheck picks them up."""
    scenarios = tuple(s for s in SCENARIOS if s.order_id != "SI-never")
    with StandIn17(KEY, scenarios, sync_delay=2.0) as api:
        _config(tmp_path, api.base_url)
        _import(tmp_path, scenarios)
        result = _cli(tmp_path, "poll")
    assert result.exit_code == 0, result.output
    assert api.count("/gettrackinfo", status=200) == 2
    _assert_expected(tmp_path, scenarios)


def test_cli_sync_delay_outlasting_the_rechecks(tmp_path: Path) -> None:
    """Still not looked up after the rechecks: due again, the next poll gets the events."""
    with StandIn17(KEY, sync_delay=3.0) as api:
        _config(tmp_path, api.base_url, FAST_RECHECK)
        _import(tmp_path, SCENARIOS)
        first = _cli(tmp_path, "poll")
        assert first.exit_code == 0, first.output
        assert api.count("/gettrackinfo", status=200) == 3
        pending = _flags(tmp_path)
        assert {row["status"] for row in pending.values()} == {"not_found"}
        api.sync_delay = 0.0
        second = _cli(tmp_path, "poll")
    assert second.exit_code == 0, second.output
    _assert_expected(tmp_path, SCENARIOS)


def test_cli_many_batches_and_429s(tmp_path: Path) -> None:
    """130 numbers (4 batches of at most 40) with the client allowed far more than 3/s:
    the stand-in answers 429 without Retry-After and every batch still gets through."""
    scenarios = SCENARIOS + fillers(121)
    with StandIn17(KEY, scenarios) as api:
        _config(tmp_path, api.base_url, "requests_per_second = 50\n" + FAST_RECHECK)
        _import(tmp_path, scenarios)
        result = _cli(tmp_path, "poll")
    assert result.exit_code == 0, result.output
    assert api.count("", status=429) > 0
    assert max(h.items for h in api.hits) <= 40
    _assert_expected(tmp_path, scenarios)


def test_cli_four_batches_at_the_default_rate(tmp_path: Path) -> None:
    """At the default rate (2.5/s, under the documented 3/s) the stand-in's strict
    one-second window should not see a 4th arrival; a 429 on a loaded machine would be
    retried, so the assertions hold either way."""
    scenarios = SCENARIOS + fillers(121)
    with StandIn17(KEY, scenarios) as api:
        _config(tmp_path, api.base_url, FAST_RECHECK)
        _import(tmp_path, scenarios)
        result = _cli(tmp_path, "poll")
    assert result.exit_code == 0, result.output
    assert api.count("/register", status=200) == 4
    assert api.count("/gettrackinfo", status=200) == 4
    _assert_expected(tmp_path, scenarios)


def test_cli_database_restored_elsewhere(tmp_path: Path) -> None:
    """A fresh stand-in knows none of the numbers the database registered: -18019902."""
    with StandIn17(KEY) as api:
        _config(tmp_path, api.base_url, FAST_RECHECK)
        _import(tmp_path, SCENARIOS)
        assert _cli(tmp_path, "poll").exit_code == 0
    with StandIn17(KEY) as api:
        _config(tmp_path, api.base_url, FAST_RECHECK)
        result = _cli(tmp_path, "poll", "--all")
    assert result.exit_code == 0, result.output
    assert api.count("/register") >= 1
    _assert_expected(tmp_path, SCENARIOS)


def test_cli_wrong_key_stops_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "not-the-key")
    with StandIn17(KEY) as api:
        _config(tmp_path, api.base_url)
        _import(tmp_path, SCENARIOS)
        result = _cli(tmp_path, "poll")
    assert result.exit_code == 1, result.output
    assert api.count("", status=401) == 1
    assert "17track" in result.output
