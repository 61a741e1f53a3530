"""``verify``: recompute every evidence hash and the whole poll chain.

Checks, in order:

1. every ``raw_documents`` row: the sha256 of the stored bytes equals
   ``stored_sha256``; decompression consumes the stored bytes *exactly* (nothing
   appended after the zlib stream's end); the decompressed body has the recorded
   length and its sha256 is the row's key;
2. every ``polls`` row, in ``poll_id`` order: ``chain_hash`` equals
   ``sha256(previous chain_hash + canonical form of the row)``, and the body it
   names exists; and the chain head every finished poll run recorded
   (``runs.chain_poll_id``, ``runs.chain_hash``) is still in the log, so that
   polls deleted from its end are noticed;
3. when the evidence is intact: the derived tables (``events``, ``poll_results``,
   ``tracking_state``) equal a fresh derivation of the raw documents with the
   ``rebuild`` logic (:func:`collector.store.rebuild.derived_mismatches`), so an
   edited event or status is caught too;
4. every ``mail_notices`` row (a shipping e-mail) still has its message stored.

The first broken row is named (a document's sha256, a poll's id)::

    >>> report = verify_store(store)                          # doctest: +SKIP
    >>> report.exit_code, report.summary()  # doctest: +SKIP
    (0, 'intact: 12 raw documents, 40 polls')
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from typing import Any

import duckdb

from collector.errors import DatabaseBusy, DatabaseDamaged, SchemaTooNew, StoreError
from collector.store import Store
from collector.store.evidence import COMPRESSION, GENESIS, POLL_COLUMNS, chain_hash, sha256_hex
from collector.terminal import plural

_CHUNK = 2_000
#: Raw documents per fetch: bodies can be megabytes each.
_DOCUMENT_CHUNK = 64


@dataclass
class VerifyReport:
    """What ``verify`` found: counts and the problems (first broken row first)."""

    documents: int = 0
    polls: int = 0
    problems: list[str] = field(default_factory=list)
    #: Whether the derived tables were compared with a fresh derivation (and matched
    #: when the report is intact).
    derived_checked: bool = False

    @property
    def intact(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    @property
    def exit_code(self) -> int:
        """0 intact, 1 tampered."""
        return 0 if self.intact else 1

    def summary(self) -> str:
        """One line for the command's output."""
        counts = f"{plural(self.documents, 'raw document')}, {plural(self.polls, 'poll')}"
        if self.intact:
            derived = "; derived tables match the evidence" if self.derived_checked else ""
            return f"intact: {counts}{derived}"
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"TAMPERED: {self.problems[0]}{more}; checked {counts}"


def check_document(
    sha256: str, byte_length: int, compression: str, stored_sha256: str, body: bytes
) -> str | None:
    """Why one ``raw_documents`` row is broken, or None when it is intact."""
    name = f"raw document {sha256}"
    if sha256_hex(body) != stored_sha256:
        return f"{name}: stored bytes do not match stored_sha256"
    if compression == COMPRESSION:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(body) + inflater.flush()
        except zlib.error as exc:
            return f"{name}: stored body does not decompress ({exc})"
        if not inflater.eof:
            return f"{name}: compressed stream is truncated"
        if inflater.unused_data:
            extra = len(inflater.unused_data)
            return f"{name}: {extra} bytes after the end of the compressed stream"
    elif compression == "none":
        data = body
    else:
        return f"{name}: unknown compression {compression!r}"
    if len(data) != byte_length:
        return f"{name}: body is {len(data)} bytes, {byte_length} recorded"
    if sha256_hex(data) != sha256:
        return f"{name}: body does not match its sha256"
    return None


def verify_store(store: Store, *, all_problems: bool = False, derived: bool = True) -> VerifyReport:
    """Check every raw document, the whole poll chain and the derived tables.

    Stops at the first problem unless ``all_problems``; reads the evidence in
    chunks. ``derived=False`` skips re-deriving the derived tables (it parses every
    stored body again).
    """
    report = VerifyReport()
    conn = store.conn
    cursor = conn.cursor()
    try:
        cursor.execute(
            "SELECT sha256, byte_length, compression, stored_sha256, body "
            "FROM raw_documents ORDER BY sha256"
        )
        while rows := cursor.fetchmany(_DOCUMENT_CHUNK):
            for sha, length, compression, stored_sha, body in rows:
                report.documents += 1
                problem = check_document(sha, int(length), compression, stored_sha, bytes(body))
                if problem:
                    report.problems.append(problem)
                    if not all_problems:
                        return report
        _verify_chain(cursor, report, all_problems)
        if report.intact or all_problems:
            report.problems += _missing_heads(cursor)
            _verify_mail_notices(cursor, report)
    finally:
        cursor.close()
    if derived and report.intact:
        from collector.store.rebuild import derived_mismatches

        report.problems += derived_mismatches(store)
        report.derived_checked = True
    return report


def verify_path(path: str | os.PathLike[str], *, busy_timeout: float = 0.0) -> VerifyReport:
    """Open the database at ``path`` read-only and verify it (``verify``).

    A file DuckDB cannot read (not a database, a damaged block) raises
    :class:`DatabaseDamaged` (exit 3): the file is broken, which is not the same as
    evidence changed inside a readable database (exit 1).
    """
    try:
        store = Store.open(path, read_only=True, busy_timeout=busy_timeout)
    except (DatabaseBusy, SchemaTooNew):
        raise
    except (StoreError, duckdb.Error) as exc:
        raise DatabaseDamaged(f"the database file is damaged or not a database: {exc}") from exc
    try:
        return verify_store(store)
    except duckdb.Error as exc:
        raise DatabaseDamaged(
            f"the database file {path} is damaged (DuckDB cannot read it: "
            f"{exc.__class__.__name__}: {exc}); restore it from a backup"
        ) from exc
    finally:
        store.close()


def _missing_heads(cursor: Any) -> list[str]:
    """Chain heads recorded by finished runs that the poll log no longer holds."""
    cursor.execute(
        "SELECT r.run_id, r.chain_poll_id, (SELECT max(poll_id) FROM polls) "
        "FROM runs r LEFT JOIN polls p "
        "ON p.poll_id = r.chain_poll_id AND p.chain_hash = r.chain_hash "
        "WHERE r.chain_poll_id IS NOT NULL AND p.poll_id IS NULL "
        "ORDER BY r.chain_poll_id DESC LIMIT 1"
    )
    row = cursor.fetchone()
    if row is None:
        return []
    run_id, head, last = row
    return [
        f"run {run_id} ended at poll {head}, which the poll log no longer holds as recorded "
        f"(it ends at poll {last if last is not None else 'none'}): polls were deleted or "
        "replaced"
    ]


def _verify_chain(cursor: Any, report: VerifyReport, all_problems: bool) -> None:
    columns = ", ".join(POLL_COLUMNS)
    cursor.execute(
        f"SELECT {columns}, chain_hash, "
        "body_sha256 IS NULL OR EXISTS (SELECT 1 FROM raw_documents d "
        "WHERE d.sha256 = p.body_sha256) AS body_present "
        "FROM polls p ORDER BY poll_id"
    )
    previous = GENESIS
    while rows := cursor.fetchmany(_CHUNK):
        for values in rows:
            row = dict(zip(POLL_COLUMNS, values, strict=False))
            stored, body_present = values[-2], values[-1]
            report.polls += 1
            expected = chain_hash(previous, row)
            if expected != stored:
                report.problems.append(
                    f"poll {row['poll_id']}: chain_hash does not match "
                    "(this row or the one before it was changed, inserted or deleted)"
                )
                if not all_problems:
                    return
            elif not body_present:
                report.problems.append(
                    f"poll {row['poll_id']}: its raw document {row['body_sha256']} is missing"
                )
                if not all_problems:
                    return
            # Continue from the stored value so that one edit is reported once.
            previous = stored


def _verify_mail_notices(cursor: Any, report: VerifyReport) -> None:
    """Every stored shipping e-mail still has its message in ``raw_documents``."""
    cursor.execute(
        "SELECT notice_id, sha256 FROM mail_notices n WHERE NOT EXISTS "
        "(SELECT 1 FROM raw_documents d WHERE d.sha256 = n.sha256) ORDER BY notice_id"
    )
    for notice_id, sha in cursor.fetchall():
        report.problems.append(f"mail notice {notice_id}: its message {sha} is missing")
