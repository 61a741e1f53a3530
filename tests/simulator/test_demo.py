"""The simulator end to end: ``demo`` (17TRACK) and a Cainiao-only poll of the sample orders.

Both check that what the client derives from the simulated answers is what each
scenario says it shows (``expect``), so the two wire formats tell the same story.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from collector import clock
from collector.config import load_settings
from collector.importer import import_file
from collector.poll import run_poll
from collector.simulator import sample_scenarios, serve_in_thread
from collector.store import Store
from tests.conftest import NOW, SAMPLE_ORDERS, run_cli


def statuses(db_path: Path) -> dict[str, str]:
    result = run_cli("--db", str(db_path), "--now", NOW, "status", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    return {r["tracking_number"]: r["status"] for r in rows}


def test_demo_polls_the_simulator_and_shows_every_scenario(db_path: Path) -> None:
    result = run_cli("--db", str(db_path), "demo")
    assert result.exit_code == 0, result.output
    assert "2026-11-28 12:00Z" in result.output  # the fixed demo "now"
    assert "17track: 25 shipments" in result.output
    assert "PARCELPROOF_DEMO_17TRACK_KEY" not in os.environ  # restored afterwards
    config = (db_path.parent / "demo" / "parcelproof.toml").read_text()
    assert 'api_key_env = "PARCELPROOF_DEMO_17TRACK_KEY"' in config
    assert "demo-17track-key" not in config  # the key travels in the environment only
    expected = {number: s.expect for number, s in sample_scenarios().items()}
    assert statuses(db_path) == expected


def test_every_sample_number_through_cainiao(db_path: Path, tmp_path: Path) -> None:
    clock.set_now(clock.parse_instant(NOW))
    with serve_in_thread(as_of=clock.now()) as sim:
        config = tmp_path / "cainiao.toml"
        config.write_text(
            f'[sources.cainiao]\nbase_url = "{sim.base_url_cainiao}"\n'
            'requests_per_second = 50\n\n[routing]\ndefault = ["cainiao"]\n'
        )
        with Store.open(db_path) as store:
            import_file(store, SAMPLE_ORDERS)
        report = run_poll(db_path, load_settings(config), all_shipments=True, progress=False)
        assert report.exit_code == 0, report.summary_lines()
        assert sim.counts() == {"cainiao": 3}  # 24 numbers, 10 a call
    expected = {number: s.expect for number, s in sample_scenarios().items()}
    # Cainiao has no "expired": it simply shows no movement after the last event.
    expected["LP00987654321098"] = "in_transit"
    assert statuses(db_path) == expected
