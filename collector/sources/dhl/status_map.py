"""DHL Shipment Tracking – Unified codes → canonical status (beside the parser).

Source (``reference/carriers.md`` §4): ``statusCode`` is one of ``pre-transit``,
``transit``, ``delivered``, ``failure``, ``unknown`` (DHL OpenAPI 1.4.1); ``status``
and ``description`` are free text, kept raw. ``failure`` says only that something
went wrong: an exception, refined to returning when the text says so.
"""

from __future__ import annotations

from collector.sources.status import Status, SubStatus

STATUS_CODE: dict[str, Status] = {
    "pre-transit": Status.INFO_RECEIVED,
    "transit": Status.IN_TRANSIT,
    "delivered": Status.DELIVERED,
    "failure": Status.EXCEPTION,
    "unknown": Status.UNKNOWN,
}

#: Free-text hints that refine a ``transit``/``failure`` code (lower case, in order).
TEXT_HINTS: tuple[tuple[str, Status, SubStatus | None], ...] = (
    ("returned to sender", Status.RETURNED, None),
    ("return", Status.RETURNING, None),
    ("out for delivery", Status.OUT_FOR_DELIVERY, None),
    ("ready for pickup", Status.AVAILABLE_FOR_PICKUP, None),
    ("available for pickup", Status.AVAILABLE_FOR_PICKUP, None),
    ("not at home", Status.DELIVERY_FAILED, SubStatus.NO_RECIPIENT),
    ("could not be delivered", Status.DELIVERY_FAILED, None),
    ("customs", Status.IN_TRANSIT, SubStatus.CUSTOMS),
)

#: The simulator's ``statusCode`` for a canonical status.
CODE_OF: dict[str, str] = {
    "info_received": "pre-transit",
    "delivered": "delivered",
    "delivery_failed": "failure",
    "exception": "failure",
    "returning": "transit",
    "returned": "transit",
}


def map_status(code: str | None, text: str | None) -> tuple[Status, SubStatus | None]:
    """The canonical status of a DHL ``statusCode`` and its text."""
    status = STATUS_CODE.get((code or "").strip().lower(), Status.UNKNOWN)
    if status in (Status.IN_TRANSIT, Status.EXCEPTION, Status.UNKNOWN) and text:
        lowered = text.lower()
        for hint, hinted, sub in TEXT_HINTS:
            if hint in lowered:
                if hinted is Status.IN_TRANSIT and status is not Status.IN_TRANSIT:
                    return status, sub
                return hinted, sub
    return status, None
