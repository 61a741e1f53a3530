"""Readers (notebooks, frames) and writers (cron's commands) sharing the DuckDB file.

DuckDB lets one process write, or several read. These tests use real processes:
a reader holding the file makes a writing command wait, then either succeed once
the reader lets go or exit 75 naming the holder, with nothing half-written; and a
writer holding the file makes frames wait, then raise the same clear error.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from analysis import frames
from collector.errors import DatabaseBusy
from collector.importer import import_file
from collector.simulator import Simulator
from collector.store import Store
from tests.conftest import SAMPLE_ORDERS
from tests.sample_db import NOW

pytestmark = pytest.mark.slow
COLLECTOR = (sys.executable, "-m", "collector")

HOLD_AS_READER = (
    "import sys, time\n"
    "from analysis import frames\n"
    "with frames.connect(sys.argv[1]) as conn:\n"
    "    conn.execute('SELECT count(*) FROM shipments').fetchall()\n"
    "    print('holding', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)
HOLD_AS_WRITER = (
    "import sys, time\n"
    "from collector.store import Store\n"
    "with Store.open(sys.argv[1]):\n"
    "    print('holding', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)


@contextmanager
def holding(script: str, db: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Run ``script`` in another process until it says it holds ``db``."""
    with subprocess.Popen(
        [sys.executable, "-c", script, str(db), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            line = proc.stdout.readline()
            assert line.strip() == "holding", line + proc.stderr.read()
            yield proc
        finally:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    path = tmp_path / "busy.duckdb"
    Store.open(path).close()
    return path


def write_config(tmp_path: Path, busy_timeout: float, sim: Simulator | None = None) -> Path:
    path = tmp_path / "parcelproof.toml"
    text = f"[poll]\ndatabase_busy_timeout_seconds = {busy_timeout}\n"
    if sim is not None:
        text += (
            f'[sources.17track]\nbase_url = "{sim.base_url_17track}"\n'
            f'api_key = "{sim.api_key}"\n'
            f'[sources.cainiao]\nbase_url = "{sim.base_url_cainiao}"\n'
        )
    path.write_text(text)
    return path


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    with Simulator(as_of=NOW) as sim:
        sim.start()
        yield sim


@pytest.fixture
def orders_db(empty_db: Path) -> Path:
    with Store.open(empty_db) as store:
        import_file(store, SAMPLE_ORDERS)
    return empty_db


def run_poll(db: Path, config: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    return run_collector(db, config, "--now", NOW.isoformat(), "poll", "--all")


def count_rows(db: Path, table: str) -> int:
    with Store.open(db) as store:
        return int(store.query(f"SELECT count(*) FROM {table}")[0][0])


def run_collector(
    db: Path, config: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``python -m collector`` on ``db``; returns the result and the seconds it took."""
    started = time.monotonic()
    done = subprocess.run(
        [*COLLECTOR, "--db", str(db), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done, time.monotonic() - started


def run_import(db: Path, config: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    return run_collector(db, config, "import", str(SAMPLE_ORDERS))


def count_shipments(db: Path) -> int:
    return count_rows(db, "shipments")


def test_writer_waits_for_a_reader_then_succeeds(empty_db: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, busy_timeout=60)
    with holding(HOLD_AS_READER, empty_db, seconds=2):
        done, elapsed = run_import(empty_db, config)
    assert done.returncode == 0, done.stderr
    assert elapsed >= 1.0  # it waited for the reader rather than failing
    assert count_shipments(empty_db) == 25


def test_writer_gives_up_with_exit_75_naming_the_reader(empty_db: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, busy_timeout=1)
    with holding(HOLD_AS_READER, empty_db, seconds=120) as reader:
        done, elapsed = run_import(empty_db, config)
    assert done.returncode == 75, done.stdout + done.stderr
    assert 1.0 <= elapsed < 60
    message = " ".join(done.stderr.split())
    assert "is in use by another process (waited 1s)" in message
    assert f"PID {reader.pid}" in message
    assert "open for reading" in message
    assert "-c import sys, time from analysis import frames" in message  # its command line
    # Nothing was half-written, and the same command succeeds once the reader is gone.
    assert count_shipments(empty_db) == 0
    done, _ = run_import(empty_db, config)
    assert done.returncode == 0, done.stderr
    assert count_shipments(empty_db) == 25


def test_poll_waits_for_a_reader_then_polls(
    orders_db: Path, tmp_path: Path, simulator: Simulator
) -> None:
    config = write_config(tmp_path, busy_timeout=60, sim=simulator)
    with holding(HOLD_AS_READER, orders_db, seconds=2):
        done, elapsed = run_poll(orders_db, config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert elapsed >= 1.0
    assert count_rows(orders_db, "events") > 0


def test_poll_gives_up_with_exit_75_before_asking_any_source(
    orders_db: Path, tmp_path: Path, simulator: Simulator
) -> None:
    config = write_config(tmp_path, busy_timeout=1, sim=simulator)
    with holding(HOLD_AS_READER, orders_db, seconds=120) as reader:
        done, _ = run_poll(orders_db, config)
    assert done.returncode == 75, done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert f"PID {reader.pid}" in message and "open for reading" in message
    # The database is opened before any request: no answer was fetched and dropped.
    assert simulator.requests == []
    assert count_rows(orders_db, "polls") == 0
    done, _ = run_poll(orders_db, config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert count_rows(orders_db, "polls") > 0 and simulator.requests


def test_export_reads_alongside_a_notebook(orders_db: Path, tmp_path: Path) -> None:
    # Readers share the file: `export` does not wait for a notebook's connection.
    with holding(HOLD_AS_READER, orders_db, seconds=120):
        done = subprocess.run(
            [sys.executable, "-m", "analysis", "--db", str(orders_db), "export", "out"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "shipments.parquet").exists()


def test_frames_wait_for_a_writer_then_read(empty_db: Path) -> None:
    with holding(HOLD_AS_WRITER, empty_db, seconds=1.5):
        started = time.monotonic()
        ships = frames.shipments(empty_db, busy_timeout=60)
        assert time.monotonic() - started >= 0.5
    assert ships.height == 0


def test_frames_raise_a_clear_error_when_a_writer_holds_on(empty_db: Path) -> None:
    with holding(HOLD_AS_WRITER, empty_db, seconds=120) as writer:
        started = time.monotonic()
        with pytest.raises(DatabaseBusy) as caught:
            frames.shipments(empty_db, busy_timeout=0.5)
        assert 0.5 <= time.monotonic() - started < 30
    message = str(caught.value)
    assert f"PID {writer.pid}" in message and "open for writing" in message
    assert "waited 0.5s" in message
    assert caught.value.exit_code == 75 and caught.value.transient


def test_module_wide_reader_timeout(empty_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "BUSY_TIMEOUT", 0.2)
    with holding(HOLD_AS_WRITER, empty_db, seconds=120), pytest.raises(DatabaseBusy):
        frames.events(empty_db)
