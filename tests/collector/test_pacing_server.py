"""The pacer against a real strict server on loopback whose reading of requests lags.

A strict server counts requests in a sliding one-second window at the instant it
*reads* them, and a busy server reads some of them late (its process wakes late,
then reads what queued up at once). Spacing requests by when they left the client
cannot keep such a window under R: a request read 0.4 s late shares its window with
the R that follow it. The pacer counts a window from when the R-th request before
was *answered* (the server had read it by then), so the window at the server holds
at most R whatever the lag.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from collector.config import SourceConfig
from collector.http import Slot, SourceClient, TokenBucket
from collector.sources.base import Request

RATE = 5


class LaggingStrictServer:
    """429 when a sliding one-second window (stamped on reading) would hold more than
    RATE; the requests named in ``lag`` are read that many seconds late."""

    def __init__(self, lag: dict[int, float]) -> None:
        self.lag = lag
        self.stamps: list[float] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        self._count = 0

    def __enter__(self) -> LaggingStrictServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with outer._lock:
                    outer._count += 1
                    n = outer._count
                time.sleep(outer.lag.get(n, 0.0))  # the server gets to it late
                with outer._lock:
                    now = time.monotonic()
                    recent = [t for t in outer.stamps if now - t < 1.0]
                    status = 429 if len(recent) >= RATE else 200
                    if status == 200:
                        outer.stamps.append(now)
                    outer.statuses.append(status)
                body = b"{}"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/track"


@pytest.fixture
def lagging() -> Iterator[LaggingStrictServer]:
    # The first request is read 0.4 s late: by then the next four have been read.
    with LaggingStrictServer({1: 0.4}) as server:
        yield server


def _poll(server: LaggingStrictServer, limiter: TokenBucket, count: int) -> None:
    config = SourceConfig(max_retries=0, timeout_seconds=10.0)
    requests = [Request("t", "GET", server.url, (f"N{i}",)) for i in range(count)]

    async def main() -> None:
        async with SourceClient(
            "lagging", config, rate=RATE, limiter=limiter, max_connections=count
        ) as client:
            await asyncio.gather(*(client.send(r) for r in requests))

    asyncio.run(main())


def test_a_request_read_late_does_not_overfill_the_servers_window(
    lagging: LaggingStrictServer,
) -> None:
    _poll(lagging, TokenBucket(RATE, margin=0.0), 2 * RATE + 1)
    assert lagging.statuses.count(429) == 0, lagging.statuses
    assert len(lagging.stamps) == 2 * RATE + 1
    # No one-second window of the server's own stamps holds more than RATE.
    stamps = sorted(lagging.stamps)
    for i in range(len(stamps) - RATE):
        assert stamps[i + RATE] - stamps[i] >= 1.0


def test_counting_departures_alone_would_overfill_it(lagging: LaggingStrictServer) -> None:
    # The same run with a pacer that is never told of answers (each request counted
    # as answered when it left): the lagging request shares a window with the next
    # RATE, and the server answers 429. This is what the answer rule prevents.
    class DeparturesOnly(TokenBucket):
        async def slot(self, *, report: bool = True) -> Slot:
            return await super().slot(report=False)

    _poll(lagging, DeparturesOnly(RATE, margin=0.05), 2 * RATE + 1)
    assert lagging.statuses.count(429) >= 1, lagging.statuses
