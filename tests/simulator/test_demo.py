"""The simulator end to end: ``demo`` (17TRACK) and a Cainiao-only poll of the sample orders.

Both check that what the client derives from the simulated answers is what each
scenario says it shows (``expect``), so the two wire formats tell the same story.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from collector import clock
from collector.config import load_settings
from collector.importer import import_file
from collector.poll import run_poll
from collector.simulator import sample_scenarios, serve_in_thread
from collector.simulator.model import last_mile_scenarios
from collector.store import Store
from tests.conftest import NOW, SAMPLE_ORDERS, DemoDb, run_cli


def statuses(db_path: Path) -> dict[str, str]:
    result = run_cli("--db", str(db_path), "--now", NOW, "status", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    return {r["tracking_number"]: r["status"] for r in rows}


@pytest.mark.pdf  # the demo writes every flagged parcel's pack (the session's demo_db)
def test_demo_polls_the_simulator_and_shows_every_scenario(demo_db: DemoDb, db_path: Path) -> None:
    assert "2026-11-28 12:00Z" in demo_db.output  # the fixed demo "now"
    # USPS numbers go to USPS's own API ([routing] usps), and so does the last mile
    # of the parcel Cainiao handed to USPS, followed in the same run.
    assert "17track: 23 shipments" in demo_db.output
    assert "usps: 4 shipments" in demo_db.output
    assert "PARCELPROOF_DEMO_17TRACK_KEY" not in os.environ  # restored afterwards
    assert "PARCELPROOF_DEMO_USPS_CLIENT_SECRET" not in os.environ
    config = (demo_db.path.parent / "demo" / "parcelproof.toml").read_text()
    assert 'api_key_env = "PARCELPROOF_DEMO_17TRACK_KEY"' in config
    assert 'client_secret_env = "PARCELPROOF_DEMO_USPS_CLIENT_SECRET"' in config
    assert "demo-17track-key" not in config  # the key travels in the environment only
    assert "simulator-usps-secret" not in config
    expected = {number: s.expect for number, s in sample_scenarios().items()}
    expected |= {number: s.expect for number, s in last_mile_scenarios().items()}
    # The sample case that was resent (analysis/demo.py SAMPLE_CASES) adds its new
    # parcel after the run: tracked from the next poll on.
    expected["LP00555666777999"] = "unknown"
    copy = demo_db.copy(db_path)
    assert statuses(copy) == expected
    assert "6 dispute cases" in demo_db.output
    assert "case 8101203344558: send the evidence asked for by 2026-11-30" in demo_db.output
    # A second demo records no step twice.
    again = run_cli("--db", str(copy), "demo")
    assert again.exit_code == 0, again.output
    with Store.open(copy) as store:
        assert store.query("SELECT count(*) FROM dispute_steps") == [(15,)]


@pytest.mark.pdf  # reads the packs of the session's demo_db
def test_demo_shows_the_parcel_cainiao_handed_to_usps_delivered_elsewhere(
    demo_db: DemoDb, db_path: Path
) -> None:
    demo_db.copy(db_path)
    flags = run_cli("--db", str(db_path), "--now", NOW, "flags", "--json")
    line = next(json.loads(x) for x in flags.output.splitlines() if "LP00246813579024" in x)
    [flag] = [f for f in line["flags"] if f["code"] == "delivered_elsewhere"]
    assert "07097" in flag["detail"] and "Brooklyn 11201" in flag["detail"]
    with Store.open(db_path) as store:
        evidence = store.query(
            "SELECT h.last_mile_number, h.courier, h.source, t.delivery_postcode, e.source "
            "FROM last_mile_handovers h JOIN tracking_state t USING (shipment_id) "
            "JOIN events e ON e.shipment_id = t.shipment_id AND e.event_key = t.delivery_event_key"
        )
    # The handover came from the first-mile answer; the delivery scan is USPS's own.
    assert ("9400111206206406131001", "usps", "17track", "07097", "usps") in evidence
    # The pack names each source and marks USPS's record as the carrier's own.
    pack = demo_db.path.parent / "reports" / "8101203344575-LP00246813579024"
    manifest = json.loads((pack / "manifest.json").read_text())
    assert {(p["source"], p["carrier_own"]) for p in manifest["polls"]} == {
        ("17track", False),
        ("usps", True),
    }
    delivered = [e for e in manifest["events"] if e["status"] == "delivered"]
    assert ("usps", True, "07097") in {
        (e["source"], e["carrier_own"], e["postcode"]) for e in delivered
    }
    html = (pack / "evidence-LP00246813579024.html").read_text()
    assert "usps (the carrier&#39;s own record)" in html  # autoescaped


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
