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
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from collector.countries import country_in_location, normalise_country
from collector.sources.base import (
    UNREADABLE,
    Auth,
    BatchOutcome,
    Event,
    Exchange,
    Outcome,
    Parsed,
    Request,
    Result,
    Sender,
    Source,
    StaticKey,
    Unreadable,
    as_dict,
    as_list,
    as_text,
    call_outcome,
    error_results,
    json_type,
    load_json,
    missing_results,
    need_dict,
    need_list,
    need_text,
    normalise_text,
    transport_failure,
    unreadable_call,
    unreadable_message,
    with_unreadable_summary,
)
from collector.sources.seventeentrack.status_map import (
    ACCESS_CODES,
    ALREADY_REGISTERED,
    INVALID_NUMBER_CODES,
    NO_TRACKING_INFO,
    NOT_REGISTERED,
    QUOTA_CODES,
    STAGE,
    map_status,
)
from collector.sources.status import Status, SubStatus

AcceptedItem = Callable[[dict[str, Any], str], Result]

NAME = "17track"


class SeventeenTrack(Source):
    """The 17TRACK v2.2 aggregator: any courier it can detect, 40 numbers per call."""

    name: ClassVar[str] = NAME
    batch_size: ClassVar[int] = 40
    #: Under the documented 3 requests/s per key: requests start evenly spaced, but
    #: a late first one (connection set-up) puts four in a strict one-second window.
    default_rate: ClassVar[float] = 2.5
    #: The key travels in the ``17token`` header (never stored: headers are not kept).
    auth: ClassVar[Auth] = StaticKey(header="17token")
    default_base_url: ClassVar[str] = "https://api.17track.net/track/v2.2"

    # couriers = None: 17TRACK detects the carrier itself, so it can try any number.

    track_operation: ClassVar[str] = "gettrackinfo"

    @classmethod
    def parse_answer(
        cls,
        operation: str,
        body: bytes | None,
        numbers: Sequence[str] | None,
        http_status: int | None,
    ) -> Parsed:
        """``register`` and ``gettrackinfo`` answers, and ``push`` payloads."""
        if operation == "register":
            return parse_register(body, numbers, http_status)
        if operation == "push":
            return parse_push(body, numbers)
        return parse_trackinfo(body, numbers, http_status)

    @classmethod
    def parse_saved(cls, body: bytes) -> Parsed:
        """A saved ``gettrackinfo`` answer, or a push payload (told apart by its ``event``)."""
        return parse_push(body) if is_push(body) else parse_trackinfo(body, None, None)

    @classmethod
    def settle(cls, result: Result, *, registered_in_run: bool) -> Result:
        """A "NotFound, no provider synced" is pending only in the run that registered it."""
        if not result.pending:
            return result
        return pending_result(result) if registered_in_run else replace(result, pending=False)

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
            out.results[number] = self.settle(result, registered_in_run=number in out.registered)
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

#: Push (webhook) events 17TRACK sends (``reference/carriers.md`` §1).
PUSH_EVENTS = frozenset({"TRACKING_UPDATED", "TRACKING_STOPPED"})
#: Fields of ``track_info`` that, found directly in an accepted entry, mean the entry
#: is not shaped like a v2.x answer (track_info is missing, its fields sit beside it).
_TRACK_INFO_FIELDS = ("latest_status", "latest_event", "tracking", "time_metrics", "milestone")


def parse_register(
    body: bytes | None, numbers: Sequence[str] | None, http_status: int | None
) -> Parsed:
    """Parse a ``/register`` answer: accepted and already-registered numbers are ok."""
    return _parse_envelope(body, numbers, http_status, "register", _register_accepted)


def parse_trackinfo(
    body: bytes | None, numbers: Sequence[str] | None, http_status: int | None
) -> Parsed:
    """Parse a ``/gettrackinfo`` answer into one result (with events) per number.

    ``numbers`` are the numbers asked for (None: every number the answer names, for
    a saved body). A body whose shape or types do not match the v2.x protocol is an
    ``error`` with code ``unreadable`` naming the JSON path of the bad field.
    """
    return _parse_envelope(body, numbers, http_status, "gettrackinfo", track_result)


def parse_push(body: bytes | None, numbers: Sequence[str] | None = None) -> Parsed:
    """Parse a 17TRACK push (webhook) payload, saved or received, like a poll answer.

    ``{"event": "TRACKING_UPDATED", "data": {"number", "carrier", "track_info"}}``
    gives the number's tracking like ``gettrackinfo``; ``TRACKING_STOPPED`` says
    17TRACK stopped tracking it (an ``ok`` answer with no status of its own).
    ``data`` may be one object or a list of them::

        >>> p = parse_push(b'{"event":"TRACKING_STOPPED","data":[{"number":"X1"}]}')
        >>> p.results[0].outcome, p.results[0].code
        (<Outcome.OK: 'ok'>, 'TRACKING_STOPPED')
    """
    what = "push"
    asked = tuple(numbers or ())
    document, problem = load_json(body)
    if problem is not None:
        return _failed(asked, f"{what}: {problem}", UNREADABLE)
    try:
        doc = need_dict(document, "$", required=True)
        event = need_text(doc.get("event"), "$.event")
        if event not in PUSH_EVENTS:
            found = f"{event!r}" if event else "no 'event'"
            expected = "expected TRACKING_UPDATED or TRACKING_STOPPED"
            raise Unreadable("$.event", f"is {found}, {expected}")
        raw = doc.get("data")
        items = raw if isinstance(raw, list) else [need_dict(raw, "$.data", required=True)]
        entries = []
        for index, entry in enumerate(items):
            path = f"$.data[{index}]" if isinstance(raw, list) else "$.data"
            entries.append((path, need_dict(entry, path, required=True)))
    except Unreadable as exc:
        return unreadable_call(asked, what, str(exc))
    wanted = {n.upper(): n for n in asked}
    seen: dict[str, Result] = {}
    for path, item in entries:
        try:
            text = need_text(item.get("number"), f"{path}.number")
            if text is None:
                raise Unreadable(f"{path}.number", "is missing")
        except Unreadable as exc:
            return unreadable_call(asked, what, str(exc))
        number = wanted.get(text.upper()) if asked else text
        if number is None or number in seen:
            continue
        if event == "TRACKING_STOPPED":
            seen[number] = Result(
                number, Outcome.OK, code=event, message="17TRACK stopped tracking this number"
            )
            continue
        seen[number] = _accepted(track_result, item, number, path, what)
    order = list(asked) if asked else list(seen)
    results = tuple(seen[n] for n in order if n in seen)
    if asked:
        results += missing_results(asked, seen, what)
    return with_unreadable_summary(Parsed(call_outcome(results), results), what)


def is_push(body: bytes | None) -> bool:
    """Whether a saved body looks like a push payload (an ``event`` of 17TRACK's)."""
    document, problem = load_json(body)
    return problem is None and isinstance(document, dict) and document.get("event") in PUSH_EVENTS


def _register_accepted(item: dict[str, Any], number: str) -> Result:
    carrier = as_text(item.get("carrier"))
    detail = f" (carrier {carrier})" if carrier else ""
    return Result(number, Outcome.OK, message="registered" + detail)


def _failed(numbers: Sequence[str], message: str, code: str | None = None) -> Parsed:
    results = error_results(numbers, Outcome.ERROR, message, code)
    return Parsed(Outcome.ERROR, results, message, code=code)


def _not_an_envelope(envelope: Any) -> str:
    """Why a decoded body is not a v2.x envelope, naming what it is where we can tell."""
    if not isinstance(envelope, dict):
        return f"$ is {json_type(envelope)}, expected an object with 'code' and 'data'"
    event = envelope.get("event")
    if event in PUSH_EVENTS:
        return f"a push payload ({event}), not a call's answer: $.code is missing"
    keys = ", ".join(sorted(map(str, envelope))[:8]) or "none"
    hint = " (a v1 answer?)" if {"ret", "dat"} & set(envelope) else ""
    return f"$.code is missing{hint}; the body's keys: {keys}"


def _parse_envelope(
    body: bytes | None,
    numbers: Sequence[str] | None,
    http_status: int | None,
    what: str,
    accepted_item: AcceptedItem,
) -> Parsed:
    asked = tuple(numbers or ())
    ok_status = http_status is None or 200 <= http_status < 300
    document, problem = load_json(body)
    if problem is not None:
        status = f"HTTP {http_status}: " if http_status and http_status != 200 else ""
        return _failed(asked, f"{what}: {status}{problem}", UNREADABLE if ok_status else None)
    if not isinstance(document, dict) or "code" not in document:
        return unreadable_call(asked, what, _not_an_envelope(document))
    envelope = document
    code = _int(envelope.get("code"))
    if code is None:
        problem = f"$.code is {json_type(envelope.get('code'))}, expected an integer"
        return unreadable_call(asked, what, problem)
    try:
        data = need_dict(envelope.get("data"), "$.data", required=code == 0)
    except Unreadable as exc:
        return unreadable_call(asked, what, str(exc))
    if code != 0:
        return _whole_call_failure(code, data, asked, what)
    if not ok_status:
        return _failed(asked, f"{what}: HTTP {http_status} with a success envelope")
    try:
        if "accepted" not in data and "rejected" not in data:
            raise Unreadable("$.data", "has neither 'accepted' nor 'rejected'")
        accepted = _entries(data, "accepted")
        rejected = _entries(data, "rejected")
    except Unreadable as exc:
        return unreadable_call(asked, what, str(exc))
    wanted = {n.upper(): n for n in asked}
    seen: dict[str, Result] = {}
    stop: str | None = None
    for path, item, text in accepted:
        number = wanted.get(text.upper()) if asked else text
        if number is None or number in seen:
            continue
        seen[number] = _accepted(accepted_item, item, number, path, what)
    for path, item, text in rejected:
        number = wanted.get(text.upper()) if asked else text
        if number is None or number in seen:
            continue
        try:
            error = need_dict(item.get("error"), f"{path}.error")
        except Unreadable as exc:
            seen[number] = _unreadable_result(number, what, str(exc))
            continue
        result = rejected_result(number, error, what)
        if result.code and _int(result.code) in QUOTA_CODES:
            stop = stop or f"{what}: quota used up ({result.code} {result.message})"
        seen[number] = result
    order = list(asked) if asked else list(seen)
    results = tuple(seen[n] for n in order if n in seen)
    if asked:
        results += missing_results(asked, seen, what)
    return with_unreadable_summary(Parsed(call_outcome(results), results, stop=stop), what)


def _entries(data: dict[str, Any], name: str) -> list[tuple[str, dict[str, Any], str]]:
    """``(path, entry, number)`` of each ``data.<name>[]`` entry; Unreadable on a bad one."""
    out = []
    for index, raw in enumerate(need_list(data.get(name), f"$.data.{name}")):
        path = f"$.data.{name}[{index}]"
        entry = need_dict(raw, path, required=True)
        number = need_text(entry.get("number"), f"{path}.number")
        if number is None:
            raise Unreadable(f"{path}.number", "is missing")
        out.append((path, entry, number))
    return out


def _accepted(
    accepted_item: AcceptedItem, item: dict[str, Any], number: str, path: str, what: str
) -> Result:
    try:
        return accepted_item(item, number)
    except Unreadable as exc:
        return _unreadable_result(number, what, f"{path}.{exc}")
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        return _unreadable_result(number, what, f"{path}: {exc}")


def _unreadable_result(number: str, what: str, problem: str) -> Result:
    return Result(number, Outcome.ERROR, code=UNREADABLE, message=unreadable_message(what, problem))


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
        stop = f"{message}; check the key ([sources.17track] api_key_env)"
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
    """One ``gettrackinfo`` accepted entry as a normalised :class:`Result`.

    Raises :class:`Unreadable` (a path relative to the entry) when a field has the
    wrong JSON type, or when the entry is not shaped like a v2.x entry at all.
    """
    if item.get("track_info") is None:
        beside = [f for f in _TRACK_INFO_FIELDS if f in item]
        if beside:
            found = ", ".join(beside)
            raise Unreadable("track_info", f"is missing ({found} found beside it)")
        if "track" in item:
            raise Unreadable("track_info", "is missing ('track' found: a v1 answer?)")
    info = need_dict(item.get("track_info"), "track_info")
    latest = need_dict(info.get("latest_status"), "track_info.latest_status")
    status_raw = need_text(latest.get("status"), "track_info.latest_status.status")
    sub_raw = need_text(latest.get("sub_status"), "track_info.latest_status.sub_status")
    status, sub_status = map_status(status_raw, sub_raw)
    events, last_mile = _events(info, status)
    blank = not events and status_raw is None and sub_raw is None
    if blank:
        # An accepted entry without track_info (or without latest_status) and no event
        # says nothing is known, which 17TRACK otherwise says as "NotFound".
        status_raw, status = "NotFound", Status.NOT_FOUND
    raw = "/".join(x for x in (status_raw, sub_raw) if x) or None
    metrics = need_dict(info.get("time_metrics"), "track_info.time_metrics")
    estimate = need_dict(
        metrics.get("estimated_delivery_date"), "track_info.time_metrics.estimated_delivery_date"
    )
    # misc_info.local_number / local_provider: the number the last-mile carrier
    # tracks the parcel under, when it is not this one (a handover, issue 13.4).
    misc = need_dict(info.get("misc_info"), "track_info.misc_info")
    local_number = need_text(misc.get("local_number"), "track_info.misc_info.local_number")
    local_provider = need_text(misc.get("local_provider"), "track_info.misc_info.local_provider")
    handed = local_number if local_number and local_number.upper() != number.upper() else None
    common: dict[str, Any] = {
        "source_status_raw": raw,
        "events": events,
        "last_mile_number": handed,
        "last_mile_carrier": (local_provider or last_mile) if handed else last_mile,
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


@dataclass(frozen=True, slots=True)
class _Parsed:
    """One provider event as read: the event, whether it had a status of its own, and
    whether its time was a local text with no zone at all."""

    event: Event
    own_status: bool
    zoneless: bool


def _events(info: dict[str, Any], latest: Status) -> tuple[tuple[Event, ...], str | None]:
    """Events of every provider, oldest first; and the last-mile provider's name.

    When no provider lists an event, ``track_info.latest_event`` is the one event
    known (17TRACK fills it even when ``providers[].events`` is empty or absent).
    """
    collected: list[tuple[datetime | None, int, _Parsed]] = []
    tracking = need_dict(info.get("tracking"), "track_info.tracking")
    providers = need_list(tracking.get("providers"), "track_info.tracking.providers")
    newest_by_provider: dict[str, datetime] = {}
    names: list[str | None] = []
    order = 0
    for p_index, raw_entry in enumerate(providers):
        path = f"track_info.tracking.providers[{p_index}]"
        entry = need_dict(raw_entry, path, required=True)
        provider = need_dict(entry.get("provider"), f"{path}.provider")
        name = (
            need_text(provider.get("name"), f"{path}.provider.name")
            or as_text(provider.get("alias"))
            or as_text(provider.get("key"))
        )
        names.append(name)
        own: list[_Parsed] = []
        for e_index, raw in enumerate(need_list(entry.get("events"), f"{path}.events")):
            event_path = f"{path}.events[{e_index}]"
            parsed = _event(need_dict(raw, event_path, required=True), name, event_path)
            if parsed is not None:
                own.append(parsed)
        for parsed in _borrow_offsets(own):
            event = parsed.event
            collected.append((event.occurred_at, order, parsed))
            order += 1
            if name and event.occurred_at is not None:
                best = newest_by_provider.get(name)
                if best is None or event.occurred_at > best:
                    newest_by_provider[name] = event.occurred_at
    if not collected:
        raw_latest = need_dict(info.get("latest_event"), "track_info.latest_event")
        sole = names[0] if len(names) == 1 else None
        parsed = _event(raw_latest, sole, "track_info.latest_event") if raw_latest else None
        if parsed is not None:
            collected.append((parsed.event.occurred_at, 0, parsed))
    # Providers list events newest first; sort on the instant, keeping the source's
    # order among equal instants (reversed, so that older comes first).
    floor = datetime.min.replace(tzinfo=UTC)
    collected.sort(key=lambda c: (c[0] or floor, -c[1]))
    events = [c[2].event for c in collected]
    if (
        events
        and not collected[-1][2].own_status
        and latest
        not in (
            Status.NOT_FOUND,
            Status.UNKNOWN,
        )
    ):
        # The newest event carries no stage of its own: it is the one the source's
        # latest status describes.
        events[-1] = replace(events[-1], status=latest)
    last_mile = None
    if len(newest_by_provider) > 1:
        last_mile = max(newest_by_provider.items(), key=lambda kv: kv[1])[0]
    return tuple(events), last_mile


def _borrow_offsets(events: list[_Parsed]) -> list[_Parsed]:
    """Zone-less local times read in the offset the provider's zoned events agree on.

    A provider reports its scans in one zone; an event that lost its zone (only
    ``time_raw`` date and time) is read in that zone when every zoned event of the
    same provider has the same offset, and stays marked zone-unknown. Otherwise it is
    read as UTC, as before.
    """
    offsets = {p.event.utc_offset_minutes for p in events if p.event.tz_known}
    if len(offsets) != 1 or not any(p.zoneless for p in events):
        return events
    (offset,) = offsets
    assert offset is not None
    out = []
    for parsed in events:
        event = parsed.event
        if parsed.zoneless and event.local_time:
            local = datetime.fromisoformat(event.local_time)
            instant = (local - timedelta(minutes=offset)).replace(tzinfo=UTC)
            event = replace(event, occurred_at=instant, utc_offset_minutes=offset)
        out.append(_Parsed(event, parsed.own_status, parsed.zoneless))
    return out


def _event(raw: dict[str, Any], provider: str | None, path: str) -> _Parsed | None:
    """One provider event (None when it says nothing at all)."""
    translated = need_dict(raw.get("description_translation"), f"{path}.description_translation")
    translation = need_text(
        translated.get("description"), f"{path}.description_translation.description"
    )
    original = need_text(raw.get("description"), f"{path}.description")
    description = original or translation
    if translation is not None and normalise_text(translation) == normalise_text(description):
        translation = None
    occurred_at, local_time, offset, zoneless = _event_time(raw, path)
    if occurred_at is None and local_time is None and description is None:
        return None
    event_sub = need_text(raw.get("sub_status"), f"{path}.sub_status")
    stage = need_text(raw.get("stage"), f"{path}.stage")
    own = True
    if event_sub:
        status, sub_status = map_status(None, event_sub)
    elif stage and stage in STAGE:
        status, sub_status = STAGE[stage], None
    else:
        status, sub_status, own = Status.IN_TRANSIT, None, False
    if status is Status.UNKNOWN and stage in STAGE:
        status = STAGE[stage]
    address = need_dict(raw.get("address"), f"{path}.address")
    country_text = need_text(address.get("country"), f"{path}.address.country")
    location = need_text(raw.get("location"), f"{path}.location")
    country = normalise_country(country_text) if country_text else None
    return _Parsed(
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
            location=location,
            city=need_text(address.get("city"), f"{path}.address.city"),
            state=need_text(address.get("state"), f"{path}.address.state"),
            postcode=need_text(address.get("postal_code"), f"{path}.address.postal_code"),
            country=country or country_in_location(location),
            provider=provider,
            description_translation=translation,
        ),
        own,
        zoneless,
    )


def _event_time(
    raw: dict[str, Any], path: str
) -> tuple[datetime | None, str | None, int | None, bool]:
    """(UTC instant, local wall-clock text, offset minutes, zone-less) of one event.

    ``time_utc`` is the instant; ``time_iso`` gives the local text and its offset.
    Without ``time_iso``, ``time_raw`` {date, time, timezone} is read; a local time
    with no zone at all is taken as UTC here and flagged zone-less (the provider's
    other events may say which offset it is in: :func:`_borrow_offsets`).
    """
    utc = _instant(need_text(raw.get("time_utc"), f"{path}.time_utc"))
    local = _parse_iso(need_text(raw.get("time_iso"), f"{path}.time_iso") or "")
    if local is None:
        time_raw = need_dict(raw.get("time_raw"), f"{path}.time_raw")
        date = need_text(time_raw.get("date"), f"{path}.time_raw.date")
        if date:
            clock = need_text(time_raw.get("time"), f"{path}.time_raw.time")
            zone = need_text(time_raw.get("timezone"), f"{path}.time_raw.timezone") or ""
            local = _parse_iso((f"{date}T{clock}" if clock else date) + zone)
    if local is None:
        return utc, None, None, False
    local_time = local.replace(tzinfo=None).isoformat()
    delta = local.utcoffset()
    if delta is None:
        return utc or local.replace(tzinfo=UTC), local_time, None, utc is None
    return utc or local.astimezone(UTC), local_time, int(delta.total_seconds() // 60), False


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
