"""``parcelproof export``: the tables as Parquet or CSV files for other tools.

One file per table, named after it, written by DuckDB's ``COPY`` from one
read snapshot::

    >>> with Store.open("data/parcelproof.duckdb", read_only=True) as store:  # doctest: +SKIP
    ...     export_tables(store.conn, Path("out"), "parquet")

Parquet keeps every type: instants stay ``TIMESTAMPTZ`` (UTC), amounts
``DECIMAL(14,2)``, lists lists and JSON JSON, for DuckDB, polars, pandas or Spark
alike. CSV has no types: instants are ISO 8601 in UTC (``...Z``), lists and JSON
are JSON text, and bytes are base64. A text cell that a spreadsheet would run as a
formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, from
an import or a carrier's text) is prefixed with ``'`` (the OWASP rule against CSV
injection); Parquet keeps every value exact. The evidence bodies (``raw_documents``) are
large and are left out unless ``with_raw`` is set.

With ``partitioned`` (``export --partitioned``, Parquet only) the event history is
written Hive-partitioned by the month of the event, in UTC, instead of one file::

    out/events/month=2026-10/data_0.parquet
    out/events/month=2026-11/data_0.parquet
    out/events/month=unknown/data_0.parquet     (events without an instant)

which DuckDB (``read_parquet('out/events/*/*.parquet', hive_partitioning = true)``),
polars (``pl.scan_parquet('out/events', hive_partitioning=True)``) and Spark
(``spark.read.parquet('out/events')``) read as one table with a ``month`` column,
and skip the months a query's filter on ``month`` excludes.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb

from collector.errors import ParcelproofError
from collector.store import memory_limit


class ExportError(ParcelproofError):
    """A table could not be written (disk full, no permission); no partial file is left."""


#: The tables every export writes, in this order (each sorted by its key).
TABLES: dict[str, str] = {
    "shipments": "shipment_id",
    "events": "shipment_id, occurred_at, event_key",
    "flags": "flag_id",
    "polls": "poll_id",
    "tracking_state": "shipment_id",
    "poll_results": "poll_id, shipment_id",
}
#: The evidence bodies, exported only on request.
RAW_TABLE = ("raw_documents", "sha256")
#: DuckDB's memory limit while the tables are written (see :func:`export_tables`).
EXPORT_MEMORY_LIMIT = "1GB"

#: What a spreadsheet reads as the start of a formula (OWASP "CSV injection").
_FORMULA_START = "^[-=+@\t\r]"

#: The partition of an event with no instant (``occurred_at`` is NULL).
UNKNOWN_MONTH = "unknown"

Format = Literal["parquet", "csv"]
FORMATS: tuple[Format, ...] = ("parquet", "csv")


@dataclass(frozen=True)
class ExportedTable:
    """One written file: which table, where, how many rows."""

    table: str
    path: Path
    rows: int


def export_tables(
    conn: duckdb.DuckDBPyConnection,
    out_dir: Path,
    fmt: Format = "parquet",
    *,
    with_raw: bool = False,
    partitioned: bool = False,
) -> list[ExportedTable]:
    """Write each table to ``out_dir/<table>.<fmt>`` and return what was written.

    ``partitioned``: the events go to the folder ``out_dir/events/`` partitioned by
    ``month=YYYY-MM`` (see the module docstring) instead of ``events.parquet``.

    The folder is created if needed and files of the same name are replaced. Each
    file appears whole or not at all (written beside it, then renamed), and all of
    them come from one transaction, so they agree with each other.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if partitioned and fmt != "parquet":
        raise ValueError("a partitioned export is Parquet only")
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = dict(TABLES)
    if with_raw:
        tables[RAW_TABLE[0]] = RAW_TABLE[1]
    # The sort behind each file's stable order spills to disk instead of taking
    # most of the RAM (7.9 GiB at 1M shipments, docs/perf-scale.md).
    with memory_limit(conn, EXPORT_MEMORY_LIMIT):
        return _write_tables(conn, out_dir, fmt, tables, partitioned=partitioned)


def _write_tables(
    conn: duckdb.DuckDBPyConnection,
    out_dir: Path,
    fmt: Format,
    tables: dict[str, str],
    *,
    partitioned: bool,
) -> list[ExportedTable]:
    written = []
    conn.execute("BEGIN TRANSACTION")
    try:
        for table, order in tables.items():
            if partitioned and table == "events":
                written.append(_export_partitioned(conn, out_dir, table, order))
                continue
            target = out_dir / f"{table}.{fmt}"
            partial = target.with_name(f".{target.name}.partial")
            select = f"SELECT {_columns(conn, table, fmt)} FROM {table} ORDER BY {order}"
            options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv"
            try:
                copy = f"COPY ({select}) TO {_literal(partial)} ({options})"
                row = conn.execute(copy).fetchone()
                os.replace(partial, target)
            except (duckdb.Error, OSError) as exc:
                # Disk full, a read-only folder...: no half-written file is left behind.
                partial.unlink(missing_ok=True)
                raise ExportError(f"cannot write {target}: {_reason(exc)}") from exc
            written.append(ExportedTable(table, target, int(row[0]) if row else 0))
    finally:
        conn.execute("COMMIT")
    return written


def _export_partitioned(
    conn: duckdb.DuckDBPyConnection, out_dir: Path, table: str, order: str
) -> ExportedTable:
    """``out_dir/<table>/month=YYYY-MM/*.parquet``, written beside it, then swapped in."""
    target = out_dir / table
    partial = out_dir / f".{table}.partial"
    old = out_dir / f".{table}.old"
    for leftover in (partial, old):
        shutil.rmtree(leftover, ignore_errors=True)
    month = f"coalesce(strftime(timezone('UTC', occurred_at), '%Y-%m'), '{UNKNOWN_MONTH}') AS month"
    select = f"SELECT *, {month} FROM {table} ORDER BY {order}"
    row = conn.execute(
        f"COPY ({select}) TO {_literal(partial)} "
        "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (month))"
    ).fetchone()
    if target.exists():
        os.replace(target, old)
    os.replace(partial, target)
    shutil.rmtree(old, ignore_errors=True)
    return ExportedTable(table, target, int(row[0]) if row else 0)


def _columns(conn: duckdb.DuckDBPyConnection, table: str, fmt: Format) -> str:
    """The select list: everything as it is for Parquet; text forms for CSV."""
    if fmt == "parquet":
        return "*"
    described = conn.execute(f"DESCRIBE {table}").fetchall()
    columns = []
    for name, kind, *_ in described:
        if kind.endswith("[]") or kind.startswith(("STRUCT", "MAP")):
            columns.append(f"to_json({name}) AS {name}")
        elif kind == "BLOB":
            columns.append(f"to_base64({name}) AS {name}")
        elif kind == "TIMESTAMP WITH TIME ZONE":
            columns.append(f"strftime(timezone('UTC', {name}), '%Y-%m-%dT%H:%M:%S.%fZ') AS {name}")
        elif kind == "VARCHAR":
            # A spreadsheet runs a cell that starts like a formula: neutralise it.
            columns.append(
                f"CASE WHEN regexp_matches({name}, '{_FORMULA_START}') "
                f"THEN chr(39) || {name} ELSE {name} END AS {name}"
            )
        else:
            columns.append(name)
    return ", ".join(columns)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
