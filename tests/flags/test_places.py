"""delivered_elsewhere: where the delivery scan was against where the order was going."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from collector.config import RulesConfig
from tests.flags.builder import Ev, World


def delivered(
    world: World,
    dest: tuple[str | None, str | None, str | None],
    scan: dict[str, str | None],
    order: str = "o1",
) -> None:
    country, postcode, city = dest
    sid = world.shipment(
        order,
        f"LPTEST{order.upper()}",
        country=country,
        postcode=postcode,
        city=city,
        promised_to=None,
        protection_ends_at=None,
    )
    world.events(sid, Ev("2026-11-20T15:00:00-05:00", "delivered", "Delivered", **scan))  # type: ignore[arg-type]


def elsewhere(world: World, rules: RulesConfig | None = None) -> dict[str, str]:
    return {
        order: rows["delivered_elsewhere"]["detail"]
        for order, rows in world.flags(rules=rules).items()
        if "delivered_elsewhere" in rows
    }


def test_austin_instead_of_san_francisco(world: World) -> None:
    delivered(
        world,
        ("US", "94107", "San Francisco"),
        {"city": "Austin", "state": "TX", "postcode": "73301", "country": "US"},
    )
    row = world.flags()["o1"]["delivered_elsewhere"]
    assert row["severity"] == "critical"
    assert row["threshold"] == "delivered_elsewhere_city=true"
    assert row["detail"] == (
        "delivered 2026-11-20 in Austin TX 73301 (US), not at the destination "
        "San Francisco 94107 (US): postcode, city differ"
    )
    assert json.loads(row["evidence"]) == {
        "event_keys": [world.key("o1", "Delivered")],
        "poll_ids": [1],
    }


@pytest.mark.parametrize(
    ("dest", "scan"),
    [
        # US: ZIP+4 and ZIP5 are the same place; city spelling does not matter then.
        (("US", "94107", "San Francisco"), {"postcode": "94107-1234", "city": "SAN FRANCISCO"}),
        (("US", "94107-0001", "San Francisco"), {"postcode": "94107", "city": "SF"}),
        # UK: outward code only.
        (("GB", "SW1A 1AA", "London"), {"postcode": "SW1A 2AA", "city": "LONDON"}),
        (("GB", "SW1A 1AA", "London"), {"postcode": "sw1a", "city": None}),
        # Canada: forward sortation area.
        (("CA", "M5V 2T6", "Toronto"), {"postcode": "M5V3L9", "city": "TORONTO"}),
        # Netherlands: the four digits.
        (("NL", "1012 AB", "Amsterdam"), {"postcode": "1012", "city": "AMSTERDAM"}),
        # Cities: case, accents, German transliteration, exonyms, longer names.
        (("DE", None, "München"), {"city": "MUENCHEN"}),
        (("DE", None, "Muenchen"), {"city": "München"}),
        (("DE", None, "München"), {"city": "Munich"}),
        (("SE", None, "Goteborg"), {"city": "GÖTEBORG"}),
        (("SE", None, "Göteborg"), {"city": "Gothenburg"}),
        (("PL", None, "Warszawa"), {"city": "WARSAW"}),
        (("US", None, "New York"), {"city": "NEW YORK CITY"}),
        (("US", None, "Saint Louis"), {"city": "ST. LOUIS"}),
        # A missing field is never a contradiction.
        (("ES", "28013", "Madrid"), {"city": None, "postcode": None, "country": None}),
        ((None, None, None), {"city": "Paris", "postcode": "75011", "country": "FR"}),
        (("ES", "28013", "Madrid"), {"country": None, "city": "Madrid"}),
        # Same postcode: a different city name is a naming difference, not a place.
        (("FR", "75011", "Paris"), {"postcode": "75011", "city": "PARIS 11"}),
        (("FR", "69002", "Lyon"), {"postcode": "69002", "city": "LYON CEDEX"}),
        # A partial postcode that agrees with the full one.
        (("BR", "01310-100", "Sao Paulo"), {"postcode": "01310", "city": "São Paulo"}),
    ],
)
def test_same_place_is_not_elsewhere(
    world: World, dest: tuple[str | None, str | None, str | None], scan: dict[str, str | None]
) -> None:
    delivered(world, dest, scan)
    assert elsewhere(world) == {}


@pytest.mark.parametrize(
    ("dest", "scan", "differs"),
    [
        (("GB", "SW1A 1AA", "London"), {"postcode": "E1 6AN"}, "postcode"),
        (("CA", "M5V 2T6", "Toronto"), {"postcode": "H2X 1Y4"}, "postcode"),
        (("NL", "1012 AB", "Amsterdam"), {"postcode": "3011 AA"}, "postcode"),
        (("FR", "75011", "Paris"), {"country": "BE", "city": "Bruxelles"}, "country, city"),
        (("FR", "75011", "Paris"), {"country": "FR", "city": "Marseille"}, "city"),
        (("PT", "1100-148", "Lisboa"), {"country": "IT", "city": "Milano", "postcode": "20121"},
         "country, postcode, city"),
        (("GB", None, "London"), {"country": "UK", "city": "Manchester"}, "city"),
    ],
)  # fmt: skip
def test_contradictions(
    world: World,
    dest: tuple[str | None, str | None, str | None],
    scan: dict[str, str | None],
    differs: str,
) -> None:
    delivered(world, dest, scan)
    assert elsewhere(world)["o1"].endswith(f": {differs} differ")


def test_free_text_location_gives_a_us_zip_and_city(world: World) -> None:
    delivered(world, ("US", "94107", "San Francisco"), {"location": "AUSTIN, TX 73301"})
    assert elsewhere(world)["o1"].endswith(": postcode, city differ")


def test_city_comparison_can_be_turned_off(world: World) -> None:
    delivered(world, ("FR", "75011", "Paris"), {"country": "FR", "city": "Marseille"})
    rules = replace(RulesConfig(), delivered_elsewhere_city=False)
    assert elsewhere(world, rules) == {}
    delivered(world, ("FR", "75011", "Paris"), {"country": "BE", "city": "Gent"}, order="o2")
    assert set(elsewhere(world, rules)) == {"o2"}


def test_only_the_latest_delivery_scan_counts_and_only_when_delivered(world: World) -> None:
    sid = world.shipment("o1", country="ES", city="Madrid", postcode="28013")
    world.events(
        sid,
        Ev("2026-11-10T10:00:00+01:00", "delivered", "Delivered", city="Barcelona",
           postcode="08001", country="ES"),
        Ev("2026-11-12T10:00:00+01:00", "delivered", "Delivered", city="Madrid",
           postcode="28013", country="ES"),
    )  # fmt: skip
    assert elsewhere(world) == {}
    # A parcel at a pickup point somewhere else is not "delivered" elsewhere.
    other = world.shipment("o2", "LP00000000000002", country="ES", city="Madrid")
    world.events(other, Ev("2026-11-20T10:00:00+01:00", "available_for_pickup", "At locker",
                           city="Toledo", country="ES"))  # fmt: skip
    assert elsewhere(world) == {}
