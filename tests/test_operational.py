"""Operational faults are messages and exit codes, not tracebacks (issue 17, item 9).

``run_cli`` does not catch exceptions: a traceback would fail these tests."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import duckdb
import pytest

from collector.store import Store
from tests.conftest import NOW, SAMPLE_ORDERS, run_cli


def test_status_on_a_missing_database_says_so_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "nowhere" / "t.duckdb"
    for command in (["status"], ["report", "--flagged"]):
        result = run_cli("--db", str(db), "--now", NOW, *command)
        assert result.exit_code == 2
        assert f"no database at {db}" in " ".join(result.output.split())
    assert not db.parent.exists()


def test_db_under_a_regular_file_is_a_message(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = run_cli("--db", str(tmp_path / "afile" / "t.duckdb"), "import", str(SAMPLE_ORDERS))
    assert result.exit_code == 2
    assert "is a file, not a folder" in result.output


def test_a_corrupted_database_block_is_a_message(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    assert run_cli("--db", str(db), "import", str(SAMPLE_ORDERS)).exit_code == 0
    size = db.stat().st_size
    with db.open("r+b") as fh:  # every block after the file headers (3 x 4 KiB)
        fh.seek(12_288)
        fh.write(b"\xa5" * (size - 12_288))
    result = run_cli("--db", str(db), "--now", NOW, "status")
    assert result.exit_code == 2
    assert "Corrupt database file" in result.output and "in use" not in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('[{"order_id": "A", "tracking_number": "LP1", "amount": ' + "9" * 10_000 + "}]", "digits"),
    ],
)
def test_hostile_json_imports_are_unusable_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "orders.json"
    path.write_text(text)
    result = run_cli("--db", str(tmp_path / "t.duckdb"), "import", str(path))
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "t.duckdb").exists()


def test_a_nul_in_a_json_value_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text(
        '[{"order_id": "A\\u0000", "tracking_number": "LP1", "shipped_at": "2026-11-01"},'
        ' {"order_id": "B", "tracking_number": "LP2", "shipped_at": "2026-11-01"}]'
    )
    result = run_cli("--db", str(tmp_path / "t.duckdb"), "import", str(path))
    assert result.exit_code == 1
    assert "line 1: order_id: contains a NUL character" in result.output
    with Store.open(tmp_path / "t.duckdb") as store:
        assert store.query("SELECT order_id FROM shipments") == [("B",)]


def test_a_read_only_folder_for_the_poll_lock_is_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import collector.poll_lock

    def read_only(path: object, *args: object) -> int:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(collector.poll_lock.os, "open", read_only)
    result = run_cli("--db", str(tmp_path / "t.duckdb"), "poll")
    assert result.exit_code == 2
    assert "cannot create the poll lock file" in result.output
    assert "Read-only file system" in result.output


def test_disk_full_under_the_database_is_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import collector.importer

    def full(*args: object, **kwargs: object) -> None:
        raise duckdb.IOException('Could not write file "t.duckdb.wal": No space left on device')

    monkeypatch.setattr(collector.importer, "upsert_staged_shipments", full)
    result = run_cli("--db", str(tmp_path / "t.duckdb"), "import", str(SAMPLE_ORDERS))
    assert result.exit_code == 2
    assert "No space left on device" in result.output


def test_the_poll_lock_records_the_real_start_time(tmp_path: Path) -> None:
    import json
    from datetime import UTC, datetime

    from collector import clock
    from collector.poll_lock import PollLock

    clock.set_now(datetime(2020, 1, 1, tzinfo=UTC))
    with PollLock(tmp_path / "t.duckdb") as lock:
        info = json.loads(lock.path.read_text())
    started = datetime.fromisoformat(info["started_at"])
    assert abs((started - datetime.now(UTC)).total_seconds()) < 60
