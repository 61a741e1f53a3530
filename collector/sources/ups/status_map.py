"""UPS Track API codes → canonical status (the mapping table beside the parser).

Sources (``reference/carriers.md`` §5): ``status.type`` of an activity or of
``currentStatus`` is a one- or two-letter class (D delivered, I in transit, M
manifest, MV voided, P pickup, X exception, RS returned to shipper, O out for
delivery, DO/DD, W, NA), taken from open-source mappers (the API's YAML does not
list them). ``status.code`` (two characters) refines a few of them. The raw type,
code and text are always kept beside the canonical value.
"""

from __future__ import annotations

from collector.sources.status import Status, SubStatus

#: ``status.type`` → (canonical status, sub-status).
STATUS_TYPE: dict[str, tuple[Status, SubStatus | None]] = {
    "M": (Status.INFO_RECEIVED, None),  # manifest: label created, not yet handed over
    "MV": (Status.EXCEPTION, SubStatus.CANCELLED),  # manifest voided
    "P": (Status.IN_TRANSIT, SubStatus.PICKED_UP),
    "I": (Status.IN_TRANSIT, None),
    "W": (Status.IN_TRANSIT, None),  # in warehouse
    "DO": (Status.IN_TRANSIT, None),  # delivered to the origin location (drop-off)
    "O": (Status.OUT_FOR_DELIVERY, None),
    "DD": (Status.AVAILABLE_FOR_PICKUP, None),  # delivered to a destination access point
    "X": (Status.EXCEPTION, None),
    "RS": (Status.RETURNED, None),  # returned to shipper
    "D": (Status.DELIVERED, None),
    "NA": (Status.UNKNOWN, None),
}

#: ``status.code`` values that say more than their type (code → status, sub-status).
STATUS_CODE: dict[str, tuple[Status, SubStatus | None]] = {
    "MP": (Status.INFO_RECEIVED, None),  # "Order Processed: Ready for UPS"
    # Type X, but no problem: "Your package was released by the customs agency."
    "SR": (Status.IN_TRANSIT, SubStatus.CUSTOMS),
}

#: The simulator's (type, code) for each scenario event kind.
KIND_STATUS: dict[str, tuple[str, str]] = {
    "info_received": ("M", "MP"),
    "warehouse_outbound": ("M", "MP"),
    "picked_up": ("P", "PU"),
    "delivery_failed": ("X", "48"),
    "available_for_pickup": ("DD", "ZP"),
    "out_for_delivery": ("O", "OT"),
    "delivered": ("D", "KB"),
    "returning": ("X", "RT"),
    "returned": ("RS", "RS"),
    "import_customs_done": ("X", "SR"),
}


def map_status(kind: str | None, code: str | None) -> tuple[Status, SubStatus | None]:
    """The canonical status of an activity's ``status.type`` and ``status.code``."""
    refined = STATUS_CODE.get((code or "").strip().upper())
    if refined is not None:
        return refined
    return STATUS_TYPE.get((kind or "").strip().upper(), (Status.UNKNOWN, None))
