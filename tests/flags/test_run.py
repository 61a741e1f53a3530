"""`parcelproof run` end to end: the sample orders polled from the simulator over loopback
HTTP through the 17TRACK source, flags judged through `flags --json`, changes since
the last run, packs for newly flagged parcels, --quiet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.simulator import Simulator, serve_in_thread
from collector.store import Store
from tests.conftest import SAMPLE_ORDERS, run_cli
from tests.flags.builder import SAMPLE_SCENARIOS, assert_scenarios

NOW = "2026-11-28T12:00:00Z"
KEY_ENV = "PP_SIM_17TRACK_KEY"


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with serve_in_thread(as_of=datetime(2026, 11, 28, 12, tzinfo=UTC)) as running:
        monkeypatch.setenv(KEY_ENV, running.api_key)
        yield running


@pytest.fixture
def setup(sim: Simulator, tmp_path: Path, db_path: Path) -> list[str]:
    config = tmp_path / "parcelproof.toml"
    config.write_text(
        f"""
[carriers.17track]
base_url = "{sim.base_url_17track}"
api_key_env = "{KEY_ENV}"
requests_per_second = 50

[routing]
default = ["17track"]

[reports]
formats = ["html", "json"]
out_dir = "{tmp_path / "packs"}"
""",
        encoding="utf-8",
    )
    base = ["--db", str(db_path), "--config", str(config)]
    assert run_cli(*base, "import", str(SAMPLE_ORDERS)).exit_code == 0
    return base


def flag_codes(base: list[str], now: str = NOW) -> dict[str, set[str]]:
    result = run_cli(*base, "--now", now, "flags", "--json")
    assert result.exit_code == 0
    out: dict[str, set[str]] = {}
    for line in result.output.splitlines():
        row = json.loads(line)
        out.setdefault(row["tracking_number"], set()).update(f["code"] for f in row["flags"])
    return out


def test_run_polls_evaluates_reports_changes_and_writes_packs(
    setup: list[str], tmp_path: Path, db_path: Path
) -> None:
    result = run_cli(*setup, "--now", NOW, "run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("poll: 17track: 25 shipments")
    assert any(line.startswith("flags: ") and "in this first run" in line for line in lines)
    assert (
        "+ 8101203344552 LP00123456789012 stalled (critical): no movement for 35 days since "
        in result.output
    )
    packs = [line for line in lines if line.startswith("pack: ")]
    assert len(packs) >= 15
    assert (tmp_path / "packs" / "8101203344552-LP00123456789012").is_dir()

    # Judged through flags --json, as an outside check would.
    assert_scenarios(flag_codes(setup), SAMPLE_SCENARIOS)

    with Store.open(db_path) as store:
        ((_command, summary),) = store.query(
            "SELECT command, summary FROM runs WHERE command = 'run'"
        )
        assert json.loads(summary)["raised"] > 20

    # Nothing new: --quiet prints nothing at all (no cron mail).
    again = run_cli(*setup, "--now", NOW, "run", "--quiet")
    assert again.exit_code == 0 and again.output == ""

    # Four days on: protection ended for two parcels, so their warning cleared.
    later = run_cli(*setup, "--now", "2026-12-02T12:00:00Z", "run", "--quiet")
    assert later.exit_code == 0
    assert (
        "- 8101203344558 RB640192835SG protection_expiring (cleared): buyer protection ends "
        in later.output
    )
    assert all(line[:2] in ("+ ", "- ") for line in later.output.splitlines())


def test_changes_made_by_flags_between_runs_are_listed(setup: list[str]) -> None:
    assert run_cli(*setup, "--now", NOW, "run", "--quiet").exit_code == 0
    # A `flags` in between raises protection_expiring for the eBay order; the next run
    # still reports it as new since the last run.
    assert run_cli(*setup, "--now", "2026-12-14T12:00:00Z", "flags").exit_code == 0
    result = run_cli(*setup, "--now", "2026-12-14T12:00:00Z", "run", "--quiet")
    assert "+ EB-23-09876-55401 9400109690083461234562 protection_expiring" in result.output


def test_run_without_a_source_is_a_config_error(db_path: Path) -> None:
    assert run_cli("--db", str(db_path), "import", str(SAMPLE_ORDERS)).exit_code == 0
    result = run_cli("--db", str(db_path), "--now", NOW, "run")
    assert result.exit_code == 2


def test_a_pack_that_fails_is_named_and_written_by_the_next_run(
    setup: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analysis.reports import packs as packs_module

    real = packs_module._render_into

    def render(facts, renderer, formats, folder, *rest):  # type: ignore[no-untyped-def]
        if facts.shipment.order_id == "8101203344552":
            raise ValueError("year 9999 is out of range")
        return real(facts, renderer, formats, folder, *rest)

    monkeypatch.setattr(packs_module, "_render_into", render)
    first = run_cli(*setup, "--now", NOW, "run")
    assert first.exit_code == 1, first.output
    assert (
        "error: pack not written for order 8101203344552 number LP00123456789012: "
        "ValueError: year 9999 is out of range" in first.output
    )
    folder = tmp_path / "packs" / "8101203344552-LP00123456789012"
    assert not folder.exists()
    written = sorted(p.name for p in (tmp_path / "packs").iterdir())
    assert len(written) >= 14

    monkeypatch.setattr(packs_module, "_render_into", real)
    second = run_cli(*setup, "--now", "2026-11-28T13:00:00Z", "run")
    assert second.exit_code == 0, second.output
    assert [line for line in second.output.splitlines() if line.startswith("pack: ")] == [
        f"pack: {folder}"
    ]
    assert (folder / "manifest.json").is_file()


def test_run_holds_the_poll_lock_from_poll_to_packs(
    setup: list[str], db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No other poll or run can write between this run's poll and its assessment."""
    import analysis.reports
    import analysis.run
    from collector.errors import LockHeld
    from collector.poll_lock import PollLock

    seen: list[str] = []

    def probe(stage: str) -> None:
        try:
            with PollLock(db_path, wait=0):
                seen.append(f"{stage}: free")
        except LockHeld:
            seen.append(f"{stage}: held")

    real_assess, real_write = analysis.run.assess, analysis.reports.write_packs

    def assess(*args: object, **kwargs: object) -> object:
        probe("assess")
        return real_assess(*args, **kwargs)  # type: ignore[arg-type]

    def write_packs(*args: object, **kwargs: object) -> object:
        probe("packs")
        return real_write(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(analysis.run, "assess", assess)
    monkeypatch.setattr(analysis.reports, "write_packs", write_packs)
    result = run_cli(*setup, "--now", NOW, "run")
    assert result.exit_code == 0, result.output
    assert seen == ["assess: held", "packs: held"]
    probe("after")
    assert seen[-1] == "after: free"
