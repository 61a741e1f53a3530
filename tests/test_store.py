from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from collector.errors import SchemaTooNew, StoreError
from collector.store import (
    LATEST_VERSION,
    Store,
    bundled_migrations,
    default_db_path,
    duckdb_setting,
    memory_limit,
)

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


def test_default_path_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    # The per-user home, not the folder cron starts in ...
    assert default_db_path(None) == tmp_path / "xdg" / "parcelproof" / "parcelproof.duckdb"
    # ... unless this folder already has the database of an older version.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "parcelproof.duckdb").touch()
    assert default_db_path(None) == Path("data/parcelproof.duckdb")
    monkeypatch.setenv("PARCELPROOF_DB", "/tmp/env.duckdb")
    assert default_db_path(None) == Path("/tmp/env.duckdb")
    assert default_db_path("x.duckdb") == Path("x.duckdb")


def test_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute("INSERT INTO runs (run_id, command, started_at) VALUES ('r', 'x', now())")
        raise RuntimeError("boom")
    assert store.query("SELECT count(*) FROM runs") == [(0,)]


def _version_1_db(path: Path) -> None:
    """A database as parcelproof wrote it at schema version 1, with some history."""
    conn = duckdb.connect(str(path))
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)"
    )
    version, name, sql = bundled_migrations()[0]
    conn.execute(sql)
    conn.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name])
    # Shipment 1: delivered twice (the later scan counts), an event without a time,
    # two events at the same instant (the key settles it). Shipment 2: no events.
    conn.execute(
        "INSERT INTO events (shipment_id, event_key, occurred_at, utc_offset_minutes, tz_known,"
        " status, raw_status, description, location, city, state, postcode, country, source,"
        " first_poll_id, recorded_at) VALUES"
        " (1, 'a', '2026-11-01 10:00:00+00', 480, true, 'in_transit', 'Accepted', 'Accepted',"
        "  NULL, 'Guangzhou', NULL, NULL, 'CN', 's', 1, '2026-11-01 12:00:00+00'),"
        " (1, 'c', '2026-11-05 10:00:00+00', 60, true, 'delivered', 'Delivered', NULL,"
        "  'Madrid, ES', NULL, 'MD', '28013', 'ES', 's', 2, '2026-11-05 12:00:00+00'),"
        " (1, 'b', '2026-11-05 10:00:00+00', 60, true, 'delivered', 'Left at door', 'Left',"
        "  NULL, 'Getafe', NULL, '28901', 'ES', 's', 3, '2026-11-05 12:00:00+00'),"
        " (1, 'z', NULL, NULL, false, 'in_transit', 'Note', 'Note', NULL, 'X', NULL, NULL,"
        "  NULL, 's', 3, '2026-11-05 12:00:00+00')"
    )
    conn.execute(
        "INSERT INTO tracking_state (shipment_id, status, first_event_at, last_event_at,"
        " last_event_key, event_count, updated_at) VALUES"
        " (1, 'delivered', '2026-11-01 10:00:00+00', '2026-11-05 10:00:00+00', 'z', 4, now()),"
        " (2, 'not_found', NULL, NULL, NULL, 0, now())"
    )
    conn.close()


def test_version_1_database_gets_the_event_digest(tmp_path: Path) -> None:
    from collector.store.state import DIGEST_COLUMNS, refresh_event_digest

    path = tmp_path / "v1.duckdb"
    _version_1_db(path)
    columns = ", ".join(DIGEST_COLUMNS)
    with Store.open(path) as store:
        assert store.schema_version() == LATEST_VERSION
        events = store.query("SELECT * FROM events ORDER BY event_key")
        migrated = store.query(f"SELECT shipment_id, {columns} FROM tracking_state ORDER BY 1")
        refresh_event_digest(store.conn)
        assert store.query(f"SELECT shipment_id, {columns} FROM tracking_state ORDER BY 1") == (
            migrated
        )
        # Evidence is never rewritten.
        assert store.query("SELECT * FROM events ORDER BY event_key") == events
        row = store.frame(
            "SELECT last_event_key, last_event_poll_id, last_event_description, "
            "delivery_event_key, delivery_city, delivery_postcode, delivery_utc_offset "
            "FROM tracking_state WHERE shipment_id = 1"
        ).row(0)
    # The latest timed event ('c' wins the tie with 'b'); timeless 'z' counts as oldest.
    assert row == ("c", 2, None, "c", None, "28013", 60)


def test_a_memory_limit_does_not_hide_the_error_of_its_block(tmp_path: Path) -> None:
    # The block's error aborts the transaction; restoring the limit then fails too,
    # and the error named is still the block's own.
    with Store.open(tmp_path / "m.duckdb") as store:
        store.conn.execute("BEGIN TRANSACTION")
        with (
            pytest.raises(duckdb.Error, match="no_such_table"),
            memory_limit(store.conn, "300MB"),
        ):
            store.conn.execute("SELECT * FROM no_such_table")
        store.conn.execute("ROLLBACK")
        default = store.query("SELECT current_setting('memory_limit')")
        with memory_limit(store.conn, "300MB"):
            assert store.query("SELECT current_setting('memory_limit')") != default
        assert store.query("SELECT current_setting('memory_limit')") == default


def test_a_setting_is_restored_to_what_it_was_before_the_block(tmp_path: Path) -> None:
    name = "dynamic_or_filter_threshold"
    with Store.open(tmp_path / "s.duckdb") as store:
        store.conn.execute(f"SET {name} = 77")
        with duckdb_setting(store.conn, name, 1000):
            assert store.query(f"SELECT current_setting('{name}')") == [(1000,)]
        assert store.query(f"SELECT current_setting('{name}')") == [(77,)]
        with pytest.raises(ValueError, match="not a DuckDB setting name"):
            duckdb_setting(store.conn, "x; DROP TABLE shipments", 1).__enter__()
