"""`parcelproof report`: ids, --flagged and its index, formats, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from analysis.reports import resolve_ids
from collector.errors import NotFoundError
from collector.store import Store
from tests.conftest import NOW, SAMPLE_ORDERS, run_cli


def report(db_path: Path, *args: str) -> tuple[int, str]:
    result = run_cli("--db", str(db_path), "--now", NOW, "report", *args)
    return result.exit_code, result.output


def test_unknown_id_is_an_error_naming_it(db_path: Path, tmp_path: Path) -> None:
    code, output = report(db_path, "8101203344552", "NO-SUCH-ORDER", "--out", "packs")
    assert code == 1
    assert "'NO-SUCH-ORDER'" in output and "8101203344552" not in output.split("error")[1]
    assert not (tmp_path / "packs").exists()  # nothing written


def test_ids_are_order_ids_or_numbers_in_any_spacing(
    store: Store, scenarios: dict[str, int]
) -> None:
    assert resolve_ids(store, ["8101203344552"]) == [scenarios["stalled"]]
    assert resolve_ids(store, [" lp00 1234 5678 9012 "]) == [scenarios["stalled"]]
    both = resolve_ids(store, ["CE119832745CN"])  # one number, two orders
    assert both == [scenarios["number_reused"], scenarios["number_reused_other"]]
    with pytest.raises(NotFoundError, match="'x', 'y'"):
        resolve_ids(store, ["x", "8101203344552", "y"])


def test_report_by_number_writes_the_default_folder(db_path: Path, tmp_path: Path) -> None:
    code, output = report(db_path, "LP00123456789012", "--format", "html,json")
    assert code == 0, output
    # Beside the database (no [reports] out_dir), whatever the working folder.
    folder = db_path.parent / "reports" / "8101203344552-LP00123456789012"
    assert sorted(p.name for p in folder.iterdir()) == [
        "evidence-LP00123456789012.html",
        "manifest.json",
    ]
    assert str(folder.relative_to(tmp_path)) in output


def test_bad_format_and_no_ids_are_usage_errors(db_path: Path) -> None:
    code, output = report(db_path, "8101203344552", "--format", "html,docx")
    assert code == 2 and "docx" in output
    code, output = report(db_path)
    assert code == 2 and "--flagged" in output


def test_flagged_writes_an_index_sorted_by_deadline(db_path: Path, tmp_path: Path) -> None:
    code, output = report(db_path, "--flagged", "--format", "html", "--out", "out")
    assert code == 0, output
    index = tmp_path / "out" / "index.html"
    tree = LexborHTMLParser(index.read_text())
    rows = tree.css("tbody tr")
    assert rows, output
    links = [r.css_first("a").attributes["href"] for r in rows if r.css_first("a")]
    assert len(links) == len(rows)
    for link in links:
        assert link and link.endswith(".html") and (tmp_path / "out" / link).is_file()
    with Store.open(db_path) as store:
        flagged = store.query(
            "SELECT count(DISTINCT f.shipment_id) FROM flags f JOIN shipments s USING "
            "(shipment_id) WHERE f.cleared_at IS NULL AND NOT s.archived"
        )[0][0]
    assert len(rows) == flagged


def test_index_order_follows_the_deadlines(db_path: Path, tmp_path: Path) -> None:
    code, _ = report(db_path, "--flagged", "--format", "json", "--out", "out")
    assert code == 0
    tree = LexborHTMLParser((tmp_path / "out" / "index.html").read_text())
    folders = [r.css_first("a").attributes["href"] for r in tree.css("tbody tr")]
    deadlines = []
    for href in folders:
        assert href is not None and href.endswith("manifest.json")
        deadlines.append(json.loads((tmp_path / "out" / href).read_text())["deadline"])
    known = [d for d in deadlines if d is not None]
    assert known == sorted(known)
    assert deadlines[: len(known)] == known  # parcels without a deadline come last


def test_report_evaluates_flags_first(tmp_path: Path) -> None:
    db = tmp_path / "fresh.duckdb"
    assert run_cli("--db", str(db), "import", str(SAMPLE_ORDERS)).exit_code == 0
    # No `flags` run before: the report must still find the parcel overdue.
    code, output = report(db, "8101203344552", "--format", "json", "--out", "out")
    assert code == 0, output
    manifest = json.loads(
        (tmp_path / "out" / "8101203344552-LP00123456789012" / "manifest.json").read_text()
    )
    assert "overdue" in [f["code"] for f in manifest["flags"]]


def test_an_earlier_now_packs_the_flags_that_hold_then(db_path: Path, tmp_path: Path) -> None:
    # A later evaluation first (as a status run on the real clock would leave it)...
    later = run_cli("--db", str(db_path), "--now", "2026-12-20T12:00:00Z", "flags", "--json")
    assert later.exit_code == 0, later.output
    # ...then packs at NOW: they state the flags of NOW, not those of Dec 20.
    at_now = run_cli("--db", str(db_path), "--now", NOW, "flags", "--json")
    expected = {
        row["order_id"]: sorted(f["code"] for f in row["flags"])
        for row in map(json.loads, at_now.output.splitlines())
        if row["flags"]
    }
    code, output = report(db_path, "--flagged", "--format", "json", "--out", "out")
    assert code == 0, output
    assert "the packs show the flags that hold at 'now'" in " ".join(output.split())
    packed = {}
    for manifest in (tmp_path / "out").glob("*/manifest.json"):
        facts = json.loads(manifest.read_text())
        packed[facts["shipment"]["order_id"]] = sorted(f["code"] for f in facts["flags"])
    assert packed == expected
