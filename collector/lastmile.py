"""The last mile: which courier a handed-over number belongs to (pure, no I/O).

A source that hands a parcel over names the last-mile number and the carrier in
its own words (Cainiao ``destCpInfo.cpName`` "USPS", ``cpCode`` "USPS"; a 17TRACK
provider name "USPS"). :func:`courier_of` turns that into a courier code of the
number catalogue, so that ``[routing]`` can send the number to that carrier's own
source::

    >>> courier_of("9400111206206406260787", "USPS")
    'usps'
    >>> courier_of("9400111206206406260787", None)
    'usps'
    >>> courier_of("ZZ1", "Some Local Courier") is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from collector.numbers.detect import detect

#: Carrier names and codes as sources write them (lower case, spaces collapsed).
CARRIER_NAMES: dict[str, str] = {
    "usps": "usps",
    "united states postal service": "usps",
    "u.s. postal service": "usps",
    "ups": "ups",
    "united parcel service": "ups",
    "fedex": "fedex",
    "federal express": "fedex",
    "dhl": "dhl",
    "dhl paket": "dhl",
    "dhl parcel": "dhl",
    "dhl express": "dhl",
    "dhl ecommerce": "dhl",
    "deutsche post dhl": "dhl",
}

_SPACES = re.compile(r"\s+")


def courier_of(number: str, carrier_text: str | None) -> str | None:
    """The courier code of a last-mile number: from the carrier's name, else the number."""
    if carrier_text:
        name = _SPACES.sub(" ", carrier_text.strip().lower())
        if name in CARRIER_NAMES:
            return CARRIER_NAMES[name]
    found = detect(number)
    return found.courier if found.verdict == "valid" else None


#: Words of an event that hands a parcel over (lower case): only such events are
#: searched for a last-mile number, so a phone or order number that happens to pass
#: a check digit elsewhere in the history is never taken for one.
HANDOVER_HINTS = (
    "hand",  # "handed over to", "handover"
    "last mile",
    "last-mile",
    "transfer",
    "forwarded to",
    "new tracking number",
    "latest tracking number",
)

_TOKEN = re.compile(r"[A-Z0-9]{10,34}")


def number_in_events(descriptions: Iterable[str | None], own: str) -> tuple[str, str] | None:
    """A last-mile number named in a handover event's text, with its courier.

    Only a number whose format has a check digit that it passes (``valid``), of
    another courier than ``own`` is: ``"Handed over to last mile carrier: USPS
    9400111206206406131001"``::

        >>> number_in_events(["Handed over to USPS 9400111206206406131001"], "LP00246813579024")
        ('9400111206206406131001', 'usps')
        >>> number_in_events(["Departed, call 986578788855"], "LP1") is None
        True
    """
    for text in descriptions:
        if not text or not any(hint in text.lower() for hint in HANDOVER_HINTS):
            continue
        for token in _TOKEN.findall(text.upper()):
            if token == own.upper():
                continue
            found = detect(token)
            if found.verdict == "valid" and found.courier:
                return found.number, found.courier
    return None
