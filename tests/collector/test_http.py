"""collector.http: retries, Retry-After, caps, rate limits and redaction (MockTransport)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from collector.config import Secret, SourceConfig
from collector.errors import (
    QuotaExhausted,
    RateLimited,
    ResponseTooLarge,
    SourceRejected,
    SourceUnavailable,
)
from collector.http import SourceClient, TokenBucket, parse_retry_after, redact_url
from collector.logs import configure_logging
from collector.sources.base import Request, Response

SECRET = "s3cr3t-key-0123456789"
REQUEST = Request(
    operation="gettrackinfo",
    method="POST",
    url="https://api.test/track/v2.2/gettrackinfo",
    numbers=("UB123456785CN",),
    body=b'[{"number":"UB123456785CN"}]',
    headers=(("Content-Type", "application/json"),),
)

Step = Callable[[httpx.Request], httpx.Response]


class Script:
    """A MockTransport handler that plays scripted steps in order (the last one repeats)."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        step = self.steps[min(len(self.seen), len(self.steps)) - 1]
        return step(request)


def status(code: int, body: bytes = b"", **headers: str) -> Step:
    return lambda request: httpx.Response(code, content=body, headers=headers)


def ok(body: bytes = b'{"code":0,"data":{"accepted":[],"rejected":[]}}') -> Step:
    return status(200, body, **{"content-type": "application/json"})


def raises(exc: Exception) -> Step:
    def step(request: httpx.Request) -> httpx.Response:
        raise exc

    return step


class Sleeps:
    """The patched sleep of the retry loop: records the waits, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(
    script: Script,
    sleeps: Sleeps,
    *,
    secret: str | None = SECRET,
    auth_header: str | None = "17token",
    auth_param: str | None = None,
    **config: object,
) -> SourceClient:
    settings = SourceConfig(**{"max_retries": 4, "max_retry_wait_seconds": 60.0, **config})  # type: ignore[arg-type]
    return SourceClient(
        "17track",
        settings,
        rate=1000.0,
        secret=Secret(secret) if secret else None,
        auth_header=auth_header,
        auth_param=auth_param,
        transport=httpx.MockTransport(script),
        sleep=sleeps,
    )


def send(c: SourceClient, request: Request = REQUEST) -> Response:
    async def main() -> Response:
        async with c:
            return await c.send(request)

    return asyncio.run(main())


def test_429_with_retry_after_is_honoured() -> None:
    script = Script(status(429, b"slow down", **{"retry-after": "2"}), ok())
    sleeps = Sleeps()
    response = send(client(script, sleeps), REQUEST)
    assert response.error is None
    assert (response.status, response.attempts) == (200, 2)
    assert sleeps.waits == [2.0]


def test_503_then_success_backs_off_with_jitter() -> None:
    script = Script(status(503, b"busy"), status(502, b"bad gateway"), ok())
    sleeps = Sleeps()
    response = send(client(script, sleeps))
    assert response.error is None and response.attempts == 3
    assert len(sleeps.waits) == 2
    first, second = sleeps.waits
    assert 0.5 <= first <= 1.0  # initial 0.5 s + up to 0.5 s jitter
    assert 1.0 <= second <= 1.5


def test_timeouts_are_retried() -> None:
    script = Script(raises(httpx.ReadTimeout("slow")), raises(httpx.ConnectTimeout("x")), ok())
    sleeps = Sleeps()
    response = send(client(script, sleeps))
    assert response.error is None
    assert response.attempts == 3 and len(sleeps.waits) == 2


def test_a_hanging_server_is_cut_off_at_the_timeout() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    sleeps = Sleeps()
    c = SourceClient(
        "cainiao",
        SourceConfig(timeout_seconds=0.05, max_retries=1),
        rate=1000.0,
        transport=httpx.MockTransport(hang),
        sleep=sleeps,
    )
    response = send(c)
    assert isinstance(response.error, SourceUnavailable)
    assert "timed out after 0.05s" in str(response.error)
    assert response.attempts == 2 and response.body is None and response.status is None


def test_connection_errors_are_retried_then_reported() -> None:
    script = Script(raises(httpx.ConnectError("connection refused")))
    sleeps = Sleeps()
    response = send(client(script, sleeps, max_retries=2))
    assert isinstance(response.error, SourceUnavailable)
    assert "ConnectError" in str(response.error)
    assert response.attempts == 3 and len(sleeps.waits) == 2


def test_retries_stop_after_max_retries_keeping_the_last_body() -> None:
    script = Script(status(503, b"<html>down</html>", **{"content-type": "text/html"}))
    sleeps = Sleeps()
    response = send(client(script, sleeps, max_retries=3))
    assert isinstance(response.error, SourceUnavailable)
    assert response.attempts == 4
    assert (response.status, response.body, response.content_type) == (
        503,
        b"<html>down</html>",
        "text/html",
    )


def test_total_wait_is_capped() -> None:
    script = Script(status(503))
    sleeps = Sleeps()
    response = send(client(script, sleeps, max_retries=50, max_retry_wait_seconds=5.0))
    assert isinstance(response.error, SourceUnavailable)
    assert sum(sleeps.waits) <= 5.0
    assert len(sleeps.waits) >= 3


def test_retry_after_beyond_the_cap_gives_up_at_once() -> None:
    script = Script(status(429, **{"retry-after": "120"}))
    sleeps = Sleeps()
    response = send(client(script, sleeps, max_retry_wait_seconds=60.0))
    assert isinstance(response.error, RateLimited)
    assert response.error.retry_after == 120.0
    assert sleeps.waits == [] and response.attempts == 1


def test_401_is_not_retried() -> None:
    body = b'{"code":-18010002,"data":{"errors":[{"code":-18010002,"message":"Invalid key"}]}}'
    script = Script(status(401, body))
    sleeps = Sleeps()
    response = send(client(script, sleeps))
    assert isinstance(response.error, SourceRejected)
    assert response.attempts == 1 and response.body == body


def test_other_4xx_is_handed_to_the_parser() -> None:
    script = Script(status(404, b"no such path"))
    response = send(client(script, Sleeps()))
    assert response.error is None and response.status == 404


def test_hostile_10mb_body_becomes_an_error_not_a_crash() -> None:
    huge = b"[" + b"0," * 5_000_000 + b"0]"
    script = Script(status(200, huge))
    sleeps = Sleeps()
    response = send(client(script, sleeps, max_body_bytes=5_000_000))
    assert isinstance(response.error, ResponseTooLarge)
    assert response.body is None and response.attempts == 1 and sleeps.waits == []


def test_body_cap_without_content_length() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 100_000

    script = Script(lambda request: httpx.Response(200, content=chunks()))
    response = send(client(script, Sleeps(), max_body_bytes=1_000_000))
    assert isinstance(response.error, ResponseTooLarge)


def test_daily_quota_stops_before_sending() -> None:
    script = Script(ok())
    c = SourceClient(
        "17track",
        SourceConfig(daily_quota=3),
        rate=1000.0,
        transport=httpx.MockTransport(script),
        quota_used_today=3,
    )
    response = send(c)
    assert isinstance(response.error, QuotaExhausted)
    assert script.seen == []


# --- redaction -----------------------------------------------------------------------------


def test_header_secret_is_sent_but_never_stored(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(status(503), ok())
    response = send(client(script, Sleeps()))
    assert script.seen[0].headers["17token"] == SECRET
    assert SECRET not in response.url
    assert SECRET not in caplog.text
    assert "retry 1 of 4" in caplog.text


def test_query_secret_is_redacted_in_urls_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    request = Request("detail", "GET", "https://x.test/global/detail.json", ("A1",),
                      params=(("mailNos", "A1,B2"), ("lang", "en-US")))  # fmt: skip
    script = Script(status(500, f"echo {SECRET}".encode()), ok())
    response = send(client(script, Sleeps(), auth_header=None, auth_param="apikey"), request)
    assert script.seen[0].url.params["apikey"] == SECRET
    assert response.url == "https://x.test/global/detail.json?mailNos=A1,B2&lang=en-US&apikey=***"
    assert SECRET not in caplog.text
    # httpx's own request log line went through the filter too.
    assert any(r.name == "httpx" for r in caplog.records)
    assert "apikey=***" in caplog.text


def test_error_messages_do_not_carry_the_secret() -> None:
    script = Script(raises(httpx.ConnectError(f"failed for https://x.test/?apikey={SECRET}")))
    response = send(client(script, Sleeps(), max_retries=0, auth_param="apikey"))
    assert response.error is not None
    assert SECRET not in str(response.error)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.test/a?key=abc&n=1", "https://x.test/a?key=***&n=1"),
        ("https://x.test/a?API_KEY=abc", "https://x.test/a?API_KEY=***"),
        ("https://x.test/a?token=abc&access_token=def", "https://x.test/a?token=***&access_token=***"),
        ("https://user:pw@x.test/a", "https://***@x.test/a"),
        ("https://x.test/a?mailNos=A,B", "https://x.test/a?mailNos=A,B"),
        ("https://x.test/a", "https://x.test/a"),
    ],
)  # fmt: skip
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 31


class FakeTime:
    """A monotonic clock that only moves when the bucket sleeps (or a stall is added)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.oversleep: list[float] = []  # extra seconds the next sleeps overrun

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + (self.oversleep.pop(0) if self.oversleep else 0.0)


def test_token_bucket_spaces_requests_evenly() -> None:
    time_ = FakeTime()
    bucket = TokenBucket(4.0, margin=0.0, monotonic=time_.monotonic, sleep=time_.sleep)
    sent: list[float] = []

    async def main() -> None:
        for _ in range(5):
            await bucket.acquire()
            sent.append(time_.now)

    asyncio.run(main())
    # The first goes at once; each next one a quarter-second after the previous one.
    assert [round(t - 100.0, 6) for t in sent] == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize(("rate", "per_window", "window"), [(1.5, 2, 4 / 3), (2.5, 3, 1.2)])
def test_token_bucket_keeps_a_fractional_rate_above_one(
    rate: float, per_window: int, window: float
) -> None:
    # 1.5/s was paced as one a second (the window held floor(R) = 1), 2.5/s as two:
    # a third and a fifth of the allowance lost (issue 13.5). The window now holds
    # ceil(R) requests and lasts ceil(R) / R seconds: R a second on average, never
    # closer than half the even spacing.
    time_ = FakeTime()
    bucket = TokenBucket(rate, margin=0.0, monotonic=time_.monotonic, sleep=time_.sleep)
    assert (bucket.per_window, bucket.window) == (per_window, pytest.approx(window))
    sent: list[float] = []

    async def main() -> None:
        for _ in range(16):
            await bucket.acquire()
            sent.append(time_.now)

    asyncio.run(main())
    assert sent[-1] - sent[0] == pytest.approx(15 / rate)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 1 / rate / 2 - 1e-9
    for i in range(len(sent) - per_window):
        assert sent[i + per_window] - sent[i] >= window - 1e-9


def test_token_bucket_never_bursts_after_a_stall() -> None:
    # 20/s; the event loop wakes 0.3 s late once, while 10 callers wait. Reserving
    # slots in advance let every caller whose slot had passed go at once (a burst a
    # strict server answers with 429); spacing from the real last send does not.
    time_ = FakeTime()
    time_.oversleep = [0.0, 0.3]
    bucket = TokenBucket(20.0, margin=0.05, monotonic=time_.monotonic, sleep=time_.sleep)
    sent: list[float] = []

    async def one() -> None:
        await bucket.acquire()
        sent.append(time_.now)

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(30)))

    asyncio.run(main())
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    # The lost time is made up gently (never closer than half the spacing) ...
    assert min(gaps) >= 1.05 / 20 / 2 - 1e-9
    # ... and no window of 1.05 s holds more than 20 of them.
    assert _most_in_a_window(sent, 1.05) <= 20


def _most_in_a_window(sent: list[float], width: float) -> int:
    return max(sum(1 for t in sent if s <= t < s + width - 1e-9) for s in sent)


def test_late_wakes_do_not_add_up() -> None:
    # A busy host: every sleep overruns by 5 ms. Spacing each request from the last
    # one's real departure made 200 requests at 20/s take 200 x 5 ms = 1 s longer
    # than the schedule; the pacer makes the delay up inside the window instead.
    time_ = FakeTime()
    time_.oversleep = [0.005] * 1000
    bucket = TokenBucket(20.0, margin=0.05, monotonic=time_.monotonic, sleep=time_.sleep)
    sent: list[float] = []

    async def main() -> None:
        for _ in range(200):
            await bucket.acquire()
            sent.append(time_.now)

    asyncio.run(main())
    schedule = 199 * 1.05 / 20
    assert sent[-1] - sent[0] <= schedule + 0.05, sent[-1] - sent[0]
    assert _most_in_a_window(sent, 1.05) <= 20


def test_a_pause_earns_no_burst() -> None:
    time_ = FakeTime()
    bucket = TokenBucket(20.0, margin=0.05, monotonic=time_.monotonic, sleep=time_.sleep)
    sent: list[float] = []

    async def main() -> None:
        for i in range(40):
            if i == 20:
                time_.now += 30.0  # nothing to send for half a minute
            await bucket.acquire()
            sent.append(time_.now)

    asyncio.run(main())
    after = sent[20:]
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert min(gaps) >= 1.05 / 20 - 1e-9  # evenly spaced again, not caught up


def test_verbose_logging_shows_each_request_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    request = Request("detail", "GET", "https://x.test/global/detail.json", ("A1",),
                      params=(("mailNos", "A1"),))  # fmt: skip
    handler = configure_logging(1)
    try:
        assert handler is not None
        send(client(Script(ok()), Sleeps(), auth_header=None, auth_param="apikey"), request)
    finally:
        configure_logging(0)
    err = capsys.readouterr().err
    assert "INFO collector.http: 17track GET https://x.test/global/detail.json?mailNos=A1" in err
    assert "apikey=*** -> 200" in err and "1 number, 1 attempt," in err
    assert SECRET not in err
    # At -v the HTTP library's own lines stay out; the handler is gone after level 0.
    assert "httpx" not in err
    assert not [h for h in logging.getLogger().handlers if h is handler]


def test_a_key_in_base_url_user_info_is_masked_at_vv(capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 17 item 10: httpx's own -vv line printed http://user:KEY@host/... as it was.
    key = "userinfo-KEY-98765"
    request = Request("detail", "GET", f"http://user:{key}@x.test/global/detail.json", ("A1",))
    handler = configure_logging(2)
    try:
        assert handler is not None
        response = send(
            client(
                Script(ok()),
                Sleeps(),
                secret=None,
                auth_header=None,
                base_url=f"http://user:{key}@x.test",
            ),
            request,
        )
    finally:
        configure_logging(0)
    err = capsys.readouterr().err
    assert "httpx" in err and "HTTP Request" in err
    assert key not in err and key not in response.url
    assert "http://***@x.test/global/detail.json" in err


def test_every_client_shares_one_verifying_tls_context(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Each client loaded the CA bundle itself, on the way to the run's first request.
    import ssl

    from collector.http import shared_tls_context

    first = shared_tls_context()
    assert shared_tls_context() is first
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname
    # A CA bundle named by the environment (as httpx honours it) is a context of its own.
    import certifi

    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert shared_tls_context() is not first
