"""The canonical tracking status every source is mapped onto.

One enum for shipments and events alike, plus an optional sub-status. Mappings from
a source's own codes live beside that source's parser and always keep the raw code
and text next to the canonical value::

    >>> Status("delivered").is_final
    True
    >>> Status.IN_TRANSIT.is_final
    False
"""

from __future__ import annotations

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
