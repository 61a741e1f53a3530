"""Tracking-number engine: detect the courier and format, validate, decode.

Driven by the courier data shipped as package data (jkeen/tracking_number_data plus
our own China-origin formats, see ``data/``); nothing is fetched at run time::

    >>> from collector.numbers import detect
    >>> d = detect("rb 1234 5678 5 gb")
    >>> d.number, d.verdict, d.courier, d.decoded["operator"]
    ('RB123456785GB', 'valid', 's10', 'Royal Mail Group plc')
    >>> detect("LP00123456789012").verdict      # Cainiao: no published check digit
    'weak'

Public API:

- :func:`normalise` the number as it is stored and matched;
- :func:`detect` one input, :func:`detect_many` a batch (repeats matched once);
- :func:`detect_column` / :func:`detect_columns` a whole import column, polars or lists;
- :func:`search` every tracking number in free text (an email body);
- :func:`carrier_can_issue` whether a declared carrier can issue the number;
- :mod:`~collector.numbers.checksums` the check-digit algorithms;
- :mod:`~collector.numbers.render` the ``check`` command's JSON lines and table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from collector.numbers.declared import DeclaredCarrier, carrier_can_issue, resolve
from collector.numbers.detect import (
    Candidate,
    Detection,
    Verdict,
    detect,
    detect_many,
    match_formats,
    normalise,
)
from collector.numbers.search import Match, search

if TYPE_CHECKING:
    from collector.numbers.columns import COLUMN_SCHEMA, detect_column, detect_columns

_COLUMNS = ("COLUMN_SCHEMA", "detect_column", "detect_columns")


def __getattr__(name: str) -> Any:
    # The column API needs polars (a tenth of a second to import): loaded on first
    # use, so that `parcelproof check` and the poller do not pay for it.
    if name in _COLUMNS:
        from collector.numbers import columns

        return getattr(columns, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COLUMN_SCHEMA",
    "Candidate",
    "DeclaredCarrier",
    "Detection",
    "Match",
    "Verdict",
    "carrier_can_issue",
    "detect",
    "detect_column",
    "detect_columns",
    "detect_many",
    "match_formats",
    "normalise",
    "resolve",
    "search",
]
