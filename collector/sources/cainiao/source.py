"""Cainiao global (``cainiao``): the unofficial JSON behind AliExpress tracking pages.

Protocol (``reference/carriers.md`` §2): ``GET {base_url}/global/detail.json
?mailNos=a,b,c&lang=en-US``, no key, several numbers per call. The answer is
``{"success": true, "module": [{...}]}`` with one module per number; events are in
``detailList[]``, newest first: ``time`` (epoch milliseconds) is the instant,
``timeStr`` the local text and ``timeZone`` its zone (``GMT+8``, ``GMT+0800``,
``GMT+08:00`` or empty: unknown), ``actionCode`` the machine code. The stored
offset is always the one that makes ``timeStr`` agree with ``time``; the zone counts
as known only when ``timeZone`` is given *and* agrees with it (in the real capture
``GMT+2`` and ``GMT+0`` events carry China-time text). A module whose
``mailNoSource`` is ``EXTERNAL`` with no details means "not found". ``realMailNo`` /
``destCpInfo`` name the last-mile number and carrier.

The service is unofficial: the default rate is low (one call every two seconds) and
the parser takes any shape without crashing::

    >>> parse_gmt_offset("GMT+0800"), parse_gmt_offset("GMT-3:30"), parse_gmt_offset("")
    (480, -210, None)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from collector.countries import country_in_location
from collector.sources.base import (
    UNREADABLE,
    BatchOutcome,
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
    error_results,
    json_type,
    load_json,
    missing_results,
    need_dict,
    need_list,
    need_text,
    transport_failure,
    unreadable_call,
    unreadable_message,
    with_unreadable_summary,
)
from collector.sources.cainiao.status_map import KNOWN_WITHOUT_EVENTS, map_action, map_module
from collector.sources.status import Status

NAME = "cainiao"

_GMT = re.compile(r"^(?:GMT|UTC)?\s*(?:([+-])\s*(\d{1,2})(?::?(\d{2}))?)?$", re.IGNORECASE)
_LOCATION = re.compile(r"^\s*\[([^\]]{1,120})\]\s*(.*)$", re.DOTALL)
# Epoch milliseconds between 1990 and 2100: anything else is not a time.
_MS_MIN, _MS_MAX = 631_152_000_000, 4_102_444_800_000


class Cainiao(Source):
    """Cainiao global detail.json: AliExpress shipments, 10 numbers per call, no key."""

    name: ClassVar[str] = NAME
    batch_size: ClassVar[int] = 10
    default_rate: ClassVar[float] = 0.5
    default_base_url: ClassVar[str] = "https://global.cainiao.com"

    track_operation: ClassVar[str] = "detail"

    @classmethod
    def parse_answer(
        cls,
        operation: str,
        body: bytes | None,
        numbers: Sequence[str] | None,
        http_status: int | None,
    ) -> Parsed:
        """``detail.json`` answers (Cainiao has no other call)."""
        return parse_detail(body, numbers, http_status)

    def serves(self, courier: str | None) -> bool:
        """Any number: AliExpress tracking follows its orders across carriers.

        It knows its own formats (LP..., AE...), UPU S10 numbers and the numbers of
        the carriers it hands parcels to; a number it has nothing on comes back as
        ``mailNoSource: EXTERNAL`` with no details (not found). Which couriers go to
        Cainiao at all is ``[routing]``'s call.
        """
        return True

    def detail_request(self, numbers: Sequence[str]) -> Request:
        """``GET /global/detail.json?mailNos=a,b,c&lang=...``."""
        return Request(
            operation="detail",
            method="GET",
            url=f"{self.base_url}/global/detail.json",
            numbers=tuple(numbers),
            params=(("mailNos", ",".join(numbers)), ("lang", self.config.lang)),
        )

    async def track(
        self, numbers: Sequence[str], *, registered: frozenset[str], send: Sender
    ) -> BatchOutcome:
        """One call for the whole batch (Cainiao needs no registration)."""
        response = await send(self.detail_request(numbers))
        parsed = transport_failure(response) or parse_detail(
            response.body, response.request.numbers, response.status
        )
        out = BatchOutcome(stop=parsed.stop)
        out.exchanges.append(Exchange(response, parsed))
        out.results = {r.number: r for r in parsed.results}
        return out


def parse_detail(
    body: bytes | None, numbers: Sequence[str] | None, http_status: int | None
) -> Parsed:
    """Parse a ``detail.json`` answer into one result (with events) per number.

    ``numbers`` are the numbers asked for (None: every module of a saved body). A
    body whose shape or JSON types do not match (``module`` not an array, an event
    that is not an object ...) is an ``error`` with code ``unreadable`` and the JSON
    path of the bad field.
    """
    asked = tuple(numbers or ())
    document, problem = load_json(body)
    prefix = f"HTTP {http_status}: " if http_status and not 200 <= http_status < 300 else ""
    if problem is not None and not prefix and body is not None and body.lstrip()[:1] == b"<":
        # A web page with HTTP 200 where JSON belongs: Alibaba's anti-bot check (a
        # slider captcha) or a login wall. Every further request would get it too.
        message = f"detail: {problem}"
        stop = (
            f"{message}; Cainiao answers with a web page, likely its check for unusual "
            "traffic: stopped for this run (lower [sources.cainiao] requests_per_second)"
        )
        results = error_results(asked, Outcome.RATE_LIMITED, message)
        return Parsed(Outcome.RATE_LIMITED, results, message, stop=stop)
    if problem is not None:
        message = f"detail: {prefix}{problem}"
        code = None if prefix else UNREADABLE
        results = error_results(asked, Outcome.ERROR, message, code)
        return Parsed(Outcome.ERROR, results, message, code=code)
    if not isinstance(document, dict):
        return unreadable_call(asked, "detail", f"$ is {json_type(document)}, expected an object")
    doc = document
    success = doc.get("success")
    if success is False:
        reason = (
            as_text(doc.get("errorMsg"))
            or as_text(doc.get("errorCode"))
            or as_text(doc.get("message"))
            or "success=false"
        )
        message = f"detail: {prefix}call failed ({reason})"
        return Parsed(Outcome.ERROR, error_results(asked, Outcome.ERROR, message), message)
    if prefix:
        message = f"detail: {prefix.rstrip(': ')} with a success body"
        return Parsed(Outcome.ERROR, error_results(asked, Outcome.ERROR, message), message)
    try:
        if success is not None and not isinstance(success, bool):
            raise Unreadable("$.success", f"is {json_type(success)}, expected a boolean")
        modules = need_list(doc.get("module"), "$.module", required=True)
        entries = []
        for index, raw in enumerate(modules):
            path = f"$.module[{index}]"
            module = need_dict(raw, path, required=True)
            mail_no = need_text(module.get("mailNo"), f"{path}.mailNo")
            if mail_no is None:
                raise Unreadable(f"{path}.mailNo", "is missing")
            entries.append((path, module, mail_no))
    except Unreadable as exc:
        return unreadable_call(asked, "detail", str(exc))
    wanted = {n.upper(): n for n in asked}
    seen: dict[str, Result] = {}
    for path, module, mail_no in entries:
        number = wanted.get(mail_no.upper()) if asked else mail_no
        if number is None or number in seen:
            continue
        try:
            seen[number] = module_result(module, number)
        except Unreadable as exc:
            message = unreadable_message("detail", f"{path}.{exc}")
            seen[number] = Result(number, Outcome.ERROR, code=UNREADABLE, message=message)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            message = unreadable_message("detail", f"{path}: {exc}")
            seen[number] = Result(number, Outcome.ERROR, code=UNREADABLE, message=message)
    order = list(asked) if asked else list(seen)
    results = tuple(seen[n] for n in order if n in seen)
    if asked:
        results += missing_results(asked, seen, "detail")
    return with_unreadable_summary(Parsed(call_outcome(results), results), "detail")


def module_result(module: dict[str, Any], number: str) -> Result:
    """One ``module[]`` entry as a normalised :class:`Result`.

    Raises :class:`Unreadable` (a path relative to the module) on a field of the
    wrong JSON type.
    """
    raw_status = need_text(module.get("status"), "status")
    module_status, module_sub = map_module(raw_status)
    source = need_text(module.get("mailNoSource"), "mailNoSource")
    details = need_list(module.get("detailList"), "detailList")
    indexed = [
        (i, e)
        for i, e in enumerate(
            _event(need_dict(d, f"detailList[{i}]", required=True), f"detailList[{i}]")
            for i, d in enumerate(details)
        )
        if e is not None
    ]
    # detailList is newest first: sort on the instant, older first, and among equal
    # instants keep the reverse of the list order.
    floor = datetime.min.replace(tzinfo=UTC)
    indexed.sort(key=lambda ie: (ie[1].occurred_at or floor, -ie[0]))
    events = tuple(e for _, e in indexed)
    eta = need_dict(module.get("globalEtaInfo"), "globalEtaInfo")
    dest = need_dict(module.get("destCpInfo"), "destCpInfo")
    common: dict[str, Any] = {
        "source_status_raw": "/".join(x for x in (source, raw_status) if x) or None,
        "events": events,
        "last_mile_number": _last_mile_number(module, number),
        "last_mile_carrier": as_text(dest.get("cpName")) or as_text(dest.get("cpCode")),
        "estimated_from": _epoch_ms(eta.get("deliveryMinTime")),
        "estimated_to": _epoch_ms(eta.get("deliveryMaxTime")),
    }
    if not events and source != "EXTERNAL" and module_status in KNOWN_WITHOUT_EVENTS:
        # The page's summary says where the order is although no scan exists yet:
        # "awaiting seller dispatch" is an order the seller has not handed over, not
        # a number Cainiao does not know.
        return Result(
            number,
            Outcome.OK,
            code=raw_status,
            message=as_text(module.get("statusDesc")),
            status=module_status,
            sub_status=module_sub,
            **common,
        )
    if not events:
        why = (
            "not known to Cainiao (mailNoSource EXTERNAL, no details)"
            if source == "EXTERNAL"
            else "no tracking details"
        )
        return Result(
            number,
            Outcome.NOT_FOUND,
            code=raw_status or source,
            message=why,
            status=Status.NOT_FOUND,
            **common,
        )
    status, sub_status = events[-1].status, events[-1].sub_status
    if module_status is Status.EXPIRED or status is Status.UNKNOWN:
        # The page's summary wins when it says tracking stopped, or when the last
        # event's code is one we do not know.
        status, sub_status = module_status, module_sub
    return Result(
        number,
        Outcome.OK,
        code=raw_status,
        status=None if status in (Status.UNKNOWN, Status.NOT_FOUND) else status,
        sub_status=sub_status,
        **common,
    )


def _event(raw: dict[str, Any], path: str) -> Event | None:
    occurred_at = _epoch_ms(raw.get("time"))
    local_time = need_text(raw.get("timeStr"), f"{path}.timeStr")
    zone_text = need_text(raw.get("timeZone"), f"{path}.timeZone")
    offset = parse_gmt_offset(zone_text)
    if occurred_at is None and local_time:
        # No epoch: the local text and its zone are all there is.
        try:
            naive = datetime.fromisoformat(local_time)
        except ValueError:
            naive = None
        if naive is not None and naive.tzinfo is None:
            shift = timedelta(minutes=offset or 0)
            occurred_at = (naive - shift).replace(tzinfo=UTC)
    desc = need_text(raw.get("desc"), f"{path}.desc")
    standard = need_text(raw.get("standerdDesc"), f"{path}.standerdDesc") or need_text(
        raw.get("standardDesc"), f"{path}.standardDesc"
    )
    if occurred_at is None and desc is None and standard is None:
        return None
    location = None
    for text in (standard, desc):
        match = _LOCATION.match(text or "")
        if match:
            location = match.group(1).strip() or None
            break
    code = need_text(raw.get("actionCode"), f"{path}.actionCode")
    status, sub_status = map_action(code)
    implied = implied_offset(occurred_at, local_time)
    return Event(
        occurred_at=occurred_at,
        local_time=local_time,
        utc_offset_minutes=implied if implied is not None else offset,
        tz_known=offset is not None and implied in (None, offset),
        status=status,
        sub_status=sub_status,
        raw_code=code,
        raw_status=standard,
        description=desc or standard,
        location=location,
        country=country_in_location(location),
    )


def implied_offset(instant: datetime | None, local_time: str | None) -> int | None:
    """The offset (minutes) that turns ``instant`` into the wall-clock text ``local_time``.

    Cainiao's ``timeStr`` is not always in the ``timeZone`` it states (the real capture
    has ``GMT+2`` and ``GMT+0`` events whose text is China time), so the offset stored
    beside ``local_time`` is the one its own two clocks agree on; None when they do
    not agree on a whole quarter-hour.
    """
    if instant is None or not local_time:
        return None
    try:
        naive = datetime.fromisoformat(local_time.strip())
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return None
    seconds = (naive - instant.replace(tzinfo=None)).total_seconds()
    minutes = round(seconds / 60)
    if abs(seconds - minutes * 60) > 60 or minutes % 15 or abs(minutes) > 14 * 60:
        return None
    return minutes


def parse_gmt_offset(text: str | None) -> int | None:
    """Minutes east of UTC for Cainiao's ``timeZone`` forms; None when empty or odd."""
    if not text or not text.strip():
        return None
    match = _GMT.match(text.strip())
    if not match:
        return None
    sign, hours, minutes = match.groups()
    if sign is None:
        return 0  # plain "GMT" / "UTC"
    total = int(hours) * 60 + int(minutes or 0)
    if total > 14 * 60 or int(minutes or 0) >= 60:
        return None
    return -total if sign == "-" else total


def _epoch_ms(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int | float) or math.isnan(value):
        return None
    if not _MS_MIN <= value <= _MS_MAX:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(value))


def _last_mile_number(module: dict[str, Any], number: str) -> str | None:
    """``copyRealMailNo``, else the last token of ``realMailNo`` ("Latest ...:\\tRC..EE")."""
    for key in ("copyRealMailNo", "realMailNo"):
        text = as_text(module.get(key))
        if text:
            token = text.replace(":", " ").split()[-1].strip()
            if token and token.upper() != number.upper():
                return token
    return None
