"""Render scenarios as Cainiao ``global/detail.json`` modules (carriers.md §2).

Shaped like the real capture in ``reference/samples/cainiao-detail-AE010698498.json``:
``{"module": [...], "success": true}``; one module per requested number with
``detailList`` newest first, ``time`` in epoch milliseconds, ``timeStr`` local,
``timeZone`` in the mixed forms seen in real data (``GMT+8``, ``GMT+0800``,
``GMT+08:00``, and ``""`` when the carrier gave no zone), ``standerdDesc`` with a
``[City]`` prefix where the place is known. A number Cainiao cannot track is a
module with ``mailNoSource: "EXTERNAL"`` and an empty ``detailList``.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from collector.simulator.model import Event, Scenario

COUNTRY_NAMES = {
    "AU": "Australia",
    "BR": "Brazil",
    "CA": "Canada",
    "CH": "Switzerland",
    "CN": "Mainland China",
    "DE": "Germany",
    "ES": "Spain",
    "FR": "France",
    "GB": "United Kingdom",
    "HK": "Hong Kong, China",
    "IL": "Israel",
    "IT": "Italy",
    "JP": "Japan",
    "KR": "Korea",
    "MX": "Mexico",
    "NL": "Netherlands",
    "PL": "Poland",
    "PT": "Portugal",
    "SE": "Sweden",
    "SG": "Singapore",
    "US": "United States",
}

# Icons as in the real capture; purely cosmetic.
_ICON_NOW = (
    "https://img.alicdn.com/imgextra/i4/O1CN01MZ8JBd1yVWTLbfuHQ_!!6000000006584-2-tps-48-48.png"
)
_ICON_PAST = (
    "https://img.alicdn.com/imgextra/i1/O1CN01fPAIee1a5pTIgKnuB_!!6000000003279-2-tps-48-48.png"
)

# Module status by event kind: (status, statusDesc, progressRate).
_MODULE_STATUS: dict[str, tuple[str, str, float]] = {
    "info_received": ("WAIT_ACCEPT", "Awaiting pickup", 0.125),
    "warehouse_outbound": ("WAIT_ACCEPT", "Awaiting pickup", 0.125),
    "import_customs_start": ("CLEAR_CUSTOMS", "Clearing customs", 0.5),
    "import_customs_done": ("CLEAR_CUSTOMS", "Clearing customs", 0.5),
    "customs_held": ("FAILED", "Customs exception", 0.5),
    "arrived_destination": ("DELIVERING", "Delivering", 0.625),
    "handover_last_mile": ("DELIVERING", "Delivering", 0.625),
    "last_mile_accept": ("DELIVERING", "Delivering", 0.625),
    "arrived_facility": ("DELIVERING", "Delivering", 0.625),
    "departed_facility": ("DELIVERING", "Delivering", 0.625),
    "out_for_delivery": ("DELIVERING", "Out for delivery", 0.875),
    "available_for_pickup": ("DELIVERING", "Ready for pickup", 0.875),
    "delivery_failed": ("FAILED", "Delivery failed", 0.875),
    "delivered": ("DELIVERED", "Delivered", 1.0),
    "returning": ("RETURN", "Returning", 0.875),
    "returned": ("RETURN", "Returned", 1.0),
}
_TRANSITING = ("TRANSITING", "In transit", 0.375)
_ABNORMAL = {"FAILED", "RETURN"}


def response(modules: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole ``detail.json`` answer."""
    return {"module": modules, "success": True}


def time_zone_text(event: Event, style: int) -> str:
    """The event's offset in one of the three forms Cainiao mixes (``""`` if unknown).

    >>> from datetime import datetime
    >>> e = Event(datetime.fromisoformat("2026-10-24T05:26:00+08:00"), "picked_up", "x")
    >>> [time_zone_text(e, s) for s in range(3)]
    ['GMT+8', 'GMT+0800', 'GMT+08:00']
    """
    if not event.zone_known:
        return ""
    raw = event.at.strftime("%z")  # +0800
    sign, hours, minutes = raw[0], raw[1:3], raw[3:5]
    if style % 3 == 0 and minutes == "00":
        return f"GMT{sign}{int(hours)}"
    if style % 3 == 1:
        return f"GMT{sign}{hours}{minutes}"
    return f"GMT{sign}{hours}:{minutes}"


def _detail(event: Event, style: int) -> dict[str, Any]:
    spec = event.spec
    city = event.place.city if event.place else None
    detail: dict[str, Any] = {
        "time": int(event.at.timestamp() * 1000),
        "timeStr": event.at.strftime("%Y-%m-%d %H:%M:%S"),
        "desc": event.description,
        "standerdDesc": f"[{city}] {spec.text}" if city else spec.text,
        "descTitle": "Carrier note:",
        "timeZone": time_zone_text(event, style),
        "actionCode": spec.action,
    }
    if spec.group:
        detail["group"] = {
            "nodeCode": spec.group[0],
            "nodeDesc": spec.group[1],
            "currentIconUrl": _ICON_NOW,
            "historyIconUrl": _ICON_PAST,
        }
    return detail


def not_found(number: str) -> dict[str, Any]:
    """The module of a number Cainiao knows nothing about."""
    return {
        "mailNo": number,
        "originCountry": "",
        "destCountry": "",
        "status": "",
        "statusDesc": "",
        "mailNoSource": "EXTERNAL",
        "detailList": [],
    }


def module(
    scenario: Scenario | None, number: str, *, now: datetime, as_of: datetime | None
) -> dict[str, Any]:
    """One ``module[]`` entry for a requested number."""
    events = scenario.visible(as_of) if scenario else ()
    if scenario is None or not events:
        return not_found(number)
    seed = zlib.crc32(scenario.number.encode())
    details = [_detail(e, seed + i) for i, e in enumerate(events)]
    details.reverse()
    status, status_desc, rate = _MODULE_STATUS.get(events[-1].kind, _TRANSITING)
    origin = COUNTRY_NAMES.get(scenario.origin or "", scenario.origin or "")
    destination = COUNTRY_NAMES.get(scenario.destination or "", scenario.destination or "")
    points: list[dict[str, Any]] = [
        {"pointName": origin, "light": True},
        {"pointName": destination},
        {"pointName": "Destination city", "reload": True},
        {"pointName": "Delivered"},
    ]
    for point, threshold in zip(points[1:], (0.5, 0.625, 1.0), strict=True):
        if rate >= threshold:
            point["light"] = True
    delivered = next((e.at for e in events if e.kind == "delivered"), None)
    days = max(0, ((delivered or now) - events[0].at).days)
    out: dict[str, Any] = {
        "mailNo": number,
        "originCountry": origin,
        "destCountry": destination,
        "status": status,
        "statusDesc": status_desc,
        "mailNoSource": "AE",
        "processInfo": {
            "progressStatus": "ABNORMAL" if status in _ABNORMAL else "NORMAL",
            "progressRate": rate,
            "type": "CROSS" if scenario.origin != scenario.destination else "DOMESTIC",
            "progressPointList": points,
        },
        "latestTrace": dict(details[0]),
        "detailList": details,
        "daysNumber": f"{days}\tday(s)",
    }
    if scenario.eta:
        low, high = scenario.eta
        out["globalEtaInfo"] = {
            "etaDesc": f"Estimated delivery: {low:%b %d} - {high:%b %d}",
            "deliveryMinTime": int(low.timestamp() * 1000),
            "deliveryMaxTime": int(high.timestamp() * 1000),
        }
    last_mile = scenario.carrier_for(1)
    if scenario.last_mile_number and last_mile is not None and scenario.handed_over(events):
        out["realMailNo"] = f"Latest Tracking Number:\t{scenario.last_mile_number}"
        out["copyRealMailNo"] = scenario.last_mile_number
        out["destCpInfo"] = {
            "cpName": last_mile.name,
            "cpCode": last_mile.cainiao or last_mile.code.upper(),
            "url": last_mile.homepage,
        }
    return out
