from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from collector.errors import SchemaTooNew, StoreError
from collector.store import LATEST_VERSION, Store, bundled_migrations, default_db_path

TABLES = {
    "shipments",
    "raw_documents",
    "polls",
    "events",
    "tracking_state",
    "flags",
    "schema_version",
}


def test_open_creates_folder_and_every_table(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "p.duckdb"
    with Store.open(path) as store:
        tables = {r[0] for r in store.query("SELECT table_name FROM information_schema.tables")}
        assert TABLES <= tables
        assert store.schema_version() == LATEST_VERSION
    assert path.exists()


def test_reopen_does_not_reapply_migrations(tmp_path: Path) -> None:
    path = tmp_path / "p.duckdb"
    Store.open(path).close()
    with Store.open(path) as store:
        rows = store.query("SELECT version, name FROM schema_version ORDER BY version")
    assert rows == [(v, n) for v, n, _ in bundled_migrations()]


def test_older_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    # An empty file from before any migration: version 0.
    duckdb.connect(str(path)).close()
    with Store.open(path) as store:
        assert store.schema_version() == LATEST_VERSION


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    Store.open(path).close()
    conn = duckdb.connect(str(path))
    conn.execute("INSERT INTO schema_version (version, name) VALUES (999, '0999_future.sql')")
    conn.close()
    with pytest.raises(SchemaTooNew, match="schema version 999"):
        Store.open(path)


def test_read_only_refuses_to_migrate(tmp_path: Path) -> None:
    path = tmp_path / "ro.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(StoreError, match="needs migrating"):
        Store.open(path, read_only=True)


def test_default_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_db_path(None) == Path("data/parcelproof.duckdb")
    monkeypatch.setenv("PARCELPROOF_DB", "/tmp/env.duckdb")
    assert default_db_path(None) == Path("/tmp/env.duckdb")
    assert default_db_path("x.duckdb") == Path("x.duckdb")


def test_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute("INSERT INTO runs (run_id, command, started_at) VALUES ('r', 'x', now())")
        raise RuntimeError("boom")
    assert store.query("SELECT count(*) FROM runs") == [(0,)]
