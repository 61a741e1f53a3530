"""The loopback HTTP server: 17TRACK v2.2 and Cainiao on one port, with state.

State kept per :class:`Simulator`: 17TRACK registrations and the quota they use,
a token bucket per API key (and one for Cainiao), the injected faults with what
is left of them, and a log of every request (for asserting call counts).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from collector import clock
from collector.simulator.endpoints import Endpoints, Reply, SimRequest
from collector.simulator.faults import Fault, html_error_page, huge_body
from collector.simulator.model import Scenario, as_mapping, normalise_number, sample_scenarios
from collector.sources.cainiao import simulator as rcn
from collector.sources.seventeentrack import simulator as r17

log = logging.getLogger(__name__)

DEFAULT_API_KEY = "simulator-17track-key"
DEFAULT_QUOTA = 1_000_000
ENDPOINTS_17TRACK = ("register", "gettrackinfo", "getquota")
_NUMBER = re.compile(r"^[A-Z0-9-]{5,50}$")
_JSON = "application/json; charset=utf-8"
_CAINIAO_JSON = "application/json;charset=UTF-8"


@dataclass(frozen=True)
class RequestRecord:
    """One request the simulator answered."""

    at: float  # time.monotonic() when it arrived
    method: str
    path: str
    endpoint: str  # register | gettrackinfo | getquota | cainiao | unknown
    numbers: tuple[str, ...]
    status: int
    fault: str | None
    duration: float  # seconds spent answering, without sending the body


@dataclass
class _Registration:
    carrier: int
    tag: str | None
    param: str | None
    at: float = 0.0  # time.monotonic() of the registration


@dataclass
class _FaultState:
    fault: Fault
    skipped: int = 0
    used: int = 0

    def take(self) -> bool:
        if self.skipped < self.fault.skip:
            self.skipped += 1
            return False
        if self.fault.count is not None and self.used >= self.fault.count:
            return False
        self.used += 1
        return True


@dataclass
class _Bucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` saved up."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


_Reply = Reply


@dataclass
class _Request:
    method: str
    path: str
    query: str
    endpoint: str
    body: bytes
    token: str | None
    host: str
    headers: dict[str, str] = field(default_factory=dict)
    plugin: Endpoints | None = None

    def sim(self) -> SimRequest:
        """The request as a plug-in source's endpoints see it (path under the mount)."""
        mount = self.plugin.mount if self.plugin is not None else ""
        return SimRequest(
            self.method,
            self.path[len(mount) :] or "/",
            self.query,
            self.headers,
            self.body,
            self.host,
        )


def _last_mile_index(scenarios: Mapping[str, Scenario]) -> dict[str, str]:
    """Last-mile number -> the number of the scenario it belongs to."""
    return {
        normalise_number(s.last_mile_number): key
        for key, s in scenarios.items()
        if s.last_mile_number
    }


def _json_reply(document: Any, status: int = 200, content_type: str = _JSON) -> _Reply:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return _Reply(status, content_type, body)


def _text_reply(status: int, text: str) -> _Reply:
    return _Reply(status, "text/plain; charset=utf-8", text.encode())


class Simulator:
    """A 17TRACK v2.2 + Cainiao stand-in on a loopback port (see the package docstring).

    >>> with Simulator(rate_limit=5) as sim:  # doctest: +SKIP
    ...     sim.base_url_17track
    'http://127.0.0.1:40123/track/v2.2'
    """

    def __init__(  # noqa: PLR0913 - keyword-only knobs, each with a default
        self,
        scenarios: Iterable[Scenario] | Mapping[str, Scenario] | None = None,
        *,
        api_key: str = DEFAULT_API_KEY,
        rate_limit: float | None = None,
        rate_burst: float | None = None,
        rate_limit_retry_after: bool = False,
        cainiao_rate_limit: float | None = None,
        faults: Iterable[Fault] = (),
        quota: int = DEFAULT_QUOTA,
        as_of: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix_17track: str = "",
        prefix_cainiao: str = "",
        sync_delay: float = 0.0,
        source_rate_limits: Mapping[str, float] | None = None,
        source_quotas: Mapping[str, int] | None = None,
    ) -> None:
        self._scenarios = as_mapping(sample_scenarios() if scenarios is None else scenarios)
        self._by_last_mile = _last_mile_index(self._scenarios)
        self.api_key = api_key
        self._lock = threading.Lock()
        self._rate_limit_retry_after = rate_limit_retry_after
        self._buckets: dict[str, _Bucket] = {}
        self._rate: tuple[float, float] | None = None
        self._cainiao_rate: tuple[float, float] | None = None
        self.set_rate_limit(rate_limit, rate_burst)
        self.set_cainiao_rate_limit(cainiao_rate_limit)
        self._faults = [_FaultState(f) for f in faults]
        self._quota = quota
        self._quota_used = 0
        self._as_of = as_of
        self._registrations: dict[str, _Registration] = {}
        self.sync_delay = sync_delay
        self._log: list[RequestRecord] = []
        self._prefix_17track = prefix_17track.rstrip("/")
        self._prefix_cainiao = prefix_cainiao.rstrip("/")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._server = _Server((host, port), _Handler)
        self._server.simulator = self
        # Every registered source with a simulator module, from the same scenarios.
        from collector.sources.registry import simulator_endpoints

        self.endpoints: dict[str, Endpoints] = {
            cls.source: cls(self) for cls in simulator_endpoints()
        }
        self._source_rates: dict[str, tuple[float, float]] = {}
        for name, rate in (source_rate_limits or {}).items():
            self.set_source_rate_limit(name, rate)
        self._source_quotas: dict[str, int] = dict(source_quotas or {})
        self._source_used: dict[str, int] = {}

    # -- lifecycle --------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port the server listens on (chosen by the OS when 0 was asked)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url_17track(self) -> str:
        """What ``[sources.17track] base_url`` should be (``https://api.17track.net/track/v2.2``)."""
        return f"{self.url}{self._prefix_17track}/track/v2.2"

    @property
    def base_url_cainiao(self) -> str:
        """What ``[sources.cainiao] base_url`` should be (``https://global.cainiao.com``)."""
        return f"{self.url}{self._prefix_cainiao}"

    def start(self) -> Simulator:
        """Serve in a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"simulator:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` or KeyboardInterrupt."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._stopping.set()
            self._server.server_close()

    def stop(self) -> None:
        """Stop serving, wake any request sleeping in a timeout fault, free the port."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- run-time controls ------------------------------------------------------------

    def set_faults(self, faults: Iterable[Fault]) -> None:
        """Replace the injected faults (their counts start afresh)."""
        with self._lock:
            self._faults = [_FaultState(f) for f in faults]

    def add_fault(self, fault: Fault) -> None:
        """Add one fault after the existing ones."""
        with self._lock:
            self._faults.append(_FaultState(fault))

    def clear_faults(self) -> None:
        """No more injected faults."""
        self.set_faults(())

    def set_rate_limit(self, rate: float | None, burst: float | None = None) -> None:
        """17TRACK requests a second per key (None: unlimited); ``burst``: max(1, rate)."""
        with self._lock:
            self._rate = None if rate is None else (rate, burst or max(1.0, rate))
            self._buckets = {k: v for k, v in self._buckets.items() if k == "cainiao"}

    def set_cainiao_rate_limit(self, rate: float | None, burst: float | None = None) -> None:
        """Cainiao requests a second (None: unlimited)."""
        with self._lock:
            self._cainiao_rate = None if rate is None else (rate, burst or max(1.0, rate))
            self._buckets.pop("cainiao", None)

    def set_source_rate_limit(
        self, source: str, rate: float | None, burst: float | None = None
    ) -> None:
        """Requests a second at a plug-in source's service (None: unlimited)."""
        with self._lock:
            if rate is None:
                self._source_rates.pop(source, None)
            else:
                self._source_rates[source] = (rate, burst or max(1.0, rate))
            self._buckets.pop(f"src:{source}", None)

    def set_source_quota(self, source: str, quota: int | None) -> None:
        """Requests a plug-in source's service answers before its daily-quota answer."""
        with self._lock:
            if quota is None:
                self._source_quotas.pop(source, None)
            else:
                self._source_quotas[source] = quota
            self._source_used[source] = 0

    def base_url_for(self, source: str) -> str:
        """What ``[sources.<source>] base_url`` should be for any served source."""
        if source == "17track":
            return self.base_url_17track
        if source == "cainiao":
            return self.base_url_cainiao
        return self.endpoints[source].base_url

    def source_env(self, prefix: str = "PARCELPROOF_SIM") -> dict[str, str]:
        """Environment variables holding the credentials the plug-in services accept."""
        env: dict[str, str] = {}
        for name, endpoints in self.endpoints.items():
            for suffix, value in endpoints.credentials().items():
                env[f"{prefix}_{name.upper()}_{suffix}"] = value
        return env

    def source_table(self, source: str, prefix: str = "PARCELPROOF_SIM") -> str:
        """The ``[sources.<source>]`` table of a plug-in service: base_url and variable names."""
        endpoints = self.endpoints[source]
        names = {s: f"{prefix}_{source.upper()}_{s}" for s in endpoints.credentials()}
        return "\n".join(endpoints.config_lines(names)) + "\n"

    def view(self, number: str, carrier: str) -> Any:
        """What ``carrier``'s own service knows of ``number`` now (a CarrierView or None)."""
        from collector.simulator.endpoints import carrier_view

        with self._lock:
            scenarios, by_last_mile, as_of = self._scenarios, self._by_last_mile, self._as_of
        return carrier_view(scenarios, by_last_mile, number, carrier, as_of)

    def set_as_of(self, as_of: datetime | None) -> None:
        """Serve only events up to ``as_of`` (None: all); also "now" for time metrics."""
        with self._lock:
            self._as_of = as_of

    def add_scenarios(self, scenarios: Iterable[Scenario] | Mapping[str, Scenario]) -> None:
        """Serve more numbers (replacing scenarios for the same numbers)."""
        with self._lock:
            self._scenarios = {**self._scenarios, **as_mapping(scenarios)}
            self._by_last_mile = _last_mile_index(self._scenarios)

    def clear_registrations(self) -> None:
        """Forget every 17TRACK registration (as if the account were new)."""
        with self._lock:
            self._registrations.clear()

    def now(self) -> datetime:
        """The simulator's "now": ``as_of`` when set, else :func:`collector.clock.now`."""
        return self._as_of or clock.now()

    # -- inspection -------------------------------------------------------------------

    @property
    def scenarios(self) -> dict[str, Scenario]:
        """The scenarios served, by normalised number."""
        return dict(self._scenarios)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered so far, oldest first."""
        with self._lock:
            return list(self._log)

    def count(self, endpoint: str | None = None, *, status: int | None = None) -> int:
        """How many requests went to ``endpoint`` (all when None) with ``status``."""
        return sum(
            1
            for r in self.requests
            if (endpoint is None or r.endpoint == endpoint)
            and (status is None or r.status == status)
        )

    def counts(self) -> dict[str, int]:
        """Requests per endpoint, e.g. ``{"register": 2, "gettrackinfo": 2}``."""
        out: dict[str, int] = {}
        for record in self.requests:
            out[record.endpoint] = out.get(record.endpoint, 0) + 1
        return out

    def reset_log(self) -> None:
        """Forget the request log (registrations and quota stay)."""
        with self._lock:
            self._log.clear()

    @property
    def registered(self) -> frozenset[str]:
        """Numbers registered at the simulated 17TRACK (normalised)."""
        with self._lock:
            return frozenset(self._registrations)

    @property
    def quota_used(self) -> int:
        """17TRACK quota units used by registrations."""
        with self._lock:
            return self._quota_used

    def config_toml(
        self, api_key_env: str = "SEVENTEENTRACK_API_KEY", sources: Iterable[str] = ()
    ) -> str:
        """A ``parcelproof.toml`` snippet pointing 17TRACK, Cainiao and ``sources`` here.

        A plug-in service's table holds only ``base_url`` and the names of its
        credential variables (:meth:`source_env` gives their values).
        """
        lines = [
            "[sources.17track]",
            f'base_url = "{self.base_url_17track}"',
            f'api_key_env = "{api_key_env}"',
        ]
        if self._rate is not None:
            lines.append(f"requests_per_second = {self._rate[0]:g}")
        lines += ["", "[sources.cainiao]", f'base_url = "{self.base_url_cainiao}"']
        if self._cainiao_rate is not None:
            lines.append(f"requests_per_second = {self._cainiao_rate[0]:g}")
        for name in sources:
            lines += ["", self.source_table(name).rstrip("\n")]
        return "\n".join(lines) + "\n"

    # -- request handling -------------------------------------------------------------

    def _route(self, path: str) -> str:
        for name in ENDPOINTS_17TRACK:
            if path == f"{self._prefix_17track}/track/v2.2/{name}":
                return name
        if path == f"{self._prefix_cainiao}/global/detail.json":
            return "cainiao"
        found = self._plugin_route(path, None)
        return found[1] if found else "unknown"

    def _plugin_route(self, path: str, method: str | None) -> tuple[Endpoints, str] | None:
        for endpoints in self.endpoints.values():
            mount = endpoints.mount
            if path == mount or path.startswith(mount + "/"):
                name = endpoints.route(method or "", path[len(mount) :] or "/")
                if name is not None:
                    return endpoints, f"{endpoints.source}:{name}"
        return None

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Answer one request (called from the handler thread)."""
        started = time.monotonic()
        path, _, query = handler.path.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        plugin = self._plugin_route(path, method)
        request = _Request(
            method=method,
            path=path,
            query=query,
            endpoint=plugin[1] if plugin else self._route(path),
            body=handler.rfile.read(length) if length > 0 else b"",
            token=handler.headers.get("17token"),
            host=handler.headers.get("Host") or self.host,
            headers=dict(handler.headers.items()),
            plugin=plugin[0] if plugin else None,
        )
        numbers = _numbers_of(request)
        fault = self._take_fault(request.endpoint, numbers)
        try:
            reply = self._reply(request, fault)
        except Exception:  # a bug here must show up as a 500, not a hung client
            log.exception("simulator failed on %s %s", method, path)
            reply = _text_reply(500, "Internal Server Error")
        # Logged before the answer leaves, so that a client that has its answer
        # always finds its request in the log.
        record = RequestRecord(
            at=started,
            method=method,
            path=path,
            endpoint=request.endpoint,
            numbers=numbers,
            status=reply.status,
            fault=fault.kind if fault else None,
            duration=time.monotonic() - started,
        )
        with self._lock:
            self._log.append(record)
        self._send(handler, reply)

    def _take_fault(self, endpoint: str, numbers: tuple[str, ...]) -> Fault | None:
        with self._lock:
            for state in self._faults:
                if state.fault.matches(endpoint, numbers) and state.take():
                    return state.fault
        return None

    def _reply(self, request: _Request, fault: Fault | None) -> _Reply:
        if fault is not None and fault.kind not in ("timeout", "truncate"):
            return _fault_reply(fault, request)
        if fault is not None and fault.kind == "timeout":
            self._stopping.wait(fault.seconds)
        reply = self._answer(request)
        if fault is not None and fault.kind == "truncate":
            reply.body = reply.body[: len(reply.body) // 2]
        return reply

    def _answer(self, request: _Request) -> _Reply:
        if request.plugin is not None:
            return self._plugin_answer(request.plugin, request)
        if request.endpoint == "unknown":
            return _text_reply(404, "Not Found")
        if request.endpoint == "cainiao":
            if request.method != "GET":
                return _text_reply(405, "Method Not Allowed")
            return self._limited("cainiao") or self._cainiao(request.query)
        if request.method != "POST":
            return _text_reply(405, "Method Not Allowed")
        key = request.token
        if not key or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return _json_reply(r17.call_error(r17.INVALID_KEY), status=401)
        limited = self._limited(f"17track:{key}")
        if limited:
            return limited
        if request.endpoint == "getquota":
            with self._lock:
                return _json_reply(r17.quota(self._quota, self._quota_used, self._quota_used))
        try:
            items = json.loads(request.body or b"null")
        except ValueError:
            items = None
        if not isinstance(items, list):
            return _json_reply(r17.call_error(r17.INVALID_SUBMITTED))
        if len(items) > r17.MAX_NUMBERS:
            return _json_reply(r17.call_error(r17.TOO_MANY_NUMBERS))
        if request.endpoint == "register":
            return _json_reply(self._register(items))
        return _json_reply(self._gettrackinfo(items))

    def _plugin_answer(self, endpoints: Endpoints, request: _Request) -> _Reply:
        source = endpoints.source
        name = request.endpoint.partition(":")[2]
        if name != "token":
            limited = self._limited(f"src:{source}")
            if limited:
                return limited
            with self._lock:
                quota = self._source_quotas.get(source)
                used = self._source_used.get(source, 0)
                self._source_used[source] = used + 1
            if quota is not None and used >= quota:
                return endpoints.quota_exceeded()
        return endpoints.answer(name, request.sim())

    def _limited(self, bucket: str) -> _Reply | None:
        with self._lock:
            if bucket.startswith("src:"):
                rate = self._source_rates.get(bucket[4:])
            else:
                rate = self._cainiao_rate if bucket == "cainiao" else self._rate
            if rate is None:
                return None
            state = self._buckets.setdefault(bucket, _Bucket(*rate))
            wait = state.take(time.monotonic())
        if not wait:
            return None
        reply = _text_reply(429, "Too Many Requests")
        if self._rate_limit_retry_after:
            reply.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return reply

    def _register(self, items: list[Any]) -> dict[str, Any]:
        accepted: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        with self._lock:
            for item in items:
                number, problem = _item_number(item)
                key = normalise_number(number)
                scenario = self._scenarios.get(key)
                if problem is None and key in self._registrations:
                    problem = r17.ALREADY_REGISTERED
                if problem is None and scenario is not None and scenario.register_error:
                    problem = scenario.register_error
                if problem is None and self._quota_used >= self._quota:
                    problem = r17.QUOTA_EXHAUSTED
                if problem is not None:
                    rejected.append(r17.rejected(number, problem))
                    continue
                carrier = item.get("carrier")
                if not isinstance(carrier, int) or isinstance(carrier, bool) or carrier <= 0:
                    carrier = scenario.carriers[0].key if scenario and scenario.carriers else 0
                tag = item.get("tag") if isinstance(item.get("tag"), str) else None
                param = item.get("param") if isinstance(item.get("param"), str) else None
                self._registrations[key] = _Registration(carrier, tag, param, time.monotonic())
                self._quota_used += 1
                accepted.append(r17.register_accepted(number, carrier, tag))
        return r17.envelope(accepted, rejected)

    def _gettrackinfo(self, items: list[Any]) -> dict[str, Any]:
        wanted: list[tuple[str, Scenario | None, _Registration]] = []
        rejected: list[dict[str, Any]] = []
        with self._lock:
            for item in items:
                number, problem = _item_number(item)
                key = normalise_number(number)
                registration = self._registrations.get(key)
                if problem is None and registration is None:
                    problem = r17.NOT_REGISTERED
                if problem is not None or registration is None:
                    rejected.append(r17.rejected(number, problem or r17.NOT_REGISTERED))
                    continue
                # As at 17TRACK, a number is looked up after its registration: until
                # then (sync_delay seconds) it answers NotFound with no provider.
                synced = time.monotonic() - registration.at >= self.sync_delay
                wanted.append((number, self._scenarios.get(key) if synced else None, registration))
            as_of = self._as_of
        now = as_of or clock.now()
        accepted = [
            r17.tracked_item(
                scenario,
                number,
                carrier=registration.carrier,
                tag=registration.tag,
                param=registration.param,
                now=now,
                as_of=as_of,
            )
            for number, scenario, registration in wanted
        ]
        return r17.envelope(accepted, rejected)

    def _cainiao(self, query: str) -> _Reply:
        params = parse_qs(query)
        raw = ",".join(params.get("mailNos", []))
        numbers = list(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
        if not numbers:
            document: dict[str, Any] = {
                "success": False,
                "errorCode": "PARAM_ERROR",
                "errorMsg": "mailNos is required",
            }
            return _json_reply(document, content_type=_CAINIAO_JSON)
        with self._lock:
            as_of = self._as_of
            scenarios = [self._scenarios.get(normalise_number(n)) for n in numbers]
        now = as_of or clock.now()
        modules = [
            rcn.module(scenario, number, now=now, as_of=as_of)
            for number, scenario in zip(numbers, scenarios, strict=True)
        ]
        reply = _json_reply(rcn.response(modules), content_type=_CAINIAO_JSON)
        reply.headers["Cache-Control"] = "no-cache"
        return reply

    def _send(self, handler: BaseHTTPRequestHandler, reply: _Reply) -> None:
        length = reply.length if reply.stream is not None else len(reply.body)
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(length))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if reply.stream is not None:
                for chunk in reply.stream:
                    handler.wfile.write(chunk)
            else:
                handler.wfile.write(reply.body)
            handler.wfile.flush()
        except OSError:
            # The client gave up (a timeout fault, a refused 10 MB body): nothing to do.
            handler.close_connection = True


def _fault_reply(fault: Fault, request: _Request) -> _Reply:
    status = fault.http_status
    if fault.kind == "429":
        reply = _text_reply(status, "Too Many Requests")
        if fault.retry_after is not None:
            reply.headers["Retry-After"] = f"{fault.retry_after:g}"
        return reply
    if fault.kind == "html":
        return _Reply(status, "text/html; charset=UTF-8", html_error_page(status, request.host))
    if fault.kind == "huge":
        if request.plugin is not None:
            prefix = request.plugin.huge_prefix
        elif request.endpoint == "cainiao":
            prefix = b'{"module":[],"success":true'
        else:
            prefix = b'{"code":0,"data":{"accepted":[],"rejected":[]}'

        return _Reply(
            status, _JSON, stream=huge_body(fault.size, prefix), length=max(fault.size, 0)
        )
    return _text_reply(status, {503: "Service Unavailable"}.get(status, "Server Error"))


def _item_number(item: Any) -> tuple[str, int | None]:
    """The number of a request item and the error code that rejects it, if any."""
    if not isinstance(item, dict) or not isinstance(item.get("number"), str):
        return "", r17.DATA_MISSING
    number: str = item["number"]
    if not number.strip():
        return number, r17.DATA_MISSING
    if not _NUMBER.match(normalise_number(number)):
        return number, r17.INVALID_FORMAT
    return number, None


def _numbers_of(request: _Request) -> tuple[str, ...]:
    """The (normalised) numbers a request asks about, for logs and per-number faults."""
    if request.plugin is not None:
        name = request.endpoint.partition(":")[2]
        return tuple(normalise_number(n) for n in request.plugin.numbers(name, request.sim()))
    if request.endpoint == "cainiao":
        raw = ",".join(parse_qs(request.query).get("mailNos", []))
        return tuple(normalise_number(n) for n in raw.split(",") if n.strip())
    if request.endpoint in ("register", "gettrackinfo"):
        with contextlib.suppress(ValueError):
            items = json.loads(request.body or b"null")
            if isinstance(items, list):
                return tuple(
                    normalise_number(i["number"])
                    for i in items
                    if isinstance(i, dict) and isinstance(i.get("number"), str)
                )
    return ()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    simulator: Simulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "parcelproof-simulator"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    # Headers and body leave in two writes; with Nagle on, a small answer waits ~40 ms
    # for the client's delayed ACK, which would cap a keep-alive client at ~25 calls/s.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self.server.simulator.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.simulator.handle(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("simulator: " + format, *args)


@contextlib.contextmanager
def serve_in_thread(
    scenarios: Iterable[Scenario] | Mapping[str, Scenario] | None = None, **options: Any
) -> Iterator[Simulator]:
    """Run a :class:`Simulator` in a background thread for the ``with`` block.

    Takes the same arguments as :class:`Simulator`; see the package docstring.
    """
    simulator = Simulator(scenarios, **options)
    with simulator:
        yield simulator
