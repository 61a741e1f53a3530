"""Render scenarios in 17TRACK Tracking API v2.2 JSON (carriers.md §1).

Pure functions from the neutral model to the documented structures; the server
(:mod:`.server`) decides which one to send. Shapes:

- envelope ``{"code": 0, "data": {"accepted": [...], "rejected": [...]}}``;
- whole-call failure ``{"code": <code>, "data": {"errors": [{"code", "message"}]}}``;
- rejected entry ``{"number", "error": {"code", "message"}}``;
- register accepted entry ``{"origin", "number", "carrier", "email", "tag", "lang"}``;
- gettrackinfo accepted entry ``{"number", "carrier", "param", "tag", "track_info"}``
  (see :func:`track_info`).

Provider order: the carrier holding the parcel last comes first; events newest
first within a provider (clients must merge providers and sort on ``time_utc``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from collector.simulator.model import Carrier, Event, Place, Scenario, utc_text

# Error codes (carriers.md §1, from 17TRACK's error page).
INVALID_KEY = -18010002
DATA_MISSING = -18010010
INVALID_FORMAT = -18010012
INVALID_SUBMITTED = -18010013
TOO_MANY_NUMBERS = -18010014
ALREADY_REGISTERED = -18019901
NOT_REGISTERED = -18019902
CARRIER_NOT_DETECTED = -18019903
QUOTA_EXHAUSTED = -18019908

MAX_NUMBERS = 40

MESSAGES: dict[int, str] = {
    INVALID_KEY: "Invalid security key.",
    DATA_MISSING: "The data of 'number' is missing.",
    INVALID_FORMAT: "The format of '{number}' is invalid.",
    INVALID_SUBMITTED: "The submitted data is invalid, a JSON array is expected.",
    TOO_MANY_NUMBERS: "The number of submitted tracking numbers exceeds the limit of 40.",
    ALREADY_REGISTERED: (
        "The tracking number '{number}' has been registered, don't need to repeat registration."
    ),
    NOT_REGISTERED: "The tracking number '{number}' does not register, please register first.",
    CARRIER_NOT_DETECTED: (
        "The carrier of '{number}' cannot be detected, please specify the carrier."
    ),
    QUOTA_EXHAUSTED: "The quota is exhausted, please recharge.",
}

KEY_STAGES = (
    "InfoReceived",
    "PickedUp",
    "Departure",
    "Arrival",
    "AvailableForPickup",
    "OutForDelivery",
    "Delivered",
    "Returning",
    "Returned",
)

_NULL_RAW = {"date": None, "time": None, "timezone": None}


def message(code: int, number: str = "") -> str:
    """The message 17TRACK sends with an error code."""
    return MESSAGES.get(code, "Error.").format(number=number)


def envelope(accepted: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> dict[str, Any]:
    """The success envelope of every endpoint."""
    return {"code": 0, "data": {"accepted": accepted, "rejected": rejected}}


def call_error(code: int) -> dict[str, Any]:
    """A whole-call failure (bad key, too many numbers, unreadable body)."""
    return {"code": code, "data": {"errors": [{"code": code, "message": message(code)}]}}


def rejected(number: str, code: int) -> dict[str, Any]:
    """One ``rejected[]`` entry."""
    return {"number": number, "error": {"code": code, "message": message(code, number)}}


def register_accepted(number: str, carrier: int, tag: str | None) -> dict[str, Any]:
    """One ``accepted[]`` entry of ``/register``."""
    return {
        "origin": 1,
        "number": number,
        "carrier": carrier,
        "email": None,
        "tag": tag,
        "lang": None,
    }


def quota(total: int, used: int, today_used: int) -> dict[str, Any]:
    """The ``/getquota`` answer."""
    return {
        "code": 0,
        "data": {
            "quota_total": total,
            "quota_used": used,
            "quota_remain": max(0, total - used),
            "today_used": today_used,
            "max_track_daily": total,
            "free_email_quota": 0,
            "free_email_quotaused": 0,
        },
    }


def tracked_item(  # noqa: PLR0913 - keyword-only: the fields of one entry
    scenario: Scenario | None,
    number: str,
    *,
    carrier: int,
    tag: str | None,
    param: str | None,
    now: datetime,
    as_of: datetime | None,
) -> dict[str, Any]:
    """One ``accepted[]`` entry of ``/gettrackinfo`` for a registered number."""
    return {
        "number": number,
        "carrier": carrier,
        "param": param,
        "tag": tag,
        "track_info": track_info(scenario, now=now, as_of=as_of),
    }


def track_info(
    scenario: Scenario | None, *, now: datetime, as_of: datetime | None
) -> dict[str, Any]:
    """``track_info`` of a number (a NotFound answer when there is no scenario)."""
    events = scenario.visible(as_of) if scenario else ()
    newest = _event(events[-1]) if events else None
    return {
        "shipping_info": {
            "shipper_address": _address(Place(country=scenario.origin if scenario else None)),
            "recipient_address": _address(
                Place(country=scenario.destination if scenario else None)
            ),
        },
        "latest_status": latest_status(scenario, events),
        "latest_event": newest,
        "time_metrics": _time_metrics(scenario, events, now),
        "milestone": _milestones(events),
        "misc_info": _misc_info(scenario, events),
        "tracking": _tracking(scenario, events, now),
    }


def latest_status(scenario: Scenario | None, events: tuple[Event, ...]) -> dict[str, Any]:
    """``latest_status``: from the outcome, else from the newest event's kind."""
    if scenario is None or scenario.outcome == "not_found" or not events:
        if scenario is not None and scenario.outcome == "invalid":
            return {"status": "NotFound", "sub_status": "NotFound_InvalidCode",
                    "sub_status_descr": None}  # fmt: skip
        return {"status": "NotFound", "sub_status": "NotFound_Other", "sub_status_descr": None}
    if scenario.outcome == "expired":
        return {"status": "Expired", "sub_status": "Expired_Other", "sub_status_descr": None}
    last = events[-1]
    sub_status = last.spec.sub_status
    status = sub_status.split("_", 1)[0]
    descr = last.description if status in ("Exception", "DeliveryFailure") else None
    return {"status": status, "sub_status": sub_status, "sub_status_descr": descr}


def _offset(value: datetime) -> str:
    text = value.strftime("%z")  # +0800
    return f"{text[:3]}:{text[3:]}"


def _address(place: Place | None) -> dict[str, Any]:
    place = place or Place()
    return {
        "country": place.country,
        "state": place.state,
        "city": place.city,
        "street": None,
        "postal_code": place.postal_code,
        "coordinates": {"longitude": None, "latitude": None},
    }


def _location(place: Place | None) -> str | None:
    if place is None:
        return None
    parts = [place.city, place.state, place.postal_code, place.country]
    return ", ".join(p for p in parts if p) or None


def _time_raw(event: Event) -> dict[str, Any]:
    return {
        "date": event.at.strftime("%Y-%m-%d"),
        "time": event.at.strftime("%H:%M:%S"),
        "timezone": _offset(event.at) if event.zone_known else None,
    }


def _event(event: Event) -> dict[str, Any]:
    spec = event.spec
    return {
        "time_iso": event.at.isoformat(timespec="seconds"),
        "time_utc": utc_text(event.at),
        "time_raw": _time_raw(event),
        "description": event.description,
        "description_translation": (
            {"lang": "en", "description": event.translation} if event.translation else None
        ),
        "location": _location(event.place),
        "stage": spec.stage,
        "sub_status": spec.sub_status,
        "address": _address(event.place),
    }


def _days(seconds: float) -> int:
    return max(0, int(seconds // 86400))


def _time_metrics(
    scenario: Scenario | None, events: tuple[Event, ...], now: datetime
) -> dict[str, Any]:
    eta = scenario.eta if scenario else None
    estimated = {
        "source": "Official" if eta else None,
        "from": eta[0].isoformat(timespec="seconds") if eta else None,
        "to": eta[1].isoformat(timespec="seconds") if eta else None,
    }
    if not events:
        return {
            "days_after_order": 0,
            "days_of_transit": 0,
            "days_of_transit_done": 0,
            "days_after_last_update": 0,
            "estimated_delivery_date": estimated,
        }
    delivered = next((e.at for e in events if e.spec.stage == "Delivered"), None)
    end = delivered or now
    picked = next((e.at for e in events if e.spec.stage == "PickedUp"), events[0].at)
    transit = _days((end - picked).total_seconds())
    return {
        "days_after_order": _days((end - events[0].at).total_seconds()),
        "days_of_transit": transit,
        "days_of_transit_done": transit if delivered else 0,
        "days_after_last_update": _days((now - events[-1].at).total_seconds()),
        "estimated_delivery_date": estimated,
    }


def _milestones(events: tuple[Event, ...]) -> list[dict[str, Any]]:
    out = []
    for stage in KEY_STAGES:
        first = next((e for e in events if e.spec.stage == stage), None)
        out.append(
            {
                "key_stage": stage,
                "time_iso": first.at.isoformat(timespec="seconds") if first else None,
                "time_utc": utc_text(first.at) if first else None,
                "time_raw": _time_raw(first) if first else dict(_NULL_RAW),
            }
        )
    return out


def _misc_info(scenario: Scenario | None, events: tuple[Event, ...]) -> dict[str, Any]:
    local: Carrier | None = None
    number = None
    if scenario is not None and scenario.handed_over(events):
        local = scenario.carrier_for(1)
        number = scenario.last_mile_number
    return {
        "risk_factor": 0,
        "service_type": scenario.service_type if scenario else None,
        "weight_raw": None,
        "weight_kg": None,
        "pieces": None,
        "dimensions": None,
        "customer_number": None,
        "reference_number": None,
        "local_number": number,
        "local_provider": local.name if local else None,
        "local_key": local.key if local else 0,
    }


def _hash32(value: Any) -> int:
    """A stable signed 32-bit hash (17TRACK sends ``events_hash`` as an int)."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


def _provider(carrier: Carrier) -> dict[str, Any]:
    return {
        "key": carrier.key,
        "name": carrier.name,
        "alias": carrier.name,
        "tel": carrier.tel,
        "homepage": carrier.homepage,
        "country": carrier.country,
    }


def _tracking(
    scenario: Scenario | None, events: tuple[Event, ...], now: datetime
) -> dict[str, Any]:
    providers: list[dict[str, Any]] = []
    if scenario is not None and scenario.carriers:
        legs = sorted({min(e.leg, len(scenario.carriers) - 1) for e in events} or {0})
        for leg in reversed(legs):
            carrier = scenario.carriers[leg]
            rendered = [
                _event(e) for e in reversed(events) if min(e.leg, len(scenario.carriers) - 1) == leg
            ]
            providers.append(
                {
                    "provider": _provider(carrier),
                    "service_type": scenario.service_type,
                    "latest_sync_status": "Success",
                    "latest_sync_time": utc_text(now),
                    "events_hash": _hash32(rendered) if rendered else 0,
                    "events": rendered,
                }
            )
    hashes = [p["events_hash"] for p in providers]
    return {"providers_hash": _hash32(hashes) if any(hashes) else 0, "providers": providers}
