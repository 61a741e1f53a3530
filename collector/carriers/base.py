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
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from collector.carriers.status import Status
from collector.config import SourceConfig
from collector.errors import (
    ConfigError,
    QuotaExhausted,
    RateLimited,
    SourceError,
    SourceRejected,
)
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


class Source(ABC):
    """A tracking source: declared properties, request builders and pure parsers.

    Subclasses set the class attributes and implement :meth:`serves` and
    :meth:`track`. Instances are cheap and bound to one ``[carriers.<name>]`` table.
    """

    #: Registry name, also the ``[carriers.<name>]`` table name.
    name: ClassVar[str]
    #: Most numbers one call may carry.
    batch_size: ClassVar[int]
    #: Requests per second when the config does not say.
    default_rate: ClassVar[float]
    #: Whether a key is needed (a source without one is not configured).
    needs_key: ClassVar[bool] = False
    #: Header that carries the key, when the key travels in a header.
    auth_header: ClassVar[str | None] = None
    #: Query parameter that carries the key, when the key travels in the URL.
    auth_param: ClassVar[str | None] = None
    #: Used when the config has no ``base_url``.
    default_base_url: ClassVar[str]

    def __init__(self, config: SourceConfig | None = None) -> None:
        self.config = config or SourceConfig()
        self.base_url = (self.config.base_url or self.default_base_url).rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"carriers.{self.name}.base_url: expected an http(s) URL, got {self.base_url!r}"
            )

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
    def serves(self, courier: str | None) -> bool:
        """Whether this source can track numbers of ``courier`` (None: undetected)."""

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
    collector.carriers.base.Unreadable: $.data is a string, expected an object
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
