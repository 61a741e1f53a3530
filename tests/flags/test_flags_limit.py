"""`flags` as a table shows the most urgent N and counts the rest (issue 17, item 7)."""

from __future__ import annotations

from pathlib import Path

from collector.store import Store
from tests.conftest import run_cli
from tests.flags.builder import NOW, World


def test_the_flags_table_shows_the_most_urgent_n_and_counts_the_rest(db_path: Path) -> None:
    with Store.open(db_path) as store:
        world = World(store)
        for i in range(5):
            world.shipment(f"D{i}", f"LP0000000000000{i}", promised_to="2026-11-27T00:00:00Z",
                           protection_ends_at=None)  # fmt: skip
    limited = run_cli("--db", str(db_path), "--now", NOW, "flags", "--limit", "2")
    assert limited.exit_code == 0, limited.output
    out = " ".join(limited.output.split())
    assert "5 of 5 shipments flagged; the 2 most urgent shown" in out
    assert "... and 3 more flagged shipments" in out
    assert sum(f"D{i}" in limited.output for i in range(5)) == 2
    for every in (["--limit", "0"], ["--all"]):
        result = run_cli("--db", str(db_path), "--now", NOW, "flags", *every)
        assert (
            all(f"D{i}" in result.output for i in range(5)) and "more flagged" not in result.output
        )
