"""17TRACK v2.2 codes → canonical status (the mapping table beside the parser).

Sources: 17TRACK API v2.2 documentation as summarised in
``reference/carriers.md`` §1 (main statuses, ``<Main>_<Reason>`` sub-statuses,
milestone stages, error codes). The raw code is always kept beside the result.
"""

from __future__ import annotations

from collector.sources.status import Status, SubStatus

#: ``latest_status.status`` (and the part before ``_`` of a sub-status).
MAIN_STATUS: dict[str, Status] = {
    "NotFound": Status.NOT_FOUND,
    "InfoReceived": Status.INFO_RECEIVED,
    "InTransit": Status.IN_TRANSIT,
    "Expired": Status.EXPIRED,
    "AvailableForPickup": Status.AVAILABLE_FOR_PICKUP,
    "OutForDelivery": Status.OUT_FOR_DELIVERY,
    "DeliveryFailure": Status.DELIVERY_FAILED,
    "Delivered": Status.DELIVERED,
    "Exception": Status.EXCEPTION,
}

#: Sub-statuses whose canonical status differs from their main part, or that carry detail.
SUB_STATUS: dict[str, tuple[Status, SubStatus | None]] = {
    "NotFound_InvalidCode": (Status.NOT_FOUND, SubStatus.INVALID_NUMBER),
    "InTransit_PickedUp": (Status.IN_TRANSIT, SubStatus.PICKED_UP),
    "InTransit_Departure": (Status.IN_TRANSIT, SubStatus.DEPARTURE),
    "InTransit_Arrival": (Status.IN_TRANSIT, SubStatus.ARRIVAL),
    "InTransit_CustomsProcessing": (Status.IN_TRANSIT, SubStatus.CUSTOMS),
    "InTransit_CustomsReleased": (Status.IN_TRANSIT, SubStatus.CUSTOMS),
    "InTransit_CustomsRequiringInformation": (Status.EXCEPTION, SubStatus.CUSTOMS),
    "DeliveryFailure_NoBody": (Status.DELIVERY_FAILED, SubStatus.NO_RECIPIENT),
    "DeliveryFailure_Security": (Status.DELIVERY_FAILED, SubStatus.SECURITY),
    "DeliveryFailure_Rejected": (Status.DELIVERY_FAILED, SubStatus.REFUSED),
    "DeliveryFailure_InvalidAddress": (Status.DELIVERY_FAILED, SubStatus.BAD_ADDRESS),
    "Exception_Returning": (Status.RETURNING, None),
    "Exception_Returned": (Status.RETURNED, None),
    "Exception_NoBody": (Status.EXCEPTION, SubStatus.NO_RECIPIENT),
    "Exception_Security": (Status.EXCEPTION, SubStatus.SECURITY),
    "Exception_Damage": (Status.EXCEPTION, SubStatus.DAMAGED),
    "Exception_Rejected": (Status.EXCEPTION, SubStatus.REFUSED),
    "Exception_Delayed": (Status.EXCEPTION, SubStatus.DELAYED),
    "Exception_Lost": (Status.EXCEPTION, SubStatus.LOST),
    "Exception_Destroyed": (Status.EXCEPTION, SubStatus.DESTROYED),
    "Exception_Cancel": (Status.EXCEPTION, SubStatus.CANCELLED),
    "Exception_Other": (Status.EXCEPTION, SubStatus.OTHER),
}

#: Milestone ``stage`` / ``key_stage`` values carried by events.
STAGE: dict[str, Status] = {
    "InfoReceived": Status.INFO_RECEIVED,
    "PickedUp": Status.IN_TRANSIT,
    "Departure": Status.IN_TRANSIT,
    "Arrival": Status.IN_TRANSIT,
    "InTransit": Status.IN_TRANSIT,
    "AvailableForPickup": Status.AVAILABLE_FOR_PICKUP,
    "OutForDelivery": Status.OUT_FOR_DELIVERY,
    "DeliveryFailure": Status.DELIVERY_FAILED,
    "Delivered": Status.DELIVERED,
    "Returning": Status.RETURNING,
    "Returned": Status.RETURNED,
    "Exception": Status.EXCEPTION,
    "Expired": Status.EXPIRED,
}

#: Error codes (``rejected[].error.code`` or the top-level ``code``).
ALREADY_REGISTERED = -18019901
NOT_REGISTERED = -18019902
CARRIER_NOT_DETECTED = -18019903
NO_TRACKING_INFO = -18019909
#: Quota used up: stop the source for the run.
QUOTA_CODES = frozenset({-18019907, -18019908})
#: Key, IP or account refused: stop the source for the run.
ACCESS_CODES = frozenset({-18010001, -18010002, -18010004})
#: The number itself was refused as not a usable tracking number.
INVALID_NUMBER_CODES = frozenset({CARRIER_NOT_DETECTED, -18010011, -18010012, -18010013})


def map_status(status: str | None, sub_status: str | None) -> tuple[Status, str | None]:
    """Canonical (status, sub-status) for a ``latest_status`` pair.

    >>> map_status("Exception", "Exception_Returned")
    (<Status.RETURNED: 'returned'>, None)
    >>> map_status("DeliveryFailure", "DeliveryFailure_NoBody")
    (<Status.DELIVERY_FAILED: 'delivery_failed'>, 'no_recipient')
    """
    if sub_status and sub_status in SUB_STATUS:
        canonical, detail = SUB_STATUS[sub_status]
        return canonical, detail.value if detail else None
    main = status or (sub_status.split("_", 1)[0] if sub_status else None)
    if main and main in MAIN_STATUS:
        return MAIN_STATUS[main], None
    if sub_status:
        head = sub_status.split("_", 1)[0]
        if head in MAIN_STATUS:
            return MAIN_STATUS[head], None
    return Status.UNKNOWN, None
