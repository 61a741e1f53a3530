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
from collector.store import Store
from tests.conftest import SAMPLE_ORDERS

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


def write_config(tmp_path: Path, busy_timeout: float) -> Path:
    path = tmp_path / "parcelproof.toml"
    path.write_text(f"[poll]\ndatabase_busy_timeout_seconds = {busy_timeout}\n")
    return path


def run_import(db: Path, config: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [*COLLECTOR, "--db", str(db), "--config", str(config), "import", str(SAMPLE_ORDERS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done, time.monotonic() - started


def count_shipments(db: Path) -> int:
    with Store.open(db) as store:
        return int(store.query("SELECT count(*) FROM shipments")[0][0])


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
