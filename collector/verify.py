"""``verify``: recompute every evidence hash and the whole poll chain.

Checks, in order:

1. every ``raw_documents`` row: the sha256 of the stored bytes equals
   ``stored_sha256``; decompression consumes the stored bytes *exactly* (nothing
   appended after the zlib stream's end); the decompressed body has the recorded
   length and its sha256 is the row's key;
2. every ``polls`` row, in ``poll_id`` order: ``chain_hash`` equals
   ``sha256(previous chain_hash + canonical form of the row)``, and the body it
   names exists;
3. every ``mail_notices`` row (a shipping e-mail) still has its message stored.

The first broken row is named (a document's sha256, a poll's id)::

    >>> report = verify_store(store)                          # doctest: +SKIP
    >>> report.exit_code, report.summary()  # doctest: +SKIP
    (0, 'intact: 12 raw documents, 40 polls')
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from collector.store import Store
from collector.store.evidence import COMPRESSION, GENESIS, POLL_COLUMNS, chain_hash, sha256_hex

_CHUNK = 2_000
#: Raw documents per fetch: bodies can be megabytes each.
_DOCUMENT_CHUNK = 64


@dataclass
class VerifyReport:
    """What ``verify`` found: counts and the problems (first broken row first)."""

    documents: int = 0
    polls: int = 0
    problems: list[str] = field(default_factory=list)

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
        counts = f"{self.documents} raw documents, {self.polls} polls"
        if self.intact:
            return f"intact: {counts}"
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


def verify_store(store: Store, *, all_problems: bool = False) -> VerifyReport:
    """Check every raw document and the whole poll chain (see the module docstring).

    Stops at the first problem unless ``all_problems``; reads in chunks, so the
    database can be far larger than memory.
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
            _verify_mail_notices(cursor, report)
    finally:
        cursor.close()
    return report


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
