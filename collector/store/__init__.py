"""The DuckDB store: schema, versioned migrations and the only code that writes.

Open it with :meth:`Store.open`; numbered SQL files in ``migrations/`` are applied in
order on open, and a database written by a newer parcelproof is refused::

    >>> with Store.open(":memory:") as store:
    ...     store.schema_version() == LATEST_VERSION
    True

Write functions live in :mod:`collector.store.writes`; readers may use
``store.conn`` (or their own read-only connection) freely.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import polars as pl

from collector.errors import DatabaseBusy, SchemaTooNew, StoreError
from collector.paths import default_db_path as default_db_path

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def bundled_migrations() -> list[tuple[int, str, str]]:
    """The bundled migrations as ``(version, name, sql)``, in order."""
    found = []
    for entry in resources.files("collector.store.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:  # pragma: no cover - guards the package itself
            raise StoreError(f"migration {name} out of sequence (expected {expected:04d})")
    return found


LATEST_VERSION = len(bundled_migrations())


_LOCK_WORD = re.compile(r"\block\b", re.IGNORECASE)


@contextmanager
def duckdb_setting(conn: duckdb.DuckDBPyConnection, name: str, value: str | int) -> Iterator[None]:
    """DuckDB's setting ``name`` set to ``value`` for a block, then restored.

    When the block fails, a restore that fails too (a transaction the error aborted)
    does not hide the block's error.
    """
    if not re.fullmatch(r"[a-z_]+", name):
        raise ValueError(f"not a DuckDB setting name: {name!r}")
    query = f"SELECT current_setting('{name}')"
    previous = conn.execute(query).fetchone()
    literal = str(int(value)) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"
    conn.execute(f"SET {name} = {literal}")

    def restore() -> None:
        # RESET gives the default back exactly (memory_limit reads back rounded,
        # "18.8 GiB"); a value someone else had set is set again as it read.
        conn.execute(f"RESET {name}")
        if previous and conn.execute(query).fetchone() != previous:
            conn.execute(f"SET {name} = '{previous[0]}'")

    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):
            restore()
        raise
    restore()


def memory_limit(conn: duckdb.DuckDBPyConnection, limit: str) -> AbstractContextManager[None]:
    """DuckDB's ``memory_limit`` set to ``limit`` for a block, then restored.

    Large sorts, joins and temporary tables then spill to disk (beside the database)
    instead of growing the process: the streaming import, the export and the flag
    evaluation use it so that their memory does not follow the database's size.
    When the block fails, a restore that fails too (a transaction the error aborted)
    does not hide the block's error.
    """
    return duckdb_setting(conn, "memory_limit", limit)


@contextmanager
def value_table(
    conn: duckdb.DuckDBPyConnection, column: str, values: Sequence[Any], dtype: Any
) -> Iterator[str]:
    """``values`` as a registered one-column table for the block; yields its name.

    For ``... IN (SELECT column FROM name)`` or a join: DuckDB converts a Python
    list parameter element by element, trying to import pandas for each (0.23 s for
    the 4,000 ids of a poll), where a registered polars column takes a millisecond.
    """
    name = f"_values_{column}"
    conn.register(name, pl.DataFrame({column: list(values)}, schema={column: dtype}))
    try:
        yield name
    finally:
        conn.unregister(name)


class Store:
    """An open parcelproof database (one DuckDB connection)."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = False,
        busy_timeout: float = 0.0,
        migrate: bool = True,
        must_exist: bool = False,
    ) -> Store:
        """Open (creating its folder and schema) the database at ``path``.

        ``must_exist`` refuses to create a missing database (:class:`StoreError`), for
        commands that only read.

        ``busy_timeout`` is how long to keep retrying while another process holds the
        file; after it, :class:`DatabaseBusy` names the holder when DuckDB tells it.
        """
        memory = path is not None and str(path) == ":memory:"
        db_path = None if memory else default_db_path(path)
        if db_path is not None and must_exist and not db_path.exists():
            raise StoreError(f"no database at {db_path} (import orders first, or give --db)")
        if db_path is not None and not read_only:
            try:
                db_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # e.g. --db under a regular file
                why = (
                    "is a file, not a folder"
                    if isinstance(exc, FileExistsError | NotADirectoryError)
                    else exc.strerror or str(exc)
                )
                raise StoreError(f"cannot open database {db_path}: {db_path.parent} {why}") from exc
        target = ":memory:" if db_path is None else str(db_path)
        deadline = time.monotonic() + busy_timeout
        delay = 0.05
        while True:
            try:
                conn = duckdb.connect(target, read_only=read_only)
                break
            except duckdb.IOException as exc:
                # "lock" as a word: a damaged file's "checksum ... in block at" is not busy.
                if not _LOCK_WORD.search(str(exc)):
                    raise StoreError(f"cannot open database {target}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise DatabaseBusy(
                        f"database {target} is in use by another process "
                        f"(waited {busy_timeout:g}s): {_holder(str(exc))}"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            except duckdb.Error as exc:
                raise StoreError(f"cannot open database {target}: {exc}") from exc
        conn.execute("SET TimeZone = 'UTC'")
        store = cls(conn, db_path)
        try:
            store._check_version(read_only=read_only, migrate=migrate)
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block in one transaction: all of it is stored, or none."""
        self.conn.execute("BEGIN TRANSACTION")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def schema_version(self) -> int:
        """The highest migration applied to this database (0 for an empty one)."""
        exists = self.conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchone()
        if not exists or not exists[0]:
            return 0
        row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run a read query and fetch all rows (a convenience for small results)."""
        return self.conn.execute(sql, params).fetchall()

    def frame(self, sql: str, params: Any = None) -> pl.DataFrame:
        """Run a query and return its result as a polars DataFrame (through Arrow)."""
        return frame_of(self.conn, sql, params)

    def _check_version(self, *, read_only: bool, migrate: bool) -> None:
        current = self.schema_version()
        where = self.path or ":memory:"
        if current > LATEST_VERSION:
            raise SchemaTooNew(
                f"database {where} has schema version {current}, but this parcelproof "
                f"only knows up to {LATEST_VERSION}: upgrade parcelproof to use it"
            )
        if current == LATEST_VERSION or not migrate:
            return
        if read_only:
            raise StoreError(
                f"database {where} needs migrating from version {current} to "
                f"{LATEST_VERSION}; open it once with a writing command (e.g. `status`)"
            )
        self._migrate(current)

    def _migrate(self, current: int) -> None:
        # One transaction per migration, its schema_version row included: DuckDB
        # cannot commit an ALTER TABLE of a table that an UPDATE earlier in the same
        # transaction changed (0002 updates tracking_state, 0009 alters it), and
        # each version is a consistent schema to stop at.
        with self.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)"
            )
        for version, name, sql in bundled_migrations():
            if version <= current:
                continue
            with self.transaction() as conn:
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name]
                )


def frame_of(conn: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pl.DataFrame:
    """Run ``sql`` on ``conn`` and return a polars DataFrame, with no row loop."""
    return conn.sql(sql, params=params).pl()


def _holder(message: str) -> str:
    """Who holds the file, from DuckDB's lock error, in words a person can act on.

    DuckDB says "Conflicting lock is held in /usr/bin/python3 (PID 1234) [by user
    x]." and, when that process only reads, adds that read-only access would work;
    we keep the PID, show its command line when this machine can see it, and say
    whether it reads or writes.
    """
    match = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", message)
    if not match:
        return message.splitlines()[0]
    program, pid = match.group(1), int(match.group(2))
    mode = "reading" if "read-only mode" in message else "writing"
    return f"PID {pid} ({_command_line(pid) or program}) has it open for {mode}"


def _command_line(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # another OS, another container, or the process just ended
        return None
    text = " ".join(raw.replace(b"\0", b" ").decode("utf-8", "replace").split())
    return text if len(text) <= 160 else text[:157] + "..."
