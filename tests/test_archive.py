"""Shipments can leave: ``archive``/``unarchive`` and the import's ``archived`` column
stop polling and listing without deleting evidence; the demo keeps apart from real data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.paths import demo_db_path
from collector.simulator import serve_in_thread
from collector.store import Store
from tests.conftest import NOW, SAMPLE_ORDERS, run_cli

KEY_ENV = "PP_ARCHIVE_17TRACK_KEY"


def _listed(db: Path, *extra: str) -> set[str]:
    result = run_cli("--db", str(db), "--now", NOW, "status", "--json", *extra)
    assert result.exit_code == 0, result.output
    return {json.loads(line)["order_id"] for line in result.output.splitlines()}


def _evidence(db: Path) -> tuple[int, ...]:
    with Store.open(db, read_only=True) as store:
        row = store.conn.execute(
            "SELECT (SELECT count(*) FROM raw_documents), (SELECT count(*) FROM polls), "
            "(SELECT count(*) FROM events), (SELECT count(*) FROM flags), "
            "(SELECT count(*) FROM shipments)"
        ).fetchone()
    assert row is not None
    return tuple(int(v) for v in row)


@pytest.fixture
def polled(db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(KEY_ENV, "k")
    with serve_in_thread(api_key="k") as sim:
        (tmp_path / "parcelproof.toml").write_text(
            sim.config_toml(KEY_ENV) + '[reports]\nformats = ["json"]\n', encoding="utf-8"
        )
        assert run_cli("--db", str(db_path), "import", str(SAMPLE_ORDERS)).exit_code == 0
        assert run_cli("--db", str(db_path), "--now", NOW, "poll").exit_code == 0
    return db_path


def test_archive_stops_listing_and_polling_and_keeps_evidence(
    polled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = polled
    before = _evidence(db)
    result = run_cli("--db", str(db), "archive", "8101203344552", "RR507128933CN")
    assert result.exit_code == 0, result.output
    assert "archived 2 shipments" in result.output
    assert "evidence is kept" in result.output
    assert _evidence(db)[:3] == before[:3]  # raw documents, polls, events untouched
    listed = _listed(db)
    assert "8101203344552" not in listed
    assert "8101203344552" in _listed(db, "--all")
    flags = run_cli("--db", str(db), "--now", NOW, "flags", "--json")
    assert "8101203344552" not in flags.output
    # An archived shipment is never polled, even with --all.
    with serve_in_thread(api_key="k") as sim:
        (tmp_path / "parcelproof.toml").write_text(sim.config_toml(KEY_ENV), encoding="utf-8")
        assert run_cli("--db", str(db), "poll", "--all").exit_code == 0
        asked = [r for r in sim.requests if "LP00123456789012" in r.numbers]
        assert sim.requests  # the others were polled
    assert not asked
    verify = run_cli("--db", str(db), "verify")
    assert verify.exit_code == 0, verify.output
    again = run_cli("--db", str(db), "archive", "8101203344552")
    assert "archived 0 shipments (1 already archived)" in again.output
    back = run_cli("--db", str(db), "unarchive", "8101203344552")
    assert back.exit_code == 0
    assert "brought back 1 shipment;" in back.output
    assert "8101203344552" in _listed(db)
    with Store.open(db, read_only=True) as store:
        history = store.conn.execute("SELECT count(*) FROM shipment_history").fetchone()
    assert history == (3,)  # each change kept its previous row


def test_archive_of_an_unknown_id_changes_nothing(db_path: Path) -> None:
    assert run_cli("--db", str(db_path), "import", str(SAMPLE_ORDERS)).exit_code == 0
    result = run_cli("--db", str(db_path), "archive", "8101203344552", "NOPE-1")
    assert result.exit_code == 1
    assert "NOPE-1" in result.output
    assert "8101203344552" in _listed(db_path)


def test_import_column_archived(db_path: Path, tmp_path: Path) -> None:
    csv = tmp_path / "o.csv"
    csv.write_text(
        "order_id,tracking_number,shipped_at,archived\n"
        "A1,RB123456785GB,2026-11-01,yes\nA2,LA586992216CN,2026-11-01,\n",
        encoding="utf-8",
    )
    assert run_cli("--db", str(db_path), "import", str(csv)).exit_code == 0
    assert _listed(db_path) == {"A2"}
    # A file without the column leaves it as it was.
    plain = tmp_path / "p.csv"
    plain.write_text("order_id,tracking_number,shipped_at\nA1,RB123456785GB,2026-11-01\n")
    assert run_cli("--db", str(db_path), "import", str(plain)).exit_code == 0
    assert _listed(db_path) == {"A2"}
    csv.write_text(
        "order_id,tracking_number,shipped_at,archived\nA1,RB123456785GB,2026-11-01,No\n"
        "A3,RB123456785GB,2026-11-01,maybe\n",
        encoding="utf-8",
    )
    result = run_cli("--db", str(db_path), "import", str(csv))
    assert result.exit_code == 1
    assert "archived 'maybe' is not yes/no" in result.output
    assert _listed(db_path) == {"A1", "A2"}


@pytest.mark.pdf  # the demo writes every flagged parcel's pack
def test_demo_keeps_its_own_database_and_packs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real.duckdb"
    assert run_cli("--db", str(real), "import", str(SAMPLE_ORDERS)).exit_code == 0
    before = _evidence(real)
    monkeypatch.setenv("PARCELPROOF_DB", str(real))
    result = run_cli("demo")
    assert result.exit_code == 0, result.output
    assert _evidence(real) == before  # the real database got nothing
    assert f"database: {demo_db_path()}" in result.output
    assert list((demo_db_path().parent / "reports").glob("*/manifest.json"))
    assert not (tmp_path / "data").exists()
    assert not (tmp_path / "reports").exists()
