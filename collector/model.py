"""The domain model in one place: canonical statuses and their named groups.

One enum for shipments and events alike, plus an optional sub-status. Mappings from
a source's own codes live beside that source's parser and always keep the raw code
and text next to the canonical value. The named groups below are the only
definitions of "final", "settled" and the like; SQL reads them through
:func:`status_in`, so an ``IN`` list is never written by hand::

    >>> Status("delivered").is_final
    True
    >>> Status.IN_TRANSIT.is_final
    False
    >>> status_in("t.status", FINAL_STATUSES)
    "t.status IN ('returned', 'delivered', 'expired')"
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    """Canonical status of a shipment or of one tracking event."""

    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERY_FAILED = "delivery_failed"
    EXCEPTION = "exception"
    RETURNING = "returning"
    RETURNED = "returned"
    DELIVERED = "delivered"
    NOT_FOUND = "not_found"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        """Whether nothing more is expected to happen (polling stops after a grace period)."""
        return self in FINAL_STATUSES


#: Statuses after which a shipment is polled only for ``poll.final_grace_days``.
FINAL_STATUSES = frozenset({Status.DELIVERED, Status.RETURNED, Status.EXPIRED})
#: The parcel's journey is over one way or the other (frames: delivery times).
SETTLED_STATUSES = frozenset({Status.DELIVERED, Status.RETURNED})
#: On the way back to the sender.
RETURN_STATUSES = frozenset({Status.RETURNING, Status.RETURNED})
#: Statuses for which a silence is no stall: over, on the way back, or never handed
#: over (``label_only`` is that rule).
STALL_EXEMPT = frozenset(FINAL_STATUSES | RETURN_STATUSES | {Status.INFO_RECEIVED})


class SubStatus(StrEnum):
    """Optional detail beside a status (why it failed, where it is held)."""

    CUSTOMS = "customs"
    NO_RECIPIENT = "no_recipient"
    REFUSED = "refused"
    BAD_ADDRESS = "bad_address"
    LOST = "lost"
    DAMAGED = "damaged"
    DELAYED = "delayed"
    CANCELLED = "cancelled"
    SECURITY = "security"
    DESTROYED = "destroyed"
    INVALID_NUMBER = "invalid_number"
    PICKED_UP = "picked_up"
    DEPARTURE = "departure"
    ARRIVAL = "arrival"
    #: The order exists but the seller has not handed the parcel over yet.
    SELLER_PREPARING = "seller_preparing"
    OTHER = "other"


def status_in(expr: str, statuses: Iterable[str], *, negate: bool = False) -> str:
    """SQL ``expr IN (...)`` over ``statuses``, listed in the enum's order."""
    wanted = {str(s) for s in statuses}
    items = ", ".join(f"'{s.value}'" for s in (*Status, *SubStatus) if s.value in wanted)
    unknown = wanted - {s.value for s in (*Status, *SubStatus)}
    if unknown:
        raise ValueError(f"not a status: {', '.join(sorted(unknown))}")
    return f"{expr} {'NOT IN' if negate else 'IN'} ({items})"


#: The tracking number of a shipment stored before its number is known (the import
#: row's number cell was empty): never polled, flagged only by rules that say so.
AWAITING = ""
