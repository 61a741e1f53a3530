"""One assessment at an instant: every command and the frames agree (issue 11.2),
packs say both clocks (11.1), advice is never false (18.2, 18.3)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from analysis import frames
from collector.config import Settings
from collector.store import Store
from tests.conftest import SAMPLE_ORDERS, run_cli
from tests.flags.builder import Ev, World
from tests.sample_db import NOW, build_sample_db

AT = NOW.isoformat().replace("+00:00", "Z")


def _json_lines(*args: str) -> list[dict[str, Any]]:
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def _manifests(out: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(out.glob("*/manifest.json")):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        found[manifest["shipment"]["order_id"] + "/" + manifest["shipment"]["tracking_number"]] = (
            manifest
        )
    return found


def _problems(detail: str | None) -> set[str]:
    """The flag codes an action's text names as the reason ("about: stalled, ...")."""
    found = re.search(r"(?:about|now \()[: ]*([a-z ,]+?)(?:\)|;|$)", detail or "")
    if not found:
        return set()
    return {p.strip().replace(" ", "_") for p in found.group(1).split(",") if p.strip()}


def test_status_flags_report_and_frames_agree_on_one_db_and_now(tmp_path: Path) -> None:
    db = build_sample_db(tmp_path / "s.duckdb")
    # A later evaluation is on record: every reader must still speak of AT alone.
    assert run_cli("--db", str(db), "--now", "2026-12-20T12:00:00Z", "flags").exit_code == 0
    base = ("--db", str(db), "--now", AT)
    status = {
        f"{r['order_id']}/{r['tracking_number']}": r for r in _json_lines(*base, "status", "--json")
    }
    listed = {
        f"{r['order_id']}/{r['tracking_number']}": {f["code"] for f in r["flags"]}
        for r in _json_lines(*base, "flags", "--json")
    }
    out = tmp_path / "packs"
    ids = [key.split("/")[1] for key in status]
    made = run_cli(*base, "report", *sorted(set(ids)), "--format", "json", "--out", str(out))
    assert made.exit_code == 0, made.output
    packs = _manifests(out)
    current = frames.current_flags(db, now=NOW, settings=Settings())
    framed = {
        f"{r['order_id']}/{r['tracking_number']}": set(r["codes"])
        for r in current.group_by("order_id", "tracking_number")
        .agg(pl.col("code").alias("codes"))
        .iter_rows(named=True)
    }
    deadlines = {
        f"{r['order_id']}/{r['tracking_number']}": r
        for r in frames.dispute_deadlines(db, now=NOW, settings=Settings()).iter_rows(named=True)
    }
    assert set(status) == set(listed) == set(packs) == set(deadlines)
    assert any(listed.values())  # the sample orders do raise flags
    for key, row in status.items():
        codes = set(row["flags"])
        assert codes == listed[key] == framed.get(key, set()), key
        manifest = packs[key]
        assert {f["code"] for f in manifest["flags"]} == codes, key
        assert manifest["dispute"]["action"] == row["action"] == deadlines[key]["action"], key
        assert manifest["dispute"]["action_detail"] == row["action_detail"], key
        assert _problems(row["action_detail"]) <= codes, (key, row["action_detail"])


def test_a_report_at_an_earlier_now_gives_advice_only_on_the_flags_it_lists(
    tmp_path: Path,
) -> None:
    db = tmp_path / "e.duckdb"
    with Store.open(db) as store:
        world = World(store)
        sid = world.shipment("A1", promised_to="2026-12-20T00:00:00Z",
                             protection_ends_at="2027-01-30T00:00:00Z")  # fmt: skip
        world.events(sid, Ev("2026-11-14T10:00:00+08:00", "in_transit", "Departed"))
    # A later evaluation records 'stalled' (no movement for 10 days by 24 Nov)...
    assert run_cli("--db", str(db), "--now", "2026-11-28T12:00:00Z", "flags").exit_code == 0
    # ... and a pack made as of 20 Nov, when nothing was wrong yet.
    out = tmp_path / "out"
    made = run_cli("--db", str(db), "--now", "2026-11-20T12:00:00Z", "report", "A1",
                   "--format", "json,html", "--out", str(out))  # fmt: skip
    assert made.exit_code == 0, made.output
    (manifest,) = _manifests(out).values()
    assert manifest["flags"] == []
    assert "stalled" not in manifest["dispute"]["action_detail"]
    assert manifest["dispute"]["action"] == "wait"
    html = next(out.glob("*/*.html")).read_text(encoding="utf-8")
    assert "stalled" not in html.lower().split('id="dispute"')[1].split("</section>")[0]
    # At the later instant the pack lists the flag and advises on it.
    later = tmp_path / "later"
    made = run_cli("--db", str(db), "--now", "2026-11-28T12:00:00Z", "report", "A1",
                   "--format", "json", "--out", str(later))  # fmt: skip
    (manifest,) = _manifests(later).values()
    assert [f["code"] for f in manifest["flags"]] == ["stalled"]
    assert _problems(manifest["dispute"]["action_detail"]) == {"stalled"}


def test_a_pack_says_when_it_was_assessed_and_when_its_evidence_was_fetched(
    tmp_path: Path,
) -> None:
    db = tmp_path / "c.duckdb"
    with Store.open(db) as store:
        world = World(store)
        sid = world.shipment("A1")
        world.events(sid, Ev("2026-11-02T10:00:00+08:00", "in_transit", "Accepted"),
                     at="2026-11-03T08:00:00Z")  # fmt: skip
        world.answer(sid, "ok", at="2026-11-05T09:30:00Z")
    out = tmp_path / "out"
    made = run_cli("--db", str(db), "--now", "2026-11-28T12:00:00Z", "report", "A1",
                   "--format", "json,html", "--out", str(out))  # fmt: skip
    assert made.exit_code == 0, made.output
    (manifest,) = _manifests(out).values()
    assert manifest["assessed_at"] == "2026-11-28T12:00:00Z"
    assert manifest["evidence_fetched_from"] == "2026-11-03T08:00:00Z"
    assert manifest["evidence_fetched_to"] == "2026-11-05T09:30:00Z"
    html = next(out.glob("*/*.html")).read_text(encoding="utf-8")
    assert (
        "Assessed as of 2026-11-28 12:00 UTC; evidence fetched from 2026-11-03 08:00 UTC "
        "to 2026-11-05 09:30 UTC" in html
    )


def _delivered_home_with_a_reused_number(db: Path) -> None:
    with Store.open(db) as store:
        world = World(store)
        for order, shop in (("A1", "Shop A"), ("B2", "Shop B")):
            sid = world.shipment(order, store=shop, protection_ends_at="2026-12-20T00:00:00Z")
            world.events(sid, Ev("2026-11-20T10:00:00+01:00", "delivered", "Delivered",
                                 city="Madrid", postcode="28013", country="ES"))  # fmt: skip


def test_a_reused_number_on_a_parcel_delivered_home_makes_no_claim(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    _delivered_home_with_a_reused_number(db)
    base = ("--db", str(db), "--now", "2026-11-28T12:00:00Z")
    rows = _json_lines(*base, "status", "--json")
    assert [r["flags"] for r in rows] == [["number_reused"], ["number_reused"]]
    assert [r["action"] for r in rows] == ["none", "none"]
    # report --flagged writes no pack on it; a pack asked for by id has no message.
    flags_out = str(tmp_path / "f")
    flagged = run_cli(*base, "report", "--flagged", "--format", "json", "--out", flags_out)
    assert flagged.exit_code == 0 and "no parcel to report" in flagged.output
    out = tmp_path / "one"
    assert run_cli(*base, "report", "A1", "--format", "json,html", "--out", str(out)).exit_code == 0
    (manifest,) = _manifests(out).values()
    assert manifest["dispute_message"] is None
    html = next(out.glob("*/*.html")).read_text(encoding="utf-8")
    assert "I have not received" not in html and "full refund" not in html


def test_run_writes_no_pack_for_a_reused_number_on_a_delivered_parcel(tmp_path: Path) -> None:
    from analysis.assess import assess
    from analysis.run import RunResult, _write_packs, previous_run
    from collector.poll import PollReport
    from tests.flags.builder import T

    db = tmp_path / "r.duckdb"
    _delivered_home_with_a_reused_number(db)
    settings = Settings()
    with Store.open(db) as store:
        now = T("2026-11-28T12:00:00Z")
        since = previous_run(store)
        assessment = assess(store, now, settings)
        assert assessment.evaluation is not None
        changes = store.frame(
            "SELECT f.*, s.order_id, s.tracking_number, s.archived, 'raised' AS change "
            "FROM flags f JOIN shipments s USING (shipment_id)"
        )
        assert changes.height == 2
        result = RunResult("r", PollReport(run_id="p"), assessment.evaluation, since, changes)
        _write_packs(store, result, settings, assessment)
    assert result.packs == [] and result.warnings == []


def test_status_right_after_import_advises_nothing(tmp_path: Path) -> None:
    db = tmp_path / "i.duckdb"
    assert run_cli("--db", str(db), "import", str(SAMPLE_ORDERS)).exit_code in (0, 1)
    rows = _json_lines("--db", str(db), "--now", AT, "status", "--json")
    assert rows and all(r["polled"] is False for r in rows)
    assert {r["action"] for r in rows} == {"wait"}
    assert all(r["action_detail"].startswith("not polled yet") for r in rows)
    table = run_cli("--db", str(db), "--now", AT, "status")
    assert "open dispute" not in table.output and "not polled yet" in table.output


@pytest.mark.parametrize("command", ["status", "flags"])
def test_commands_name_the_last_day_with_the_grace(tmp_path: Path, command: str) -> None:
    db = build_sample_db(tmp_path / "s.duckdb")
    result = run_cli("--db", str(db), "--now", AT, command)
    assert result.exit_code == 0
    assert "Last day" in result.output
