"""FedEx Track API codes → canonical status (the mapping table beside the parser).

Sources (``reference/carriers.md`` §5; karrio's FedEx fixtures): a scan event's
``eventType`` (two letters: ``OC`` shipment information sent, ``PU`` picked up,
``AR``/``DP``/``IT``/``AF`` in transit, ``OD`` on vehicle for delivery, ``DE``
delivery exception, ``DL`` delivered ...) and ``derivedStatusCode``;
``latestStatusDetail.code`` uses the same codes (``DL`` delivered). A code not
listed here falls back to the derived code, then to ``unknown``; the raw code and
text are always kept beside the canonical value.
"""

from __future__ import annotations

from collector.sources.status import Status, SubStatus

#: ``eventType`` / ``code`` → (status, sub-status).
EVENT_TYPE: dict[str, tuple[Status, SubStatus | None]] = {
    "OC": (Status.INFO_RECEIVED, None),  # Shipment information sent to FedEx
    "PU": (Status.IN_TRANSIT, SubStatus.PICKED_UP),  # Picked up
    "AF": (Status.IN_TRANSIT, SubStatus.ARRIVAL),  # At / tendered at FedEx facility
    "AR": (Status.IN_TRANSIT, SubStatus.ARRIVAL),  # Arrived at FedEx location
    "DP": (Status.IN_TRANSIT, SubStatus.DEPARTURE),  # Departed FedEx location
    "IT": (Status.IN_TRANSIT, None),  # On the way
    "AO": (Status.IN_TRANSIT, None),  # Shipment arriving on time
    "AE": (Status.IN_TRANSIT, None),  # Shipment arriving early
    "CC": (Status.IN_TRANSIT, SubStatus.CUSTOMS),  # Cleared customs
    "CD": (Status.EXCEPTION, SubStatus.CUSTOMS),  # Clearance delay
    "DY": (Status.EXCEPTION, SubStatus.DELAYED),  # Delay
    "SE": (Status.EXCEPTION, None),  # Shipment exception
    "CA": (Status.EXCEPTION, SubStatus.CANCELLED),  # Shipment cancelled
    "OD": (Status.OUT_FOR_DELIVERY, None),  # On FedEx vehicle for delivery
    "DE": (Status.DELIVERY_FAILED, None),  # Delivery exception
    "HL": (Status.AVAILABLE_FOR_PICKUP, None),  # Hold at location
    "HP": (Status.AVAILABLE_FOR_PICKUP, None),  # Ready for recipient pickup
    "RS": (Status.RETURNING, None),  # Return to shipper
    "DL": (Status.DELIVERED, None),  # Delivered
}

#: The simulator's ``eventType`` for each scenario event kind.
KIND_TYPE: dict[str, str] = {
    "info_received": "OC",
    "warehouse_outbound": "OC",
    "picked_up": "PU",
    "sorting_inbound": "AR",
    "sorting_outbound": "DP",
    "arrived_facility": "AR",
    "departed_facility": "DP",
    "arrived_destination": "AR",
    "last_mile_accept": "AF",
    "import_customs_done": "CC",
    "customs_held": "CD",
    "out_for_delivery": "OD",
    "delivery_failed": "DE",
    "available_for_pickup": "HL",
    "delivered": "DL",
    "returning": "RS",
    "returned": "RS",
}


def map_event(code: str | None, derived: str | None = None) -> tuple[Status, SubStatus | None]:
    """The canonical status of an ``eventType`` (else its ``derivedStatusCode``)."""
    for candidate in (code, derived):
        found = EVENT_TYPE.get((candidate or "").strip().upper())
        if found is not None:
            return found
    return Status.UNKNOWN, None
