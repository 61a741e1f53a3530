"""The simulated USPS APIs: OAuth2 token, Tracking v3r2 (batch) and v3 (single).

Mounted at ``/usps``: ``POST /usps/oauth2/v3/token`` (form ``grant_type=
client_credentials&client_id&client_secret``), ``POST /usps/tracking/v3r2/tracking``
(a JSON array of ``{"trackingNumber"}``; a JSON array back, ``207`` when some
numbers failed) and ``GET /usps/tracking/v3/tracking/{number}``. A number USPS does
not know (yet) is a 404 item ``"not yet in system"``; one that is not 4-34 letters
and digits is a 400 item. Without a live bearer token: 401.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any, ClassVar

from collector.simulator.endpoints import (
    CarrierView,
    OAuthDesk,
    Reply,
    SimRequest,
    json_reply,
)
from collector.simulator.endpoints import (
    Endpoints as BaseEndpoints,
)
from collector.simulator.model import Event, utc_text
from collector.sources.usps.status_map import CATEGORY_OF, KIND_CODE

CLIENT_ID = "simulator-usps-client"
CLIENT_SECRET = "simulator-usps-secret"
_NUMBER = re.compile(r"^[A-Z0-9]{4,34}$")
_TRACKING_V3 = "/tracking/v3/tracking/"


class Endpoints(BaseEndpoints):
    """USPS on the simulator's port (see the module docstring)."""

    source: ClassVar[str] = "usps"
    mount: ClassVar[str] = "/usps"
    huge_prefix: ClassVar[bytes] = b'{"apiVersion":"v3r2"'
    credential_values: ClassVar[Mapping[str, str]] = {
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
    }

    def __init__(self, simulator: Any) -> None:
        super().__init__(simulator)
        self.oauth = OAuthDesk(CLIENT_ID, CLIENT_SECRET)

    def route(self, method: str, path: str) -> str | None:
        if path == "/oauth2/v3/token":
            return "token"
        if path == "/tracking/v3r2/tracking":
            return "track"
        if path.startswith(_TRACKING_V3) and len(path) > len(_TRACKING_V3):
            return "track-v3"
        return None

    def numbers(self, endpoint: str, request: SimRequest) -> tuple[str, ...]:
        if endpoint == "track":
            items = request.json()
            if isinstance(items, list):
                return tuple(
                    str(i["trackingNumber"])
                    for i in items
                    if isinstance(i, dict) and isinstance(i.get("trackingNumber"), str)
                )
        if endpoint == "track-v3":
            return (request.path[len(_TRACKING_V3) :],)
        return ()

    def answer(self, endpoint: str, request: SimRequest) -> Reply:
        if request.method != "POST" and endpoint in ("token", "track"):
            return _error(405, "Method Not Allowed")
        if endpoint == "token":
            return self.oauth.token(request)
        if not self.oauth.accepts(request):
            return _error(401, "Unauthorized: missing or expired access token")
        if endpoint == "track-v3":
            number = request.path[len(_TRACKING_V3) :]
            item, status = self._item(number, v3=True)
            if status != 200:
                return _error(status, item["error"]["message"])
            return json_reply(item)
        items = request.json()
        if not isinstance(items, list) or not items:
            return _error(400, "Request body must be a non-empty array of trackingNumber objects")
        answers = []
        failed = 0
        for raw in items:
            given = raw.get("trackingNumber") if isinstance(raw, dict) else None
            item, status = self._item(given if isinstance(given, str) else "", v3=False)
            failed += status != 200
            answers.append(item)
        return json_reply(answers, status=207 if failed else 200)

    def _item(self, number: str, *, v3: bool) -> tuple[dict[str, Any], int]:
        if not _NUMBER.match(number.upper()):
            return _item_error(number, 400, "Invalid tracking number"), 400
        view = self.simulator.view(number, "usps")
        if view is None:
            return _item_error(
                number,
                404,
                "A status update is not yet available on your package (not yet in system)",
            ), 404
        return tracking_object(view, v3=v3), 200


def _error(status: int, message: str) -> Reply:
    return json_reply(
        {"apiVersion": "v3", "error": {"code": str(status), "message": message, "errors": []}},
        status=status,
    )


def _item_error(number: str, status: int, message: str) -> dict[str, Any]:
    return {
        "trackingNumber": number,
        "statusCode": str(status),
        "error": {"code": str(status), "message": message},
    }


def _offset_text(event: Event) -> str:
    delta = event.at.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60}:{minutes % 60:02d}"


def tracking_event(event: Event, *, v3: bool) -> dict[str, Any]:
    """One ``trackingEvents[]`` entry as USPS writes it."""
    place = event.place
    country = (place.country if place else None) or ""
    out: dict[str, Any] = {
        "eventType": event.description,
        "eventTimestamp": event.at.replace(tzinfo=None).isoformat(timespec="seconds"),
        "eventCountry": "" if country == "US" else country,
        "eventCity": ((place.city if place else None) or "").upper(),
        "eventState": (place.state if place else None) or "",
        "eventZIP" if v3 else "eventZIPCode": (place.postal_code if place else None) or "",
        "firm": "",
        "name": "",
        "authorizedAgent": "false",
        "eventCode": KIND_CODE.get(event.kind, "T1"),
    }
    if event.zone_known:
        out["GMTTimestamp"] = utc_text(event.at)
        out["GMTOffset"] = _offset_text(event)
    return out


def tracking_object(view: CarrierView, *, v3: bool) -> dict[str, Any]:
    """A tracking answer for one number, newest event first."""
    scenario = view.scenario
    last = view.events[-1] if view.events else None
    category = CATEGORY_OF.get(last.spec.canonical if last else "info_received", "In Transit")
    obj: dict[str, Any] = {
        "trackingNumber": view.number,
        "mailClass": "First-Class Package International Service"
        if view.last_mile
        else "Priority Mail",
        "mailClassCode": "LC" if view.last_mile else "PM",
        "status": last.description if last else "Pre-Shipment",
        "statusCategory": category,
        "statusSummary": (
            f"Your item was {last.description.lower()} at {last.at:%I:%M %p} on {last.at:%B %d, %Y}"
            if last
            else "No events"
        ),
        "destinationCity": "",
        "destinationState": "",
        "destinationZIP": "",
        "trackingEvents": [tracking_event(e, v3=v3) for e in reversed(view.events)],
    }
    if scenario.eta and not v3:
        obj["deliveryDateExpectation"] = {
            "expectedDeliveryDate": scenario.eta[1].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "predictedDeliveryWindowStartTime": utc_text(scenario.eta[0]),
            "predictedDeliveryWindowEndTime": utc_text(scenario.eta[1]),
        }
    elif scenario.eta:
        obj["expectedDeliveryTimeStamp"] = utc_text(scenario.eta[1])
    if not v3:
        obj["uniqueTrackingID"] = f"{view.number}-sim"
    return obj
