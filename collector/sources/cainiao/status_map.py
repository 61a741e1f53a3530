"""Cainiao ``actionCode`` and module ``status`` → canonical status (beside the parser).

Sources: ``reference/carriers.md`` §2 (action codes seen in real data, the module
status values seen and listed by community mappers) and the real capture
``reference/samples/cainiao-detail-AE010698498.json``. The raw code is always kept.

An action code not in the table is mapped only when its name leaves no doubt:
``RT_...``/``..._RETURN...`` returning (returned when it ends ``SIGNED``,
``RECEIVED`` ...), ``CC_..._FAILURE``/``CC_..._EXCEPTION`` exception (customs),
``..._DELIVERY_FAILED`` delivery failed, and movement (``..._DEPART``, ``LH_...``,
``..._INBOUND`` ...) in transit; anything else is ``unknown``, so that a new code
never silently reads as progress.
"""

from __future__ import annotations

import re

from collector.sources.status import Status, SubStatus

#: Action codes with a status other than plain ``in_transit``.
ACTION_CODES: dict[str, tuple[Status, SubStatus | None]] = {
    "GWMS_ACCEPT": (Status.INFO_RECEIVED, None),
    "GTMS_ASN": (Status.INFO_RECEIVED, None),
    "CONSIGN": (Status.INFO_RECEIVED, None),
    "GTMS_SIGNED": (Status.DELIVERED, None),
    # Accepted by a pickup station: waiting for the buyer, *not* delivered.
    "GTMS_STA_SIGNED": (Status.AVAILABLE_FOR_PICKUP, None),
    "GTMS_WAIT_SELF_PICK": (Status.AVAILABLE_FOR_PICKUP, None),
    "GTMS_DO_DEPART": (Status.OUT_FOR_DELIVERY, None),
    "GTMS_DEL_FAILURE": (Status.DELIVERY_FAILED, None),
    "CC_IM_FAILURE": (Status.EXCEPTION, SubStatus.CUSTOMS),
    "CC_EX_FAILURE": (Status.EXCEPTION, SubStatus.CUSTOMS),
    "CC_EX_START": (Status.IN_TRANSIT, SubStatus.CUSTOMS),
    "CC_EX_SUCCESS": (Status.IN_TRANSIT, SubStatus.CUSTOMS),
    "CC_IM_START": (Status.IN_TRANSIT, SubStatus.CUSTOMS),
    "CC_IM_SUCCESS": (Status.IN_TRANSIT, SubStatus.CUSTOMS),
    "CC_HO_IN_SUCCESS": (Status.IN_TRANSIT, SubStatus.CUSTOMS),
    "CC_HO_OUT_SUCCESS": (Status.IN_TRANSIT, SubStatus.CUSTOMS),
}

#: Known plain transit codes (seen in real data).
TRANSIT_CODES = frozenset(
    {
        "GWMS_PACKAGE",
        "GWMS_OUTBOUND",
        "WMS_CONFIRMED",
        "PU_PICKUP_SUCCESS",
        "SC_INBOUND_SUCCESS",
        "SC_OUTBOUND_SUCCESS",
        "LH_HO_IN_SUCCESS",
        "LH_HO_AIRLINE",
        "LH_DEPART",
        "LH_ARRIVE",
        "LH_POST_COLLECTION",
        "TRANSIT_PORT_REROUTE_CALLBACK",
        "COMMON_INTRANSIT",
        "GTMS_OE_DEPART",
        "GTMS_SC_ARRIVE",
        "GTMS_SC_DEPART",
        "GTMS_ACCEPT",
        "CW_OUTBOUND",
    }
)

#: A code whose name clearly says the parcel moved.
_TRANSIT_LIKE = re.compile(
    r"^(LH|SC|PU|TRANSIT)_|_(DEPART|ARRIVE|INBOUND|OUTBOUND|INTRANSIT|TRANSIT)(_|$)"
    r"|_(IN|OUT)_SUCCESS$"
)
#: Return codes that mean the parcel is back with the sender.
_RETURNED = re.compile(r"(SIGNED|RECEIVED|DELIVERED|COMPLETE|SUCCESS)$")

#: Module-level ``status`` values (the shipment's summary on the tracking page),
#: reviewed against ``reference/carriers.md`` §2: the real ones (``DELIVERING``,
#: ``CLEAR_CUSTOMS``, ``DELIVERED``), the mappers' list and the older page set.
MODULE_STATUS: dict[str, Status] = {
    # "Awaiting seller dispatch": an order whose parcel the seller has not handed
    # over. Known to Cainiao (never "not found"), with no scan yet.
    "SELLER_PREPARING": Status.INFO_RECEIVED,
    "WAIT_ACCEPT": Status.INFO_RECEIVED,
    "ACCEPTED": Status.IN_TRANSIT,
    "PICKEDUP": Status.IN_TRANSIT,
    "SHIPPING": Status.IN_TRANSIT,
    "TRANSITING": Status.IN_TRANSIT,
    "DELIVERING": Status.IN_TRANSIT,
    "CLEAR_CUSTOMS": Status.IN_TRANSIT,
    "DEPART_FROM_ORIGINAL_COUNTRY": Status.IN_TRANSIT,
    "ARRIVED_AT_DEST_COUNTRY": Status.IN_TRANSIT,
    "CWS_OUTBOUND": Status.IN_TRANSIT,
    "CWS_SIGNIN": Status.IN_TRANSIT,
    "WAIT4SIGNIN": Status.AVAILABLE_FOR_PICKUP,
    "DELIVERED": Status.DELIVERED,
    "SIGN": Status.DELIVERED,
    "SIGNIN": Status.DELIVERED,
    "SIGNIN_EXC": Status.DELIVERY_FAILED,
    "FAILED": Status.DELIVERY_FAILED,
    "RETURN": Status.RETURNING,
    "RETURNED": Status.RETURNED,
    "EXPIRED": Status.EXPIRED,
    "ORDER_NOT_EXISTS": Status.NOT_FOUND,
    "NOT_FOUND": Status.NOT_FOUND,
}

#: Detail beside a module status, where the status name carries one.
MODULE_SUB_STATUS: dict[str, SubStatus] = {
    "SELLER_PREPARING": SubStatus.SELLER_PREPARING,
    "CLEAR_CUSTOMS": SubStatus.CUSTOMS,
}

#: Module statuses that stand on their own without any event: the order is known
#: and waiting to be handed over (a result ``ok``, not ``not_found``).
KNOWN_WITHOUT_EVENTS = frozenset({Status.INFO_RECEIVED})


def map_action(code: str | None) -> tuple[Status, str | None]:
    """Canonical (status, sub-status) for an ``actionCode``.

    >>> map_action("GTMS_STA_SIGNED")
    (<Status.AVAILABLE_FOR_PICKUP: 'available_for_pickup'>, None)
    >>> map_action("LH_SOMETHING_NEW")[0], map_action("MYSTERY")[0]
    (<Status.IN_TRANSIT: 'in_transit'>, <Status.UNKNOWN: 'unknown'>)
    """
    if not code:
        return Status.UNKNOWN, None
    code = code.strip().upper()
    if code in ACTION_CODES:
        status, sub = ACTION_CODES[code]
        return status, sub.value if sub else None
    if code in TRANSIT_CODES:
        return Status.IN_TRANSIT, None
    # Variants of the codes above whose names leave no doubt.
    if code.startswith("RT_") or "RETURN" in code:
        return (Status.RETURNED if _RETURNED.search(code) else Status.RETURNING), None
    trouble = "FAIL" in code or "EXCEPTION" in code or "EXC" in code.split("_")
    if code.startswith("CC_") and trouble:
        return Status.EXCEPTION, SubStatus.CUSTOMS.value
    if "DEL_FAIL" in code or "DELIVERY_FAIL" in code:
        return Status.DELIVERY_FAILED, None
    if trouble:
        return Status.UNKNOWN, None
    if code.startswith("CC_"):
        return Status.IN_TRANSIT, SubStatus.CUSTOMS.value
    if _TRANSIT_LIKE.search(code):
        return Status.IN_TRANSIT, None
    return Status.UNKNOWN, None


def map_module_status(value: str | None) -> Status:
    """Canonical status of a module ``status`` (``unknown`` when not in the table)."""
    if not value:
        return Status.UNKNOWN
    value = value.strip().upper()
    if value in MODULE_STATUS:
        return MODULE_STATUS[value]
    if value.startswith("RETURNED_STAGE"):
        return Status.RETURNING
    if value.startswith("RDESTORYED_STAGE"):
        # "Return-destroyed" stages (sic): the parcel is being or was destroyed.
        return Status.EXCEPTION
    if "EXPIRE" in value:
        return Status.EXPIRED
    return Status.UNKNOWN


def map_module(value: str | None) -> tuple[Status, str | None]:
    """Canonical (status, sub-status) of a module ``status``.

    >>> map_module("SELLER_PREPARING")
    (<Status.INFO_RECEIVED: 'info_received'>, 'seller_preparing')
    >>> map_module("RDESTORYED_STAGE_1")
    (<Status.EXCEPTION: 'exception'>, 'destroyed')
    """
    status = map_module_status(value)
    key = (value or "").strip().upper()
    if key in MODULE_SUB_STATUS:
        return status, MODULE_SUB_STATUS[key].value
    if key.startswith("RDESTORYED_STAGE"):
        return status, SubStatus.DESTROYED.value
    return status, None
