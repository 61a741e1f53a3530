"""The neutral scenario model the simulator renders into each source's wire format.

A :class:`Scenario` is what happened to one tracking number, independent of who
reports it: the carriers involved (first mile, last mile), the events with their
absolute instants and the local offset the carrier reports, where they happened,
and how a source answers when the number has no usable history (not found,
invalid, expired). The same scenario is rendered by each source's ``simulator``
module (``collector/sources/<name>/simulator.py``), so every number can be served
by every source.

Scenario files are JSON (package data in ``collector/simulator/scenarios/``)::

    {
      "version": 1,
      "carriers": {"china-post": {"key": 3011, "name": "China Post", "country": "CN",
                                  "homepage": "https://www.ems.com.cn/", "cainiao": "CNPOST"}},
      "places": {"shenzhen": {"city": "Shenzhen", "state": "Guangdong", "country": "CN",
                              "zone": "Asia/Shanghai"}},
      "scenarios": [
        {"number": "UB123456785CN", "shows": "delivered on time",
         "origin": "CN", "destination": "US", "carriers": ["china-post", "usps"],
         "eta": ["2026-10-20T00:00:00-04:00", "2026-11-05T23:59:59-05:00"],
         "expect": "delivered",
         "events": [
           {"at": "2026-10-04T09:20:00+08:00", "kind": "info_received", "place": "shenzhen"},
           ...]}
      ]
    }

Each event's ``at`` carries the offset the carrier reports; a test checks it
against the place's IANA zone, so daylight-saving mistakes are caught. ``leg`` (0
first mile, 1 last mile) defaults to 1 for events in the destination country when
the scenario names two carriers. ``zone_known: false`` marks a carrier that gave a
local time without a zone (17TRACK ``time_raw.timezone`` null, Cainiao
``timeZone: ""``). ``outcome`` is ``tracked`` (default), ``not_found``, ``invalid``
or ``expired``; ``register_error`` makes 17TRACK reject the registration with that
code (a string that is not a tracking number at all).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

OUTCOMES = ("tracked", "not_found", "invalid", "expired")


@dataclass(frozen=True)
class Kind:
    """What one kind of event looks like at each source.

    ``stage``/``sub_status`` are 17TRACK's, ``action``/``group`` Cainiao's (codes in
    ``action`` marked ``*`` in :data:`KINDS` are seen in real Cainiao data; the
    others are the simulator's best guess), ``canonical`` is parcelproof's status.
    """

    text: str
    stage: str
    sub_status: str
    action: str
    canonical: str
    group: tuple[str, str] | None = None


_IN_TRANSIT = ("AE_GROUP_SC_PROCESSING", "In transit")
_CUSTOMS_EX = ("AE_GROUP_EX_CLEARING_CUSTOMS", "At customs")
_CUSTOMS_IM = ("AE_GROUP_IM_CLEARING_CUSTOMS", "At customs")

#: Every event kind a scenario may use. Cainiao action codes seen in real data
#: (carriers.md §2): GWMS_ACCEPT, GWMS_OUTBOUND, PU_PICKUP_SUCCESS, SC_INBOUND_SUCCESS,
#: SC_OUTBOUND_SUCCESS, CC_EX_START, CC_EX_SUCCESS, LH_HO_AIRLINE, LH_DEPART,
#: LH_ARRIVE, CC_IM_START, CC_IM_SUCCESS, CC_HO_OUT_SUCCESS, COMMON_INTRANSIT,
#: GTMS_ACCEPT, GTMS_SC_ARRIVE, GTMS_SC_DEPART, GTMS_DO_DEPART, GTMS_STA_SIGNED,
#: GTMS_SIGNED. The rest (customs hold, failed delivery, returns) are guesses.
# fmt: off
KINDS: dict[str, Kind] = {
    "info_received": Kind(
        "Shipment information received", "InfoReceived", "InfoReceived", "GWMS_ACCEPT",
        "info_received",
    ),
    "warehouse_outbound": Kind(
        "Package shipped out from warehouse", "", "InfoReceived", "GWMS_OUTBOUND",
        "info_received", ("AE_GROUP_WH_PROCESSING", "Store processing the order"),
    ),
    "picked_up": Kind(
        "Received by logistics company", "PickedUp", "InTransit_PickedUp", "PU_PICKUP_SUCCESS",
        "in_transit", ("AE_GROUP_PU_PROCESSING", "In transit"),
    ),
    "sorting_inbound": Kind(
        "Processing at sorting center", "", "InTransit_Arrival", "SC_INBOUND_SUCCESS",
        "in_transit",
    ),
    "sorting_outbound": Kind(
        "Departed from sorting center", "", "InTransit_Departure", "SC_OUTBOUND_SUCCESS",
        "in_transit", _IN_TRANSIT,
    ),
    "export_customs_start": Kind(
        "Export customs clearance started", "", "InTransit_Other", "CC_EX_START", "in_transit",
    ),
    "export_customs_done": Kind(
        "Export customs clearance complete", "", "InTransit_Other", "CC_EX_SUCCESS",
        "in_transit", _CUSTOMS_EX,
    ),
    "handed_to_airline": Kind(
        "Leaving from departure country/region", "", "InTransit_Other", "LH_HO_AIRLINE",
        "in_transit",
    ),
    "departed_origin": Kind(
        "Departed from departure country/region", "Departure", "InTransit_Departure",
        "LH_DEPART", "in_transit", ("AE_GROUP_LH_PROCESSING", "In transit"),
    ),
    "arrived_destination": Kind(
        "Arrived at destination country/region", "Arrival", "InTransit_Arrival", "LH_ARRIVE",
        "in_transit", ("AE_GROUP_LH_ARRIVE", "In transit"),
    ),
    "import_customs_start": Kind(
        "Import customs clearance started", "", "InTransit_Other", "CC_IM_START", "in_transit",
        _CUSTOMS_IM,
    ),
    "import_customs_done": Kind(
        "Import customs clearance complete", "", "InTransit_Other", "CC_IM_SUCCESS",
        "in_transit", _CUSTOMS_IM,
    ),
    "customs_held": Kind(
        "Held by customs", "", "Exception_Security", "CC_IM_EXCEPTION", "exception",
        _CUSTOMS_IM,
    ),
    "handover_last_mile": Kind(
        "Handed over to last mile carrier", "", "InTransit_Other", "CC_HO_OUT_SUCCESS",
        "in_transit",
    ),
    "in_transit": Kind(
        "In transit", "", "InTransit_Other", "COMMON_INTRANSIT", "in_transit", _IN_TRANSIT,
    ),
    "last_mile_accept": Kind(
        "Accepted by last mile carrier", "", "InTransit_PickedUp", "GTMS_ACCEPT", "in_transit",
    ),
    "arrived_facility": Kind(
        "Arrived at local delivery facility", "Arrival", "InTransit_Arrival", "GTMS_SC_ARRIVE",
        "in_transit", ("AE_GROUP_SC_ARRIVE", "In transit"),
    ),
    "departed_facility": Kind(
        "Departed from local facility", "", "InTransit_Departure", "GTMS_SC_DEPART",
        "in_transit",
    ),
    "out_for_delivery": Kind(
        "Out for delivery", "OutForDelivery", "OutForDelivery_Other", "GTMS_DO_DEPART",
        "out_for_delivery", ("AE_GROUP_DELIVERING", "Out for delivery"),
    ),
    "delivery_failed": Kind(
        "Delivery attempt failed", "", "DeliveryFailure_NoBody", "GTMS_DELIVERY_FAILED",
        "delivery_failed", ("AE_GROUP_DELIVERY_FAILED", "Delivery failed"),
    ),
    "available_for_pickup": Kind(
        "Arrived at pickup point, ready for collection", "AvailableForPickup",
        "AvailableForPickup_Other", "GTMS_STA_SIGNED", "available_for_pickup",
        ("AE_GROUP_STA_SIGNED", "Ready for pickup"),
    ),
    "delivered": Kind(
        "Delivered", "Delivered", "Delivered_Other", "GTMS_SIGNED", "delivered",
        ("AE_GROUP_DELIVERED", "Delivered"),
    ),
    "returning": Kind(
        "Returning to sender", "Returning", "Exception_Returning", "GTMS_RETURN",
        "returning", ("AE_GROUP_RETURN", "Returning"),
    ),
    "returned": Kind(
        "Returned to sender", "Returned", "Exception_Returned", "GTMS_RETURN_SIGNED",
        "returned", ("AE_GROUP_RETURN", "Returned"),
    ),
}
# fmt: on


@dataclass(frozen=True)
class Carrier:
    """A carrier as 17TRACK names it (``key`` is its integer carrier code)."""

    code: str
    key: int
    name: str
    country: str | None = None
    homepage: str | None = None
    tel: str | None = None
    #: Cainiao's ``destCpInfo.cpCode`` when this carrier takes over the last mile.
    cainiao: str | None = None


@dataclass(frozen=True)
class Place:
    """Where an event happened; ``zone`` is the IANA zone its local times are in."""

    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    zone: str | None = None


@dataclass(frozen=True)
class Event:
    """One tracking event: an absolute instant whose offset is the reported local one."""

    at: datetime
    kind: str
    description: str
    place: Place | None = None
    leg: int = 0
    zone_known: bool = True
    #: The English text of a description in another language (17TRACK's translation).
    translation: str | None = None

    @property
    def spec(self) -> Kind:
        """The rendering table row of this event's kind."""
        return KINDS[self.kind]


@dataclass(frozen=True)
class Scenario:
    """Everything a source can say about one tracking number."""

    number: str
    shows: str = ""
    origin: str | None = None
    destination: str | None = None
    carriers: tuple[Carrier, ...] = ()
    events: tuple[Event, ...] = ()
    outcome: str = "tracked"
    register_error: int | None = None
    last_mile_number: str | None = None
    eta: tuple[datetime, datetime] | None = None
    service_type: str | None = None
    #: The canonical status a client should derive (documentation, checked by tests).
    expect: str | None = None
    #: Free-form extra fields (e.g. the order a synthetic scenario belongs to).
    extra: Mapping[str, Any] = field(default_factory=dict)

    def visible(self, as_of: datetime | None) -> tuple[Event, ...]:
        """The events a source knows about at ``as_of`` (all of them when None)."""
        if self.outcome in ("not_found", "invalid"):
            return ()
        if as_of is None:
            return self.events
        return tuple(e for e in self.events if e.at <= as_of)

    def handed_over(self, events: tuple[Event, ...]) -> bool:
        """Whether ``events`` show the last-mile number (a handover has happened)."""
        return self.last_mile_number is not None and any(
            e.leg >= 1 or e.kind == "handover_last_mile" for e in events
        )

    def carrier_for(self, leg: int) -> Carrier | None:
        """The carrier of a leg (the last one named when there are fewer legs)."""
        if not self.carriers:
            return None
        return self.carriers[min(leg, len(self.carriers) - 1)]


def normalise_number(text: str) -> str:
    """The lookup form of a tracking number: no spaces, upper case (as the importer)."""
    return "".join(text.split()).upper()


def final_canonical(scenario: Scenario, as_of: datetime | None = None) -> str:
    """The canonical status the scenario's answer implies at ``as_of``.

    >>> final_canonical(Scenario("XX1", outcome="not_found"))
    'not_found'
    """
    if scenario.outcome in ("not_found", "invalid"):
        return "not_found"
    events = scenario.visible(as_of)
    if not events:
        return "not_found"
    if scenario.outcome == "expired":
        return "expired"
    return events[-1].spec.canonical


# -- loading ------------------------------------------------------------------------------


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the number and field."""


def _instant(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: expected an ISO 8601 instant, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(f"{where}: not an ISO 8601 instant: {value!r}") from None
    if parsed.tzinfo is None:
        raise ScenarioError(f"{where}: needs an offset: {value!r}")
    return parsed


def _place(value: Any, places: Mapping[str, Place], where: str) -> Place | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in places:
            raise ScenarioError(f"{where}: unknown place {value!r}")
        return places[value]
    if isinstance(value, dict):
        return Place(**value)
    raise ScenarioError(f"{where}: place must be a name or an object")


def catalogue(document: Mapping[str, Any]) -> tuple[dict[str, Carrier], dict[str, Place]]:
    """The carriers and places a scenario file defines, by name."""
    carriers = {
        code: Carrier(code=code, **spec) for code, spec in document.get("carriers", {}).items()
    }
    places = {name: Place(**spec) for name, spec in document.get("places", {}).items()}
    return carriers, places


def scenarios_from_dict(document: Mapping[str, Any]) -> dict[str, Scenario]:
    """Build scenarios from a parsed scenario file (see the module docstring)."""
    carriers, places = catalogue(document)
    out: dict[str, Scenario] = {}
    for raw in document.get("scenarios", []):
        number = raw.get("number")
        if not isinstance(number, str) or not number:
            raise ScenarioError(f"scenario without a number: {raw!r}")
        scenario = _scenario(raw, number, carriers, places)
        key = normalise_number(number)
        if key in out:
            raise ScenarioError(f"{number}: defined twice")
        out[key] = scenario
    return out


_SCENARIO_FIELDS = frozenset(
    (
        "number",
        "shows",
        "origin",
        "destination",
        "carriers",
        "events",
        "outcome",
        "register_error",
        "last_mile_number",
        "eta",
        "service_type",
        "expect",
        "extra",
    )
)


def _scenario(
    raw: Mapping[str, Any],
    number: str,
    carriers: Mapping[str, Carrier],
    places: Mapping[str, Place],
) -> Scenario:
    unknown = set(raw) - _SCENARIO_FIELDS
    if unknown:
        raise ScenarioError(f"{number}: unknown field(s) {sorted(unknown)}")
    try:
        chosen = tuple(carriers[c] for c in raw.get("carriers", []))
    except KeyError as exc:
        raise ScenarioError(f"{number}: unknown carrier {exc.args[0]!r}") from None
    outcome = raw.get("outcome", "tracked")
    if outcome not in OUTCOMES:
        raise ScenarioError(f"{number}: outcome must be one of {OUTCOMES}, got {outcome!r}")
    destination = raw.get("destination")
    events: list[Event] = []
    for index, item in enumerate(raw.get("events", [])):
        where = f"{number} event {index}"
        kind = item.get("kind")
        if kind not in KINDS:
            raise ScenarioError(f"{where}: unknown kind {kind!r}")
        place = _place(item.get("place"), places, where)
        default_leg = (
            1 if len(chosen) > 1 and place is not None and place.country == destination else 0
        )
        events.append(
            Event(
                at=_instant(item.get("at"), where),
                kind=kind,
                description=item.get("desc") or KINDS[kind].text,
                place=place,
                leg=int(item.get("leg", default_leg)),
                zone_known=bool(item.get("zone_known", True)),
                translation=item.get("translation"),
            )
        )
    events.sort(key=lambda e: e.at)
    eta_raw = raw.get("eta")
    eta = (
        (_instant(eta_raw[0], f"{number} eta"), _instant(eta_raw[1], f"{number} eta"))
        if eta_raw
        else None
    )
    return Scenario(
        number=number,
        shows=raw.get("shows", ""),
        origin=raw.get("origin"),
        destination=destination,
        carriers=chosen,
        events=tuple(events),
        outcome=outcome,
        register_error=raw.get("register_error"),
        last_mile_number=raw.get("last_mile_number"),
        eta=eta,
        service_type=raw.get("service_type"),
        expect=raw.get("expect"),
        extra=dict(raw.get("extra", {})),
    )


def read_document(path: str | Path | None = None) -> dict[str, Any]:
    """A parsed scenario file (default: the bundled ``scenarios/samples.json``)."""
    if path is None:
        text = (
            resources.files("collector.simulator")
            .joinpath("scenarios/samples.json")
            .read_text("utf-8")
        )
    else:
        text = Path(path).read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path or 'samples.json'}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ScenarioError(f"{path or 'samples.json'}: expected a JSON object")
    return document


def load_scenarios(path: str | Path | None = None) -> dict[str, Scenario]:
    """Scenarios by normalised number from a JSON file (default: the bundled samples).

    >>> sorted(load_scenarios())[:2]
    ['1Z4F8W310368260410', '1Z9AA293YW03482200']
    """
    return scenarios_from_dict(read_document(path))


def last_mile_scenarios() -> dict[str, Scenario]:
    """The bundled parcel handed from Cainiao to USPS (``scenarios/last_mile.json``).

    Served by ``demo`` beside the samples, with its order in
    ``data/samples/last-mile.csv`` (issue 13.4).
    """
    text = resources.files("collector.simulator").joinpath("scenarios/last_mile.json")
    return scenarios_from_dict(json.loads(text.read_text("utf-8")))


def sample_scenarios() -> dict[str, Scenario]:
    """The bundled scenario library for the 25 sample orders (data/samples/orders.csv)."""
    return load_scenarios(None)


def as_mapping(scenarios: Iterable[Scenario] | Mapping[str, Scenario]) -> dict[str, Scenario]:
    """Scenarios keyed by normalised number, from a mapping or any iterable."""
    values = scenarios.values() if isinstance(scenarios, Mapping) else scenarios
    return {normalise_number(s.number): s for s in values}


def utc_text(value: datetime) -> str:
    """``2026-10-04T01:20:00Z``: an instant in UTC, second precision, ``Z`` suffix."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
