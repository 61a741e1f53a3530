"""The simulated UPS APIs: OAuth2 token (HTTP Basic) and Track API v1 details.

Mounted at ``/ups``: ``POST /ups/security/v1/oauth/token`` (``grant_type=
client_credentials``, the client id and secret as HTTP Basic) and ``GET
/ups/api/track/v1/details/{number}`` with the ``transId`` and ``transactionSrc``
headers (without one: 400). A number UPS does not know is HTTP 200 with the
warning ``TW0001``; one that is not 7-34 letters and digits is 400 ``TV1002``.
Without a live bearer token: 401 ``250002``.
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
from collector.simulator.model import Event
from collector.sources.ups.status_map import KIND_STATUS

CLIENT_ID = "simulator-ups-client"
CLIENT_SECRET = "simulator-ups-secret"
_NUMBER = re.compile(r"^[A-Z0-9]{7,34}$")
_DETAILS = "/api/track/v1/details/"


class Endpoints(BaseEndpoints):
    """UPS on the simulator's port (see the module docstring)."""

    source: ClassVar[str] = "ups"
    mount: ClassVar[str] = "/ups"
    huge_prefix: ClassVar[bytes] = b'{"trackResponse":{"shipment":[]}'
    credential_values: ClassVar[Mapping[str, str]] = {
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
    }

    def __init__(self, simulator: Any) -> None:
        super().__init__(simulator)
        self.oauth = OAuthDesk(CLIENT_ID, CLIENT_SECRET, lifetime=14399.0, basic=True)

    def route(self, method: str, path: str) -> str | None:
        if path == "/security/v1/oauth/token":
            return "token"
        if path.startswith(_DETAILS) and len(path) > len(_DETAILS):
            return "details"
        return None

    def numbers(self, endpoint: str, request: SimRequest) -> tuple[str, ...]:
        return (request.path[len(_DETAILS) :],) if endpoint == "details" else ()

    def answer(self, endpoint: str, request: SimRequest) -> Reply:
        if endpoint == "token":
            if request.method != "POST":
                return _errors(405, "405", "Method Not Allowed")
            return self.oauth.token(request)
        if request.method != "GET":
            return _errors(405, "405", "Method Not Allowed")
        if not self.oauth.accepts(request):
            return _errors(401, "250002", "Invalid Authentication Information.")
        for header in ("transId", "transactionSrc"):
            if not (request.header(header) or "").strip():
                return _errors(400, "VSS000", f"Missing or invalid {header} header")
        number = request.path[len(_DETAILS) :]
        if not _NUMBER.match(number.upper()):
            return _errors(400, "TV1002", "Invalid inquiry number")
        view = self.simulator.view(number, "ups")
        if view is None:
            return json_reply(
                {
                    "trackResponse": {
                        "shipment": [
                            {
                                "inquiryNumber": number,
                                "warnings": [
                                    {"code": "TW0001", "message": "Tracking Information Not Found"}
                                ],
                            }
                        ]
                    }
                }
            )
        return json_reply({"trackResponse": {"shipment": [shipment(view)]}})


def _errors(status: int, code: str, message: str) -> Reply:
    return json_reply({"response": {"errors": [{"code": code, "message": message}]}}, status)


def activity(event: Event) -> dict[str, Any]:
    """One ``activity[]`` entry as UPS writes it (local date and time, GMT beside)."""
    place = event.place
    kind, code = KIND_STATUS.get(event.kind, ("I", "IT"))
    address: dict[str, Any] = {}
    if place is not None:
        address = {
            "city": place.city,
            "stateProvince": place.state,
            "postalCode": place.postal_code,
            "country": place.country,
            "countryCode": place.country,
        }
        address = {k: v for k, v in address.items() if v}
    out: dict[str, Any] = {
        "location": {"address": address},
        "status": {
            "type": kind,
            "description": event.description,
            "code": code,
            "statusCode": "003" if kind == "I" else "011" if kind == "D" else "005",
        },
        "date": f"{event.at:%Y%m%d}",
        "time": f"{event.at:%H%M%S}",
    }
    if event.zone_known:
        delta = event.at.utcoffset()
        minutes = int(delta.total_seconds() // 60) if delta else 0
        sign = "-" if minutes < 0 else "+"
        utc = event.at.astimezone(UTC)
        out["gmtDate"] = f"{utc:%Y%m%d}"
        out["gmtTime"] = f"{utc:%H:%M:%S}"
        out["gmtOffset"] = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return out


def shipment(view: CarrierView) -> dict[str, Any]:
    """The ``shipment[0]`` object for one number, activity newest first."""
    scenario = view.scenario
    last = view.events[-1] if view.events else None
    kind, code = KIND_STATUS.get(last.kind, ("I", "IT")) if last else ("M", "MP")
    package: dict[str, Any] = {
        "trackingNumber": view.number,
        "currentStatus": {
            "type": kind,
            "code": code,
            "description": last.description if last else "Shipper created a label",
            "simplifiedTextDescription": last.description if last else "Label Created",
        },
        "activity": [activity(e) for e in reversed(view.events)],
        "service": {"code": "003", "description": "UPS Ground"},
    }
    if scenario.eta and (last is None or last.spec.canonical != "delivered"):
        package["deliveryDate"] = [{"type": "SDD", "date": f"{scenario.eta[1]:%Y%m%d}"}]
        package["deliveryTime"] = {
            "type": "EDW",
            "startTime": f"{scenario.eta[0]:%H%M%S}",
            "endTime": f"{scenario.eta[1]:%H%M%S}",
        }
    delivered = [e for e in view.events if e.spec.canonical == "delivered"]
    if delivered:
        package["deliveryDate"] = [{"type": "DEL", "date": f"{delivered[-1].at:%Y%m%d}"}]
        package["deliveryInformation"] = {"receivedBy": "", "location": "Front Door"}
    return {"inquiryNumber": view.number, "package": [package]}
