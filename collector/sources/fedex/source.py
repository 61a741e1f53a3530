"""FedEx Track API v1 (``fedex``): FedEx's own record, up to 30 numbers a call.

Protocol (``reference/carriers.md`` §5, developer.fedex.com Track API): OAuth2
client credentials (form body) at ``{base_url}/oauth/token``; ``POST
{base_url}/track/v1/trackingnumbers`` with ``{"includeDetailedScans": true,
"trackingInfo": [{"trackingNumberInfo": {"trackingNumber": ...}}]}`` and an
``x-locale`` header. The answer is ``{"output": {"completeTrackResults":
[{trackingNumber, trackResults[]}]}}``; a number FedEx cannot find carries a
per-number ``error`` (``TRACKING.TRACKINGNUMBER.NOTFOUND``: ``not_found``;
``...EMPTY``/``...INVALID``: ``invalid``). ``scanEvents[].date`` is ISO 8601, usually
with an offset; one without is zone-unknown (kept as local text, never taken for
UTC silently). ``dateAndTimes`` (``ESTIMATED_DELIVERY`` ...),
``estimatedDeliveryTimeWindow`` and ``deliveryDetails`` (received/signed by) are
kept. A whole-call refusal is ``{"errors": [{code, message}]}``
(``NOT.AUTHORIZED.ERROR`` stops the source).

Limits (developer.fedex.com rate-limit guide): 1,400 transactions per 10 s per
project (140 a second here) and, for Track, 100,000 a day; the day resets at
00:00 GMT, and the 429 "Daily transaction quota exceeded" stops the source until
then (it is not retried).

    >>> parse_tracking(b'{"output":{"completeTrackResults":[{"trackingNumber":"1",'
    ...                b'"trackResults":[{"error":{"code":"TRACKING.TRACKINGNUMBER.NOTFOUND",'
    ...                b'"message":"not found"}}]}]}}', ("1",), 200).results[0].outcome
    <Outcome.NOT_FOUND: 'not_found'>
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from collector.countries import normalise_country
from collector.sources.base import (
    UNREADABLE,
    Auth,
    BatchOutcome,
    ClientCredentials,
    Event,
    Exchange,
    Outcome,
    Parsed,
    Request,
    Result,
    Sender,
    Source,
    Unreadable,
    as_text,
    call_outcome,
    chronological,
    error_results,
    iso_stamp,
    join_location,
    load_object,
    missing_results,
    need_dict,
    need_list,
    need_text,
    transport_failure,
    unreadable_call,
    unreadable_message,
    with_unreadable_summary,
)
from collector.sources.fedex.status_map import map_event
from collector.sources.status import Status

NAME = "fedex"
WHAT = "trackingnumbers"

NOT_FOUND_CODES = frozenset({"TRACKING.TRACKINGNUMBER.NOTFOUND"})
INVALID_CODES = frozenset({"TRACKING.TRACKINGNUMBER.EMPTY", "TRACKING.TRACKINGNUMBER.INVALID"})
REFUSED_CODES = frozenset({"NOT.AUTHORIZED.ERROR", "FORBIDDEN.ERROR"})
_QUOTA_TEXT = b"daily transaction quota exceeded"


@dataclass(frozen=True)
class FedexOptions:
    """``[sources.fedex]`` keys of its own."""

    #: ``x-locale`` header: the language of the texts.
    locale: str = "en_US"

    def check(self) -> tuple[str, str] | None:
        """The key and what is wrong with it, if anything."""
        if not self.locale.strip():
            return "locale", "must not be empty"
        return None


class Fedex(Source):
    """FedEx Track API v1: FedEx numbers, OAuth2, 30 a call, 100,000 a day."""

    name: ClassVar[str] = NAME
    batch_size: ClassVar[int] = 30
    default_rate: ClassVar[float] = 140.0
    default_daily_quota: ClassVar[int | None] = 100_000
    auth: ClassVar[Auth] = ClientCredentials(token_path="/oauth/token")
    default_base_url: ClassVar[str] = "https://apis.fedex.com"
    base_url_suffixes: ClassVar[tuple[str, ...]] = ("/track/v1/trackingnumbers", "/track/v1")
    couriers: ClassVar[frozenset[str] | None] = frozenset({"fedex"})
    options_type: ClassVar[type[Any] | None] = FedexOptions
    carrier_own: ClassVar[bool] = True
    simulator: ClassVar[str | None] = "collector.sources.fedex.simulator"
    track_operation: ClassVar[str] = WHAT

    @classmethod
    def quota_exhausted(cls, status: int, body: bytes | None) -> str | None:
        """FedEx's 429 "Daily transaction quota exceeded" (it lasts until 00:00 GMT)."""
        if status == 429 and _QUOTA_TEXT in (body or b"")[:4096].lower():
            return "FedEx daily transaction quota exceeded (it resets at 00:00 GMT)"
        return None

    @classmethod
    def parse_answer(
        cls,
        operation: str,
        body: bytes | None,
        numbers: Sequence[str] | None,
        http_status: int | None,
    ) -> Parsed:
        """``trackingnumbers`` answers (FedEx tracking has no other call)."""
        return parse_tracking(body, numbers, http_status)

    def tracking_request(self, numbers: Sequence[str]) -> Request:
        """``POST /track/v1/trackingnumbers`` for up to 30 numbers, with detailed scans."""
        document = {
            "includeDetailedScans": True,
            "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in numbers],
        }
        return Request(
            operation=WHAT,
            method="POST",
            url=f"{self.base_url}/track/v1/trackingnumbers",
            numbers=tuple(numbers),
            body=json.dumps(document, separators=(",", ":")).encode("utf-8"),
            headers=(("Content-Type", "application/json"), ("x-locale", self.options.locale)),
        )

    async def track(
        self, numbers: Sequence[str], *, registered: frozenset[str], send: Sender
    ) -> BatchOutcome:
        """One call for the batch."""
        out = BatchOutcome()
        response = await send(self.tracking_request(numbers))
        parsed = transport_failure(response) or parse_tracking(
            response.body, response.request.numbers, response.status
        )
        out.exchanges.append(Exchange(response, parsed))
        out.results.update({r.number: r for r in parsed.results})
        out.stop = parsed.stop
        return out


def parse_tracking(
    body: bytes | None, numbers: Sequence[str] | None, http_status: int | None
) -> Parsed:
    """Parse a ``trackingnumbers`` answer into one result per number asked."""
    asked = tuple(numbers or ())
    status = http_status or 200
    document = load_object(body, asked, WHAT, http_status)
    if isinstance(document, Parsed):
        return document
    try:
        if "output" not in document:
            errors = need_list(document.get("errors"), "$.errors")
            return _errors(asked, [need_dict(e, "$.errors[]") for e in errors], status)
        output = need_dict(document.get("output"), "$.output", required=True)
        complete = need_list(
            output.get("completeTrackResults"), "$.output.completeTrackResults", required=True
        )
        entries = [
            (
                f"$.output.completeTrackResults[{i}]",
                need_dict(c, f"$.output.completeTrackResults[{i}]", required=True),
            )
            for i, c in enumerate(complete)
        ]
    except Unreadable as exc:
        return unreadable_call(asked, WHAT, str(exc))
    wanted = {n.upper(): n for n in asked}
    seen: dict[str, Result] = {}
    for index, (path, entry) in enumerate(entries):
        try:
            shown = need_text(entry.get("trackingNumber"), f"{path}.trackingNumber")
            if shown is None and len(entries) == len(asked):
                shown = asked[index]
            if shown is None:
                raise Unreadable(f"{path}.trackingNumber", "is missing")
            number = wanted.get(shown.upper()) if asked else shown
            if number is None or number in seen:
                continue
            seen[number] = entry_result(entry, number, path)
        except Unreadable as exc:
            number = asked[index] if index < len(asked) else str(index)
            seen[number] = Result(
                number, Outcome.ERROR, code=UNREADABLE, message=unreadable_message(WHAT, str(exc))
            )
    order = list(asked) if asked else list(seen)
    results = tuple(seen[n] for n in order if n in seen)
    if asked:
        results += missing_results(asked, seen, WHAT)
    return with_unreadable_summary(Parsed(call_outcome(results), results), WHAT)


def _errors(asked: Sequence[str], errors: list[dict[str, Any]], status: int) -> Parsed:
    """A call FedEx refused as a whole (top-level ``errors``)."""
    first = errors[0] if errors else {}
    code = as_text(first.get("code")) or str(status)
    message = f"{WHAT}: {code} " + (as_text(first.get("message")) or f"HTTP {status}")
    if status == 429 or code == "RATE.LIMIT.EXCEEDED":
        results = error_results(asked, Outcome.RATE_LIMITED, message)
        return Parsed(Outcome.RATE_LIMITED, results, message)
    if code in INVALID_CODES:
        return Parsed(
            Outcome.INVALID, error_results(asked, Outcome.INVALID, message, code), message
        )
    stop = message if code in REFUSED_CODES or status in (401, 403) else None
    return Parsed(Outcome.ERROR, error_results(asked, Outcome.ERROR, message, code), message, stop)


def entry_result(entry: dict[str, Any], number: str, path: str) -> Result:
    """One ``completeTrackResults[]`` entry as a result (its first usable track result)."""
    tracks = need_list(entry.get("trackResults"), f"{path}.trackResults")
    if not tracks:
        return Result(number, Outcome.NOT_FOUND, message="no track result", status=Status.NOT_FOUND)
    parsed = [
        need_dict(t, f"{path}.trackResults[{i}]", required=True) for i, t in enumerate(tracks)
    ]
    # Several results for one number (a reused number): the first without an error.
    index = next((i for i, t in enumerate(parsed) if not t.get("error")), 0)
    where = f"{path}.trackResults[{index}]"
    track = parsed[index]
    error = need_dict(track.get("error"), f"{where}.error")
    if error:
        code = as_text(error.get("code"))
        message = f"{WHAT}: {code or '-'} " + (as_text(error.get("message")) or "error")
        if code in NOT_FOUND_CODES:
            return Result(
                number, Outcome.NOT_FOUND, code=code, message=message, status=Status.NOT_FOUND
            )
        if code in INVALID_CODES:
            return Result(number, Outcome.INVALID, code=code, message=message)
        return Result(number, Outcome.ERROR, code=code, message=message)
    scans = need_list(track.get("scanEvents"), f"{where}.scanEvents")
    events = chronological(
        _event(need_dict(s, f"{where}.scanEvents[{i}]", required=True), f"{where}.scanEvents[{i}]")
        for i, s in enumerate(scans)
    )
    latest = need_dict(track.get("latestStatusDetail"), f"{where}.latestStatusDetail")
    code = need_text(latest.get("code"), f"{where}.latestStatusDetail.code")
    derived = need_text(latest.get("derivedCode"), f"{where}.latestStatusDetail.derivedCode")
    text = need_text(
        latest.get("statusByLocale"), f"{where}.latestStatusDetail.statusByLocale"
    ) or need_text(latest.get("description"), f"{where}.latestStatusDetail.description")
    status, sub_status = map_event(code, derived)
    if not events and not latest:
        return Result(number, Outcome.NOT_FOUND, message="no scan events", status=Status.NOT_FOUND)
    start, end = _estimate(track, where)
    details = need_dict(track.get("deliveryDetails"), f"{where}.deliveryDetails")
    received = as_text(details.get("receivedByName")) or as_text(details.get("signedByName"))
    message = "; ".join(x for x in (text, f"received by {received}" if received else None) if x)
    return Result(
        number,
        Outcome.OK,
        code=code,
        message=message or None,
        status=None if status is Status.UNKNOWN else status,
        sub_status=sub_status,
        source_status_raw="/".join(x for x in (code, derived, text) if x) or None,
        events=tuple(events),
        estimated_from=start,
        estimated_to=end,
    )


def _instant(text: Any) -> datetime | None:
    stamp = iso_stamp(as_text(text))
    return stamp.occurred_at if stamp is not None else None


def _estimate(track: dict[str, Any], where: str) -> tuple[datetime | None, datetime | None]:
    """``estimatedDeliveryTimeWindow.window``, else ``dateAndTimes`` ESTIMATED_DELIVERY."""
    window = need_dict(
        need_dict(
            track.get("estimatedDeliveryTimeWindow"), f"{where}.estimatedDeliveryTimeWindow"
        ).get("window"),
        f"{where}.estimatedDeliveryTimeWindow.window",
    )
    begins, ends = _instant(window.get("begins")), _instant(window.get("ends"))
    if begins or ends:
        return begins or ends, ends or begins
    for item in need_list(track.get("dateAndTimes"), f"{where}.dateAndTimes"):
        if isinstance(item, dict) and as_text(item.get("type")) == "ESTIMATED_DELIVERY":
            when = _instant(item.get("dateTime"))
            return when, when
    return None, None


def _event(raw: dict[str, Any], path: str) -> Event | None:
    stamp = iso_stamp(need_text(raw.get("date"), f"{path}.date"))
    code = need_text(raw.get("eventType"), f"{path}.eventType")
    derived = need_text(raw.get("derivedStatusCode"), f"{path}.derivedStatusCode")
    text = need_text(raw.get("eventDescription"), f"{path}.eventDescription")
    exception = need_text(raw.get("exceptionDescription"), f"{path}.exceptionDescription")
    if stamp is None and text is None:
        return None
    place = need_dict(raw.get("scanLocation"), f"{path}.scanLocation")
    city = need_text(place.get("city"), f"{path}.scanLocation.city")
    state = need_text(place.get("stateOrProvinceCode"), f"{path}.scanLocation.stateOrProvinceCode")
    postcode = need_text(place.get("postalCode"), f"{path}.scanLocation.postalCode")
    country_text = need_text(place.get("countryCode"), f"{path}.scanLocation.countryCode")
    status, sub_status = map_event(code, derived)
    description = text if not exception else f"{text}: {exception}" if text else exception
    return Event(
        occurred_at=stamp.occurred_at if stamp else None,
        local_time=stamp.local_time if stamp else None,
        utc_offset_minutes=stamp.utc_offset_minutes if stamp else None,
        tz_known=stamp.tz_known if stamp else False,
        status=status,
        sub_status=sub_status,
        raw_code="/".join(x for x in (code, derived) if x) or None,
        raw_status=need_text(raw.get("derivedStatus"), f"{path}.derivedStatus") or text,
        description=description,
        location=join_location(city, state, postcode, country_text),
        city=city,
        state=state,
        postcode=postcode,
        country=(normalise_country(country_text) or country_text) if country_text else None,
        provider="FedEx",
    )
