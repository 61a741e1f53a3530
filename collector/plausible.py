"""The range of instants parcelproof takes as plausible for orders and tracking events.

From 2000-01-01 to 2100-01-01 (UTC), fixed: no parcel tracked today was ordered or
scanned before 2000, and a date after 2100 is a placeholder (``9999-12-31``) or a
typo. A fixed range (rather than "now + N years") keeps an import's verdict the same
whatever ``--now`` says, and leaves room for any deadline arithmetic (a date plus
days or a time-zone shift never overflows). An import row outside it is rejected
with its line and reason; a carrier event outside it is kept as evidence, marked
``implausible``, and ignored by the tracking state and the flag rules::

    >>> plausible(datetime(2026, 11, 28, tzinfo=UTC))
    True
    >>> plausible(datetime(9999, 12, 31, tzinfo=UTC))
    False
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
#: How the range reads in messages.
RANGE_TEXT = "2000-01-01 .. 2100-01-01"


def plausible(value: datetime) -> bool:
    """Whether ``value`` (aware) lies in [:data:`EARLIEST`, :data:`LATEST`)."""
    return EARLIEST <= value < LATEST
