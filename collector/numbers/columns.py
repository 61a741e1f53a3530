"""Detection over a whole column at once (imports), as a polars frame.

::

    >>> numbers = ["RB123456785GB", "LP00123456789012", "nope"]
    >>> frame = detect_column(numbers, declared=["UPS", None, None])
    >>> for row in frame.select("number", "courier", "verdict", "carrier_mismatch").rows():
    ...     print(row)
    ('RB123456785GB', 's10', 'valid', True)
    ('LP00123456789012', 'cainiao', 'weak', None)
    ('NOPE', None, 'unknown', None)

The detection runs as numpy position masks and check-digit kernels over the whole column
(:mod:`collector.numbers.vector`), not one Python call per number; only the
declared-carrier check is answered per distinct (number, carrier, country).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from collector.numbers.declared import carrier_can_issue
from collector.numbers.detect import Detection, match_formats, paused_gc
from collector.numbers.vector import RESULT_SCHEMA, detect_frame

__all__ = ["COLUMN_SCHEMA", "detect_column", "detect_columns"]

#: The frame :func:`detect_column` returns, one row per input in input order.
COLUMN_SCHEMA: dict[str, Any] = {**RESULT_SCHEMA, "carrier_mismatch": pl.Boolean}

_NAMES = tuple(COLUMN_SCHEMA)


def _values(column: Iterable[Any] | pl.Series | None, size: int) -> Sequence[Any]:
    if column is None:
        return [None] * size
    values = column.to_list() if isinstance(column, pl.Series) else list(column)
    if len(values) != size:
        raise ValueError(f"expected {size} values, got {len(values)}")
    return values


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
    return detect_column(numbers, declared=declared, destination=destination).to_dict(
        as_series=False
    )


def _mismatches(
    inputs: Sequence[str | None],
    numbers: Sequence[str],
    declared: Sequence[str | None],
    countries: Sequence[str | None],
) -> list[bool | None]:
    # The declared-carrier rules (collector.numbers.declared) read the candidates:
    # answered once per distinct (number, carrier, country), which in an import is
    # a few distinct carriers per number format.
    answers: dict[tuple[str, str, str | None], bool | None] = {}
    out: list[bool | None] = []
    with paused_gc():
        for raw, number, carrier, country in zip(inputs, numbers, declared, countries, strict=True):
            if not carrier:
                out.append(None)
                continue
            key = (number, str(carrier), country)
            if key not in answers:
                found = match_formats(number) if number else ()
                detection = Detection("" if raw is None else str(raw), number, found)
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
    """Detect a column as a polars frame with ``COLUMN_SCHEMA``, in input order.

    The detection itself runs as column operations
    (:func:`collector.numbers.vector.detect_frame`), with the same answers as
    :func:`~collector.numbers.detect.detect` row for row; ``carrier_mismatch`` is
    worked out once per distinct (number, declared carrier, destination).
    """
    if isinstance(numbers, pl.Series):
        series = numbers
    else:  # a list is read as it is (a copy of a million references costs)
        values = numbers if isinstance(numbers, list) else list(numbers)
        series = pl.Series(values, dtype=pl.String)
    frame = detect_frame(series)
    size = frame.height
    if declared is None:
        mismatch = pl.repeat(None, size, dtype=pl.Boolean, eager=True).alias("carrier_mismatch")
    else:
        carriers = _values(declared, size)
        countries = _values(destination, size)
        mismatch = pl.Series(
            "carrier_mismatch",
            _mismatches(frame["input"].to_list(), frame["number"].to_list(), carriers, countries),
            dtype=pl.Boolean,
        )
    return frame.with_columns(mismatch).select(
        [pl.col(name).cast(dtype) for name, dtype in COLUMN_SCHEMA.items()]
    )
