"""The only module that touches httpx: one async client per source.

:class:`SourceClient` sends a source's :class:`~collector.carriers.base.Request`
objects and hands back transport-neutral
:class:`~collector.carriers.base.Response` objects. It owns, per source:

- an ``httpx.AsyncClient`` (timeouts, connection limits; ``transport=`` for tests,
  e.g. ``httpx.MockTransport``);
- a token bucket at ``requests_per_second`` (no bursts: requests are spaced evenly)
  and a daily request quota where ``daily_quota`` is configured;
- retries built from named parts (tenacity): timeouts, connection errors, 429 and
  5xx are retried; ``Retry-After`` is honoured when sent, otherwise exponential
  backoff with jitter; the total wait is capped at ``max_retry_wait_seconds`` and
  each retry is logged;
- a cap on the body size (``max_body_bytes``): a hostile 10 MB body becomes an
  error outcome, not a crash;
- redaction: the key never appears in a log line or a stored URL (query-string
  secrets become ``***``; the ``17token`` header is never stored at all).

httpx exceptions never leave this module: they become
:mod:`collector.errors` kinds (``raise SourceUnavailable(...) from exc``) and, after
the retries, the ``error`` of the response::

    >>> redact_url("https://x.test/t?apikey=s3cret&n=1")
    'https://x.test/t?apikey=***&n=1'
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from collector import __version__, clock
from collector.carriers.base import Request, Response, page_title
from collector.config import Secret, SourceConfig
from collector.errors import (
    ParcelproofError,
    QuotaExhausted,
    RateLimited,
    ResponseTooLarge,
    SourceError,
    SourceRejected,
    SourceUnavailable,
)
from collector.terminal import plural

log = logging.getLogger("collector.http")

#: What tests and the poller may pass as ``transport=`` (e.g. ``httpx.MockTransport``).
Transport = httpx.AsyncBaseTransport

#: Query parameters whose values are secrets wherever they appear.
SECRET_PARAMS = frozenset(
    {
        "key",
        "apikey",
        "api_key",
        "api-key",
        "token",
        "access_token",
        "auth",
        "authorization",
        "secret",
        "client_secret",
        "password",
        "sig",
        "signature",
        "17token",
    }
)
MASK = "***"

Sleep = Callable[[float], Awaitable[None]]


# --- redaction ---------------------------------------------------------------------------


class Redactor:
    """Masks known secret values in any text, and secret-named parameters in URLs."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember a secret value (very short values are not worth masking safely)."""
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def text(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def url(self, url: str) -> str:
        """A URL safe to log and store: secret-named parameters and known secrets masked."""
        return self.text(redact_url(url))


def redact_url(url: str) -> str:
    """Mask the values of secret-named query parameters and any password in the URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    if not parts.query:
        return urlunsplit(parts._replace(netloc=netloc))
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe=",*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _userinfo(url: str | None) -> list[str]:
    """The user name and password of ``url``'s user info, if any (percent-decoded too)."""
    if not url or "@" not in url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [p for p in (parts.username, parts.password) if p]
    return found + [unquote(p) for p in found if unquote(p) != p]


#: Every secret any client of this process was given: the log filter masks them all.
_process_redactor = Redactor()


class RedactingFilter(logging.Filter):
    """A logging filter that masks known secrets and secret URL parameters in records."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix
            return True
        clean = _process_redactor.text(_redact_urls_in(message))
        if clean != message:
            record.msg, record.args = clean, None
        return True


def _redact_urls_in(message: str) -> str:
    # A URL with a query (secret parameters) or with user info (``user:KEY@host``).
    if "?" not in message and "@" not in message:
        return message
    words = message.split(" ")
    for i, word in enumerate(words):
        stripped = word.strip("\"'<>()[],")
        if "://" in stripped and ("?" in stripped or "@" in stripped):
            words[i] = word.replace(stripped, redact_url(stripped))
    return " ".join(words)


_filter = RedactingFilter()


def install_log_redaction() -> None:
    """Attach the redacting filter to the loggers that may print URLs (idempotent)."""
    names = ["httpx", "httpcore", "collector", "tenacity"]
    names += [n for n in logging.root.manager.loggerDict if n.startswith("httpcore.")]
    for name in names:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)


# --- rate limits and quota -------------------------------------------------------------


#: Extra spacing per second of allowance. Requests are stamped when they leave the
#: client but counted when they reach the server; the margin absorbs the difference
#: in that delay between two requests one window apart (a busy machine, a write
#: holding the interpreter), so that a strict one-second window never holds more
#: than R. It costs 5% of the throughput; docs/perf-poll.md has the measurement.
PACING_MARGIN = 0.05


class TokenBucket:
    """Requests paced so that no window of ``(1 + margin)`` seconds holds more than R.

    A strict server counts requests in a sliding one-second window. Three rules, all
    checked against the instants requests were really let go, and checked again after
    every sleep:

    - the even schedule: request k is due ``k * interval`` after the pace began;
    - the window: the R-th request before this one left at least one window ago, so
      no window of ``1 + margin`` seconds ever holds more than R, however late the
      event loop wakes (reserving slots ahead let every caller whose slot passed
      during a stall go at once, a burst a strict server answers with 429);
    - smoothness: never two requests closer than half the even spacing.

    A late wake is made up by the next requests (down to half the spacing, inside the
    window), so delays do not add up over a long run: with every wake 5 ms late at
    20/s, 200 requests take the floor plus the margin, not 200 x 5 ms more. After a
    pause longer than a window the schedule starts afresh (no credit for idle time).
    For R below 1 (one request every few seconds) the window is ``1 / R`` seconds.
    Callers are served in order: the next one waits under the lock.

    >>> bucket = TokenBucket(4.0, margin=0.0)
    >>> bucket.interval, bucket.window, bucket.per_window
    (0.25, 1.0, 4)
    """

    def __init__(
        self,
        rate: float,
        *,
        margin: float = PACING_MARGIN,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.per_window = max(1, math.floor(rate))
        self.window = max(1.0, self.per_window / rate) * (1.0 + margin)
        self.interval = self.window / self.per_window
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: deque[float] = deque(maxlen=self.per_window)
        self._due = -math.inf
        self._lock = asyncio.Lock()

    def _earliest(self, now: float) -> float:
        if not self._sent:
            return now
        last = self._sent[-1]
        if now - last > self.window:
            self._due = now  # idle for a whole window: start afresh, no credit
        earliest = max(self._due, last + self.interval / 2)
        if len(self._sent) == self.per_window:
            earliest = max(earliest, self._sent[0] + self.window)
        return earliest

    async def acquire(self) -> None:
        """Wait until a request may leave, then count it as sent now."""
        async with self._lock:
            while True:
                now = self._monotonic()
                delay = self._earliest(now) - now
                if delay <= 0:
                    self._due = max(self._due, now - self.window) + self.interval
                    if not self._sent:
                        self._due = now + self.interval
                    self._sent.append(now)
                    return
                await self._sleep(delay)


class DailyQuota:
    """Requests left for today (UTC); ``take`` raises QuotaExhausted when none are."""

    def __init__(self, source: str, limit: int | None, used: int = 0) -> None:
        self.source = source
        self.limit = limit
        self.used = used

    def take(self) -> None:
        """Count one request against the quota."""
        if self.limit is not None and self.used >= self.limit:
            raise QuotaExhausted(
                self.source,
                f"daily quota of {self.limit} requests used up "
                f"([carriers.{self.source}] daily_quota); stopping this source for the run",
            )
        self.used += 1


# --- the client ----------------------------------------------------------------------------


class _ServerError(SourceUnavailable):
    """A 5xx answer (transient), with the server's Retry-After hint if it sent one."""

    def __init__(self, source: str, message: str, retry_after: float | None) -> None:
        super().__init__(source, message)
        self.retry_after = retry_after


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


@dataclass
class _Answer:
    status: int
    body: bytes | None
    content_type: str | None
    retry_after: float | None = None


@dataclass
class _Progress:
    attempts: int = 0
    answer: _Answer | None = None
    sent_at: datetime | None = None


class SourceClient:
    """One source's HTTP client: rate, quota, retries, size cap, redaction.

    >>> async def main():                                    # doctest: +SKIP
    ...     async with SourceClient("cainiao", SourceConfig(), rate=0.5) as client:
    ...         response = await client.send(request)
    """

    def __init__(  # noqa: PLR0913 - keyword-only knobs, each with a default
        self,
        source: str,
        config: SourceConfig,
        *,
        rate: float,
        secret: Secret | None = None,
        auth_header: str | None = None,
        auth_param: str | None = None,
        transport: Transport | None = None,
        max_connections: int = 8,
        quota_used_today: int = 0,
        sleep: Sleep = asyncio.sleep,
        limiter: TokenBucket | None = None,
        ready: Callable[[], None] | None = None,
    ) -> None:
        self.source = source
        #: Called when a request may leave (after the pacing wait); raising stops it.
        #: The poller raises there once the database cannot store answers any more.
        self._ready = ready
        self.config = config
        self._secret = secret
        self._auth_header = auth_header
        self._auth_param = auth_param
        self._sleep = sleep
        self.redactor = Redactor()
        if secret:
            self.redactor.add(secret.reveal())
            _process_redactor.add(secret.reveal())
        # A key written into base_url as user info (http://user:KEY@host) is a secret too.
        for part in _userinfo(config.base_url):
            self.redactor.add(part)
            _process_redactor.add(part)
        install_log_redaction()
        self.limiter = limiter or TokenBucket(rate)
        self.quota = DailyQuota(source, config.daily_quota, quota_used_today)
        timeout = config.timeout_seconds or None
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"User-Agent": f"parcelproof/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
        )

    async def __aenter__(self) -> SourceClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def url_for(self, request: Request) -> str:
        """The redacted URL of ``request`` as it is stored and logged."""
        params = list(request.params)
        if self._auth_param and self._secret:
            params.append((self._auth_param, self._secret.reveal()))
        try:
            url = str(httpx.URL(request.url, params=params)) if params else request.url
        except httpx.InvalidURL:
            url = request.url
        return self.redactor.url(url)

    async def send(self, request: Request) -> Response:
        """Send ``request`` with rate limiting and retries; never raises for transport problems.

        The returned response's ``error`` says why no usable answer came (after the
        retries); its ``body`` is the last body received, if any.
        """
        # The fetch time is the wall clock at the moment the (last) attempt was sent,
        # after the pacing wait: the evidence says when the answer was really asked.
        # Never the --now clock, which only moves the evaluation instant.
        requested_at = clock.wall()
        started = time.perf_counter()
        url = self.url_for(request)
        progress = _Progress()

        async def attempt() -> None:
            self.quota.take()
            await self.limiter.acquire()
            if self._ready is not None:
                self._ready()
            progress.sent_at = clock.wall()
            progress.attempts += 1
            answer = await self._attempt(request, url)
            progress.answer = answer
            self._raise_for_status(answer, url)

        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient),
            stop=self._stop,
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._log_retry(request, url),
            reraise=True,
        )
        error: SourceError | None = None
        try:
            await retrying(attempt)
        except SourceError as exc:
            error = exc
            log.warning("%s", self.redactor.text(str(exc)))
        answer = progress.answer
        duration_ms = (time.perf_counter() - started) * 1000.0
        if answer is not None and log.isEnabledFor(logging.INFO):
            log.info(
                "%s",
                self.redactor.text(
                    f"{self.source} {request.method} {url} -> {answer.status} "
                    f"({len(answer.body or b'')} bytes, {plural(len(request.numbers), 'number')}, "
                    f"{plural(progress.attempts, 'attempt')}, {duration_ms:.0f} ms)"
                ),
            )
        return Response(
            request,
            progress.sent_at or requested_at,
            url,
            answer.status if answer else None,
            answer.body if answer else None,
            answer.content_type if answer else None,
            duration_ms,
            error,
            attempts=progress.attempts,
        )

    async def _attempt(self, request: Request, url: str) -> _Answer:
        timeout = self.config.timeout_seconds or None
        try:
            return await asyncio.wait_for(self._once(request), timeout)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise SourceUnavailable(
                self.source, f"{request.operation}: timed out after {timeout:g}s ({url})"
            ) from exc
        except _TooLarge as exc:
            raise ResponseTooLarge(
                self.source,
                f"{request.operation}: body over the {self.config.max_body_bytes} byte cap "
                f"({exc.size}+ bytes, dropped) from {url}",
            ) from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise SourceRejected(
                self.source, f"{request.operation}: unusable URL {url} ({exc.__class__.__name__})"
            ) from exc
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise SourceUnavailable(
                self.source,
                f"{request.operation}: {exc.__class__.__name__}: "
                f"{self.redactor.text(str(exc)) or 'connection failed'} ({url})",
            ) from exc
        except (OSError, ValueError) as exc:
            raise SourceUnavailable(
                self.source, f"{request.operation}: {exc.__class__.__name__} ({url})"
            ) from exc

    async def _once(self, request: Request) -> _Answer:
        params: list[tuple[str, str | int | float | bool | None]] = list(request.params)
        if self._auth_param and self._secret:
            params.append((self._auth_param, self._secret.reveal()))
        headers = dict(request.headers)
        if self._auth_header and self._secret:
            headers[self._auth_header] = self._secret.reveal()
        cap = self.config.max_body_bytes
        async with self._client.stream(
            request.method,
            request.url,
            params=params or None,
            content=request.body,
            headers=headers,
        ) as response:
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > cap:
                raise _TooLarge(int(declared))
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise _TooLarge(size)
                chunks.append(chunk)
            return _Answer(
                response.status_code,
                b"".join(chunks),
                response.headers.get("content-type"),
                parse_retry_after(response.headers.get("retry-after")),
            )

    def _raise_for_status(self, answer: _Answer, url: str) -> None:
        status = answer.status
        if status == 429:
            raise RateLimited(
                self.source, f"HTTP 429 Too Many Requests ({url})", answer.retry_after
            )
        if status >= 500:
            # A CDN's error page says more than its status: name it by its title.
            title = page_title(answer.body or b"")
            said = f": {title!r}" if title else ""
            raise _ServerError(self.source, f"HTTP {status}{said} ({url})", answer.retry_after)
        if status in (401, 403):
            raise SourceRejected(self.source, f"HTTP {status}: key, IP or account refused ({url})")

    # tenacity parts: stop, wait and the log line before each sleep.

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number > self.config.max_retries:
            return True
        return state.idle_for + state.upcoming_sleep > self.config.max_retry_wait_seconds

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if isinstance(hint, int | float) and hint >= 0:
            return float(hint)
        return backoff(state.attempt_number)

    def _log_retry(self, request: Request, url: str) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s",
                self.redactor.text(
                    f"{exc}; retry {state.attempt_number} of {self.config.max_retries} "
                    f"in {state.upcoming_sleep:.2f}s"
                ),
            )

        return before_sleep


#: Exponential backoff: 0.5 s doubling per attempt, at most 30 s, plus up to 0.5 s jitter.
BACKOFF_INITIAL, BACKOFF_MAX, BACKOFF_JITTER = 0.5, 30.0, 0.5


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based) without a hint."""
    base = min(BACKOFF_MAX, BACKOFF_INITIAL * float(2 ** max(0, min(attempt - 1, 30))))
    # Jitter spreads retries of concurrent batches apart; not for security.
    return base + random.uniform(0, BACKOFF_JITTER)


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, ParcelproofError) and exc.transient


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        # The server's date is against the real wall clock, not the --now clock.
        seconds = when.timestamp() - time.time()
    if math.isnan(seconds) or seconds < 0:  # NaN, or a date in the past
        return 0.0
    return seconds


def post_json(url: str, payload: object, *, timeout: float = 20.0) -> int:
    """POST ``payload`` as JSON to ``url`` once (an alert webhook); the HTTP status.

    Raises :class:`SourceUnavailable` for a connection error, a timeout or a status
    that is not 2xx, naming only the URL's scheme and host: a webhook's path and
    query are often its secret (Slack, Mattermost), so they never reach a message.
    """
    parts = urlsplit(url)
    where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    try:
        response = httpx.post(url, json=payload, timeout=timeout)
    except httpx.HTTPError as exc:
        raise SourceUnavailable(where, f"{type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise SourceUnavailable(where, f"HTTP {response.status_code}")
    return response.status_code
