"""USPS Tracking v3r2 (``usps``): the delivering carrier's own record in the US.

Protocol (``reference/carriers.md`` §3): OAuth2 client credentials at
``{base_url}/oauth2/v3/token``; ``POST {base_url}/tracking/v3r2/tracking?expand=DETAIL``
with a JSON array ``[{"trackingNumber": ...}]`` answers a JSON array, one object per
number, ``207 Multi-Status`` when some numbers failed (those items are
``{"trackingNumber", "statusCode", "error": {"code", "message"}}``). The single
``GET {base_url}/tracking/v3/tracking/{number}?expand=DETAIL`` is the fallback
(``api = "v3"``, or automatically when the v3r2 path itself is not there).

A number USPS has no record of yet ("not yet in system", a 404 item or answer) is
``not_found``; a malformed one (400) is ``invalid``. Event times: ``GMTTimestamp``
is the instant and ``GMTOffset`` its local offset; ``eventTimestamp`` is the local
text (zone-unknown when neither GMT field is there). The delivery place is
``eventCity``/``eventState``/``eventZIPCode`` (v3: ``eventZIP``); a domestic event
with no ``eventCountry`` is in the US. Expected and predicted delivery are kept.

Limits: 60 requests an hour per application by default (an increase is on
request); the largest v3r2 array is not documented, 10 numbers a call here (the
legacy API's limit).

    >>> parse_track(b'[{"trackingNumber":"X1","statusCode":"404",'
    ...             b'"error":{"code":"404","message":"not yet in system"}}]',
    ...             ("X1",), 207).results[0].outcome
    <Outcome.NOT_FOUND: 'not_found'>
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
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
    json_type,
    load_json,
    missing_results,
    need_dict,
    need_list,
    need_text,
    parse_offset,
    transport_failure,
    undecodable_call,
    unreadable_call,
    unreadable_message,
    with_status,
    with_unreadable_summary,
)
from collector.sources.status import Status
from collector.sources.usps.status_map import map_category, map_event

NAME = "usps"
WHAT = "tracking"


@dataclass(frozen=True)
class UspsOptions:
    """``[sources.usps]`` keys of its own."""

    #: ``v3r2`` (batch POST) or ``v3`` (one GET per number).
    api: str = "v3r2"
    #: ``DETAIL`` (every event) or ``SUMMARY``.
    expand: str = "DETAIL"

    def check(self) -> tuple[str, str] | None:
        """The key and what is wrong with it, if anything."""
        if self.api not in ("v3r2", "v3"):
            return "api", f"expected 'v3r2' or 'v3', got {self.api!r}"
        if self.expand not in ("DETAIL", "SUMMARY"):
            return "expand", f"expected 'DETAIL' or 'SUMMARY', got {self.expand!r}"
        return None


class Usps(Source):
    """USPS Tracking v3r2 (v3 fallback): USPS numbers, OAuth2, 60 requests an hour."""

    name: ClassVar[str] = NAME
    batch_size: ClassVar[int] = 10
    default_rate: ClassVar[float] = 60 / 3600
    auth: ClassVar[Auth] = ClientCredentials(token_path="/oauth2/v3/token")
    default_base_url: ClassVar[str] = "https://apis.usps.com"
    base_url_suffixes: ClassVar[tuple[str, ...]] = (
        "/tracking/v3r2/tracking",
        "/tracking/v3r2",
        "/tracking/v3",
        "/oauth2/v3",
    )
    couriers: ClassVar[frozenset[str] | None] = frozenset({"usps"})
    options_type: ClassVar[type[Any] | None] = UspsOptions
    carrier_own: ClassVar[bool] = True
    simulator: ClassVar[str | None] = "collector.sources.usps.simulator"
    track_operation: ClassVar[str] = "track"

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._single = self.options.api == "v3"

    @classmethod
    def parse_answer(
        cls,
        operation: str,
        body: bytes | None,
        numbers: Sequence[str] | None,
        http_status: int | None,
    ) -> Parsed:
        """``track`` (v3r2 array) and ``track-v3`` (one object) answers."""
        return parse_track(body, numbers, http_status)

    def track_request(self, numbers: Sequence[str]) -> Request:
        """``POST /tracking/v3r2/tracking?expand=DETAIL`` for up to 10 numbers."""
        body = json.dumps([{"trackingNumber": n} for n in numbers], separators=(",", ":"))
        return Request(
            operation="track",
            method="POST",
            url=f"{self.base_url}/tracking/v3r2/tracking",
            numbers=tuple(numbers),
            params=(("expand", self.options.expand),),
            body=body.encode("utf-8"),
            headers=(("Content-Type", "application/json"),),
        )

    def single_request(self, number: str) -> Request:
        """``GET /tracking/v3/tracking/{number}?expand=DETAIL`` (the v3 fallback)."""
        return Request(
            operation="track-v3",
            method="GET",
            url=f"{self.base_url}/tracking/v3/tracking/{number}",
            numbers=(number,),
            params=(("expand", self.options.expand),),
        )

    async def track(
        self, numbers: Sequence[str], *, registered: frozenset[str], send: Sender
    ) -> BatchOutcome:
        """One v3r2 call for the batch; one v3 call per number when v3r2 is not there."""
        out = BatchOutcome()
        if not self._single:
            response = await send(self.track_request(numbers))
            if (
                response.error is None
                and response.status in (404, 405)
                and not _is_array(response.body)
            ):
                # The batch path itself is missing (an older gateway): use v3 from now on.
                self._single = True
            else:
                self._record(out, response)
                return out
        for number in numbers:
            response = await send(self.single_request(number))
            self._record(out, response)
            if out.stop:
                break
        return out

    def _record(self, out: BatchOutcome, response: Any) -> None:
        parsed = transport_failure(response) or parse_track(
            response.body, response.request.numbers, response.status
        )
        out.exchanges.append(Exchange(response, parsed))
        out.stop = out.stop or parsed.stop
        out.results.update({r.number: r for r in parsed.results})


def _is_array(body: bytes | None) -> bool:
    return bool(body) and (body or b"").lstrip()[:1] == b"["


def parse_track(
    body: bytes | None, numbers: Sequence[str] | None, http_status: int | None
) -> Parsed:
    """Parse a v3r2 array or a v3 object answer into one result per number."""
    asked = tuple(numbers or ())
    document, problem = load_json(body)
    status = http_status or 200
    if problem is not None:
        return undecodable_call(asked, WHAT, http_status, problem)
    try:
        if isinstance(document, list):
            items = [
                (f"$[{i}]", need_dict(d, f"$[{i}]", required=True)) for i, d in enumerate(document)
            ]
        elif isinstance(document, dict):
            if "error" in document and "trackingNumber" not in document:
                return _whole_call_error(asked, document, status)
            items = [("$", document)]
        else:
            raise Unreadable("$", f"is {json_type(document)}, expected an array")
    except Unreadable as exc:
        return unreadable_call(asked, WHAT, str(exc))
    wanted = {n.upper(): n for n in asked}
    seen: dict[str, Result] = {}
    for index, (path, item) in enumerate(items):
        try:
            number_text = need_text(item.get("trackingNumber"), f"{path}.trackingNumber")
            if number_text is None and len(asked) == len(items):
                number_text = asked[index]  # an error item that does not repeat its number
            if number_text is None:
                raise Unreadable(f"{path}.trackingNumber", "is missing")
            number = wanted.get(number_text.upper()) if asked else number_text
            if number is None or number in seen:
                continue
            seen[number] = item_result(item, number, path, status)
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


def _whole_call_error(asked: Sequence[str], document: dict[str, Any], status: int) -> Parsed:
    """``{"apiVersion", "error": {"code", "message", "errors": [...]}}`` for the whole call."""
    error = need_dict(document.get("error"), "$.error")
    outcome, message = _error_outcome(status, error)
    stop = message if status in (401, 403) else None
    return Parsed(
        outcome, error_results(asked, outcome, message, as_text(error.get("code"))), message, stop
    )


def _error_outcome(status: int, error: dict[str, Any]) -> tuple[Outcome, str]:
    code = as_text(error.get("code")) or str(status)
    text = as_text(error.get("message")) or "error"
    details = [as_text(d.get("detail")) for d in error.get("errors") or [] if isinstance(d, dict)]
    said = "; ".join(d for d in details if d)
    message = f"{WHAT}: {code} {text}" + (f" ({said})" if said else "")
    if code == "404" or status == 404 or "not yet" in text.lower() or "not found" in text.lower():
        return Outcome.NOT_FOUND, message
    if code == "400" or status == 400:
        return Outcome.INVALID, message
    if code == "429" or status == 429:
        return Outcome.RATE_LIMITED, message
    return Outcome.ERROR, message


def item_result(item: dict[str, Any], number: str, path: str, status: int) -> Result:
    """One tracking object (or per-number error item) as a :class:`Result`."""
    error = item.get("error")
    item_status = as_text(item.get("statusCode"))
    if error is not None or (item_status and item_status not in ("200",)):
        code = int(item_status) if item_status and item_status.isdigit() else status
        outcome, message = _error_outcome(code, need_dict(error, f"{path}.error"))
        return Result(
            number,
            outcome,
            code=item_status,
            message=message,
            status=Status.NOT_FOUND if outcome is Outcome.NOT_FOUND else None,
        )
    raw_events = need_list(item.get("trackingEvents"), f"{path}.trackingEvents")
    events = [
        _event(
            need_dict(e, f"{path}.trackingEvents[{i}]", required=True),
            f"{path}.trackingEvents[{i}]",
        )
        for i, e in enumerate(raw_events)
    ]
    category = need_text(item.get("statusCategory"), f"{path}.statusCategory")
    summary_status = map_category(category)
    # Newest first on the wire: oldest first here; the latest event with an unknown
    # code takes the answer's statusCategory.
    ordered = chronological(events)
    if ordered and ordered[-1].status is Status.UNKNOWN and summary_status is not None:
        ordered[-1] = with_status(ordered[-1], summary_status)
    expectation = need_dict(item.get("deliveryDateExpectation"), f"{path}.deliveryDateExpectation")
    start = _first_stamp(
        expectation.get("predictedDeliveryWindowStartTime"),
        expectation.get("expectedDeliveryDate"),
        expectation.get("predictedDeliveryDate"),
        item.get("predictedDeliveryWindowStartTime"),
        item.get("expectedDeliveryTimeStamp"),
        item.get("predictedDeliveryTimeStamp"),
        item.get("predictedDeliveryDate"),
    )
    end = (
        _first_stamp(
            expectation.get("predictedDeliveryWindowEndTime"),
            item.get("predictedDeliveryWindowEndTime"),
            item.get("guaranteedDeliveryTimeStamp"),
        )
        or start
    )
    status_text = need_text(item.get("status"), f"{path}.status")
    final = summary_status or (ordered[-1].status if ordered else None)
    if not ordered and final is None:
        return Result(
            number,
            Outcome.NOT_FOUND,
            code=category,
            message=status_text or "no tracking events",
            status=Status.NOT_FOUND,
        )
    return Result(
        number,
        Outcome.OK,
        code=category,
        message=need_text(item.get("statusSummary"), f"{path}.statusSummary"),
        status=final if final is not Status.UNKNOWN else None,
        source_status_raw="/".join(x for x in (category, status_text) if x) or None,
        events=tuple(ordered),
        estimated_from=start,
        estimated_to=end,
    )


def _first_stamp(*values: Any) -> Any:
    for value in values:
        stamp = iso_stamp(as_text(value))
        if stamp is not None:
            return stamp.occurred_at
    return None


def _event(raw: dict[str, Any], path: str) -> Event | None:
    local = need_text(raw.get("eventTimestamp"), f"{path}.eventTimestamp")
    gmt = need_text(raw.get("GMTTimestamp"), f"{path}.GMTTimestamp")
    offset = parse_offset(need_text(raw.get("GMTOffset"), f"{path}.GMTOffset"))
    instant = iso_stamp(gmt)
    local_stamp = iso_stamp(local, offset)
    if instant is not None and instant.tz_known:
        occurred_at, tz_known = instant.occurred_at, offset is not None or local is None
    elif local_stamp is not None:
        occurred_at, tz_known = local_stamp.occurred_at, local_stamp.tz_known
    else:
        occurred_at, tz_known = None, False
    text = need_text(raw.get("eventType"), f"{path}.eventType")
    code = need_text(raw.get("eventCode"), f"{path}.eventCode")
    if occurred_at is None and text is None:
        return None
    city = need_text(raw.get("eventCity"), f"{path}.eventCity")
    state = need_text(raw.get("eventState"), f"{path}.eventState")
    postcode = need_text(raw.get("eventZIPCode"), f"{path}.eventZIPCode") or need_text(
        raw.get("eventZIP"), f"{path}.eventZIP"
    )
    country = need_text(raw.get("eventCountry"), f"{path}.eventCountry")
    if country is None and (state or postcode):
        country = "US"  # domestic events leave eventCountry empty
    status, sub_status = map_event(code)
    return Event(
        occurred_at=occurred_at,
        local_time=local or gmt,
        utc_offset_minutes=offset
        if offset is not None
        else (local_stamp.utc_offset_minutes if local_stamp else None),
        tz_known=tz_known,
        status=status,
        sub_status=sub_status,
        raw_code=code,
        raw_status=text,
        description=text,
        location=join_location(city, state, postcode),
        city=city,
        state=state,
        postcode=postcode,
        country=(normalise_country(country) or country) if country else None,
        provider="USPS",
    )
