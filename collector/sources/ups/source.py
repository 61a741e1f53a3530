"""UPS Track API v1 (``ups``): UPS's own record of a 1Z (and other UPS) number.

Protocol (``reference/carriers.md`` §5, UPS-API/api-documentation ``Tracking.yaml``):
OAuth2 client credentials with HTTP Basic client authentication at
``{base_url}/security/v1/oauth/token``; ``GET {base_url}/api/track/v1/details/{n}
?locale=en_US&returnSignature=false&returnMilestones=false&returnPOD=false`` with the
headers ``transId`` (unique per request) and ``transactionSrc``; one number a call.

The answer is ``{"trackResponse": {"shipment": [{inquiryNumber, package[],
warnings[]}]}}``. A number UPS has nothing on is HTTP 200 with the warning
``TW0001 Tracking Information Not Found``: ``not_found``. ``TV1002 Invalid inquiry
number`` (a ``{"response": {"errors": [...]}}`` document) is ``invalid``. An
activity's ``date``/``time`` are local; ``gmtDate``/``gmtTime``/``gmtOffset`` give
the instant and its offset (without them the time is zone-unknown). The delivery
place is the activity's ``location.address``; ``deliveryDate`` (``SDD`` scheduled,
``RDD`` rescheduled, ``DEL`` delivered) with ``deliveryTime`` gives the expected
window, and ``deliveryInformation.receivedBy``/``location`` (the POD) are kept in
the result's message beside the raw body.

Limits: UPS documents none for tracking (not found); 1 request a second here.

    >>> parse_details(b'{"trackResponse":{"shipment":[{"warnings":[{"code":"TW0001",'
    ...               b'"message":"Tracking Information Not Found"}]}]}}', ("1Z1",), 200
    ...               ).results[0].outcome
    <Outcome.NOT_FOUND: 'not_found'>
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from collector.countries import normalise_country
from collector.sources.base import (
    UNREADABLE,
    Auth,
    BatchOutcome,
    ClientCredentials,
    Event,
    Outcome,
    Parsed,
    Request,
    Result,
    Sender,
    Source,
    Unreadable,
    as_text,
    chronological,
    error_results,
    join_location,
    load_object,
    need_dict,
    need_list,
    need_text,
    one_call_per_number,
    parse_offset,
    unreadable_call,
    unreadable_message,
)
from collector.sources.status import Status
from collector.sources.ups.status_map import map_status

NAME = "ups"
WHAT = "details"

#: Warning and error codes (karrio's UPS fixtures; reference §5).
NOT_FOUND_CODES = frozenset({"TW0001"})
INVALID_CODES = frozenset({"TV1002"})
#: ``250003 Invalid Access License number`` and the OAuth refusals: stop the source.
REFUSED_CODES = frozenset({"250003", "250002", "250001"})


@dataclass(frozen=True)
class UpsOptions:
    """``[sources.ups]`` keys of its own."""

    #: ``transactionSrc`` header: who is asking (UPS asks for an identifier).
    transaction_src: str = "parcelproof"
    #: ``locale`` of the texts.
    locale: str = "en_US"

    def check(self) -> tuple[str, str] | None:
        """The key and what is wrong with it, if anything."""
        if not self.transaction_src.strip():
            return "transaction_src", "must not be empty"
        return None


class Ups(Source):
    """UPS Track API v1: UPS numbers, OAuth2 (client_secret_basic), one per call."""

    name: ClassVar[str] = NAME
    batch_size: ClassVar[int] = 1
    default_rate: ClassVar[float] = 1.0
    auth: ClassVar[Auth] = ClientCredentials(
        token_path="/security/v1/oauth/token", client_auth="basic"
    )
    default_base_url: ClassVar[str] = "https://onlinetools.ups.com"
    base_url_suffixes: ClassVar[tuple[str, ...]] = (
        "/api/track/v1/details",
        "/api/track/v1",
        "/api",
    )
    couriers: ClassVar[frozenset[str] | None] = frozenset({"ups"})
    options_type: ClassVar[type[Any] | None] = UpsOptions
    carrier_own: ClassVar[bool] = True
    simulator: ClassVar[str | None] = "collector.sources.ups.simulator"
    track_operation: ClassVar[str] = WHAT

    @classmethod
    def parse_answer(
        cls,
        operation: str,
        body: bytes | None,
        numbers: Sequence[str] | None,
        http_status: int | None,
    ) -> Parsed:
        """``details`` answers (UPS tracking has no other call)."""
        return parse_details(body, numbers, http_status)

    def details_request(self, number: str, trans_id: str | None = None) -> Request:
        """``GET /api/track/v1/details/{number}`` with ``transId`` and ``transactionSrc``."""
        return Request(
            operation=WHAT,
            method="GET",
            url=f"{self.base_url}/api/track/v1/details/{number}",
            numbers=(number,),
            params=(
                ("locale", self.options.locale),
                ("returnSignature", "false"),
                ("returnMilestones", "false"),
                ("returnPOD", "false"),
            ),
            headers=(
                ("transId", trans_id or uuid.uuid4().hex),
                ("transactionSrc", self.options.transaction_src),
            ),
        )

    async def track(
        self, numbers: Sequence[str], *, registered: frozenset[str], send: Sender
    ) -> BatchOutcome:
        """One call per number."""
        return await one_call_per_number(numbers, self.details_request, parse_details, send)


def parse_details(
    body: bytes | None, numbers: Sequence[str] | None, http_status: int | None
) -> Parsed:
    """Parse a ``/details`` answer, or its ``{"response": {"errors": [...]}}`` document."""
    asked = tuple(numbers or ())
    status = http_status or 200
    document = load_object(body, asked, WHAT, http_status)
    if isinstance(document, Parsed):
        return document
    try:
        if "trackResponse" not in document:
            errors = need_list(
                need_dict(document.get("response"), "$.response").get("errors"),
                "$.response.errors",
            )
            return _errors(asked, [need_dict(e, "$.response.errors[]") for e in errors], status)
        shipments = need_list(
            need_dict(document.get("trackResponse"), "$.trackResponse", required=True).get(
                "shipment"
            ),
            "$.trackResponse.shipment",
            required=True,
        )
        shipment = need_dict(shipments[0] if shipments else None, "$.trackResponse.shipment[0]")
    except Unreadable as exc:
        return unreadable_call(asked, WHAT, str(exc))
    path = "$.trackResponse.shipment[0]"
    number = asked[0] if asked else as_text(shipment.get("inquiryNumber")) or "?"
    try:
        result = shipment_result(shipment, number, path)
    except Unreadable as exc:
        message = unreadable_message(WHAT, str(exc))
        return Parsed(
            Outcome.ERROR,
            (Result(number, Outcome.ERROR, code=UNREADABLE, message=message),),
            message,
        )
    return Parsed(result.outcome, (result,))


def _errors(asked: Sequence[str], errors: list[dict[str, Any]], status: int) -> Parsed:
    """A call UPS refused as a whole (``response.errors``): invalid, refused or failed."""
    first = errors[0] if errors else {}
    code = as_text(first.get("code")) or str(status)
    message = f"{WHAT}: {code} " + (as_text(first.get("message")) or f"HTTP {status}")
    if code in INVALID_CODES:
        return Parsed(
            Outcome.INVALID, error_results(asked, Outcome.INVALID, message, code), message
        )
    if code in NOT_FOUND_CODES:
        results = tuple(
            Result(n, Outcome.NOT_FOUND, code=code, message=message, status=Status.NOT_FOUND)
            for n in asked
        )
        return Parsed(Outcome.NOT_FOUND, results, message)
    if status == 429:
        return Parsed(
            Outcome.RATE_LIMITED, error_results(asked, Outcome.RATE_LIMITED, message), message
        )
    stop = message if code in REFUSED_CODES or status in (401, 403) else None
    return Parsed(Outcome.ERROR, error_results(asked, Outcome.ERROR, message, code), message, stop)


def shipment_result(shipment: dict[str, Any], number: str, path: str) -> Result:
    """One ``shipment[]`` entry (its warnings, or the package asked about) as a result."""
    warnings = [
        need_dict(w, f"{path}.warnings[{i}]", required=True)
        for i, w in enumerate(need_list(shipment.get("warnings"), f"{path}.warnings"))
    ]
    packages = need_list(shipment.get("package"), f"{path}.package")
    codes = {as_text(w.get("code")) for w in warnings}
    if not packages:
        said = warnings[0] if warnings else {}
        code = as_text(said.get("code"))
        message = f"{WHAT}: {code or '-'} {as_text(said.get('message')) or 'no package'}"
        if codes & INVALID_CODES:
            return Result(number, Outcome.INVALID, code=code, message=message)
        return Result(
            number, Outcome.NOT_FOUND, code=code, message=message, status=Status.NOT_FOUND
        )
    index = next(
        (
            i
            for i, p in enumerate(packages)
            if isinstance(p, dict) and as_text(p.get("trackingNumber")) == number
        ),
        0,
    )
    where = f"{path}.package[{index}]"
    package = need_dict(packages[index], where, required=True)
    activity = need_list(package.get("activity"), f"{where}.activity")
    events = chronological(
        _event(need_dict(a, f"{where}.activity[{i}]", required=True), f"{where}.activity[{i}]")
        for i, a in enumerate(activity)
    )
    current = need_dict(package.get("currentStatus"), f"{where}.currentStatus")
    kind = need_text(current.get("type"), f"{where}.currentStatus.type")
    code = need_text(current.get("code"), f"{where}.currentStatus.code")
    text = need_text(current.get("description"), f"{where}.currentStatus.description")
    mapped = map_status(kind, code) if current else (Status.UNKNOWN, None)
    status: Status = mapped[0]
    sub_status: str | None = mapped[1]
    if status is Status.UNKNOWN and events:
        status, sub_status = events[-1].status, events[-1].sub_status
    start, end = _window(package, where)
    pod = _pod(need_dict(package.get("deliveryInformation"), f"{where}.deliveryInformation"))
    if not events and not current:
        return Result(number, Outcome.NOT_FOUND, message="no activity", status=Status.NOT_FOUND)
    raw = "/".join(x for x in (kind, code, text) if x) or None
    return Result(
        number,
        Outcome.OK,
        code=code,
        message="; ".join(x for x in (text, pod) if x) or None,
        status=None if status is Status.UNKNOWN else status,
        sub_status=sub_status,
        source_status_raw=raw,
        events=tuple(events),
        estimated_from=start,
        estimated_to=end,
    )


def _pod(info: dict[str, Any]) -> str | None:
    """``deliveryInformation``: who received the parcel and where (the POD)."""
    received = as_text(info.get("receivedBy"))
    where = as_text(info.get("location"))
    parts = [f"received by {received}" if received else None, f"left at {where}" if where else None]
    return ", ".join(p for p in parts if p) or None


def _window(package: dict[str, Any], where: str) -> tuple[datetime | None, datetime | None]:
    """The expected delivery window: ``deliveryDate`` (SDD/RDD) and ``deliveryTime``.

    The dates are local to the destination and carry no zone: read as UTC, as every
    zone-unknown time is (a window is a coarse promise, not evidence).
    """
    dates = {
        as_text(d.get("type")): as_text(d.get("date"))
        for d in need_list(package.get("deliveryDate"), f"{where}.deliveryDate")
        if isinstance(d, dict)
    }
    day = _date(dates.get("RDD") or dates.get("SDD"))
    if day is None:
        return None, None
    times = need_dict(package.get("deliveryTime"), f"{where}.deliveryTime")
    start = _clock(as_text(times.get("startTime")))
    end = _clock(as_text(times.get("endTime")))
    begin = day + (start or timedelta(0))
    finish = day + (end or timedelta(hours=23, minutes=59, seconds=59))
    return begin, finish


def _date(text: str | None) -> datetime | None:
    """``YYYYMMDD`` as midnight UTC (None when it is not one)."""
    if not text or len(text) != 8 or not text.isdigit():
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def _clock(text: str | None) -> timedelta | None:
    """``HHMMSS``, ``HHMM`` or ``HH:MM:SS`` as a time of day (None when it is not one)."""
    digits = (text or "").replace(":", "")
    if not digits.isdigit() or len(digits) not in (4, 5, 6):
        return None
    digits = digits.rjust(6, "0") if len(digits) != 4 else digits + "00"
    hours, minutes, seconds = int(digits[:2]), int(digits[2:4]), int(digits[4:])
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _event(raw: dict[str, Any], path: str) -> Event | None:
    local_day = _date(need_text(raw.get("date"), f"{path}.date"))
    local_time = _clock(need_text(raw.get("time"), f"{path}.time"))
    gmt_day = _date(need_text(raw.get("gmtDate"), f"{path}.gmtDate"))
    gmt_time = _clock(need_text(raw.get("gmtTime"), f"{path}.gmtTime"))
    offset = parse_offset(need_text(raw.get("gmtOffset"), f"{path}.gmtOffset"))
    local = local_day + (local_time or timedelta(0)) if local_day is not None else None
    local_text = local.replace(tzinfo=None).isoformat() if local is not None else None
    if gmt_day is not None and gmt_time is not None:
        occurred_at: datetime | None = gmt_day + gmt_time
        tz_known = True
        if offset is None and local is not None:
            offset = round((local - (gmt_day + gmt_time)).total_seconds() / 60)
    elif local is not None and offset is not None:
        occurred_at, tz_known = local - timedelta(minutes=offset), True
    else:
        occurred_at, tz_known, offset = local, False, None
    status_raw = need_dict(raw.get("status"), f"{path}.status")
    kind = need_text(status_raw.get("type"), f"{path}.status.type")
    code = need_text(status_raw.get("code"), f"{path}.status.code")
    text = need_text(status_raw.get("description"), f"{path}.status.description")
    if occurred_at is None and text is None:
        return None
    address = need_dict(
        need_dict(raw.get("location"), f"{path}.location").get("address"),
        f"{path}.location.address",
    )
    city = need_text(address.get("city"), f"{path}.location.address.city")
    state = need_text(address.get("stateProvince"), f"{path}.location.address.stateProvince")
    postcode = need_text(address.get("postalCode"), f"{path}.location.address.postalCode")
    country_text = need_text(
        address.get("countryCode"), f"{path}.location.address.countryCode"
    ) or need_text(address.get("country"), f"{path}.location.address.country")
    status, sub_status = map_status(kind, code)
    return Event(
        occurred_at=occurred_at,
        local_time=local_text,
        utc_offset_minutes=offset,
        tz_known=tz_known,
        status=status,
        sub_status=sub_status,
        raw_code="/".join(x for x in (kind, code) if x) or None,
        raw_status=need_text(
            status_raw.get("simplifiedTextDescription"), f"{path}.status.simplifiedTextDescription"
        )
        or text,
        description=text,
        location=join_location(city, state, postcode, country_text),
        city=city,
        state=state,
        postcode=postcode,
        country=(normalise_country(country_text) or country_text) if country_text else None,
        provider="UPS",
    )
