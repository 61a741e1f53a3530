"""What a source's simulator module provides, and the parts every one of them shares.

A source folder's ``simulator.py`` defines an :class:`Endpoints` subclass: the
paths it answers under its mount (``/<name>`` on the simulator's port), how it
reads the numbers of a request (for the log and per-number faults), and how it
renders a :class:`~collector.simulator.model.Scenario` in its wire format. The
server owns the rest, the same for every source: the request log, the injected
faults (429, 5xx, timeouts, truncation, HTML pages, huge bodies), a rate limit and
a daily quota per source, and the credentials (:class:`StaticKeyDesk`,
:class:`OAuthDesk`).

A carrier's own service knows a parcel under its own number: the number itself
when the scenario's first carrier is this carrier, or the scenario's
``last_mile_number`` when this carrier took the parcel over (then only the
last-mile events, ``leg >= 1``, are its own): :func:`carrier_view`.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs

from collector.simulator.model import Event, Scenario, normalise_number

if TYPE_CHECKING:
    from collector.simulator.server import Simulator

JSON = "application/json; charset=utf-8"


@dataclass
class Reply:
    """One answer: status, content type, body (or a stream of ``length`` bytes)."""

    status: int
    content_type: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None
    length: int | None = None


@dataclass
class SimRequest:
    """One request as a source's endpoints see it (path relative to the mount)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    host: str

    @property
    def params(self) -> dict[str, list[str]]:
        """The query parameters."""
        return parse_qs(self.query, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.params.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """A request header, case-insensitively."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        """The body as JSON (None when it is not)."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def json_reply(document: Any, status: int = 200, content_type: str = JSON) -> Reply:
    """A compact JSON answer."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, content_type, body)


class Endpoints(ABC):
    """A source's simulated service, mounted at ``/<mount>`` on the simulator's port."""

    #: The source's registry name (also the endpoint prefix in the log and in faults).
    source: ClassVar[str]
    #: The path prefix the service is served under (``/usps``).
    mount: ClassVar[str]
    #: The start of a body the ``huge`` fault pads (a JSON object missing its ``}``).
    huge_prefix: ClassVar[bytes] = b'{"padding_for":"huge"'

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    @property
    def base_url(self) -> str:
        """What ``[sources.<name>] base_url`` should be."""
        return f"{self.simulator.url}{self.mount}"

    @abstractmethod
    def route(self, method: str, path: str) -> str | None:
        """The endpoint name (``track``, ``token`` ...) of a path under the mount, or None."""

    @abstractmethod
    def answer(self, endpoint: str, request: SimRequest) -> Reply:
        """The answer to a request (faults, rate limits and quota are handled before)."""

    def numbers(self, endpoint: str, request: SimRequest) -> tuple[str, ...]:
        """The (normalised) numbers a request asks about."""
        return ()

    def quota_exceeded(self) -> Reply:
        """The answer once the daily quota set with ``set_source_quota`` is used up."""
        return Reply(429, "text/plain; charset=utf-8", b"Too Many Requests")

    #: Variable name suffix -> the credential the service accepts (``API_KEY`` for a
    #: static key; ``CLIENT_ID`` and ``CLIENT_SECRET`` for OAuth2 client credentials).
    credential_values: ClassVar[Mapping[str, str]] = {}

    def config_lines(self, env: Mapping[str, str]) -> list[str]:
        """The ``[sources.<name>]`` table pointing at this service (credential variable names)."""
        lines = [f"[sources.{self.source}]", f'base_url = "{self.base_url}"']
        for suffix in self.credential_values:
            lines.append(f'{_TABLE_KEY[suffix]} = "{env[suffix]}"')
        return lines

    def credentials(self) -> dict[str, str]:
        """Variable name suffix -> value the service accepts (``API_KEY``, ``CLIENT_ID`` ...)."""
        return dict(self.credential_values)


#: The table key naming the variable of each kind of credential.
_TABLE_KEY = {
    "API_KEY": "api_key_env",
    "CLIENT_ID": "client_id_env",
    "CLIENT_SECRET": "client_secret_env",
}


class StaticKeyDesk:
    """Checks one static API key in a header (DHL's ``DHL-API-Key``)."""

    def __init__(self, header: str, key: str) -> None:
        self.header = header
        self.key = key

    def accepts(self, request: SimRequest) -> bool:
        """Whether the request carries the key."""
        given = request.header(self.header)
        return given is not None and hmac.compare_digest(given.encode(), self.key.encode())


class OAuthDesk:
    """An OAuth2 client-credentials token endpoint and the bearer check behind it.

    Tokens live ``lifetime`` seconds; :meth:`revoke_all` makes every issued token
    fail (a 401 with a cached token), :attr:`issued` counts token requests.
    """

    def __init__(
        self, client_id: str, client_secret: str, *, lifetime: float = 3600.0, basic: bool = False
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.lifetime = lifetime
        self.basic = basic
        self.issued = 0
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def token(self, request: SimRequest) -> Reply:
        """Answer ``POST <token path>`` (form body, or HTTP Basic when ``basic``)."""
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if request.header("Content-Type") and "json" in (request.header("Content-Type") or ""):
            loaded = request.json()
            form = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.header("Authorization") or ""
        if basic.lower().startswith("basic "):
            import base64

            try:
                pair = base64.b64decode(basic[6:].strip()).decode()
            except ValueError:
                pair = ":"
            client_id, _, client_secret = pair.partition(":")
        if form.get("grant_type") != "client_credentials":
            return json_reply({"error": "unsupported_grant_type"}, status=400)
        if not (
            client_id
            and client_secret
            and hmac.compare_digest(client_id.encode(), self.client_id.encode())
            and hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        ):
            return json_reply(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                status=401,
            )
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.lifetime
            self.issued += 1
        return json_reply(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(self.lifetime),
                "issued_at": int(time.time() * 1000),
                "status": "approved",
            }
        )

    def accepts(self, request: SimRequest) -> bool:
        """Whether the request carries a live bearer token."""
        given = request.header("Authorization") or ""
        if not given.startswith("Bearer "):
            return False
        with self._lock:
            until = self._tokens.get(given[7:].strip())
        return until is not None and time.monotonic() < until

    def revoke_all(self) -> None:
        """Every token issued so far stops working (as after a key rotation)."""
        with self._lock:
            self._tokens.clear()


@dataclass(frozen=True)
class CarrierView:
    """What one carrier's own service knows about one of its numbers."""

    number: str
    scenario: Scenario
    events: tuple[Event, ...]
    #: Whether this carrier only took the parcel over (the number is a last-mile number).
    last_mile: bool


def carrier_view(
    scenarios: Mapping[str, Scenario],
    by_last_mile: Mapping[str, str],
    number: str,
    carrier: str,
    as_of: datetime | None,
) -> CarrierView | None:
    """The scenario of ``number`` as ``carrier`` (a catalogue code) knows it, if it does."""
    key = normalise_number(number)
    scenario = scenarios.get(key)
    if scenario is not None and scenario.outcome in ("not_found", "invalid"):
        return None  # a number no source knows, the carrier's own service neither
    if scenario is not None and scenario.carriers and scenario.carriers[0].code == carrier:
        return CarrierView(number, scenario, scenario.visible(as_of), last_mile=False)
    owner = by_last_mile.get(key)
    scenario = scenarios.get(owner) if owner else None
    if scenario is None or len(scenario.carriers) < 2 or scenario.carriers[-1].code != carrier:
        return None
    events = tuple(e for e in scenario.visible(as_of) if e.leg >= 1)
    if not events:
        return None  # not handed over yet: the carrier has not seen the parcel
    return CarrierView(number, scenario, events, last_mile=True)
