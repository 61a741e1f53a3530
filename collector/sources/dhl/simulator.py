"""The simulated DHL Shipment Tracking – Unified API.

Mounted at ``/dhl``: ``GET /dhl/track/shipments?trackingNumber=<n>[&service=]``
with the ``DHL-API-Key`` header (else 401 ``{"status": 401, "title":
"Unauthorized"}``). A known number answers ``{"shipments": [...]}`` (events newest
first; an event whose zone the carrier did not give has no offset); an unknown
one 404 ``No result found``. An exhausted daily quota answers 429 (as DHL does
until 00:00 GMT).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from collector.simulator.endpoints import (
    CarrierView,
    Reply,
    SimRequest,
    StaticKeyDesk,
    json_reply,
)
from collector.simulator.endpoints import (
    Endpoints as BaseEndpoints,
)
from collector.simulator.model import Event, utc_text
from collector.sources.dhl.status_map import CODE_OF

API_KEY = "simulator-dhl-key"
_PROBLEM = "application/problem+json"


class Endpoints(BaseEndpoints):
    """DHL on the simulator's port (see the module docstring)."""

    source: ClassVar[str] = "dhl"
    mount: ClassVar[str] = "/dhl"
    huge_prefix: ClassVar[bytes] = b'{"shipments":[]'
    credential_values: ClassVar[Mapping[str, str]] = {"API_KEY": API_KEY}

    def __init__(self, simulator: Any) -> None:
        super().__init__(simulator)
        self.key = StaticKeyDesk("DHL-API-Key", API_KEY)

    def route(self, method: str, path: str) -> str | None:
        return "shipments" if path == "/track/shipments" else None

    def numbers(self, endpoint: str, request: SimRequest) -> tuple[str, ...]:
        number = request.param("trackingNumber")
        return (number,) if number else ()

    def quota_exceeded(self) -> Reply:
        return _problem(429, "Too many requests", "Daily quota exceeded; it resets at 00:00 GMT.")

    def answer(self, endpoint: str, request: SimRequest) -> Reply:
        if request.method != "GET":
            return _problem(405, "Method Not Allowed", "Use GET.")
        if not self.key.accepts(request):
            return _problem(401, "Unauthorized", "Invalid or missing DHL-API-Key.")
        number = (request.param("trackingNumber") or "").strip()
        if not number:
            return _problem(400, "Bad Request", "trackingNumber is required.")
        view = self.simulator.view(number, "dhl")
        if view is None:
            return _problem(
                404,
                "No result found",
                "No shipment with given tracking number found.",
                instance=f"/shipment/{number}",
            )
        return json_reply({"shipments": [shipment(view, request.param("service"))]})


def _problem(status: int, title: str, detail: str, instance: str | None = None) -> Reply:
    document: dict[str, Any] = {"title": title, "status": status, "detail": detail}
    if instance:
        document["instance"] = instance
    return json_reply(document, status=status, content_type=_PROBLEM)


def _timestamp(event: Event) -> str:
    if event.zone_known:
        return event.at.isoformat(timespec="seconds")
    return event.at.replace(tzinfo=None).isoformat(timespec="seconds")


def dhl_event(event: Event) -> dict[str, Any]:
    """One ``events[]`` entry (and the shape of ``status``)."""
    place = event.place
    address: dict[str, Any] = {}
    if place is not None:
        address = {
            "countryCode": place.country,
            "postalCode": place.postal_code,
            "addressLocality": place.city,
        }
        address = {k: v for k, v in address.items() if v}
    canonical = event.spec.canonical
    return {
        "timestamp": _timestamp(event),
        "location": {"address": address},
        "statusCode": CODE_OF.get(canonical, "transit"),
        "status": event.description,
        "description": event.description,
    }


def shipment(view: CarrierView, service: str | None) -> dict[str, Any]:
    """The ``shipments[0]`` object for one number."""
    scenario = view.scenario
    events = [dhl_event(e) for e in reversed(view.events)]
    out: dict[str, Any] = {
        "id": view.number,
        "service": service or "parcel-de",
        "origin": {"address": {"countryCode": scenario.origin or "DE"}},
        "destination": {"address": {"countryCode": scenario.destination or "DE"}},
        "status": events[0] if events else {"statusCode": "unknown", "status": "unknown"},
        "details": {
            "product": {"productName": "DHL Paket International"},
            "totalNumberOfPieces": 1,
        },
        "events": events,
    }
    if scenario.eta:
        out["estimatedTimeOfDelivery"] = utc_text(scenario.eta[1])
        out["estimatedDeliveryTimeFrame"] = {
            "estimatedFrom": utc_text(scenario.eta[0]),
            "estimatedThrough": utc_text(scenario.eta[1]),
        }
    delivered = [e for e in view.events if e.spec.canonical == "delivered"]
    if delivered:
        out["details"]["proofOfDelivery"] = {"timestamp": _timestamp(delivered[-1]), "signed": {}}
    return out
