"""``poll --shard I/N``: shards are disjoint, cover every shipment, and keep the chain."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector import clock
from collector.importer import import_file
from collector.poll import run_poll
from collector.shard import parse_shard, shard_key, shard_of
from collector.simulator import Simulator, serve_in_thread
from collector.store import Store
from collector.verify import verify_store
from tests.collector.test_poll_simulator import KEY_ENV, NOW, config
from tests.conftest import SAMPLE_ORDERS

shipment = st.tuples(st.text(max_size=12), st.text(alphabet="0123456789ABCZ", max_size=22))


@given(st.lists(shipment, max_size=60, unique=True), st.integers(min_value=1, max_value=9))
def test_shards_are_disjoint_and_cover_everything(
    shipments: list[tuple[str, str]], count: int
) -> None:
    shards = [{s for s in shipments if shard_of(*s, count) == index} for index in range(count)]
    assert sum(len(s) for s in shards) == len(shipments)  # each in exactly one
    assert set().union(*shards) == set(shipments)


def test_shard_is_stable_across_processes() -> None:
    # Not Python's hash(), which is salted per process: a fixed value, in another process.
    assert shard_key("A-1001", "RB123456785GB") == 17683079162101855985
    code = "from collector.shard import shard_key; print(shard_key('A-1001', 'RB123456785GB'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == 17683079162101855985


@pytest.mark.parametrize("text", ["1", "2/2", "-1/3", "a/b", "1/0", ""])
def test_parse_shard_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="I/N"):
        parse_shard(text)


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    clock.set_now(NOW)
    with serve_in_thread(as_of=NOW) as running:
        monkeypatch.setenv(KEY_ENV, running.api_key)
        yield running


def _polled(db: Path) -> list[str]:
    with Store.open(db) as store:
        rows = store.query(
            "SELECT DISTINCT s.order_id FROM poll_results r JOIN shipments s USING (shipment_id)"
        )
    return [str(r[0]) for r in rows]


def test_sharded_polls_against_the_simulator(sim: Simulator, tmp_path: Path) -> None:
    # Three workers, each with its own database (its own evidence chain), one shard each.
    count = 3
    per_shard: list[set[str]] = []
    for index in range(count):
        db = tmp_path / f"shard{index}.duckdb"
        with Store.open(db) as store:
            import_file(store, SAMPLE_ORDERS)
        report = run_poll(db, config(sim), shard=(index, count))
        assert report.exit_code == 0
        with Store.open(db) as store:
            assert verify_store(store).intact
            assert int(store.query("SELECT count(*) FROM polls")[0][0]) > 0
            expected = {
                str(r[0])
                for r in store.query(
                    "SELECT order_id, tracking_number FROM shipments "
                    "WHERE NOT archived AND tracking_number <> ''"
                )
                if shard_of(str(r[0]), str(r[1]), count) == index
            }
        per_shard.append(set(_polled(db)))
        assert per_shard[-1] <= expected
    # Every served shipment is polled once, by exactly one shard.
    with Store.open(tmp_path / "all.duckdb") as store:
        import_file(store, SAMPLE_ORDERS)
    run_poll(tmp_path / "all.duckdb", config(sim))
    everything = set(_polled(tmp_path / "all.duckdb"))
    assert sum(len(s) for s in per_shard) == len(everything)
    assert set().union(*per_shard) == everything
    assert all(per_shard)
