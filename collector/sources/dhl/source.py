"""DHL Shipment Tracking – Unified (``dhl``): DHL's own record, every DHL division.

Protocol (``reference/carriers.md`` §4): ``GET {base_url}/track/shipments
?trackingNumber=<n>[&service=...]&language=en`` with the key in the ``DHL-API-Key``
header, one number per call. The answer is ``{"shipments": [{id, service, origin,
destination, status, estimatedTimeOfDelivery, details{proofOfDelivery ...},
events[]}]}``; events and ``status`` share one shape (``timestamp``, ``location
.address{countryCode, postalCode, addressLocality}``, ``statusCode``, ``status``,
``description``). Timestamps come with or without an offset: without one the zone
is unknown (kept as local text, never taken for UTC silently). A number DHL does
not know is HTTP 404 ``{"title": "No result found", "status": 404, ...}``:
``not_found``. Without ``service`` a look-up may return another division's
shipment, so ``service`` is passed when the table names one.

Limits: 1 call a second and 250 calls a day by default; the quota resets at
00:00 GMT and an exhausted one answers 429 until then (the source stops).

    >>> parse_shipments(b'{"title":"No result found","status":404}', ("X1",), 404).outcome
    <Outcome.NOT_FOUND: 'not_found'>
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from collector.countries import normalise_country
from collector.sources.base import (
    UNREADABLE,
    Auth,
    BatchOutcome,
    Event,
    Outcome,
    Parsed,
    Request,
    Result,
    Sender,
    Source,
    Stamp,
    StaticKey,
    Unreadable,
    as_text,
    chronological,
    error_results,
    iso_stamp,
    join_location,
    load_object,
    need_dict,
    need_list,
    need_text,
    one_call_per_number,
    unreadable_call,
    unreadable_message,
)
from collector.sources.dhl.status_map import map_status
from collector.sources.status import Status

NAME = "dhl"
WHAT = "shipments"

#: ``service`` values of the DHL OpenAPI (reference §4).
SERVICES = frozenset(
    {
        "freight",
        "express",
        "post-de",
        "parcel-de",
        "parcel-nl",
        "parcel-pl",
        "parcel-uk",
        "dsc",
        "dgf",
        "ecommerce",
        "ecommerce-europe",
        "svb",
        "sameday",
    }
)


@dataclass(frozen=True)
class DhlOptions:
    """``[sources.dhl]`` keys of its own."""

    #: The DHL division to ask (``parcel-de``, ``express`` ...); "" lets DHL guess.
    service: str = ""
    #: ``language`` of the texts.
    language: str = "en"

    def check(self) -> tuple[str, str] | None:
        """The key and what is wrong with it, if anything."""
        if self.service and self.service not in SERVICES:
            return "service", f"expected one of {', '.join(sorted(SERVICES))}, got {self.service!r}"
        return None


class Dhl(Source):
    """DHL Shipment Tracking – Unified: DHL numbers, one per call, 1/s, 250 a day."""

    name: ClassVar[str] = NAME
    batch_size: ClassVar[int] = 1
    default_rate: ClassVar[float] = 1.0
    default_daily_quota: ClassVar[int | None] = 250
    auth: ClassVar[Auth] = StaticKey(header="DHL-API-Key")
    default_base_url: ClassVar[str] = "https://api-eu.dhl.com"
    base_url_suffixes: ClassVar[tuple[str, ...]] = ("/track/shipments", "/track")
    couriers: ClassVar[frozenset[str] | None] = frozenset({"dhl"})
    options_type: ClassVar[type[Any] | None] = DhlOptions
    carrier_own: ClassVar[bool] = True
    simulator: ClassVar[str | None] = "collector.sources.dhl.simulator"
    track_operation: ClassVar[str] = "shipments"

    @classmethod
    def quota_exhausted(cls, status: int, body: bytes | None) -> str | None:
        """DHL's 429 for a used-up daily quota (it lasts until 00:00 GMT)."""
        if status == 429 and b"quota" in (body or b"")[:4096].lower():
            return "DHL daily quota exceeded (it resets at 00:00 GMT)"
        return None

    @classmethod
    def parse_answer(
        cls,
        operation: str,
        body: bytes | None,
        numbers: Sequence[str] | None,
        http_status: int | None,
    ) -> Parsed:
        """``shipments`` answers (DHL has no other call)."""
        return parse_shipments(body, numbers, http_status)

    def shipments_request(self, number: str) -> Request:
        """``GET /track/shipments?trackingNumber=...[&service=...]&language=en``."""
        params = [("trackingNumber", number)]
        if self.options.service:
            params.append(("service", self.options.service))
        params.append(("language", self.options.language))
        return Request(
            operation="shipments",
            method="GET",
            url=f"{self.base_url}/track/shipments",
            numbers=(number,),
            params=tuple(params),
        )

    async def track(
        self, numbers: Sequence[str], *, registered: frozenset[str], send: Sender
    ) -> BatchOutcome:
        """One call per number."""
        return await one_call_per_number(numbers, self.shipments_request, parse_shipments, send)


def parse_shipments(
    body: bytes | None, numbers: Sequence[str] | None, http_status: int | None
) -> Parsed:
    """Parse a ``/track/shipments`` answer (or its 404 problem document)."""
    asked = tuple(numbers or ())
    status = http_status or 200
    document = load_object(body, asked, WHAT, http_status)
    if isinstance(document, Parsed):
        return document
    if "shipments" not in document:
        if http_status is None:
            # A saved problem document (``parse``): it states its status and, in
            # ``instance``, the number it is about.
            said = document.get("status")
            status = said if isinstance(said, int) and not isinstance(said, bool) else 200
            instance = as_text(document.get("instance")) or ""
            if not asked and instance.startswith("/shipment/"):
                asked = (instance.removeprefix("/shipment/"),)
        return _problem(asked, document, status)
    try:
        shipments = need_list(document.get("shipments"), "$.shipments", required=True)
        entries = [
            (f"$.shipments[{i}]", need_dict(s, f"$.shipments[{i}]", required=True))
            for i, s in enumerate(shipments)
        ]
    except Unreadable as exc:
        return unreadable_call(asked, WHAT, str(exc))
    results: list[Result] = []
    for index, (path, shipment) in enumerate(entries):
        shown = as_text(shipment.get("id"))
        number = asked[0] if asked else shown or str(index)
        if asked and index > 0:
            break  # one number per call: further shipments are DHL's other guesses
        try:
            results.append(shipment_result(shipment, number, path))
        except Unreadable as exc:
            message = unreadable_message(WHAT, str(exc))
            results.append(Result(number, Outcome.ERROR, code=UNREADABLE, message=message))
    if not results:
        results = [
            Result(
                n, Outcome.NOT_FOUND, message="no shipment in the answer", status=Status.NOT_FOUND
            )
            for n in asked
        ]
    outcome = results[0].outcome if results else Outcome.OK
    summary = (
        results[0].message if outcome is Outcome.ERROR and results[0].code == UNREADABLE else None
    )
    return Parsed(outcome, tuple(results), summary)


def _problem(asked: Sequence[str], document: dict[str, Any], status: int) -> Parsed:
    """An RFC 7807-style problem: ``{"title", "status", "detail"}``."""
    title = as_text(document.get("title")) or as_text(document.get("message")) or f"HTTP {status}"
    detail = as_text(document.get("detail"))
    message = f"{WHAT}: {title}" + (f" ({detail})" if detail else "")
    code = as_text(document.get("status")) or str(status)
    if status == 404 or code == "404":
        results = tuple(
            Result(n, Outcome.NOT_FOUND, code="404", message=message, status=Status.NOT_FOUND)
            for n in asked
        )
        return Parsed(Outcome.NOT_FOUND, results)
    if status == 400:
        return Parsed(
            Outcome.INVALID, error_results(asked, Outcome.INVALID, message, code), message
        )
    if status == 429:
        limited = (
            f"{message}; DHL's daily quota resets at 00:00 GMT: stopping this source for the run"
        )
        results = error_results(asked, Outcome.RATE_LIMITED, message)
        return Parsed(Outcome.RATE_LIMITED, results, message, limited)
    refused = message if status in (401, 403) else None
    return Parsed(
        Outcome.ERROR, error_results(asked, Outcome.ERROR, message, code), message, refused
    )


def shipment_result(shipment: dict[str, Any], number: str, path: str) -> Result:
    """One ``shipments[]`` entry as a :class:`Result`."""
    raw_events = need_list(shipment.get("events"), f"{path}.events")
    events = [
        _event(need_dict(e, f"{path}.events[{i}]", required=True), f"{path}.events[{i}]")
        for i, e in enumerate(raw_events)
    ]
    ordered = chronological(events)
    latest = need_dict(shipment.get("status"), f"{path}.status")
    if not ordered and latest:
        only = _event(latest, f"{path}.status")
        ordered = [only] if only is not None else []
    code = need_text(latest.get("statusCode"), f"{path}.status.statusCode")
    text = need_text(latest.get("status"), f"{path}.status.status") or need_text(
        latest.get("description"), f"{path}.status.description"
    )
    status, sub_status = map_status(code, text)
    window = need_dict(
        shipment.get("estimatedDeliveryTimeFrame"), f"{path}.estimatedDeliveryTimeFrame"
    )
    eta = iso_stamp(
        need_text(shipment.get("estimatedTimeOfDelivery"), f"{path}.estimatedTimeOfDelivery")
    )
    start = iso_stamp(
        need_text(window.get("estimatedFrom"), f"{path}.estimatedDeliveryTimeFrame.estimatedFrom")
    )
    end = iso_stamp(
        need_text(
            window.get("estimatedThrough"), f"{path}.estimatedDeliveryTimeFrame.estimatedThrough"
        )
    )
    if not ordered:
        return Result(
            number,
            Outcome.NOT_FOUND,
            code=code,
            message=text or "no events",
            status=Status.NOT_FOUND,
        )
    return Result(
        number,
        Outcome.OK,
        code=code,
        message=text,
        status=None if status is Status.UNKNOWN else status,
        sub_status=sub_status,
        source_status_raw="/".join(x for x in (as_text(shipment.get("service")), code) if x)
        or None,
        events=tuple(ordered),
        estimated_from=_instant(start or eta),
        estimated_to=_instant(end or eta),
    )


def _instant(stamp: Stamp | None) -> datetime | None:
    return stamp.occurred_at if stamp is not None else None


def _event(raw: dict[str, Any], path: str) -> Event | None:
    stamp = iso_stamp(need_text(raw.get("timestamp"), f"{path}.timestamp"))
    code = need_text(raw.get("statusCode"), f"{path}.statusCode")
    text = need_text(raw.get("status"), f"{path}.status")
    description = need_text(raw.get("description"), f"{path}.description") or text
    if stamp is None and description is None:
        return None
    address = need_dict(
        need_dict(raw.get("location"), f"{path}.location").get("address"),
        f"{path}.location.address",
    )
    city = need_text(address.get("addressLocality"), f"{path}.location.address.addressLocality")
    postcode = need_text(address.get("postalCode"), f"{path}.location.address.postalCode")
    country_text = need_text(address.get("countryCode"), f"{path}.location.address.countryCode")
    country = normalise_country(country_text) if country_text else None
    status, sub_status = map_status(code, description)
    return Event(
        occurred_at=stamp.occurred_at if stamp else None,
        local_time=stamp.local_time if stamp else None,
        utc_offset_minutes=stamp.utc_offset_minutes if stamp else None,
        tz_known=stamp.tz_known if stamp else False,
        status=status,
        sub_status=sub_status,
        raw_code=code,
        raw_status=text,
        description=description,
        location=join_location(city, None, postcode, country_text),
        city=city,
        postcode=postcode,
        country=country,
        provider="DHL",
    )
