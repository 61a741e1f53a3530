"""USPS codes → canonical status (the mapping table beside the parser).

Sources (``reference/carriers.md`` §3): USPS publishes no enum for
``statusCategory``; the values below are those seen in client code and fixtures.
Event codes are the two-character USPS event codes that open-source clients map
(``01`` delivered is the one most widely relied on); a code not listed here falls
back to the ``statusCategory`` of the answer for the latest event, and to
``unknown`` for older ones. The raw code and text are always kept beside the result.
"""

from __future__ import annotations

from collector.sources.status import Status, SubStatus

#: ``statusCategory`` of a tracking answer (case-insensitive, spaces ignored).
STATUS_CATEGORY: dict[str, Status] = {
    "pre-shipment": Status.INFO_RECEIVED,
    "pre-transit": Status.INFO_RECEIVED,
    "accepted": Status.IN_TRANSIT,
    "intransit": Status.IN_TRANSIT,
    "in-transit": Status.IN_TRANSIT,
    "outfordelivery": Status.OUT_FOR_DELIVERY,
    "availableforpickup": Status.AVAILABLE_FOR_PICKUP,
    "deliveryattempt": Status.DELIVERY_FAILED,
    "alert": Status.EXCEPTION,
    "returntosender": Status.RETURNING,
    "delivered": Status.DELIVERED,
}

#: ``eventCode`` of a tracking event → (status, sub-status).
EVENT_CODE: dict[str, tuple[Status, SubStatus | None]] = {
    "MA": (Status.INFO_RECEIVED, None),  # Shipping label created, USPS awaiting item
    "GX": (Status.INFO_RECEIVED, None),  # Shipping label cancelled / pre-shipment
    "03": (Status.IN_TRANSIT, SubStatus.PICKED_UP),  # Accepted or picked up
    "OA": (Status.IN_TRANSIT, SubStatus.PICKED_UP),  # Accepted at USPS origin facility
    "10": (Status.IN_TRANSIT, None),  # Processed through facility
    "07": (Status.IN_TRANSIT, SubStatus.ARRIVAL),  # Arrived at unit / post office
    "A1": (Status.IN_TRANSIT, SubStatus.ARRIVAL),  # Arrived at USPS facility
    "L1": (Status.IN_TRANSIT, SubStatus.DEPARTURE),  # Departed USPS facility
    "EF": (Status.IN_TRANSIT, SubStatus.DEPARTURE),  # Departed (international)
    "T1": (Status.IN_TRANSIT, None),  # In transit to next facility
    "PC": (Status.IN_TRANSIT, None),  # Sorting complete
    "06": (Status.IN_TRANSIT, None),  # Forwarded
    "08": (Status.IN_TRANSIT, None),  # Missent
    "OF": (Status.OUT_FOR_DELIVERY, None),  # Out for delivery
    "02": (Status.DELIVERY_FAILED, SubStatus.NO_RECIPIENT),  # Notice left
    "52": (Status.DELIVERY_FAILED, SubStatus.NO_RECIPIENT),  # Notice left, receptacle full
    "55": (Status.DELIVERY_FAILED, SubStatus.SECURITY),  # No secure location available
    "57": (Status.DELIVERY_FAILED, None),  # No access to delivery location
    "04": (Status.RETURNING, SubStatus.REFUSED),  # Refused
    "05": (Status.DELIVERY_FAILED, SubStatus.BAD_ADDRESS),  # Undeliverable as addressed
    "21": (Status.DELIVERY_FAILED, SubStatus.BAD_ADDRESS),  # No such number
    "22": (Status.DELIVERY_FAILED, SubStatus.BAD_ADDRESS),  # Insufficient address
    "09": (Status.RETURNING, None),  # Return to sender
    "27": (Status.RETURNING, None),  # Unclaimed, return to sender
    "16": (Status.AVAILABLE_FOR_PICKUP, None),  # Available for pickup
    "01": (Status.DELIVERED, None),  # Delivered
    "17": (Status.DELIVERED, None),  # Picked up at post office
}

#: The simulator's event code for each scenario event kind (its own wire format).
KIND_CODE: dict[str, str] = {
    "info_received": "MA",
    "warehouse_outbound": "MA",
    "picked_up": "03",
    "sorting_inbound": "10",
    "sorting_outbound": "L1",
    "handover_last_mile": "OA",
    "last_mile_accept": "OA",
    "arrived_destination": "A1",
    "import_customs_start": "A1",
    "import_customs_done": "10",
    "in_transit": "T1",
    "arrived_facility": "07",
    "departed_facility": "L1",
    "out_for_delivery": "OF",
    "delivery_failed": "02",
    "available_for_pickup": "16",
    "delivered": "01",
    "returning": "09",
    "returned": "09",
}

#: The simulator's ``statusCategory`` for a canonical status.
CATEGORY_OF: dict[str, str] = {
    "info_received": "Pre-Shipment",
    "in_transit": "In Transit",
    "out_for_delivery": "Out for Delivery",
    "available_for_pickup": "Available for Pickup",
    "delivery_failed": "Delivery Attempt",
    "exception": "Alert",
    "returning": "Return to Sender",
    "returned": "Return to Sender",
    "delivered": "Delivered",
}


def map_category(category: str | None) -> Status | None:
    """The status a ``statusCategory`` names (None when absent or unknown)."""
    if not category:
        return None
    return STATUS_CATEGORY.get(category.strip().lower().replace(" ", ""))


def map_event(code: str | None) -> tuple[Status, SubStatus | None]:
    """The status of an ``eventCode`` (``unknown`` when not in the table)."""
    return EVENT_CODE.get((code or "").strip().upper(), (Status.UNKNOWN, None))
