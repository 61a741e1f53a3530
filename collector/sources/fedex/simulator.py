"""The simulated FedEx APIs: OAuth2 token and Track API v1 ``trackingnumbers``.

Mounted at ``/fedex``: ``POST /fedex/oauth/token`` (form ``grant_type=
client_credentials&client_id&client_secret``) and ``POST
/fedex/track/v1/trackingnumbers`` (at most 30 numbers, else 400
``TRACKING.TRACKINGNUMBER.LIMIT.EXCEEDED``); a number FedEx does not know has a
per-number ``error`` ``TRACKING.TRACKINGNUMBER.NOTFOUND``. Scan dates carry their
offset, except for an event whose zone the carrier did not give. Without a live
bearer token: 401 ``NOT.AUTHORIZED.ERROR``. An exhausted daily quota answers 429
"Daily transaction quota exceeded. Retry after 12:00AM GMT".
"""

from __future__ import annotations

from collections.abc import Mapping
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
from collector.simulator.model import Event
from collector.sources.fedex.status_map import KIND_TYPE

CLIENT_ID = "simulator-fedex-client"
CLIENT_SECRET = "simulator-fedex-secret"
MAX_NUMBERS = 30
_TRANSACTION = "7f3c2a9e-sim0-4fed-8ex0-000000000000"


class Endpoints(BaseEndpoints):
    """FedEx on the simulator's port (see the module docstring)."""

    source: ClassVar[str] = "fedex"
    mount: ClassVar[str] = "/fedex"
    huge_prefix: ClassVar[bytes] = b'{"transactionId":"huge","output":{}'
    credential_values: ClassVar[Mapping[str, str]] = {
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
    }

    def __init__(self, simulator: Any) -> None:
        super().__init__(simulator)
        self.oauth = OAuthDesk(CLIENT_ID, CLIENT_SECRET)

    def route(self, method: str, path: str) -> str | None:
        if path == "/oauth/token":
            return "token"
        if path == "/track/v1/trackingnumbers":
            return "trackingnumbers"
        return None

    def numbers(self, endpoint: str, request: SimRequest) -> tuple[str, ...]:
        return tuple(_asked(request.json())) if endpoint == "trackingnumbers" else ()

    def quota_exceeded(self) -> Reply:
        return _errors(
            429, "RATE.LIMIT.EXCEEDED", "Daily transaction quota exceeded. Retry after 12:00AM GMT"
        )

    def answer(self, endpoint: str, request: SimRequest) -> Reply:
        if request.method != "POST":
            return _errors(405, "METHOD.NOT.ALLOWED", "Method Not Allowed")
        if endpoint == "token":
            return self.oauth.token(request)
        if not self.oauth.accepts(request):
            return _errors(401, "NOT.AUTHORIZED.ERROR", "Access token expired or invalid.")
        numbers = _asked(request.json())
        if not numbers:
            return _errors(400, "TRACKING.TRACKINGNUMBER.EMPTY", "Please provide tracking number.")
        if len(numbers) > MAX_NUMBERS:
            return _errors(
                400,
                "TRACKING.TRACKINGNUMBER.LIMIT.EXCEEDED",
                f"At most {MAX_NUMBERS} tracking numbers per request.",
            )
        results = []
        for number in numbers:
            view = self.simulator.view(number, "fedex")
            results.append(
                {
                    "trackingNumber": number,
                    "trackResults": [track_result(view) if view else _not_found(number)],
                }
            )
        return json_reply(
            {"transactionId": _TRANSACTION, "output": {"completeTrackResults": results}}
        )


def _asked(document: Any) -> list[str]:
    infos = document.get("trackingInfo") if isinstance(document, dict) else None
    out: list[str] = []
    for info in infos if isinstance(infos, list) else []:
        inner = info.get("trackingNumberInfo") if isinstance(info, dict) else None
        number = inner.get("trackingNumber") if isinstance(inner, dict) else None
        if isinstance(number, str) and number.strip():
            out.append(number.strip())
    return out


def _errors(status: int, code: str, message: str) -> Reply:
    return json_reply(
        {"transactionId": _TRANSACTION, "errors": [{"code": code, "message": message}]}, status
    )


def _not_found(number: str) -> dict[str, Any]:
    return {
        "trackingNumberInfo": {"trackingNumber": number, "trackingNumberUniqueId": ""},
        "error": {
            "code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
            "message": "Tracking number cannot be found. Please correct the tracking number "
            "and try again.",
        },
    }


def _date(event: Event) -> str:
    if event.zone_known:
        return event.at.isoformat(timespec="seconds")
    return event.at.replace(tzinfo=None).isoformat(timespec="seconds")


def _location(event: Event) -> dict[str, Any]:
    place = event.place
    if place is None:
        return {}
    out = {
        "city": place.city,
        "stateOrProvinceCode": place.state,
        "postalCode": place.postal_code,
        "countryCode": place.country,
    }
    return {k: v for k, v in out.items() if v}


def scan_event(event: Event) -> dict[str, Any]:
    """One ``scanEvents[]`` entry as FedEx writes it."""
    code = KIND_TYPE.get(event.kind, "IT")
    return {
        "date": _date(event),
        "eventType": code,
        "eventDescription": event.description,
        "exceptionCode": "",
        "exceptionDescription": "",
        "scanLocation": _location(event),
        "derivedStatusCode": code if code in ("DL", "OD", "PU", "DE") else "IT",
        "derivedStatus": event.description,
    }


def track_result(view: CarrierView) -> dict[str, Any]:
    """The ``trackResults[0]`` object for one number, scans newest first."""
    scenario = view.scenario
    last = view.events[-1] if view.events else None
    code = KIND_TYPE.get(last.kind, "IT") if last else "OC"
    out: dict[str, Any] = {
        "trackingNumberInfo": {
            "trackingNumber": view.number,
            "carrierCode": "FDXE",
            "trackingNumberUniqueId": f"12028~{view.number}~FDEG",
        },
        "latestStatusDetail": {
            "code": code,
            "derivedCode": code,
            "statusByLocale": last.description if last else "Label created",
            "description": last.description if last else "Label created",
            "scanLocation": _location(last) if last else {},
        },
        "dateAndTimes": [],
        "serviceDetail": {"type": "INTERNATIONAL_ECONOMY", "description": "FedEx International"},
        "scanEvents": [scan_event(e) for e in reversed(view.events)],
    }
    delivered = [e for e in view.events if e.spec.canonical == "delivered"]
    if delivered:
        out["dateAndTimes"].append({"type": "ACTUAL_DELIVERY", "dateTime": _date(delivered[-1])})
        out["deliveryDetails"] = {"receivedByName": "", "deliveryAttempts": "0"}
    elif scenario.eta:
        out["estimatedDeliveryTimeWindow"] = {
            "window": {
                "begins": scenario.eta[0].isoformat(timespec="seconds"),
                "ends": scenario.eta[1].isoformat(timespec="seconds"),
            }
        }
    return out
