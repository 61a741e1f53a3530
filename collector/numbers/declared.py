"""Can the carrier a seller declared have issued (or be carrying) this number?

Sellers type the carrier as free text ("China Post Registered Air Mail", "Yun
Express", "AliExpress Standard Shipping"). :func:`resolve` maps such a name to a
:class:`DeclaredCarrier` through an alias table (longest alias first, so "DHL
eCommerce" is not read as "DHL"); every postal operator of the S10 country table in
the courier data is known by its own name too. :func:`carrier_can_issue` then says
``True``, ``False`` (the ``carrier_mismatch`` flag) or ``None`` (cannot tell)::

    >>> from collector.numbers.detect import detect
    >>> carrier_can_issue("UPS", detect("UB123456785CN"))
    False
    >>> carrier_can_issue("China Post", detect("UB123456785CN"))
    True
    >>> carrier_can_issue("AliExpress Standard Shipping", detect("RB123456785GB"))
    True
    >>> carrier_can_issue("Some Local Courier", detect("UB123456785CN")) is None
    True

It leans towards *not* raising a mismatch, because a false one is an accusation:

- an S10 number is issued by the post of its country suffix (``CN`` -> China Post);
  the destination country's post delivers it under the same number, so declaring
  the destination's post is fine too (when the destination is unknown: ``None``);
- aggregators (Cainiao, AliExpress shipping methods) hand parcels to any post or
  last-mile courier, so any recognised number is fine for them;
- China forwarders (YunExpress, 4PX, Yanwen, SF) also hand over to posts and
  last-mile couriers; only another forwarder's own format is a mismatch;
- a carrier whose numbers our data does not fully describe (DHL's parcel numbers,
  most posts' domestic ones) is never contradicted by a digits-only number;
- USPS delivers UPS SurePost (1Z with service ``YW``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from collector.numbers.detect import Candidate, Detection
from collector.numbers.formats import registry

__all__ = ["DeclaredCarrier", "carrier_can_issue", "resolve"]

Kind = Literal["courier", "post", "aggregator", "forwarder"]

#: Couriers whose own formats only that forwarder issues (in our data).
FORWARDER_COURIERS = frozenset({"yunexpress", "4px", "yanwen", "sf_express"})


@dataclass(frozen=True)
class DeclaredCarrier:
    """What a declared carrier can issue or carry.

    ``couriers``: courier codes (the data's ``courier_code``) whose numbers it
    issues; ``posts``: S10 country codes it issues as a postal operator;
    ``any_s10``: it carries S10 numbers of any post; ``complete``: our data
    describes all its number formats (else a digits-only number never contradicts it).
    """

    name: str
    kind: Kind
    couriers: frozenset[str] = frozenset()
    posts: frozenset[str] = frozenset()
    any_s10: bool = False
    complete: bool = True


def _c(name: str, *couriers: str, complete: bool = True, any_s10: bool = False) -> DeclaredCarrier:
    return DeclaredCarrier(name, "courier", frozenset(couriers), any_s10=any_s10, complete=complete)


def _p(
    name: str, *countries: str, couriers: Iterable[str] = (), complete: bool = False
) -> DeclaredCarrier:
    return DeclaredCarrier(
        name, "post", frozenset(couriers), frozenset(countries), complete=complete
    )


_AGGREGATOR = DeclaredCarrier("Cainiao / AliExpress", "aggregator", any_s10=True, complete=False)


def _f(name: str, code: str) -> DeclaredCarrier:
    return DeclaredCarrier(name, "forwarder", frozenset({code}), any_s10=True, complete=False)


_DHL_ANY = _c("DHL", "dhl", "usps", complete=False, any_s10=True)

# Aliases (compared without case, spaces or punctuation) -> what they can issue.
_ALIASES: dict[str, DeclaredCarrier] = {
    # Couriers.
    "UPS": _c("UPS", "ups"),
    "United Parcel Service": _c("UPS", "ups"),
    "UPS Mail Innovations": _c("UPS Mail Innovations", "ups", "usps", complete=False),
    "UPS SurePost": _c("UPS SurePost", "ups", "usps"),
    "FedEx": _c("FedEx", "fedex"),
    "Federal Express": _c("FedEx", "fedex"),
    "FedEx SmartPost": _c("FedEx SmartPost", "fedex", "usps"),
    "FedEx Ground Economy": _c("FedEx SmartPost", "fedex", "usps"),
    "DHL": _DHL_ANY,
    "DHL Express": _c("DHL Express", "dhl"),
    "DHL eCommerce": _DHL_ANY,
    "DHL Global Mail": _DHL_ANY,
    "DHL Packet": _DHL_ANY,
    "DHL Paket": _DHL_ANY,
    "DHL Parcel": _DHL_ANY,
    "DPD": _c("DPD", "dpd", complete=False),
    "Amazon": _c("Amazon Logistics", "amazon", complete=False),
    "Amazon Logistics": _c("Amazon Logistics", "amazon", complete=False),
    "Amazon Shipping": _c("Amazon Logistics", "amazon", complete=False),
    "OnTrac": _c("OnTrac", "ontrac", "lasership"),  # one company since 2021
    "LaserShip": _c("LaserShip", "lasership", "ontrac"),
    "Canpar": _c("Canpar", "canpar"),
    "Purolator": _c("Purolator", "purolator"),
    "Spee-Dee": _c("Spee-Dee Delivery", "speedee"),
    "Speedee": _c("Spee-Dee Delivery", "speedee"),
    "Yodel": _c("Yodel", "yodel", complete=False),
    "Landmark Global": _c("Landmark Global", "landmark", complete=False),
    "GOFO": _c("GOFO Express", "gofo", complete=False),
    "Old Dominion": _c("Old Dominion", "old_dominion"),
    "ODFL": _c("Old Dominion", "old_dominion"),
    # Posts (the S10 operators of the courier data are added below by their names).
    "USPS": _p("USPS", "US", couriers=("usps",), complete=True),
    "United States Postal Service": _p("USPS", "US", couriers=("usps",), complete=True),
    "US Postal Service": _p("USPS", "US", couriers=("usps",), complete=True),
    "US Mail": _p("USPS", "US", couriers=("usps",), complete=True),
    "China Post": _p("China Post", "CN"),
    "ePacket": _p("China Post", "CN"),
    "China EMS": _p("China EMS", "CN"),
    "EMS China": _p("China EMS", "CN"),
    "EMS": DeclaredCarrier("EMS", "post", any_s10=True, complete=False),
    "Hong Kong Post": _p("Hongkong Post", "HK"),
    "Hongkong Post": _p("Hongkong Post", "HK"),
    "Singapore Post": _p("Singapore Post", "SG"),
    "SingPost": _p("Singapore Post", "SG"),
    "Royal Mail": _p("Royal Mail", "GB"),
    "Parcelforce": _p("Parcelforce", "GB"),
    "PostNL": _p("PostNL", "NL"),
    "La Poste": _p("La Poste", "FR"),
    "Colissimo": _p("La Poste", "FR"),
    "Deutsche Post": _p("Deutsche Post", "DE"),
    "Correos": _p("Correos", "ES"),
    "Poste Italiane": _p("Poste Italiane", "IT"),
    "Swiss Post": _p("Swiss Post", "CH"),
    "Austrian Post": _p("Austrian Post", "AT"),
    "PostNord": _p("PostNord", "SE", "DK"),
    "Posti": _p("Posti", "FI"),
    "Posten Norge": _p("Posten Norge", "NO"),
    "Bring": _p("Posten Norge", "NO"),
    "bpost": _p("bpost", "BE"),
    "An Post": _p("An Post", "IE"),
    "CTT": _p("CTT", "PT"),
    "Canada Post": _p("Canada Post", "CA", couriers=("canada_post",)),
    "Australia Post": _p("Australia Post", "AU"),
    "NZ Post": _p("NZ Post", "NZ"),
    "New Zealand Post": _p("NZ Post", "NZ"),
    "Japan Post": _p("Japan Post", "JP"),
    "Korea Post": _p("Korea Post", "KR"),
    "Russian Post": _p("Russian Post", "RU"),
    "Pochta Rossii": _p("Russian Post", "RU"),
    "Ukrposhta": _p("Ukrposhta", "UA"),
    "Poczta Polska": _p("Poczta Polska", "PL"),
    "Czech Post": _p("Czech Post", "CZ"),
    "Magyar Posta": _p("Magyar Posta", "HU"),
    "Correios": _p("Correios", "BR"),
    "Correos de Mexico": _p("Correos de Mexico", "MX"),
    "India Post": _p("India Post", "IN"),
    "Thailand Post": _p("Thailand Post", "TH"),
    "Pos Malaysia": _p("Pos Malaysia", "MY"),
    "PTT": _p("PTT", "TR"),
    "Israel Post": _p("Israel Post", "IL"),
    "Emirates Post": _p("Emirates Post", "AE"),
    "Omniva": _p("Omniva", "EE"),
    "Latvijas Pasts": _p("Latvijas Pasts", "LV"),
    "Lietuvos Pastas": _p("Lietuvos Pastas", "LT"),
    "Chunghwa Post": _p("Chunghwa Post", "TW"),
    # Aggregators: they hand parcels to any post or last-mile courier.
    "Cainiao": _AGGREGATOR,
    "AliExpress": _AGGREGATOR,
    "AliExpress Standard Shipping": _AGGREGATOR,
    "AliExpress Selection Shipping": _AGGREGATOR,
    "AliExpress Premium Shipping": _AGGREGATOR,
    "AliExpress Saver Shipping": _AGGREGATOR,
    "AliExpress Direct": _AGGREGATOR,
    "AliExpress Choice": _AGGREGATOR,
    # China forwarders: their own format, or a post's or a last-mile courier's.
    "YunExpress": _f("YunExpress", "yunexpress"),
    "Yun Express": _f("YunExpress", "yunexpress"),
    "YunTrack": _f("YunExpress", "yunexpress"),
    "4PX": _f("4PX", "4px"),
    "Yanwen": _f("Yanwen", "yanwen"),
    "SF Express": _f("SF Express", "sf_express"),
    "SF International": _f("SF Express", "sf_express"),
}

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub("", text.lower().replace("&", "and"))


@functools.cache
def _table() -> tuple[tuple[str, DeclaredCarrier, bool], ...]:
    """(alias key, carrier, prefix allowed), longest key first.

    Our aliases also match as a prefix ("China Post Registered Air Mail"); the S10
    operator names of the data only match whole, since some are plain words
    (Luxembourg's operator is called "POST").
    """
    table: dict[str, tuple[DeclaredCarrier, bool]] = {}
    s10 = registry().by_key.get("s10")
    if s10 is not None:
        for lookup in s10.additional:
            for country, entry in lookup.exact.items():
                operator = entry.values.get("courier")
                key = _key(str(operator or ""))
                # Short names are plain words ("Post", "Posten"): too vague to trust.
                if len(key) >= 7 and lookup.group == "CountryCode":
                    table.setdefault(key, (_p(str(operator), country), False))
    for alias, carrier in _ALIASES.items():
        table[_key(alias)] = (carrier, True)  # ours win over the data's spellings
    rows = [(key, carrier, prefix) for key, (carrier, prefix) in table.items()]
    return tuple(sorted(rows, key=lambda row: -len(row[0])))


@functools.lru_cache(maxsize=4096)
def resolve(declared: str | None) -> DeclaredCarrier | None:
    """The carrier a free-text name declares, or ``None`` when the name is unknown.

    The longest alias the name starts with wins ("China Post Registered Air Mail"
    is China Post; "DHL eCommerce" is not plain "DHL").

    >>> resolve("Yun Express").name, resolve("china post registered air mail").name
    ('YunExpress', 'China Post')
    >>> resolve("Royal Mail Group plc").posts
    frozenset({'GB'})
    """
    if not declared:
        return None
    key = _key(declared)
    if len(key) < 2:
        return None
    for alias, carrier, prefix in _table():
        if key == alias or (prefix and key.startswith(alias)):
            return carrier
    return None


def _s10_country(candidate: Candidate) -> str | None:
    if candidate.courier != "s10":
        return None
    return candidate.groups.get("CountryCode")


def _carries(
    carrier: DeclaredCarrier, candidate: Candidate, destination: str | None
) -> bool | None:
    """Whether ``carrier`` can issue/carry this one candidate (None: cannot tell)."""
    courier = candidate.courier
    country = _s10_country(candidate)
    if carrier.kind == "aggregator":
        return True
    if carrier.kind == "forwarder":
        return courier in carrier.couriers or courier not in FORWARDER_COURIERS
    if courier in carrier.couriers:
        return True
    if country is not None:
        if carrier.any_s10 or country in carrier.posts:
            return True
        if carrier.kind == "post":
            if destination is None:
                return None
            return destination in carrier.posts
        return False
    if carrier.kind == "post" and "US" in carrier.posts and courier == "ups":
        # UPS SurePost: handed to USPS for delivery, service type YW.
        return candidate.groups.get("ServiceType") == "YW"
    return False


def carrier_can_issue(
    declared: str | None, detection: Detection, *, destination_country: str | None = None
) -> bool | None:
    """``False`` when the declared carrier cannot issue (or carry) the number's format.

    ``None`` when the declared name is unknown, the number matches no format, or it
    cannot be told (an S10 number of another country declared with a post, and no
    destination to say whether that post delivers it). ``destination_country`` is
    the shipment's ISO alpha-2 destination, when known.

    >>> from collector.numbers.detect import detect
    >>> carrier_can_issue("Royal Mail", detect("UB123456785CN"), destination_country="GB")
    True
    >>> carrier_can_issue("Royal Mail", detect("UB123456785CN"), destination_country="FR")
    False
    """
    carrier = resolve(declared)
    if carrier is None or not detection.candidates:
        return None
    destination = destination_country.upper() if destination_country else None
    undecided = False
    for candidate in detection.candidates:
        answer = _carries(carrier, candidate, destination)
        if answer:
            return True
        undecided = undecided or answer is None
    if undecided:
        return None
    if not carrier.complete and detection.number.isdigit():
        # Digits-only numbers are shared by many carriers; ours may simply not be
        # in the data (DHL Paket, a post's domestic numbers): not a contradiction.
        return None
    return False
