"""17TRACK Tracking API v2.2 (``17track``): register, then ``gettrackinfo``.

Protocol (``reference/carriers.md`` §1): every call is a ``POST`` of a JSON array of
at most 40 ``{"number": ...}`` objects to ``{base_url}/register`` or
``{base_url}/gettrackinfo`` with the key in the ``17token`` header. The answer is
``{"code": 0, "data": {"accepted": [...], "rejected": [{"number", "error":
{"code", "message"}}]}}``; a whole-call failure has a non-zero ``code`` and
``data.errors``.

A batch is tracked in one go (:meth:`SeventeenTrack.track`): numbers this database
has not registered are registered first (``-18019901`` "already registered" counts
as success), then every number is fetched; a ``-18019902`` "not registered" answer
(a database restored elsewhere) registers that number and fetches it once more.
Quota errors stop the source for the run.

The parsers are pure::

    >>> parsed = parse_register(b'{"code":0,"data":{"accepted":[{"number":"X1"}],'
    ...                         b'"rejected":[]}}', ("X1",), 200)
    >>> parsed.results[0].outcome
    <Outcome.OK: 'ok'>
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from collector.carriers.base import (
    BatchOutcome,
    Event,
    Exchange,
    Outcome,
    Parsed,
    Request,
    Result,
    Sender,
    Source,
    as_dict,
    as_list,
    as_text,
    call_outcome,
    error_results,
    load_json,
    missing_results,
    transport_failure,
)
from collector.carriers.seventeentrack_map import (
    ACCESS_CODES,
    ALREADY_REGISTERED,
    INVALID_NUMBER_CODES,
    NO_TRACKING_INFO,
    NOT_REGISTERED,
    QUOTA_CODES,
    STAGE,
    map_status,
)
from collector.carriers.status import Status, SubStatus
from collector.countries import normalise_country

AcceptedItem = Callable[[dict[str, Any], str], Result]

NAME = "17track"


class SeventeenTrack(Source):
    """The 17TRACK v2.2 aggregator: any courier it can detect, 40 numbers per call."""

    name: ClassVar[str] = NAME
    batch_size: ClassVar[int] = 40
    #: Under the documented 3 requests/s per key: requests start evenly spaced, but
    #: a late first one (connection set-up) puts four in a strict one-second window.
    default_rate: ClassVar[float] = 2.5
    needs_key: ClassVar[bool] = True
    auth_header: ClassVar[str | None] = "17token"
    default_base_url: ClassVar[str] = "https://api.17track.net/track/v2.2"

    def serves(self, courier: str | None) -> bool:
        """17TRACK detects the carrier itself, so it can try any number."""
        return True

    def register_request(self, numbers: Sequence[str]) -> Request:
        """``POST /register`` for up to 40 numbers (carrier auto-detected)."""
        return self._post("register", numbers)

    def trackinfo_request(self, numbers: Sequence[str]) -> Request:
        """``POST /gettrackinfo`` for up to 40 registered numbers."""
        return self._post("gettrackinfo", numbers)

    def _post(self, operation: str, numbers: Sequence[str]) -> Request:
        body = json.dumps([{"number": n} for n in numbers], separators=(",", ":"))
        return Request(
            operation=operation,
            method="POST",
            url=f"{self.base_url}/{operation}",
            numbers=tuple(numbers),
            body=body.encode("utf-8"),
            headers=(("Content-Type", "application/json"),),
        )

    async def track(
        self, numbers: Sequence[str], *, registered: frozenset[str], send: Sender
    ) -> BatchOutcome:
        """Register what is new, fetch everything, re-register once on ``-18019902``."""
        out = BatchOutcome()
        fetchable = [n for n in numbers if n in registered]
        new = [n for n in numbers if n not in registered]
        if new:
            ok = await self._register(new, send, out)
            if out.stop:
                return out
            fetchable += [n for n in new if n in ok]
        fetchable = [n for n in numbers if n in set(fetchable)]
        if not fetchable:
            return out
        retry = await self._fetch(fetchable, send, out)
        if retry and not out.stop:
            ok = await self._register(retry, send, out)
            again = [n for n in retry if n in ok]
            if again and not out.stop:
                await self._fetch(again, send, out, final=True)
        for number, result in list(out.results.items()):
            if not result.pending:
                continue
            # 17TRACK looks a number up after registering it: "NotFound" before any
            # provider has synced, in the run that registered it, means "not looked up
            # yet". Later, the same answer is a plain "not found".
            fresh = number in out.registered
            out.results[number] = (
                pending_result(result) if fresh else replace(result, pending=False)
            )
        return out

    async def recheck(self, numbers: Sequence[str], *, send: Sender) -> BatchOutcome:
        """Fetch numbers registered earlier in this run that were not looked up yet.

        Still "NotFound" with no provider synced: still pending (the next run asks
        again at once); anything else is the number's answer.
        """
        out = BatchOutcome()
        await self._fetch(list(numbers), send, out, final=True)
        for number, result in list(out.results.items()):
            if result.pending:
                out.results[number] = pending_result(result)
        return out

    async def _register(self, numbers: list[str], send: Sender, out: BatchOutcome) -> set[str]:
        response = await send(self.register_request(numbers))
        parsed = transport_failure(response) or parse_register(
            response.body, response.request.numbers, response.status
        )
        out.exchanges.append(Exchange(response, parsed))
        out.stop = out.stop or parsed.stop
        ok = {r.number for r in parsed.results if r.outcome is Outcome.OK}
        out.registered |= ok
        for result in parsed.results:
            if result.outcome is not Outcome.OK:
                out.results[result.number] = result
        return ok

    async def _fetch(
        self, numbers: list[str], send: Sender, out: BatchOutcome, *, final: bool = False
    ) -> list[str]:
        response = await send(self.trackinfo_request(numbers))
        parsed = transport_failure(response) or parse_trackinfo(
            response.body, response.request.numbers, response.status
        )
        out.exchanges.append(Exchange(response, parsed))
        out.stop = out.stop or parsed.stop
        retry = []
        for result in parsed.results:
            if result.code == str(NOT_REGISTERED) and not final:
                retry.append(result.number)
                # Until the re-registration succeeds this is what we know.
            out.results[result.number] = result
        return retry


# --- pure parsers ----------------------------------------------------------------------


def parse_register(body: bytes | None, numbers: Sequence[str], http_status: int | None) -> Parsed:
    """Parse a ``/register`` answer: accepted and already-registered numbers are ok."""
    return _parse_envelope(body, numbers, http_status, "register", _register_accepted)


def parse_trackinfo(body: bytes | None, numbers: Sequence[str], http_status: int | None) -> Parsed:
    """Parse a ``/gettrackinfo`` answer into one result (with events) per number."""
    return _parse_envelope(body, numbers, http_status, "gettrackinfo", track_result)


def _register_accepted(item: dict[str, Any], number: str) -> Result:
    carrier = as_text(item.get("carrier"))
    detail = f" (carrier {carrier})" if carrier else ""
    return Result(number, Outcome.OK, message="registered" + detail)


def _parse_envelope(
    body: bytes | None,
    numbers: Sequence[str],
    http_status: int | None,
    what: str,
    accepted_item: AcceptedItem,
) -> Parsed:
    document, problem = load_json(body)
    if problem is not None:
        status = f"HTTP {http_status}: " if http_status and http_status != 200 else ""
        message = f"{what}: {status}{problem}"
        return Parsed(Outcome.ERROR, error_results(numbers, Outcome.ERROR, message), message)
    envelope = as_dict(document)
    if not envelope or "code" not in envelope:
        message = f"{what}: answer is not a 17TRACK envelope (no 'code')"
        return Parsed(Outcome.ERROR, error_results(numbers, Outcome.ERROR, message), message)
    data = as_dict(envelope.get("data"))
    code = _int(envelope.get("code"))
    if code != 0:
        return _whole_call_failure(code, data, numbers, what)
    if http_status is not None and not 200 <= http_status < 300:
        message = f"{what}: HTTP {http_status} with a success envelope"
        return Parsed(Outcome.ERROR, error_results(numbers, Outcome.ERROR, message), message)
    wanted = {n.upper(): n for n in numbers}
    seen: dict[str, Result] = {}
    stop: str | None = None
    for entry in as_list(data.get("accepted")):
        item = as_dict(entry)
        number = wanted.get((as_text(item.get("number")) or "").upper())
        if number is None or number in seen:
            continue
        try:
            seen[number] = accepted_item(item, number)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            seen[number] = Result(
                number, Outcome.ERROR, message=f"{what}: unreadable entry ({exc})"
            )
    for entry in as_list(data.get("rejected")):
        item = as_dict(entry)
        number = wanted.get((as_text(item.get("number")) or "").upper())
        if number is None or number in seen:
            continue
        result = rejected_result(number, as_dict(item.get("error")), what)
        if result.code and _int(result.code) in QUOTA_CODES:
            stop = stop or f"{what}: quota used up ({result.code} {result.message})"
        seen[number] = result
    results = tuple(seen[n] for n in numbers if n in seen) + missing_results(numbers, seen, what)
    return Parsed(call_outcome(results), results, stop=stop)


def _whole_call_failure(
    code: int | None, data: dict[str, Any], numbers: Sequence[str], what: str
) -> Parsed:
    errors = [as_dict(e) for e in as_list(data.get("errors"))]
    detail = "; ".join(
        f"{as_text(e.get('code')) or '?'} {as_text(e.get('message')) or ''}".strip() for e in errors
    )
    codes = {code} | {_int(e.get("code")) for e in errors}
    message = f"{what}: call refused (code {code}{': ' + detail if detail else ''})"
    if codes & QUOTA_CODES:
        message = f"{what}: quota used up (code {code}{': ' + detail if detail else ''})"
        results = error_results(numbers, Outcome.RATE_LIMITED, message, str(code))
        return Parsed(Outcome.RATE_LIMITED, results, message, stop=message)
    results = error_results(numbers, Outcome.ERROR, message, str(code))
    if codes & ACCESS_CODES:
        stop = f"{message}; check the key ([carriers.17track] api_key_env)"
        return Parsed(Outcome.ERROR, results, message, stop=stop)
    return Parsed(Outcome.ERROR, results, message)


def rejected_result(number: str, error: dict[str, Any], what: str) -> Result:
    """One ``rejected[]`` entry as a per-number outcome (evidence, not an exception)."""
    code = _int(error.get("code"))
    text = as_text(error.get("message")) or ""
    raw = str(code) if code is not None else as_text(error.get("code"))
    if code == ALREADY_REGISTERED:
        return Result(number, Outcome.OK, code=raw, message=text or "already registered")
    if code == NOT_REGISTERED:
        return Result(number, Outcome.ERROR, code=raw, message=text or "not registered")
    if code in QUOTA_CODES:
        return Result(number, Outcome.RATE_LIMITED, code=raw, message=text or "quota used up")
    if code in INVALID_NUMBER_CODES:
        return Result(
            number,
            Outcome.INVALID,
            code=raw,
            message=text or "not a usable tracking number",
            status=Status.NOT_FOUND,
            sub_status=SubStatus.INVALID_NUMBER.value,
        )
    if code == NO_TRACKING_INFO:
        return Result(
            number,
            Outcome.NOT_FOUND,
            code=raw,
            message=text or "no tracking information",
            status=Status.NOT_FOUND,
        )
    return Result(number, Outcome.ERROR, code=raw, message=f"{what}: {text or 'rejected'}")


def pending_result(result: Result) -> Result:
    """A fresh registration's "NotFound": an ok answer with nothing in it yet."""
    return Result(
        result.number,
        Outcome.OK,
        code=result.code,
        message="registered in this run; 17TRACK has not looked it up yet",
        source_status_raw=result.source_status_raw,
        pending=True,
    )


def track_result(item: dict[str, Any], number: str) -> Result:
    """One ``gettrackinfo`` accepted entry as a normalised :class:`Result`."""
    info = as_dict(item.get("track_info"))
    latest = as_dict(info.get("latest_status"))
    status_raw = as_text(latest.get("status"))
    sub_raw = as_text(latest.get("sub_status"))
    status, sub_status = map_status(status_raw, sub_raw)
    events, last_mile = _events(info, status)
    blank = not events and status_raw is None and sub_raw is None
    if blank:
        # An accepted entry without track_info (or without latest_status) and no event
        # says nothing is known, which 17TRACK otherwise says as "NotFound".
        status_raw, status = "NotFound", Status.NOT_FOUND
    raw = "/".join(x for x in (status_raw, sub_raw) if x) or None
    estimate = as_dict(as_dict(info.get("time_metrics")).get("estimated_delivery_date"))
    common: dict[str, Any] = {
        "source_status_raw": raw,
        "events": events,
        "last_mile_carrier": last_mile,
        "estimated_from": _instant(estimate.get("from")),
        "estimated_to": _instant(estimate.get("to")),
    }
    if status is Status.NOT_FOUND and not events:
        invalid = sub_status == SubStatus.INVALID_NUMBER.value
        return Result(
            number,
            Outcome.INVALID if invalid else Outcome.NOT_FOUND,
            code=sub_raw or status_raw,
            message="invalid tracking number"
            if invalid
            else "no tracking information yet"
            + (" (the answer had no track_info)" if blank else ""),
            status=Status.NOT_FOUND,
            sub_status=sub_status,
            pending=not invalid and not _synced(info),
            **common,
        )
    if status in (Status.NOT_FOUND, Status.UNKNOWN):
        # Events but no usable summary: the shipment's status comes from its last event.
        return Result(number, Outcome.OK, code=sub_raw or status_raw, **common)
    return Result(
        number,
        Outcome.OK,
        code=sub_raw or status_raw,
        status=status,
        sub_status=sub_status,
        **common,
    )


#: ``latest_sync_status`` values that say the provider was asked: it answered
#: ("Success") or its look-up came back empty-handed ("Failure").
_LOOKED_UP = frozenset({"success", "failure"})


def _synced(info: dict[str, Any]) -> bool:
    """Whether some provider reports a completed look-up (``latest_sync_status``)."""
    providers = as_list(as_dict(info.get("tracking")).get("providers"))
    return any(
        (as_text(as_dict(p).get("latest_sync_status")) or "").lower() in _LOOKED_UP
        for p in providers
    )


def _events(info: dict[str, Any], latest: Status) -> tuple[tuple[Event, ...], str | None]:
    """Events of every provider, oldest first; and the last-mile provider's name."""
    collected: list[tuple[datetime | None, int, Event, bool]] = []
    providers = as_list(as_dict(info.get("tracking")).get("providers"))
    newest_by_provider: dict[str, datetime] = {}
    order = 0
    for raw_entry in providers:
        entry = as_dict(raw_entry)
        provider = as_dict(entry.get("provider"))
        name = (
            as_text(provider.get("name"))
            or as_text(provider.get("alias"))
            or as_text(provider.get("key"))
        )
        for raw in as_list(entry.get("events")):
            event, own_status = _event(as_dict(raw), name)
            if event is None:
                continue
            collected.append((event.occurred_at, order, event, own_status))
            order += 1
            if name and event.occurred_at is not None:
                best = newest_by_provider.get(name)
                if best is None or event.occurred_at > best:
                    newest_by_provider[name] = event.occurred_at
    # Providers list events newest first; sort on the instant, keeping the source's
    # order among equal instants (reversed, so that older comes first).
    floor = datetime.min.replace(tzinfo=UTC)
    collected.sort(key=lambda c: (c[0] or floor, -c[1]))
    events = [c[2] for c in collected]
    if events and not collected[-1][3] and latest not in (Status.NOT_FOUND, Status.UNKNOWN):
        # The newest event carries no stage of its own: it is the one the source's
        # latest status describes.
        last = events[-1]
        events[-1] = Event(**{**_fields(last), "status": latest})
    last_mile = None
    if len(newest_by_provider) > 1:
        last_mile = max(newest_by_provider.items(), key=lambda kv: kv[1])[0]
    return tuple(events), last_mile


def _fields(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in Event.__slots__}


def _event(raw: dict[str, Any], provider: str | None) -> tuple[Event | None, bool]:
    """One provider event; the flag says whether it carried a status of its own."""
    description = as_text(raw.get("description")) or as_text(
        as_dict(raw.get("description_translation")).get("description")
    )
    occurred_at, local_time, offset = _event_time(raw)
    if occurred_at is None and local_time is None and description is None:
        return None, False
    event_sub = as_text(raw.get("sub_status"))
    stage = as_text(raw.get("stage"))
    own = True
    if event_sub:
        status, sub_status = map_status(None, event_sub)
    elif stage and stage in STAGE:
        status, sub_status = STAGE[stage], None
    else:
        status, sub_status, own = Status.IN_TRANSIT, None, False
    if status is Status.UNKNOWN and stage in STAGE:
        status = STAGE[stage]
    address = as_dict(raw.get("address"))
    country_text = as_text(address.get("country"))
    return (
        Event(
            occurred_at=occurred_at,
            local_time=local_time,
            utc_offset_minutes=offset,
            tz_known=offset is not None,
            status=status,
            sub_status=sub_status,
            raw_code=event_sub or stage,
            raw_status=stage,
            description=description,
            location=as_text(raw.get("location")),
            city=as_text(address.get("city")),
            state=as_text(address.get("state")),
            postcode=as_text(address.get("postal_code")),
            country=normalise_country(country_text) if country_text else None,
            provider=provider,
        ),
        own,
    )


def _event_time(raw: dict[str, Any]) -> tuple[datetime | None, str | None, int | None]:
    """(UTC instant, local wall-clock text, offset minutes) of one event.

    ``time_utc`` is the instant; ``time_iso`` gives the local text and its offset.
    Without ``time_iso``, ``time_raw`` {date, time, timezone} is read; a local time
    with no zone at all is taken as UTC and marked as of unknown zone.
    """
    utc = _instant(raw.get("time_utc"))
    local = _parse_iso(as_text(raw.get("time_iso")) or "")
    if local is None:
        time_raw = as_dict(raw.get("time_raw"))
        date = as_text(time_raw.get("date"))
        if date:
            clock = as_text(time_raw.get("time"))
            zone = as_text(time_raw.get("timezone")) or ""
            local = _parse_iso((f"{date}T{clock}" if clock else date) + zone)
    if local is None:
        return utc, None, None
    local_time = local.replace(tzinfo=None).isoformat()
    delta = local.utcoffset()
    if delta is None:
        return utc or local.replace(tzinfo=UTC), local_time, None
    return utc or local.astimezone(UTC), local_time, int(delta.total_seconds() // 60)


def _parse_iso(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        return None


def _instant(value: Any) -> datetime | None:
    """An ISO text as a UTC instant (a bare date or naive time is read as UTC)."""
    text = as_text(value)
    if not text:
        return None
    parsed = _parse_iso(text)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None
