"""A pack of a 14,000-event history stays small (issue 17, item 7): the first and last
events, the silences and the cited events in full, the middle counted; the manifest
keeps every event; PNG pages are capped."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from analysis.reports import write_packs
from analysis.reports.render import MAX_PNG_PAGES, TIMELINE_EDGE
from collector.config import Settings
from collector.store import Store
from tests.reports.builder import NOW, Builder, at
from tests.reports.conftest import parse, text_of

EVENTS = 14_000


@pytest.mark.pdf
def test_a_huge_history_is_summarised_in_the_pack_and_whole_in_the_manifest(
    tmp_path: Path,
) -> None:
    with Store.open(tmp_path / "huge.duckdb") as store:
        _check_huge_pack(store, tmp_path / "out")


def _check_huge_pack(store: Store, out: Path) -> None:
    b = Builder(store)
    sid = b.shipment("HUGE-1", "LP00123456789012")
    # One scan a minute from 12 Oct, then a silence of weeks before the last one.
    pid = b.poll(at("2026-10-20T06:00"), {sid: "ok"})
    start = at("2026-10-12T00:00")
    for i in range(EVENTS - 1):
        b.event(sid, start + timedelta(minutes=i), "in_transit", f"Scan {i}", offset=0, poll_id=pid)
    b.event(sid, at("2026-11-20T06:00"), "in_transit", "Arrived at hub", offset=0)
    b.state(sid)
    b.flag(sid, "stalled", "no movement", severity="critical")
    started = time.monotonic()
    (pack,) = write_packs(
        store,
        [sid],
        now=NOW,
        settings=Settings(),
        formats=["html", "pdf", "png", "json"],
        out_dir=out,
    )
    elapsed = time.monotonic() - started
    html = pack.file(".html")
    assert html is not None and html.stat().st_size < 1_500_000
    timeline = text_of(parse(pack), "#timeline")
    assert "Scan 0 " in timeline and f"Scan {TIMELINE_EDGE - 1} " in timeline
    assert f"Scan {TIMELINE_EDGE} " not in timeline
    assert "Scan 13998" in timeline and "Arrived at hub" in timeline  # last events, silence
    assert "more events not shown here" in timeline
    pngs = [p for p in pack.files if p.suffix == ".png"]
    assert 1 <= len(pngs) <= MAX_PNG_PAGES
    manifest = json.loads((pack.folder / "manifest.json").read_text())
    assert len(manifest["events"]) == EVENTS
    assert elapsed < 120
