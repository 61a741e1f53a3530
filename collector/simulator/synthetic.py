"""Synthetic scenarios for N numbers (benchmarks), deterministic by seed.

Each synthetic parcel leaves China (China Post S10 numbers with a valid check
digit, Cainiao ``LP00...``, YunExpress ``YT...``), crosses to one of a dozen
destination countries and is handed to that country's post for the last mile.
Outcomes are mixed like a real shop's book: mostly delivered or in transit, some
stalled, label-only, not found, invalid, in customs trouble, failed or returned.
Events carry the local offset of where they happened (IANA zones, so daylight
saving is right) and never lie after ``end``.

    >>> a = synthetic_scenarios(50, seed=7)
    >>> b = synthetic_scenarios(50, seed=7)
    >>> [s.number for s in a] == [s.number for s in b], len(a)
    (True, 50)

:func:`synthetic_orders` gives the matching import rows (one order per number) and
:func:`write_orders_csv` writes them in the import format.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collector.simulator.model import (
    KINDS,
    Carrier,
    Event,
    Place,
    Scenario,
    catalogue,
    final_canonical,
    read_document,
)

DEFAULT_END = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

_ORIGINS = ("shenzhen", "guangzhou", "yiwu", "dongguan")

# destination country -> (last-mile carrier, hub place, [delivery places])
_DESTINATIONS: dict[str, tuple[str, Place, tuple[Place, ...]]] = {
    "US": (
        "usps",
        Place("Jamaica", "NY", "11430", "US", "America/New_York"),
        (
            Place("New York", "NY", "10001", "US", "America/New_York"),
            Place("Chicago", "IL", "60614", "US", "America/Chicago"),
            Place("Los Angeles", "CA", "90012", "US", "America/Los_Angeles"),
        ),
    ),
    "DE": (
        "deutsche-post",
        Place("Frankfurt", None, "60549", "DE", "Europe/Berlin"),
        (Place("Berlin", None, "10115", "DE", "Europe/Berlin"),),
    ),
    "FR": (
        "la-poste",
        Place("Roissy-en-France", None, "95700", "FR", "Europe/Paris"),
        (Place("Paris", None, "75011", "FR", "Europe/Paris"),),
    ),
    "ES": (
        "correos",
        Place("Madrid Barajas", None, "28042", "ES", "Europe/Madrid"),
        (Place("Madrid", None, "28013", "ES", "Europe/Madrid"),),
    ),
    "GB": (
        "royal-mail",
        Place("London Heathrow", None, "TW6 2PJ", "GB", "Europe/London"),
        (Place("Manchester", None, "M1 1AE", "GB", "Europe/London"),),
    ),
    "IT": (
        "poste-italiane",
        Place("Milano Linate", None, "20138", "IT", "Europe/Rome"),
        (Place("Roma", None, "00184", "IT", "Europe/Rome"),),
    ),
    "NL": (
        "postnl",
        Place("Hoofddorp", None, "2132", "NL", "Europe/Amsterdam"),
        (Place("Utrecht", None, "3511 AA", "NL", "Europe/Amsterdam"),),
    ),
    "PL": (
        "poczta-polska",
        Place("Warszawa", None, "02-999", "PL", "Europe/Warsaw"),
        (Place("Krakow", None, "31-001", "PL", "Europe/Warsaw"),),
    ),
    "BR": (
        "correios",
        Place("Curitiba", "PR", None, "BR", "America/Sao_Paulo"),
        (Place("Sao Paulo", "SP", "01310-100", "BR", "America/Sao_Paulo"),),
    ),
    "AU": (
        "auspost",
        Place("Sydney", "NSW", "2020", "AU", "Australia/Sydney"),
        (Place("Melbourne", "VIC", "3000", "AU", "Australia/Melbourne"),),
    ),
    "JP": (
        "japan-post",
        Place("Tokyo International", None, "135-8799", "JP", "Asia/Tokyo"),
        (Place("Osaka", None, "530-0001", "JP", "Asia/Tokyo"),),
    ),
    "CA": (
        "canada-post",
        Place("Mississauga", "ON", "L5T 2N4", "CA", "America/Toronto"),
        (Place("Vancouver", "BC", "V6B 1A1", "CA", "America/Vancouver"),),
    ),
}

# (outcome label, weight)
_MIX = (
    ("delivered", 30),
    ("in_transit", 30),
    ("out_for_delivery", 5),
    ("stalled", 8),
    ("label_only", 5),
    ("not_found", 5),
    ("invalid", 2),
    ("exception", 4),
    ("available_for_pickup", 4),
    ("delivery_failed", 3),
    ("returned", 4),
)

# The standard journey: (kind, where).
_JOURNEY = (
    ("info_received", "origin"),
    ("picked_up", "origin"),
    ("sorting_inbound", "hub"),
    ("sorting_outbound", "hub"),
    ("export_customs_done", "hub"),
    ("departed_origin", "hub"),
    ("arrived_destination", "dest_hub"),
    ("import_customs_done", "dest_hub"),
    ("arrived_facility", "city"),
    ("out_for_delivery", "city"),
    ("delivered", "city"),
)


def s10_check_digit(serial: str) -> int:
    """The UPU S10 check digit of an 8-digit serial.

    >>> s10_check_digit("12345678")
    5
    """
    total = sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def _number(rng: random.Random, first_mile: str) -> str:
    if first_mile == "cainiao":
        return "LP00" + "".join(rng.choices("0123456789", k=12))
    if first_mile == "yunexpress":
        return "YT" + "".join(rng.choices("0123456789", k=16))
    serial = "".join(rng.choices("0123456789", k=8))
    prefix = rng.choice(("LX", "LY", "LZ", "RB", "RR", "UB", "UG", "UH", "CE"))
    return f"{prefix}{serial}{s10_check_digit(serial)}CN"


def _local(instant: datetime, place: Place | None) -> datetime:
    zone = ZoneInfo(place.zone) if place and place.zone else UTC
    return instant.astimezone(zone)


def _events(  # noqa: PLR0913 - the parcel's parts and its journey
    rng: random.Random,
    outcome: str,
    places: dict[str, Place],
    start: datetime,
    end: datetime,
    *,
    journey: tuple[tuple[str, str], ...] = _JOURNEY,
) -> list[Event]:
    destination = places["city"].country
    steps: list[tuple[str, str]] = list(journey)
    if outcome == "label_only":
        steps = steps[:1]
    elif outcome in ("in_transit", "stalled"):
        steps = steps[: rng.randint(3, 9)]
    elif outcome == "out_for_delivery":
        steps = steps[:10]
    elif outcome == "exception":
        steps = [*steps[:7], ("customs_held", "dest_hub")]
    elif outcome == "available_for_pickup":
        steps = [*steps[:9], ("available_for_pickup", "city")]
    elif outcome == "delivery_failed":
        steps = [*steps[:10], ("delivery_failed", "city")]
    elif outcome == "returned":
        steps = [*steps[:10], ("delivery_failed", "city"), ("returning", "city")]
        steps.append(("returned", "origin"))
    instants: list[datetime] = []
    at = start
    for kind, _ in steps:
        if instants:
            # A flight takes days; a scan after the previous one takes hours.
            hours = rng.uniform(72, 200) if kind == "arrived_destination" else rng.uniform(2, 60)
            at = at + timedelta(hours=hours)
        instants.append(at.replace(second=0, microsecond=0))
    if outcome == "stalled":
        shift = instants[-1] - (end - timedelta(days=rng.uniform(14, 40)))
        instants = [i - shift for i in instants]
    events = []
    for (kind, where), instant in zip(steps, instants, strict=True):
        if instant > end:
            break
        place = places[where]
        leg = 1 if place.country == destination and kind != "returned" else 0
        events.append(Event(_local(instant, place), kind, KINDS[kind].text, place=place, leg=leg))
    return events


def synthetic_scenarios(
    n: int, *, seed: int = 0, end: datetime = DEFAULT_END, days: float = 60.0
) -> list[Scenario]:
    """``n`` scenarios with distinct numbers, the same for the same ``seed``.

    Parcels ship within the ``days`` before ``end``; no event lies after ``end``.
    Each scenario's ``extra["order"]`` is the order it belongs to (import columns).
    """
    rng = random.Random(seed)
    carriers, places = catalogue(read_document())
    seen: set[str] = set()
    labels = [label for label, _ in _MIX]
    weights = [weight for _, weight in _MIX]
    out: list[Scenario] = []
    while len(out) < n:
        first_mile = rng.choice(("china-post", "cainiao", "yunexpress"))
        number = _number(rng, first_mile)
        if number in seen:
            continue
        seen.add(number)
        outcome = rng.choices(labels, weights)[0]
        country = rng.choice(sorted(_DESTINATIONS))
        last_mile, hub, cities = _DESTINATIONS[country]
        scenario = _parcel(
            rng,
            number=number,
            outcome=outcome,
            route=_abroad(rng, places, hub, cities),
            chain=(carriers[first_mile], carriers[last_mile]),
            window=(end, days),
            order_id=f"SIM{seed:03d}-{len(out):06d}",
        )
        out.append(_with_expect(scenario))
    return out


# -- a mixed book: first miles at an aggregator, carriers' own numbers ---------------

#: DHL Paket, the German last mile (``samples.json`` names only Deutsche Post).
DHL = Carrier("dhl", 100001, "DHL Paket", "DE", "https://www.dhl.de/", cainiao="DHL")

#: How :func:`synthetic_mixed` splits its parcels: the carrier whose number the
#: shop has (``china``: a Chinese first mile, tracked through an aggregator) and the
#: carrier the last mile is handed to with a number of its own (None: a national
#: post no direct source serves, so no handover number).
MIXED_SHARES: tuple[tuple[str, str | None, float], ...] = (
    ("china", None, 0.30),
    ("china", "usps", 0.20),
    ("china", "fedex", 0.06),
    ("china", "dhl", 0.04),
    ("usps", None, 0.20),
    ("fedex", None, 0.15),
    ("dhl", None, 0.05),
)

# The number format (collector/numbers) of each direct carrier, and its country.
_DIRECT = {"usps": ("usps_impb_n", "US"), "fedex": ("fedex_12", "US"), "dhl": ("dhl_express", "DE")}

# A parcel inside one country: the same eleven positions as _JOURNEY, so that the
# outcomes cut it at the same stages.
_DOMESTIC = (
    ("info_received", "origin"),
    ("picked_up", "origin"),
    ("sorting_inbound", "origin"),
    ("sorting_outbound", "origin"),
    ("departed_facility", "origin"),
    ("in_transit", "hub"),
    ("arrived_facility", "hub"),
    ("departed_facility", "hub"),
    ("arrived_facility", "city"),
    ("out_for_delivery", "city"),
    ("delivered", "city"),
)

# Outcomes of a carrier's own number (no customs, no invalid string).
_DOMESTIC_MIX = tuple((label, w) for label, w in _MIX if label not in ("exception", "invalid"))


def synthetic_mixed(
    n: int, *, seed: int = 0, end: datetime = DEFAULT_END, days: float = 60.0
) -> list[Scenario]:
    """``n`` scenarios split as :data:`MIXED_SHARES`, the same for the same ``seed``.

    ``china`` parcels are as :func:`synthetic_scenarios` makes them (their number is
    a China Post, Cainiao or YunExpress one); those handed to USPS, FedEx or DHL
    carry a ``last_mile_number`` of that carrier's format, which an aggregator shows
    once the parcel is in the destination country. The others are the carrier's own
    numbers (USPS IMpb, FedEx 12 digits, DHL Express 10 digits), travelling inside
    the US or Germany. The count of each kind is exact (shares of ``n``, the rest
    to the first kind); the kinds are interleaved in a seeded order.

    >>> mixed = synthetic_mixed(100, seed=2)
    >>> sum(s.last_mile_number is not None for s in mixed), len(mixed)
    (30, 100)
    """
    from collector.numbers.synth import example

    rng = random.Random(seed)
    carriers, places = catalogue(read_document())
    carriers = {**carriers, "dhl": DHL}
    counts = [math.floor(n * share) for _, _, share in MIXED_SHARES]
    counts[0] += n - sum(counts)
    kinds = [
        (own, last) for (own, last, _), count in zip(MIXED_SHARES, counts, strict=True)
        for _ in range(count)
    ]  # fmt: skip
    rng.shuffle(kinds)
    abroad = sorted(c for c in _DESTINATIONS if c not in ("US", "DE"))
    seen: set[str] = set()
    out: list[Scenario] = []
    for own, last in kinds:
        while True:
            if own == "china":
                first_mile = rng.choice(("china-post", "cainiao", "yunexpress"))
                number = _number(rng, first_mile)
            else:
                number = example(_DIRECT[own][0], rng)
            if number not in seen:
                seen.add(number)
                break
        order_id = f"MIX{seed:03d}-{len(out):06d}"
        if own == "china":
            country = _DIRECT[last][1] if last else rng.choice(abroad)
            post, hub, cities = _DESTINATIONS[country]
            outcome = rng.choices([k for k, _ in _MIX], [w for _, w in _MIX])[0]
            scenario = _parcel(
                rng,
                number=number,
                outcome=outcome,
                route=_abroad(rng, places, hub, cities),
                chain=(carriers[first_mile], carriers[last or post]),
                window=(end, days),
                order_id=order_id,
                last_mile_number=example(_DIRECT[last][0], rng) if last else None,
            )
        else:
            _, hub, cities = _DESTINATIONS[_DIRECT[own][1]]
            outcome = rng.choices([k for k, _ in _DOMESTIC_MIX], [w for _, w in _DOMESTIC_MIX])[0]
            route = {"origin": hub, "hub": hub, "dest_hub": hub, "city": rng.choice(cities)}
            scenario = _parcel(
                rng,
                number=number,
                outcome=outcome,
                route=route,
                chain=(carriers[own],),
                window=(end, days / 4),
                order_id=order_id,
                journey=_DOMESTIC,
            )
        out.append(_with_expect(scenario))
    return out


def _abroad(
    rng: random.Random, places: dict[str, Place], hub: Place, cities: tuple[Place, ...]
) -> dict[str, Place]:
    """The route of a parcel from China: a Chinese origin, Guangzhou, ``hub``, a city."""
    origin = places[rng.choice(_ORIGINS)]
    return {
        "origin": origin,
        "hub": places["guangzhou"],
        "dest_hub": hub,
        "city": rng.choice(cities),
    }


def _parcel(  # noqa: PLR0913 - the parts of one parcel, each drawn by the caller
    rng: random.Random,
    *,
    number: str,
    outcome: str,
    route: dict[str, Place],
    chain: tuple[Carrier, ...],
    window: tuple[datetime, float],
    order_id: str,
    last_mile_number: str | None = None,
    journey: tuple[tuple[str, str], ...] | None = None,
) -> Scenario:
    """One synthetic parcel shipped within ``window`` (its end, days before it) and its
    order; draws from ``rng`` in a fixed order (shipping day, events, window, amount)."""
    end, days = window
    shipped = end - timedelta(days=rng.uniform(2, days))
    events = _events(rng, outcome, route, shipped, end, journey=journey or _JOURNEY)
    low = shipped + timedelta(days=rng.randint(10, 20))
    eta = (low, low + timedelta(days=rng.randint(5, 15)))
    city = route["city"]
    return Scenario(
        number=number,
        shows=f"synthetic {outcome}",
        origin=route["origin"].country,
        destination=city.country,
        carriers=chain,
        events=tuple(events),
        outcome={"not_found": "not_found", "invalid": "invalid"}.get(outcome, "tracked"),
        last_mile_number=last_mile_number,
        eta=eta,
        extra={
            "order": {
                "order_id": order_id,
                "marketplace": "aliexpress",
                "store": "Synthetic Store",
                "tracking_number": number,
                "carrier": chain[0].name,
                "ordered_at": (shipped - timedelta(days=2)).isoformat(timespec="seconds"),
                "shipped_at": shipped.date().isoformat(),
                "promised_from": eta[0].date().isoformat(),
                "promised_to": eta[1].date().isoformat(),
                "protection_ends_at": (eta[1] + timedelta(days=15)).date().isoformat(),
                "destination_country": city.country,
                "destination_postcode": city.postal_code or "",
                "destination_city": city.city or "",
                "item": "Synthetic item",
                "amount": f"{rng.uniform(2, 80):.2f}",
                "currency": "USD",
            }
        },
    )


def _with_expect(scenario: Scenario) -> Scenario:
    return replace(scenario, expect=final_canonical(scenario))


def synthetic_orders(scenarios: Iterable[Scenario]) -> list[dict[str, Any]]:
    """The import rows of synthetic scenarios (one order per number)."""
    return [dict(s.extra["order"]) for s in scenarios if "order" in s.extra]


def write_orders_csv(scenarios: Iterable[Scenario], path: str | Path) -> Path:
    """Write the orders of synthetic scenarios as an import CSV; returns the path."""
    target = Path(path)
    rows = synthetic_orders(scenarios)
    with target.open("w", newline="", encoding="utf-8") as handle:
        # The order dicts are built in the import format's column order.
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["order_id"])
        writer.writeheader()
        writer.writerows(rows)
    return target
