"""What a tracking source is, and the normalised records its parser returns.

A source is a small declared object (:class:`Source`): its registry name, how many
numbers one call carries, its default rate, whether it needs a key, which couriers
it can serve, how to build its requests and a **pure** parser from response bytes to
records. What a source *says* ("not found", "invalid", "rate limited") is data: a
:class:`Result` with an :class:`Outcome`, never an exception.

The only I/O a source does is through the ``send`` callable it is handed (owned by
:mod:`collector.http`), so a source's whole protocol can be driven by a script in
tests::

    >>> a = event_key(None, "  Arrived at  HUB ", "Madrid")
    >>> a == event_key(None, "arrived at hub", "MADRID")
    True
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from collector.config import SourceConfig
from collector.errors import (
    ConfigError,
    QuotaExhausted,
    RateLimited,
    SourceError,
    SourceRejected,
)
from collector.sources.status import Status
from collector.terminal import plural


class Outcome(StrEnum):
    """What one request, or one number in it, came to (stored in ``polls``/``poll_results``)."""

    OK = "ok"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"


#: ``Result.code`` of an answer whose shape or JSON types do not match the source's
#: protocol: outcome ``error``, the message naming the JSON path of the bad field
#: ("unreadable answer: $.data.accepted[0].track_info is a string, expected an
#: object"). Never a status, never "not found": nothing can be concluded from it.
UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class Event:
    """One normalised tracking event, with the source's raw code and text kept beside it.

    ``occurred_at`` is a time-zone-aware UTC instant; ``local_time`` is the source's
    local wall-clock text and ``utc_offset_minutes`` its offset when the source states
    one (``tz_known``).
    """

    occurred_at: datetime | None
    local_time: str | None
    utc_offset_minutes: int | None
    tz_known: bool
    status: Status
    sub_status: str | None
    raw_code: str | None
    raw_status: str | None
    description: str | None
    location: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None
    provider: str | None = None
    #: An English rendering of ``description`` when the source gives one (17TRACK's
    #: ``description_translation``); the original text stays in ``description``.
    description_translation: str | None = None

    @property
    def key(self) -> str:
        """The stable de-duplication key (instant, normalised description, location)."""
        return event_key(self.occurred_at, self.description, self.location, self.local_time)


@dataclass(frozen=True, slots=True)
class Result:
    """What a source answered about one tracking number."""

    number: str
    outcome: Outcome
    code: str | None = None
    message: str | None = None
    status: Status | None = None
    sub_status: str | None = None
    source_status_raw: str | None = None
    events: tuple[Event, ...] = ()
    last_mile_number: str | None = None
    last_mile_carrier: str | None = None
    estimated_from: datetime | None = None
    estimated_to: datetime | None = None
    #: The source accepted the number moments ago and has not looked it up yet: no
    #: evidence either way, ask again at the next run.
    pending: bool = False


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request a source wants sent; secrets are added by :mod:`collector.http`."""

    operation: str
    method: str
    url: str
    numbers: tuple[str, ...]
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Response:
    """What came back for a :class:`Request` (transport-neutral).

    ``error`` is set when no usable answer arrived after the retries (timeouts, 429
    or 5xx storms, a body over the size cap, a refused key); ``body`` then holds the
    last body received, if any, which is still stored as evidence.
    """

    request: Request
    requested_at: datetime
    url: str  # redacted
    status: int | None
    body: bytes | None
    content_type: str | None
    duration_ms: float
    error: SourceError | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parser's verdict on one response: the call's outcome plus one result per number.

    ``stop`` is set when the source must not be used again in this run (quota used
    up, key refused); it is the message to show.
    """

    outcome: Outcome
    results: tuple[Result, ...]
    message: str | None = None
    stop: str | None = None
    #: :data:`UNREADABLE` when the answer as a whole could not be read.
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request sent, its response, and what the parser made of it (one ``polls`` row)."""

    response: Response
    parsed: Parsed


@dataclass(slots=True)
class BatchOutcome:
    """Everything one batch produced: the exchanges and the final result per number."""

    exchanges: list[Exchange] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)
    registered: set[str] = field(default_factory=set)
    stop: str | None = None


#: The transport-owning function a source calls to send one request.
Sender = Callable[[Request], Awaitable[Response]]


# --- auth strategies: declared by a source, carried out by collector.http -------------


@dataclass(frozen=True, slots=True)
class NoAuth:
    """The source needs no credentials (Cainiao's public page JSON)."""

    needs_credentials: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class StaticKey:
    """One API key sent with every request, in a header or a query parameter.

    The key comes from ``api_key_env`` (or ``api_key``) of the source's table; the
    header is never stored, a query parameter is stored as ``***``.
    """

    header: str | None = None
    param: str | None = None
    needs_credentials: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """OAuth2 client credentials (RFC 6749 §4.4): a bearer token fetched on first use.

    ``token_path`` is relative to the source's ``base_url`` (a table's ``token_url``
    overrides it); the client id and secret come from ``client_id_env`` and
    ``client_secret_env``. ``client_auth`` is ``"form"`` (both in the form body) or
    ``"basic"`` (HTTP Basic, RFC 6749 ``client_secret_basic``). The token is kept
    in memory only, until ``refresh_margin_seconds`` before its ``expires_in``, and
    fetched again once when a call is answered 401.
    """

    token_path: str
    client_auth: str = "form"
    scope: str | None = None
    refresh_margin_seconds: float = 60.0
    needs_credentials: ClassVar[bool] = True


#: What a source declares as its ``auth``.
Auth = NoAuth | StaticKey | ClientCredentials

#: In the ``polls.error`` of an answer in which the source itself said its daily
#: quota is used up (DHL's and FedEx's 429s): the source is not asked again until
#: its quota day resets, in this run or the next.
SOURCE_QUOTA_STOP = "the source's own daily quota is used up"

#: ``polls.operation`` of an OAuth2 token request: logged like any other request,
#: but its body (the token) is never stored and it concerns no tracking number.
TOKEN_OPERATION = "token"


class Source(ABC):
    """A tracking source: declared properties, request builders and pure parsers.

    Subclasses set the class attributes and implement :meth:`track` (and
    :meth:`serves` when ``couriers`` does not say enough). Instances are cheap and
    bound to one ``[sources.<name>]`` table.
    """

    #: Registry name, also the ``[sources.<name>]`` table name.
    name: ClassVar[str]
    #: Most numbers one call may carry.
    batch_size: ClassVar[int]
    #: Requests per second when the config does not say.
    default_rate: ClassVar[float]
    #: How credentials travel (:class:`NoAuth`, :class:`StaticKey`, :class:`ClientCredentials`).
    auth: ClassVar[Auth] = NoAuth()
    #: Used when the config has no ``base_url``.
    default_base_url: ClassVar[str]
    #: Requests allowed per quota day when the config does not say (None: no quota).
    default_daily_quota: ClassVar[int | None] = None
    #: The UTC time of day at which the source's daily quota starts afresh.
    quota_reset_utc: ClassVar[dt_time] = dt_time(0, 0)
    #: Courier codes this source serves (None: any number, the aggregators).
    couriers: ClassVar[frozenset[str] | None] = None
    #: The source's own settings: a frozen dataclass whose fields are the extra keys
    #: its table may hold, each with its default (None: only the common keys).
    options_type: ClassVar[type[Any] | None] = None
    #: The carrier's own record (USPS, DHL ...), as opposed to an aggregator's copy.
    carrier_own: ClassVar[bool] = False
    #: The module of the source's simulated service (an ``Endpoints`` subclass named
    #: ``Endpoints`` in it), served by :mod:`collector.simulator`; None: not simulated
    #: this way (17TRACK and Cainiao are wired into the simulator's server).
    simulator: ClassVar[str | None] = None

    #: API paths a configured ``base_url`` may end with and that the source's own
    #: paths already carry (the carriers' docs give ``https://onlinetools.ups.com/api``
    #: or ``https://api-eu.dhl.com/track`` as "the base URL"): stripped, so that a
    #: table copied from either the host or the documented base works.
    base_url_suffixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: SourceConfig | None = None) -> None:
        self.config = config or SourceConfig()
        base = (self.config.base_url or self.default_base_url).rstrip("/")
        for suffix in self.base_url_suffixes:
            if base.lower().endswith(suffix.lower()):
                base = base[: -len(suffix)]
                break
        self.base_url = base
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"{self.config.table}.{self.name}.base_url: expected an http(s) URL, "
                f"got {self.base_url!r}"
            )
        options = self.config.options
        if options is None and self.options_type is not None:
            options = self.options_type()
        self.options: Any = options

    @classmethod
    def needs_key(cls) -> bool:
        """Whether credentials are needed (a source without them is not configured)."""
        return cls.auth.needs_credentials

    @property
    def daily_quota(self) -> int | None:
        """Requests allowed per quota day: the configured ``daily_quota``, else the default."""
        if self.config.daily_quota is not None:
            return self.config.daily_quota
        return self.default_daily_quota

    @property
    def token_url(self) -> str | None:
        """The OAuth2 token endpoint: the table's ``token_url``, else the source's path."""
        if not isinstance(self.auth, ClientCredentials):
            return None
        if self.config.token_url:
            return self.config.token_url
        return f"{self.base_url}{self.auth.token_path}"

    def quota_day_start(self, now: datetime) -> datetime:
        """The instant the current quota day began (the last reset at or before ``now``)."""
        return quota_day_start(now, self.quota_reset_utc)

    def serves(self, courier: str | None) -> bool:
        """Whether this source can track numbers of ``courier`` (None: undetected)."""
        return self.couriers is None or (courier is not None and courier in self.couriers)

    @classmethod
    def quota_exhausted(cls, status: int, body: bytes | None) -> str | None:
        """What an answer says when it means "the daily quota is used up", else None.

        Such an answer is not retried: the source stops until its quota resets.
        """
        return None

    @property
    def effective_batch_size(self) -> int:
        """The configured batch size, never above what the protocol allows."""
        configured = self.config.batch_size or self.batch_size
        return max(1, min(configured, self.batch_size))

    @property
    def rate(self) -> float:
        """Requests per second: the configured rate, else the source's default."""
        return self.config.requests_per_second or self.default_rate

    @abstractmethod
    async def track(
        self, numbers: Sequence[str], *, registered: frozenset[str], send: Sender
    ) -> BatchOutcome:
        """Fetch one batch of (distinct) numbers; ``registered`` are numbers known to the source."""

    @classmethod
    def parse_answer(
        cls,
        operation: str,
        body: bytes | None,
        numbers: Sequence[str] | None,
        http_status: int | None,
    ) -> Parsed:
        """Parse a stored answer to ``operation`` with today's parser (``rebuild``, ``parse``).

        ``numbers`` are the numbers the request asked for (None: every number the
        body names). A source that cannot parse stored answers says so.
        """
        raise ConfigError(f"source {cls.name!r} cannot parse stored answers")

    @classmethod
    def parse_saved(cls, body: bytes) -> Parsed:
        """Parse a saved body of this source whose request is not known (``parse``).

        The default treats it as the answer to the source's tracking call.
        """
        return cls.parse_answer(cls.track_operation, body, None, None)

    #: The operation whose answers carry the tracking (what a saved body usually is).
    track_operation: ClassVar[str] = "track"

    @classmethod
    def settle(cls, result: Result, *, registered_in_run: bool) -> Result:
        """A parsed answer's result as :meth:`track` finally returned it in its run.

        ``rebuild`` re-reads every stored answer and needs what the batch made of
        it; a source whose :meth:`track` adjusts results (17TRACK's "not looked up
        yet") says how. The default: as parsed.
        """
        return result

    async def recheck(self, numbers: Sequence[str], *, send: Sender) -> BatchOutcome | None:
        """Ask again, later in the same run, for numbers whose answer was ``pending``.

        A source that looks numbers up asynchronously (17TRACK after ``register``)
        answers "not looked up yet" at first; the poller calls this once the answer
        has had time to arrive. Sources that never answer ``pending`` keep this
        default: nothing to recheck.
        """
        return None


def quota_day_start(now: datetime, reset: dt_time) -> datetime:
    """The last instant at or before ``now`` whose UTC time of day is ``reset``.

    >>> quota_day_start(datetime(2026, 11, 3, 0, 30, tzinfo=UTC), dt_time(8, 0)).isoformat()
    '2026-11-02T08:00:00+00:00'
    """
    utc = now.astimezone(UTC)
    start = utc.replace(hour=reset.hour, minute=reset.minute, second=reset.second, microsecond=0)
    return start if start <= utc else start - timedelta(days=1)


# --- time stamps as the carriers write them ------------------------------------------

_OFFSET = re.compile(r"^(?:GMT|UTC)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def parse_offset(text: str | None) -> int | None:
    """Minutes east of UTC of an offset text (``-7:00``, ``-05:00``, ``+0530``, ``Z``).

    >>> parse_offset("-7:00"), parse_offset("+0530"), parse_offset("Z"), parse_offset("")
    (-420, 330, 0, None)
    """
    if text is None or not text.strip():
        return None
    text = text.strip()
    if text.upper() in ("Z", "GMT", "UTC"):
        return 0
    match = _OFFSET.match(text)
    if not match:
        return None
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes or 0)
    if total > 14 * 60 or int(minutes or 0) >= 60:
        return None
    return -total if sign == "-" else total


@dataclass(frozen=True, slots=True)
class Stamp:
    """An event time as a carrier wrote it: the instant, its local text and offset."""

    occurred_at: datetime
    local_time: str
    utc_offset_minutes: int | None
    tz_known: bool


def iso_stamp(text: str | None, offset: int | None = None) -> Stamp | None:
    """An ISO 8601 time with or without an offset (None when it is not one).

    With an offset in the text (or ``offset`` given beside it) the zone is known.
    Without either it is zone-unknown: read as UTC and marked so, never silently
    taken for a UTC instant (``tz_known`` False)::

        >>> iso_stamp("2018-03-02T07:53:47+01:00").occurred_at.isoformat()
        '2018-03-02T06:53:47+00:00'
        >>> iso_stamp("2018-03-02T07:53:47").tz_known
        False
        >>> iso_stamp("2018-03-02T07:53:47", offset=-300).occurred_at.isoformat()
        '2018-03-02T12:53:47+00:00'
    """
    if not text or not text.strip():
        return None
    raw = text.strip()
    try:
        parsed = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        delta = parsed.utcoffset()
        minutes = int(delta.total_seconds() // 60) if delta is not None else None
        return Stamp(parsed.astimezone(UTC), raw, minutes, True)
    if offset is not None:
        instant = (parsed - timedelta(minutes=offset)).replace(tzinfo=UTC)
        return Stamp(instant, raw, offset, True)
    return Stamp(parsed.replace(tzinfo=UTC), raw, None, False)


def join_location(*parts: str | None) -> str | None:
    """``"AUSTIN, TX 73301"``-style text from the parts a carrier gives (None when none).

    >>> join_location("AUSTIN", "TX", "73301", None)
    'AUSTIN, TX 73301'
    """
    city, state, postcode, country = (list(parts) + [None] * 4)[:4]
    tail = " ".join(p for p in (state, postcode) if p)
    text = ", ".join(p for p in (city, tail, country) if p)
    return text or None


def chronological(events: Iterable[Event | None]) -> list[Event]:
    """The events oldest first (carriers list them newest first); undated ones first.

    A stable sort: events at the same instant keep the order the carrier gave.
    """
    return sorted(
        (e for e in events if e is not None),
        key=lambda e: e.occurred_at.timestamp() if e.occurred_at else float("-inf"),
    )


def with_status(event: Event, status: Status) -> Event:
    """``event`` with another canonical status (its raw code and text unchanged)."""
    fields = {name: getattr(event, name) for name in Event.__slots__}
    return Event(**{**fields, "status": status})


# --- helpers shared by the parsers ----------------------------------------------------

_SPACES = re.compile(r"\s+")


def normalise_text(text: str | None) -> str:
    """Case-folded, NFKC-normalised text with runs of white space collapsed."""
    if not text:
        return ""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def event_key(
    occurred_at: datetime | None,
    description: str | None,
    location: str | None,
    local_time: str | None = None,
) -> str:
    """A stable hash of an event's instant, normalised description and location.

    Two answers that describe the same scan produce the same key, whatever their
    spacing or case, so that a rerun never duplicates an event.
    """
    if occurred_at is not None:
        instant = occurred_at.astimezone(UTC).isoformat(timespec="milliseconds")
    else:
        instant = "local:" + normalise_text(local_time)
    text = "\x1f".join((instant, normalise_text(description), normalise_text(location)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def load_json(body: bytes | None, content_type: str | None = None) -> tuple[Any, str | None]:
    """Decode a JSON body, or say in one line why it cannot be used.

    Returns ``(value, None)`` or ``(None, message)``; never raises. Truncated JSON,
    HTML error pages, binary garbage and absurdly nested input all become messages.
    """
    if body is None or not body.strip():
        return None, "empty body"
    if body.lstrip()[:1] == b"<":
        return None, describe_markup(body)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(body) - 4:
            return None, f"body is not UTF-8 text (bad byte at {exc.start} of {len(body)})"
        # A character cut at the very end: the body was truncated; say so as JSON does.
        text = body[: exc.start].decode("utf-8-sig")
    try:
        return json.loads(text), None
    except RecursionError:
        return None, "body is JSON nested too deeply"
    except ValueError as exc:
        return None, f"body is not valid JSON ({exc.__class__.__name__}: {exc}; {_preview(body)})"


def describe_markup(body: bytes) -> str:
    """Say what an HTML or XML body is, for an outcome message.

    A CDN error page, a login wall or an anti-bot page is named by its ``<title>``
    (or first heading), which says far more than its first bytes; only the first
    64 KiB are parsed, so a 10 MB page costs nothing::

        >>> describe_markup(b"<html><head><title>api.example | 502: Bad gateway</title>")
        "body is an HTML page, not JSON: 'api.example | 502: Bad gateway'"
        >>> print(describe_markup(b'<?xml version="1.0"?><Error>Denied</Error>'))
        body is XML, not JSON (starts '<?xml version="1.0"?><Error>Denied</Error>')
    """
    head = body.lstrip()[:_MARKUP_SCAN]
    if _is_xml(head):
        return f"body is XML, not JSON ({_preview(head)})"
    title = page_title(head)
    if title:
        return f"body is an HTML page, not JSON: {title!r}"
    return f"body is HTML, not JSON ({_preview(head)})"


def page_title(body: bytes) -> str | None:
    r"""The ``<title>`` (or first heading) of an HTML body, at most 120 characters.

    >>> page_title(b"<html><body><h1> Access\n denied </h1>")
    'Access denied'
    """
    head = body.lstrip()[:_MARKUP_SCAN]
    if head[:1] != b"<" or _is_xml(head):
        return None
    tree = LexborHTMLParser(head.decode("utf-8", "replace"))
    for selector in ("title", "h1", "h2"):
        node = tree.css_first(selector)
        text = _SPACES.sub(" ", node.text(deep=True)).strip() if node is not None else ""
        if text:
            return text[:120]
    return None


def _is_xml(head: bytes) -> bool:
    return head[:5].lower() == b"<?xml" and b"<html" not in head[:1024].lower()


_MARKUP_SCAN = 64 * 1024


def _preview(body: bytes, size: int = 60) -> str:
    text = body[:size].decode("utf-8", "replace")
    return "starts " + repr(_SPACES.sub(" ", text).strip())


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty dict (hostile input is common)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str | None:
    """A non-empty stripped string, numbers as text, anything else None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def error_results(
    numbers: Iterable[str], outcome: Outcome, message: str, code: str | None = None
) -> tuple[Result, ...]:
    """The same outcome for every number of a call (the call as a whole failed)."""
    return tuple(Result(n, outcome, code=code, message=message) for n in numbers)


def transport_failure(response: Response) -> Parsed | None:
    """The verdict on a response that never produced a usable answer, else None.

    Used by every source before parsing: exhausted retries on 429 and quota errors
    stop the source for the run; a refused key too; other failures are errors of
    this call only.
    """
    error = response.error
    if error is None:
        return None
    numbers = response.request.numbers
    message = str(error)
    if isinstance(error, QuotaExhausted):
        return Parsed(
            Outcome.RATE_LIMITED,
            error_results(numbers, Outcome.RATE_LIMITED, message),
            message,
            stop=message,
        )
    if isinstance(error, RateLimited):
        stop = f"{message}; still rate limited after retries, stopping this source for the run"
        return Parsed(
            Outcome.RATE_LIMITED,
            error_results(numbers, Outcome.RATE_LIMITED, message),
            message,
            stop=stop,
        )
    if isinstance(error, SourceRejected):
        return Parsed(
            Outcome.ERROR, error_results(numbers, Outcome.ERROR, message), message, stop=message
        )
    return Parsed(Outcome.ERROR, error_results(numbers, Outcome.ERROR, message), message)


def call_outcome(results: Sequence[Result]) -> Outcome:
    """The outcome of a whole call from its per-number results (any ok wins)."""
    outcomes = {r.outcome for r in results}
    for candidate in (
        Outcome.OK,
        Outcome.NOT_FOUND,
        Outcome.INVALID,
        Outcome.RATE_LIMITED,
        Outcome.ERROR,
    ):
        if candidate in outcomes:
            return candidate
    return Outcome.OK


def missing_results(
    numbers: Sequence[str], seen: Mapping[str, Result], what: str
) -> tuple[Result, ...]:
    """Error results for numbers asked for but absent from the answer."""
    return tuple(
        Result(n, Outcome.ERROR, message=f"{what} did not mention this number")
        for n in numbers
        if n not in seen
    )


class Unreadable(ValueError):
    """Raised inside a parser when a field's JSON type does not match the protocol.

    Parsers catch it and turn it into an :data:`UNREADABLE` result; it never leaves
    a parser. ``path`` is the JSON path of the field (``$.data.accepted[0]``).
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path} {problem}")
        self.path = path
        self.problem = problem


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type (``object``, ``array``, ``string`` ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return "a number"


def need_dict(value: Any, path: str, *, required: bool = False) -> dict[str, Any]:
    """``value`` as an object; ``{}`` when null or absent (unless ``required``).

    >>> need_dict(None, "$.x")
    {}
    >>> need_dict("nope", "$.data")
    Traceback (most recent call last):
    ...
    collector.sources.base.Unreadable: $.data is a string, expected an object
    """
    if isinstance(value, dict):
        return value
    if value is None and not required:
        return {}
    problem = "is missing" if value is None else f"is {json_type(value)}"
    raise Unreadable(path, f"{problem}, expected an object")


def need_list(value: Any, path: str, *, required: bool = False) -> list[Any]:
    """``value`` as an array; ``[]`` when null or absent (unless ``required``)."""
    if isinstance(value, list):
        return value
    if value is None and not required:
        return []
    problem = "is missing" if value is None else f"is {json_type(value)}"
    raise Unreadable(path, f"{problem}, expected an array")


def need_text(value: Any, path: str) -> str | None:
    """A string or number as text (None when null or absent); anything else is unreadable."""
    if (
        value is None
        or isinstance(value, str)
        or (isinstance(value, int | float) and not isinstance(value, bool))
    ):
        return as_text(value)
    raise Unreadable(path, f"is {json_type(value)}, expected a string")


def unreadable_message(what: str, problem: str) -> str:
    """The one message form of an unreadable answer: ``"<what>: unreadable answer: ..."``."""
    return f"{what}: unreadable answer: {problem}"


def unreadable_call(numbers: Sequence[str], what: str, problem: str) -> Parsed:
    """The verdict on a call whose answer as a whole cannot be read."""
    message = unreadable_message(what, problem)
    results = error_results(numbers, Outcome.ERROR, message, UNREADABLE)
    return Parsed(Outcome.ERROR, results, message, code=UNREADABLE)


def load_object(
    body: bytes | None, numbers: Sequence[str], what: str, http_status: int | None
) -> dict[str, Any] | Parsed:
    """A body that must be one JSON object: the object, or the call's verdict when
    it is not JSON (:func:`undecodable_call`) or not an object
    (:func:`unreadable_call`); the prologue of a direct carrier's parser."""
    document, problem = load_json(body)
    if problem is not None:
        return undecodable_call(numbers, what, http_status, problem)
    if not isinstance(document, dict):
        return unreadable_call(numbers, what, f"$ is {json_type(document)}, expected an object")
    return document


def undecodable_call(
    numbers: Sequence[str], what: str, http_status: int | None, problem: str
) -> Parsed:
    """The verdict on a call whose body is not JSON at all (``load_json``'s message).

    With an HTTP error status the status is named (an HTML 502 page is the gateway's
    failure, not an answer); with 2xx (or none, a saved body) it is unreadable.
    """
    failed = (http_status or 200) >= 300
    code = None if failed else UNREADABLE
    message = f"{what}: " + (f"HTTP {http_status}: " if failed else "") + problem
    return Parsed(
        Outcome.ERROR, error_results(numbers, Outcome.ERROR, message, code), message, code=code
    )


async def one_call_per_number(
    numbers: Sequence[str],
    request_for: Callable[[str], Request],
    parse: Callable[[bytes | None, Sequence[str] | None, int | None], Parsed],
    send: Sender,
) -> BatchOutcome:
    """Ask about each number in its own call (DHL, UPS); stop at the first ``stop``."""
    out = BatchOutcome()
    for number in numbers:
        response = await send(request_for(number))
        parsed = transport_failure(response) or parse(
            response.body, response.request.numbers, response.status
        )
        out.exchanges.append(Exchange(response, parsed))
        out.results.update({r.number: r for r in parsed.results})
        if parsed.stop:
            out.stop = parsed.stop
            break
    return out


def with_unreadable_summary(parsed: Parsed, what: str) -> Parsed:
    """``parsed`` with a call message when some of its numbers were unreadable.

    A call whose answer was partly unreadable failed: its outcome is ``error`` with
    that message (stored in ``polls.error``; the poll's summary and exit code say
    so), while the numbers that could be read keep their own results.
    """
    bad = [r for r in parsed.results if r.code == UNREADABLE]
    if not bad or parsed.message is not None:
        return parsed
    first = bad[0].message or ""
    message = f"{what}: unreadable answer for {plural(len(bad), 'number')} (first: {first})"
    return Parsed(Outcome.ERROR, parsed.results, message, parsed.stop)
