"""``parcelproof export``: one file per table, types preserved in Parquet."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analysis.export import TABLES, export_tables
from collector.store import Store
from tests.conftest import run_cli
from tests.sample_db import build_sample_db

BODY = b"\x78\x9c\x00\x01compressed evidence\xff"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = build_sample_db(tmp_path / "export.duckdb")
    with Store.open(path) as store:
        store.conn.execute(
            "INSERT INTO raw_documents VALUES (?, 'application/json', 42, 'zlib', ?, ?, ?)",
            ["a" * 64, hashlib.sha256(BODY).hexdigest(), BODY, datetime(2026, 11, 28, tzinfo=UTC)],
        )
    return path


def describe(conn: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute(f"DESCRIBE {relation}").fetchall()]


def test_parquet_export_writes_one_file_per_table_with_types(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("--db", str(db), "export", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.parquet" for t in TABLES)
    assert f"{out / 'events.parquet'}: " in result.output
    conn = duckdb.connect(str(db), read_only=True)
    try:
        for table in TABLES:
            path = out / f"{table}.parquet"
            # DuckDB reads back the very same column names and types...
            assert describe(conn, f"'{path}'") == describe(conn, table), table
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert count is not None and count[0] > 0
            assert conn.execute(f"SELECT count(*) FROM '{path}'").fetchone() == count
        types = dict(describe(conn, f"'{out / 'shipments.parquet'}'"))
        assert types["amount"] == "DECIMAL(14,2)"
        assert types["shipped_at"] == "TIMESTAMP WITH TIME ZONE"
        assert dict(describe(conn, f"'{out / 'polls.parquet'}'"))["numbers"] == "VARCHAR[]"
        assert dict(describe(conn, f"'{out / 'flags.parquet'}'"))["evidence"] == "JSON"
    finally:
        conn.close()


def test_parquet_round_trips_through_polars(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with Store.open(db, read_only=True) as store:
        export_tables(store.conn, out)
        for table in ("shipments", "events", "polls", "tracking_state"):
            order = TABLES[table]
            expected = store.frame(f"SELECT * FROM {table} ORDER BY {order}")
            assert_frame_equal(pl.read_parquet(out / f"{table}.parquet"), expected)
    ships = pl.read_parquet(out / "shipments.parquet")
    assert ships.schema["amount"] == pl.Decimal(14, 2)
    assert ships.schema["promised_to"] == pl.Datetime("us", "UTC")
    assert pl.read_parquet(out / "polls.parquet").schema["numbers"] == pl.List(pl.String)


def test_evidence_bodies_only_with_raw(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "raw"
    assert run_cli("--db", str(db), "export", str(out)).exit_code == 0
    assert not (out / "raw_documents.parquet").exists()
    result = run_cli("--db", str(db), "export", "--with-raw", str(out))
    assert result.exit_code == 0, result.output
    raw = pl.read_parquet(out / "raw_documents.parquet")
    # The sample answers' bodies, and this odd one byte for byte.
    assert BODY in raw["body"].to_list()
    with Store.open(db, read_only=True) as store:
        assert raw.height == store.query("SELECT count(*) FROM raw_documents")[0][0] > 1
    assert raw.schema["first_seen_at"] == pl.Datetime("us", "UTC")


def test_csv_export_is_plain_text(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    result = run_cli("--db", str(db), "export", "--format", "csv", "--with-raw", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{t}.csv" for t in TABLES] + ["raw_documents.csv"]
    )
    with (out / "polls.csv").open(newline="") as fh:
        polls = list(csv.DictReader(fh))
    assert len(polls) == 24
    assert json.loads(polls[0]["numbers"]) == ["1Z4F8W310368260410"]
    assert polls[0]["requested_at"] == "2026-11-28T06:00:00.000000Z"
    with (out / "shipments.csv").open(newline="") as fh:
        first = next(csv.DictReader(fh))
    assert (first["tracking_number"], first["amount"]) == ("UB123456785CN", "23.80")
    with (out / "raw_documents.csv").open(newline="") as fh:
        (doc,) = [d for d in csv.DictReader(fh) if d["sha256"] == "a" * 64]
    assert base64.b64decode(doc["body"]) == BODY
    # DuckDB reads the instants back as the same instants.
    back = duckdb.sql(f"SELECT min(requested_at::TIMESTAMPTZ) FROM '{out / 'polls.csv'}'")
    assert back.fetchone() == (datetime(2026, 11, 28, 6, tzinfo=UTC),)


def test_export_replaces_files_and_leaves_no_partial_ones(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    out.mkdir()
    (out / "shipments.parquet").write_bytes(b"stale")
    with Store.open(db, read_only=True) as store:
        first = export_tables(store.conn, out)
        second = export_tables(store.conn, out)
    assert [(e.table, e.rows) for e in first] == [(e.table, e.rows) for e in second]
    assert pl.read_parquet(out / "shipments.parquet").height == 25
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_missing_database_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    result = run_cli("--db", str(tmp_path / "none.duckdb"), "export", "o")
    assert result.exit_code == 2
    assert "cannot open database" in result.output
    assert not (tmp_path / "none.duckdb").exists()


FORMULAS = ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rcmd"]


def test_csv_neutralises_formula_cells_and_parquet_keeps_them_exact(
    db: Path, tmp_path: Path
) -> None:
    with Store.open(db) as store:
        ids = [r[0] for r in store.query("SELECT shipment_id FROM shipments ORDER BY 1 LIMIT 6")]
        for sid, text in zip(ids, FORMULAS, strict=True):
            store.conn.execute("UPDATE shipments SET item = ? WHERE shipment_id = ?", [text, sid])
        store.conn.execute("UPDATE events SET description = '=1+1' WHERE shipment_id = ?", [ids[0]])
    assert run_cli("--db", str(db), "export", "--format", "csv", str(tmp_path / "c")).exit_code == 0
    with (tmp_path / "c" / "shipments.csv").open(newline="") as fh:
        items = [row["item"] for row in csv.DictReader(fh)][:6]
    assert items == ["'" + text for text in FORMULAS]
    with (tmp_path / "c" / "events.csv").open(newline="") as fh:
        assert "'=1+1" in {row["description"] for row in csv.DictReader(fh)}
    assert run_cli("--db", str(db), "export", str(tmp_path / "p")).exit_code == 0
    exact = pl.read_parquet(tmp_path / "p" / "shipments.parquet").sort("shipment_id")
    assert exact["item"].to_list()[:6] == FORMULAS


def test_disk_full_during_export_is_a_message_and_leaves_no_partial_file(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    import analysis.export

    def full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(analysis.export.os, "replace", full)
    out = tmp_path / "full"
    result = run_cli("--db", str(db), "export", str(out))
    assert result.exit_code == 1
    assert "No space left on device" in result.output and "Traceback" not in result.output
    assert list(out.iterdir()) == []


def test_partitioned_export_reads_back_in_duckdb_and_polars(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "hive"
    result = run_cli("--db", str(db), "export", "--partitioned", str(out))
    assert result.exit_code == 0, result.output
    assert not (out / "events.parquet").exists()
    months = sorted(p.name for p in (out / "events").iterdir())
    assert months == ["month=2026-08", "month=2026-09", "month=2026-10", "month=2026-11"]
    order = TABLES["events"]
    with Store.open(db, read_only=True) as store:
        expected = store.frame(
            "SELECT *, strftime(timezone('UTC', occurred_at), '%Y-%m') AS month "
            f"FROM events ORDER BY {order}"
        )
    # polars, unchanged: the folder, with the partition column from the paths.
    frame = pl.read_parquet(out / "events", hive_partitioning=True).sort(order.split(", "))
    assert_frame_equal(frame.select(expected.columns), expected, check_dtypes=False)
    assert frame.schema["occurred_at"] == pl.Datetime("us", "UTC")
    # DuckDB, unchanged: same rows, same types for the table's own columns.
    conn = duckdb.connect(str(db), read_only=True)
    try:
        glob = f"read_parquet('{out}/events/*/*.parquet', hive_partitioning = true)"
        read = dict(describe(conn, f"SELECT * FROM {glob}"))
        assert {k: read[k] for k, _ in describe(conn, "events")} == dict(describe(conn, "events"))
        diff = conn.execute(
            f"SELECT count(*) FROM ((SELECT * EXCLUDE (month) FROM {glob}) "
            "EXCEPT ALL (SELECT * FROM events))"
        ).fetchone()
        assert diff == (0,)
        assert (
            conn.execute(f"SELECT count(*) FROM {glob}").fetchone()
            == conn.execute("SELECT count(*) FROM events").fetchone()
        )
    finally:
        conn.close()
    # A second export replaces the folder and leaves nothing partial beside it.
    assert run_cli("--db", str(db), "export", "--partitioned", str(out)).exit_code == 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert run_cli(
        "--db", str(db), "export", "--partitioned", "--format", "csv", str(out)
    ).exit_code


def test_the_export_caps_duckdb_memory_and_restores_it(db: Path, tmp_path: Path) -> None:
    from analysis.export import EXPORT_MEMORY_LIMIT, export_tables

    with Store.open(db, read_only=True) as store:
        before = store.query("SELECT current_setting('memory_limit')")
        seen: list[object] = []
        original = store.conn.execute

        class Spy:
            def __getattr__(self, name: str) -> object:
                return getattr(store.conn, name)

            def execute(self, sql: str, *args: object) -> object:
                if sql.startswith("COPY"):
                    seen.append(original("SELECT current_setting('memory_limit')").fetchone())
                return original(sql, *args)

        export_tables(Spy(), tmp_path / "out", "parquet")  # type: ignore[arg-type]
        after = store.query("SELECT current_setting('memory_limit')")
    assert after == before
    # What DuckDB reads back for the export's limit ("1GB" reads "953.6 MiB").
    scratch = duckdb.connect()
    scratch.execute(f"SET memory_limit = '{EXPORT_MEMORY_LIMIT}'")
    capped = scratch.execute("SELECT current_setting('memory_limit')").fetchone()
    scratch.close()
    assert seen and all(value == capped for value in seen), (seen, capped)
    assert capped != before[0]
