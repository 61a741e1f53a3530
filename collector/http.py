"""The only module that touches httpx: one async client per source.

:class:`SourceClient` sends a source's :class:`~collector.sources.base.Request`
objects and hands back transport-neutral
:class:`~collector.sources.base.Response` objects. It owns, per source:

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
- the source's auth strategy (:mod:`collector.sources.base`): a static key in a
  header or a query parameter, or OAuth2 client credentials, whose bearer token
  is fetched on first use, kept in memory until shortly before its
  ``expires_in``, fetched again once when a call is answered 401, and never
  logged or stored (the token request is recorded as a ``token`` poll without
  its body);
- redaction: keys, client secrets and tokens never appear in a log line or a
  stored URL (query-string secrets become ``***``; headers are never stored).

httpx exceptions never leave this module: they become
:mod:`collector.errors` kinds (``raise SourceUnavailable(...) from exc``) and, after
the retries, the ``error`` of the response::

    >>> redact_url("https://x.test/t?apikey=s3cret&n=1")
    'https://x.test/t?apikey=***&n=1'
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import math
import os
import random
import ssl
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from collector import __version__, clock
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
from collector.sources.base import (
    SOURCE_QUOTA_STOP,
    TOKEN_OPERATION,
    Auth,
    ClientCredentials,
    NoAuth,
    Request,
    Response,
    StaticKey,
    page_title,
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


# --- TLS ----------------------------------------------------------------------------

_tls_lock = threading.Lock()
_tls: dict[tuple[str | None, str | None], ssl.SSLContext] = {}


def shared_tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (httpx's default: certifi's bundle, or
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set), shared by every source's client.

    Loading the CA bundle costs 30-60 ms on an idle machine and several times that on
    a busy one; each client built its own, on the path to the run's first request.
    """
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _tls_lock:
        context = _tls.get(key)
        if context is None:
            context = _tls[key] = httpx.create_ssl_context()
        return context


def prewarm_tls() -> None:
    """Build :func:`shared_tls_context` in a thread, beside whatever the caller does
    next (a poll opens its store and selects the due shipments meanwhile)."""
    threading.Thread(target=shared_tls_context, name="tls-prewarm", daemon=True).start()


# --- rate limits and quota -------------------------------------------------------------


#: Extra spacing of the even schedule, per second of allowance. The pacer's hard
#: limit is the window rule on answered requests (:class:`TokenBucket`), which needs
#: no margin; this one only keeps the schedule a little slower than the limit, so that
#: the window rule rarely has to hold a request back. docs/perf-poll.md has the
#: measurements (5% was needed before the window rule counted answers).
PACING_MARGIN = 0.01

#: How long a request waits for the answer of the R-th request before it (the window
#: rule) before it goes anyway, counting that request as answered then. An attempt
#: ends well before this (``timeout_seconds``), so it is only a bound against a hang.
ANSWER_WAIT_SECONDS = 120.0


class Slot:
    """One request's place in the pacer: when it left and when its answer began.

    The server stamps a request somewhere between those two instants (when it read
    it); :meth:`answered` records the second: the moment the status line and headers
    came back, or the attempt failed. A slot handed out by :meth:`TokenBucket.acquire`
    to a caller that never reports is answered as it leaves.
    """

    __slots__ = ("_event", "answered_at", "sent_at")

    def __init__(self, sent_at: float, *, answered: bool) -> None:
        self.sent_at = sent_at
        self.answered_at: float | None = sent_at if answered else None
        self._event: asyncio.Event | None = None

    def answered(self, at: float) -> None:
        """The answer began (or the attempt ended) at ``at``; only the first call counts."""
        if self.answered_at is None:
            self.answered_at = at
            if self._event is not None:
                self._event.set()

    async def wait(self, timeout: float) -> None:
        """Until :meth:`answered` is called, or ``timeout`` seconds pass."""
        if self.answered_at is not None:
            return
        if self._event is None:
            self._event = asyncio.Event()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


class TokenBucket:
    """Requests paced so that no one-second window at the server holds more than R.

    A strict server counts requests in a sliding one-second window, stamped when it
    reads them: some time after they left the client, and that delay varies (a busy
    machine, a server process that wakes late and reads several at once). Four rules,
    checked against the instants requests were really let go, and again after every
    sleep:

    - the window, on answers: a request leaves only once the R-th request before it
      was *answered* (its status line came back, :meth:`Slot.answered`) at least one
      window ago. The server read that request before it answered, and reads this one
      after it leaves, so the two are a window apart on the server's clock whatever
      the delays: no window there ever holds more than R. It costs, per window, the
      time one request takes to be answered; nothing when callers do not report
      answers (:meth:`acquire`);
    - the window, on departures: the R-th request before this one left at least
      ``1 + margin`` windows ago (reserving slots ahead let every caller whose slot
      passed during a stall go at once, a burst a strict server answers with 429);
    - the even schedule: request k is due ``k * interval`` after the pace began;
    - smoothness: never two requests closer than half the even spacing.

    A late wake is made up by the next requests (down to half the spacing, inside the
    window), so delays do not add up over a long run: with every wake 5 ms late at
    20/s, 200 requests take the floor plus the margin, not 200 x 5 ms more. After a
    pause longer than a window the schedule starts afresh (no credit for idle time).
    The window holds ceil(R) requests and lasts ceil(R) / R seconds: one second for
    a whole R, ``1 / R`` for R below 1 (one request every few seconds), 1.2 s for
    three at 2.5/s (R a second on average; a floor(R) window lost up to half of it).
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
        answer_wait: float = ANSWER_WAIT_SECONDS,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        # ceil, not floor: at 2.5/s a window of 1 s holding two requests paced 1.9/s.
        self.per_window = max(1, math.ceil(rate))
        #: The server's window: ceil(R) requests in ceil(R) / R seconds.
        self.limit_window = self.per_window / rate
        self.window = self.limit_window * (1.0 + margin)
        self.interval = self.window / self.per_window
        self._monotonic = monotonic
        self._sleep = sleep
        self._answer_wait = answer_wait
        self._sent: deque[Slot] = deque(maxlen=self.per_window)
        self._due = -math.inf
        self._lock = asyncio.Lock()

    def _earliest(self, now: float) -> float:
        if not self._sent:
            return now
        last = self._sent[-1].sent_at
        if now - last > self.window:
            self._due = now  # idle for a whole window: start afresh, no credit
        earliest = max(self._due, last + self.interval / 2)
        if len(self._sent) == self.per_window:
            oldest = self._sent[0]
            earliest = max(earliest, oldest.sent_at + self.window)
            if oldest.answered_at is not None:
                earliest = max(earliest, oldest.answered_at + self.limit_window)
        return earliest

    async def acquire(self) -> None:
        """Wait until a request may leave, then count it as sent (and answered) now."""
        await self.slot(report=False)

    async def slot(self, *, report: bool = True) -> Slot:
        """Wait until a request may leave and return its :class:`Slot`; with ``report``
        the caller calls :meth:`Slot.answered` when the answer begins (or fails)."""
        async with self._lock:
            while True:
                if len(self._sent) == self.per_window:
                    oldest = self._sent[0]
                    if oldest.answered_at is None:
                        await oldest.wait(self._answer_wait)
                        oldest.answered(self._monotonic())
                now = self._monotonic()
                delay = self._earliest(now) - now
                if delay <= 0:
                    self._due = max(self._due, now - self.window) + self.interval
                    if not self._sent:
                        self._due = now + self.interval
                    slot = Slot(now, answered=not report)
                    self._sent.append(slot)
                    return slot
                await self._sleep(delay)

    def answered(self, slot: Slot) -> None:
        """Record that ``slot``'s answer began now (see :meth:`Slot.answered`)."""
        slot.answered(self._monotonic())


class DailyQuota:
    """Requests left in the source's quota day; ``take`` raises QuotaExhausted when none are.

    ``used`` is counted from ``polls`` since the day's start (the source's reset
    instant, 00:00 UTC unless it says otherwise); ``resets_at`` is named in the message.
    """

    def __init__(
        self,
        source: str,
        limit: int | None,
        used: int = 0,
        *,
        resets_at: datetime | None = None,
        table: str = "sources",
    ) -> None:
        self.source = source
        self.limit = limit
        self.used = used
        self.resets_at = resets_at
        self.table = table
        #: What the source said when it refused for its quota (then nothing is sent).
        self.refused: str | None = None

    def exhaust(self, message: str) -> None:
        """The source said its quota is used up: every further ``take`` raises ``message``."""
        self.refused = message

    def check_refused(self) -> None:
        """Raise QuotaExhausted when the source said its quota is used up."""
        if self.refused is not None:
            raise QuotaExhausted(self.source, self.refused)

    def take(self) -> None:
        """Count one request against the quota."""
        self.check_refused()
        if self.limit is not None and self.used >= self.limit:
            until = (
                f" until {self.resets_at.astimezone(UTC):%Y-%m-%d %H:%M}Z"
                if self.resets_at is not None
                else ""
            )
            raise QuotaExhausted(
                self.source,
                f"daily quota of {self.limit} requests used up{until} "
                f"([{self.table}.{self.source}] daily_quota); stopping this source for the run",
            )
        self.used += 1


# --- OAuth2 client credentials ------------------------------------------------------------


class TokenCache:
    """One source's bearer token: fetched on first use, kept until shortly before it expires.

    Kept in memory only. Concurrent callers wait for one fetch. ``fetch`` is the
    function that asks the token endpoint: ``(token, expires_in seconds or None)``.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[tuple[str, float | None]]],
        *,
        margin: float = 60.0,
        default_lifetime: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._margin = margin
        self._default_lifetime = default_lifetime
        self._monotonic = monotonic
        self._token: str | None = None
        self._until = -math.inf
        self._lock = asyncio.Lock()
        self.fetches = 0

    def expire(self, token: str | None = None) -> None:
        """Forget the token (after a 401); only if it is still ``token`` when given."""
        if token is None or token == self._token:
            self._token, self._until = None, -math.inf

    async def get(self) -> str:
        """A token valid for at least the refresh margin (fetching one if needed)."""
        async with self._lock:
            if self._token is not None and self._monotonic() < self._until:
                return self._token
            token, lifetime = await self._fetch()
            self.fetches += 1
            life = self._default_lifetime if lifetime is None else lifetime
            # Shortly before expiry: the margin, but never more than half the lifetime.
            self._until = self._monotonic() + max(0.0, life - min(self._margin, life / 2))
            self._token = token
            return token


def read_token_answer(body: bytes | None) -> tuple[str, float | None] | str:
    """``(access_token, expires_in)`` from a token endpoint's JSON, else what is wrong.

    >>> read_token_answer(b'{"access_token": "t0k3n", "expires_in": "3599"}')
    ('t0k3n', 3599.0)
    >>> read_token_answer(b'{"error": "invalid_client"}')
    'no access_token in the answer (error: invalid_client)'
    """
    try:
        document = json.loads(body or b"")
    except ValueError:
        return "the answer is not JSON"
    if not isinstance(document, dict):
        return "the answer is not a JSON object"
    token = document.get("access_token")
    if not isinstance(token, str) or not token.strip():
        error = document.get("error")
        said = f" (error: {error})" if isinstance(error, str) else ""
        return f"no access_token in the answer{said}"
    lifetime = document.get("expires_in")
    seconds: float | None = None
    if isinstance(lifetime, int | float) and not isinstance(lifetime, bool):
        seconds = float(lifetime)
    elif isinstance(lifetime, str) and lifetime.strip().isdigit():
        seconds = float(lifetime.strip())
    if seconds is not None and (math.isnan(seconds) or seconds <= 0):
        seconds = None
    return token.strip(), seconds


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
    refreshed: bool = False


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
        auth: Auth | None = None,
        auth_header: str | None = None,
        auth_param: str | None = None,
        credentials: tuple[Secret, Secret] | None = None,
        token_url: str | None = None,
        transport: Transport | None = None,
        max_connections: int = 8,
        quota_used_today: int = 0,
        daily_quota: int | None = None,
        quota_resets_at: datetime | None = None,
        sleep: Sleep = asyncio.sleep,
        limiter: TokenBucket | None = None,
        quota_signal: Callable[[int, bytes | None], str | None] | None = None,
        ready: Callable[[], None] | None = None,
    ) -> None:
        self.source = source
        #: Says when an answer means "daily quota used up" (not retried: stop until reset).
        self._quota_signal = quota_signal
        #: Called when a request may leave (after the pacing wait); raising stops it.
        #: The poller raises there once the database cannot store answers any more.
        self._ready = ready
        self.config = config
        if auth is None:
            has_key = auth_header or auth_param
            auth = StaticKey(auth_header, auth_param) if has_key else NoAuth()
        self.auth = auth
        self._secret = secret if isinstance(auth, StaticKey) else None
        self._auth_header = auth.header if isinstance(auth, StaticKey) else None
        self._auth_param = auth.param if isinstance(auth, StaticKey) else None
        self._sleep = sleep
        self.redactor = Redactor()
        for value in (secret, *(credentials or ())):
            if value:
                self._remember_secret(value.reveal())
        # A key written into base_url as user info (http://user:KEY@host) is a secret too.
        for part in _userinfo(config.base_url):
            self._remember_secret(part)
        install_log_redaction()
        self.limiter = limiter or TokenBucket(rate)
        limit = daily_quota if daily_quota is not None else config.daily_quota
        self.quota = DailyQuota(
            source, limit, quota_used_today, resets_at=quota_resets_at, table=config.table
        )
        #: Token requests sent so far (``token`` polls), drained by the poller.
        self.token_responses: list[Response] = []
        self.tokens: TokenCache | None = None
        self._credentials = credentials
        self._token_url = token_url
        if isinstance(auth, ClientCredentials):
            if credentials is None or not token_url:
                raise ValueError(f"{source}: OAuth2 needs client credentials and a token URL")
            self.tokens = TokenCache(self._fetch_token, margin=auth.refresh_margin_seconds)
        timeout = config.timeout_seconds or None
        self._client = httpx.AsyncClient(
            transport=transport,
            verify=shared_tls_context(),
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"User-Agent": f"parcelproof/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
        )

    def _remember_secret(self, value: str) -> None:
        self.redactor.add(value)
        _process_redactor.add(value)

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

        async def once() -> tuple[_Answer, str | None]:
            token = await self.tokens.get() if self.tokens is not None else None
            self.quota.take()
            slot = await self.limiter.slot()
            try:
                # The source may have refused for its quota while this request waited.
                self.quota.check_refused()
                if self._ready is not None:
                    self._ready()
                progress.sent_at = clock.wall()
                progress.attempts += 1
                return await self._attempt(request, url, token, slot), token
            finally:
                # Answered, failed or never sent: the pacer may count it from now on.
                self.limiter.answered(slot)

        async def attempt() -> None:
            answer, token = await once()
            if answer.status == 401 and self.tokens is not None and not progress.refreshed:
                # The token may have been revoked or expired early: a new one, once.
                progress.refreshed = True
                self.tokens.expire(token)
                log.info("%s: HTTP 401 with a cached token; fetching a new one", self.source)
                answer, _ = await once()
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

    async def _attempt(
        self, request: Request, url: str, token: str | None = None, slot: Slot | None = None
    ) -> _Answer:
        timeout = self.config.timeout_seconds or None
        try:
            return await asyncio.wait_for(self._once(request, token, slot), timeout)
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

    async def _once(
        self, request: Request, token: str | None = None, slot: Slot | None = None
    ) -> _Answer:
        params: list[tuple[str, str | int | float | bool | None]] = list(request.params)
        if self._auth_param and self._secret:
            params.append((self._auth_param, self._secret.reveal()))
        headers = dict(request.headers)
        if self._auth_header and self._secret:
            headers[self._auth_header] = self._secret.reveal()
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        cap = self.config.max_body_bytes
        async with self._client.stream(
            request.method,
            request.url,
            params=params or None,
            content=request.body,
            headers=headers,
        ) as response:
            if slot is not None:
                # The status line is back: the server has read (and counted) it.
                self.limiter.answered(slot)
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

    async def _fetch_token(self) -> tuple[str, float | None]:
        """Ask the token endpoint (client credentials); recorded as a ``token`` poll.

        The answer's body is the token: it is read here and never kept. A refused
        client (400/401/403) stops the source; a timeout or 5xx is transient.
        """
        assert self._credentials is not None and self._token_url is not None
        client_id, client_secret = self._credentials
        auth = self.auth
        assert isinstance(auth, ClientCredentials)
        form = {"grant_type": "client_credentials"}
        if auth.scope:
            form["scope"] = auth.scope
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if auth.client_auth == "basic":
            pair = f"{client_id.reveal()}:{client_secret.reveal()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form["client_id"] = client_id.reveal()
            form["client_secret"] = client_secret.reveal()
        url = self.redactor.url(self._token_url)
        # The recorded request carries no body: the form holds the client secret.
        record = Request(TOKEN_OPERATION, "POST", self._token_url, ())
        # Not paced by the tracking rate: the token endpoint is not the tracking API
        # whose limit the rate keeps (at 60 an hour a token would cost USPS's first
        # call a minute), and a token is asked once per run and per expiry.
        sent_at = clock.wall()
        started = time.perf_counter()
        status: int | None = None
        content_type: str | None = None
        error: SourceError | None = None
        result: tuple[str, float | None] | None = None
        try:
            answer = await asyncio.wait_for(
                self._client.post(self._token_url, data=form, headers=headers),
                self.config.timeout_seconds or None,
            )
            status, content_type = answer.status_code, answer.headers.get("content-type")
            read = read_token_answer(answer.content) if status == 200 else None
            if isinstance(read, tuple):
                result = read
                self._remember_secret(read[0])
            elif status in (400, 401, 403):
                error = SourceRejected(
                    self.source, f"token: HTTP {status}: client id or secret refused ({url})"
                )
            elif status == 429:
                error = RateLimited(self.source, f"token: HTTP 429 Too Many Requests ({url})")
            elif status >= 500:
                error = SourceUnavailable(self.source, f"token: HTTP {status} ({url})")
            else:
                why = read if isinstance(read, str) else f"HTTP {status}"
                error = SourceRejected(self.source, f"token: {why} ({url})")
        except (TimeoutError, httpx.HTTPError, OSError) as exc:
            error = SourceUnavailable(self.source, f"token: {exc.__class__.__name__} ({url})")
        duration_ms = (time.perf_counter() - started) * 1000.0
        log.info(
            "%s",
            self.redactor.text(
                f"{self.source} POST {url} -> {status if status is not None else 'no answer'} "
                f"(token request, {duration_ms:.0f} ms)"
            ),
        )
        self.token_responses.append(
            Response(record, sent_at, url, status, None, content_type, duration_ms, error)
        )
        if error is not None:
            raise error
        assert result is not None
        return result

    def _raise_for_status(self, answer: _Answer, url: str) -> None:
        status = answer.status
        said = self._quota_signal(status, answer.body) if self._quota_signal else None
        if said:
            until = self.quota.resets_at
            when = f" until {until.astimezone(UTC):%Y-%m-%d %H:%M}Z" if until else ""
            message = f"HTTP {status}: {said} ({SOURCE_QUOTA_STOP}{when}); stopping this source"
            self.quota.exhaust(message)
            raise QuotaExhausted(self.source, f"{message} ({url})")
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
