"""Detection over a whole column at once (imports), as a polars frame.

::

    >>> numbers = ["RB123456785GB", "LP00123456789012", "nope"]
    >>> frame = detect_column(numbers, declared=["UPS", None, None])
    >>> for row in frame.select("number", "courier", "verdict", "carrier_mismatch").rows():
    ...     print(row)
    ('RB123456785GB', 's10', 'valid', True)
    ('LP00123456789012', 'cainiao', 'weak', None)
    ('NOPE', None, 'unknown', None)

Each distinct input is detected once however often it repeats, and only the
columns are kept (not the :class:`~collector.numbers.detect.Detection` objects),
so a million-row import costs a million small tuples at most.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from collector.numbers.declared import carrier_can_issue
from collector.numbers.detect import Candidate, Detection, match_formats, normalise, paused_gc

__all__ = ["COLUMN_SCHEMA", "detect_column", "detect_columns"]

#: The frame :func:`detect_column` returns, one row per input in input order.
COLUMN_SCHEMA: dict[str, Any] = {
    "input": pl.String,
    "number": pl.String,
    "courier": pl.String,
    "format": pl.String,
    "format_name": pl.String,
    "verdict": pl.String,
    "valid": pl.Boolean,
    "reason": pl.String,
    "carrier_mismatch": pl.Boolean,
}

_Row = tuple[str, str | None, str | None, str | None, str, bool, str | None]
_EMPTY: _Row = ("", None, None, None, "unknown", False, "empty input")
_NAMES = tuple(COLUMN_SCHEMA)


def _values(column: Iterable[Any] | pl.Series | None, size: int) -> Sequence[Any]:
    if column is None:
        return [None] * size
    values = column.to_list() if isinstance(column, pl.Series) else list(column)
    if len(values) != size:
        raise ValueError(f"expected {size} values, got {len(values)}")
    return values


def _row(text: str) -> tuple[_Row, tuple[Candidate, ...]]:
    """(number, courier, format, format name, verdict, valid, reason) of one input."""
    if not text:
        return _EMPTY, ()
    number = normalise(text)
    found = match_formats(number)
    if not found:
        return (number, None, None, None, "unknown", False, "matches no known format"), found
    best = found[0]
    fmt = best.format_
    detection = Detection(text, number, found)
    verdict = detection.verdict
    reason = None if verdict == "valid" else detection.reason
    return (number, fmt.courier, fmt.id, fmt.name, verdict, verdict != "invalid", reason), found


def detect_columns(
    numbers: Iterable[str | None] | pl.Series,
    *,
    declared: Iterable[str | None] | pl.Series | None = None,
    destination: Iterable[str | None] | pl.Series | None = None,
) -> dict[str, list[Any]]:
    """Detect every number of a column: a dict of equally long lists (see ``COLUMN_SCHEMA``).

    ``declared`` (the seller's carrier) and ``destination`` (ISO alpha-2) are
    optional parallel columns; with them, ``carrier_mismatch`` is ``True`` where
    the declared carrier cannot issue the number, ``None`` where it cannot be told.
    A missing number (``None``) comes out as ``unknown`` with reason "empty input".

    >>> detect_columns(["1Z5R89390357567127"])["format"]
    ['ups']
    """
    inputs = numbers.to_list() if isinstance(numbers, pl.Series) else list(numbers)
    with paused_gc():
        rows = _rows(inputs)
        mismatches = (
            _mismatches(inputs, rows, _values(declared, len(inputs)), destination)
            if declared is not None
            else [None] * len(inputs)
        )
    if not inputs:
        return {name: [] for name in _NAMES}
    columns = [list(column) for column in zip(*rows, strict=True)]
    return dict(zip(_NAMES, [inputs, *columns, mismatches], strict=True))


def _rows(inputs: Sequence[str | None]) -> list[_Row]:
    # One tuple per input (shared between repeats), transposed into columns after.
    seen: dict[str, _Row] = {}
    out: list[_Row] = []
    append = out.append
    for raw in inputs:
        text = "" if raw is None else str(raw)
        row = seen.get(text)
        if row is None:
            row = seen[text] = _row(text)[0]
        append(row)
    return out


def _mismatches(
    inputs: Sequence[str | None],
    rows: Sequence[_Row],
    declared: Sequence[str | None],
    destination: Iterable[str | None] | pl.Series | None,
) -> list[bool | None]:
    countries = _values(destination, len(inputs))
    answers: dict[tuple[str, str, str | None], bool | None] = {}
    out: list[bool | None] = []
    for raw, row, carrier, country in zip(inputs, rows, declared, countries, strict=True):
        if not carrier:
            out.append(None)
            continue
        key = (row[0], str(carrier), country)
        if key not in answers:
            # Candidates are not kept per row (memory); matching again is cheap.
            found = match_formats(row[0]) if row[0] else ()
            detection = Detection("" if raw is None else str(raw), row[0], found)
            can = carrier_can_issue(str(carrier), detection, destination_country=country)
            answers[key] = None if can is None else not can
        out.append(answers[key])
    return out


def detect_column(
    numbers: Iterable[str | None] | pl.Series,
    *,
    declared: Iterable[str | None] | pl.Series | None = None,
    destination: Iterable[str | None] | pl.Series | None = None,
) -> pl.DataFrame:
    """:func:`detect_columns` as a polars frame with ``COLUMN_SCHEMA``, in input order."""
    return pl.DataFrame(
        detect_columns(numbers, declared=declared, destination=destination),
        schema=COLUMN_SCHEMA,
    )
