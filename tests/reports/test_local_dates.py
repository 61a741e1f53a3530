"""Every date a pack or the index shows is the destination's date, the one `status`
shows, computed once with the dispute window (issue 18, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from collector.store import Store
from tests.conftest import run_cli
from tests.flags.builder import Ev, World

NOW = "2026-11-10T12:00:00Z"


def _world(db: Path) -> None:
    with Store.open(db) as store:
        world = World(store)
        # New York: shipped 22:00 local on 30 Sep (02:00 UTC on 1 Oct), so the
        # 60-day AliExpress deadline is 21:00 local on 29 Nov, 02:00 UTC on 30 Nov.
        us = world.shipment(
            "us1", "LP00123456789012", country="US", city="New York", postcode="10001",
            ordered_at="2026-09-29T00:00:00Z", shipped_at="2026-10-01T02:00:00Z",
            promised_to="2026-10-25T00:00:00Z",
        )  # fmt: skip
        world.events(us, Ev("2026-10-02T10:00:00+08:00", "in_transit", "Accepted"))
        # Madrid: shipped at local midnight in summer time; the deadline 60 days on
        # falls after the clock change (25 Oct), at 23:00 winter time.
        es = world.shipment(
            "es1", "LP00123456789013", ordered_at="2026-09-01T00:00:00Z",
            shipped_at="2026-09-01T22:00:00Z", promised_to="2026-10-20T00:00:00Z",
        )  # fmt: skip
        world.events(es, Ev("2026-09-03T10:00:00+08:00", "in_transit", "Accepted"))


def _status(db: Path) -> dict[str, dict[str, object]]:
    result = run_cli("--db", str(db), "--now", NOW, "status", "--json")
    return {row["order_id"]: row for row in map(json.loads, result.output.splitlines())}


def test_index_and_pack_show_the_destinations_dates(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    _world(db)
    status = _status(db)
    assert status["us1"]["dispute_deadline_date"] == "2026-11-29"  # not 30 Nov (UTC)
    assert status["es1"]["dispute_deadline_date"] == "2026-10-31"
    out = tmp_path / "packs"
    report = run_cli(
        "--db", str(db), "--now", NOW, "report", "--flagged", "--format", "html,json",
        "--out", str(out),
    )  # fmt: skip
    assert report.exit_code == 0, report.output
    index = LexborHTMLParser((out / "index.html").read_text(encoding="utf-8"))
    shown = {}
    for row in index.css("tbody tr"):
        order = row.css_first('td[data-label="Order"] a')
        deadline = row.css_first('td[data-label="Deadline"]')
        assert order is not None and deadline is not None
        shown[order.text()] = deadline.text()
    assert shown == {"es1": "31 Oct 2026", "us1": "29 Nov 2026"}
    for order, day in shown.items():
        (html,) = out.glob(f"{order}-*/*.html")
        pack = " ".join(LexborHTMLParser(html.read_text(encoding="utf-8")).text().split())
        assert f"Dispute deadline {day}" in pack
        assert f"Open a dispute by {day}" in pack
        assert f"last day {day}" in pack
        # No instant of the 60-day arithmetic ("23:00 (UTC+01:00)") passed off as a time.
        section = pack[pack.index("Dispute deadline and what to do") :][:600]
        assert "(UTC" not in section, section
        (manifest,) = out.glob(f"{order}-*/manifest.json")
        dispute = json.loads(manifest.read_text())["dispute"]
        assert dispute["deadline_date"] == status[order]["dispute_deadline_date"]


def test_the_flags_table_dates_are_the_destinations(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    _world(db)
    # us1 is overdue since its promised instant, 00:00 UTC on 25 Oct: 24 Oct in New York.
    result = run_cli("--db", str(db), "--now", NOW, "flags")
    text = " ".join(result.output.split())
    assert "overdue (warning, since 2026-10-24, first seen 2026-11-10)" in text, text
