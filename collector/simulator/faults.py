"""Injected faults: what goes wrong between a client and a real tracking service.

A :class:`Fault` replaces (or spoils) the answer to the requests it matches:

==========  =================================================================
kind        effect
==========  =================================================================
``error``   HTTP ``status`` (default 503) with a short text body (``503:3``)
``429``     HTTP 429, with ``Retry-After: <retry_after>`` when given
``timeout`` sleeps ``seconds`` (default 30) and then answers normally; the
            request's side effects (registration, quota) still happen, as
            they would on a real server the client gave up on
``truncate`` the normal answer cut in half (valid HTTP, broken JSON)
``html``    a Cloudflare-like "502 Bad gateway" HTML page (``status`` overrides)
``huge``    HTTP 200 with a ``size``-byte JSON body (default 10 MB)
==========  =================================================================

A fault matches a request when its ``endpoint`` (``register``, ``gettrackinfo``,
``getquota``, ``cainiao``, ``17track`` for any 17TRACK endpoint, a plug-in
source's name for any of its endpoints or ``<source>:<endpoint>`` for one, e.g.
``usps:track`` or ``usps:token``, or None for all)
and its ``number`` (None for all, else requests that ask about that number)
match; it lets ``skip`` matching requests through first, then applies to the
next ``count`` (None: all of them). The first fault that matches wins.

From the command line (``parcelproof simulate --fault ...``) a fault is written
``KIND[:COUNT][,key=value...]``::

    >>> Fault.parse("503:3")
    Fault(kind='error', count=3, status=503)
    >>> Fault.parse("429:5,retry_after=2,endpoint=gettrackinfo")
    Fault(kind='429', count=5, endpoint='gettrackinfo', retry_after=2.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

KINDS = ("error", "429", "timeout", "truncate", "html", "huge")
ENDPOINTS = ("register", "gettrackinfo", "getquota", "cainiao", "17track")


@dataclass(frozen=True)
class Fault:
    """One injected fault (see the module docstring)."""

    kind: str
    count: int | None = None
    endpoint: str | None = None
    number: str | None = None
    status: int | None = None
    retry_after: float | None = None
    seconds: float = 30.0
    size: int = 10_000_000
    skip: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.endpoint is not None and self.endpoint not in ENDPOINTS:
            from collector.sources.registry import simulator_endpoints

            plugins = {cls.source for cls in simulator_endpoints()}
            if self.endpoint.partition(":")[0] not in plugins:
                known = ", ".join((*ENDPOINTS, *sorted(plugins)))
                raise ValueError(f"unknown endpoint {self.endpoint!r} (one of {known})")
        if self.count is not None and self.count < 0:
            raise ValueError("count must not be negative")

    def __repr__(self) -> str:
        fields = [f"kind={self.kind!r}"]
        for spec in dataclasses.fields(self)[1:]:
            value = getattr(self, spec.name)
            if value != spec.default:
                fields.append(f"{spec.name}={value!r}")
        return f"Fault({', '.join(fields)})"

    def describe(self) -> str:
        """The fault in words, as ``simulate`` prints it.

        >>> Fault.parse("503:2").describe()
        'HTTP 503 to the first 2 requests'
        >>> Fault.parse("429:3,retry_after=1").describe()
        'HTTP 429 with Retry-After: 1 s to the first 3 requests'
        >>> Fault.parse("timeout,endpoint=register,skip=1").describe()
        'no answer for 30 s (a client timeout) to every register request after the first one'
        >>> Fault.parse("huge:1,number=LP00123456789012").describe()
        'a 10 MB body to the first request about LP00123456789012'
        """
        what = {
            "error": f"HTTP {self.http_status}",
            "429": "HTTP 429"
            + (
                f" with Retry-After: {self.retry_after:g} s" if self.retry_after is not None else ""
            ),
            "timeout": f"no answer for {self.seconds:g} s (a client timeout)",
            "truncate": "the JSON cut in half",
            "html": f"an HTML error page (HTTP {self.http_status})",
            "huge": f"a {self.size / 1_000_000:g} MB body",
        }[self.kind]
        endpoint = f"{self.endpoint} " if self.endpoint else ""
        if self.count is None:
            who = f"every {endpoint}request"
        elif self.count == 1:
            who = f"the first {endpoint}request"
        else:
            who = f"the first {self.count} {endpoint}requests"
        if self.number:
            who += f" about {self.number}"
        if self.skip:
            who += " after the first one" if self.skip == 1 else f" after the first {self.skip}"
        return f"{what} to {who}"

    @property
    def http_status(self) -> int:
        """The status this fault answers with (200 for ``truncate``/``huge``/``timeout``)."""
        if self.status is not None:
            return self.status
        return {"error": 503, "429": 429, "html": 502}.get(self.kind, 200)

    def matches(self, endpoint: str, numbers: tuple[str, ...]) -> bool:
        """Whether a request to ``endpoint`` about ``numbers`` is one this fault targets."""
        if self.endpoint is not None:
            if self.endpoint == "17track":
                if endpoint not in ("register", "gettrackinfo", "getquota"):
                    return False
            elif self.endpoint != endpoint and self.endpoint != endpoint.partition(":")[0]:
                return False
        return self.number is None or self.number.upper() in numbers

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Read ``KIND[:COUNT][,key=value...]`` (``503:3``, ``timeout:1,seconds=5``)."""
        head, *options = [part.strip() for part in text.split(",")]
        kind, _, count_text = head.partition(":")
        values: dict[str, object] = {}
        if kind.isdigit():
            status = int(kind)
            kind = "429" if status == 429 else "error"
            values["status"] = None if status == 429 else status
        if count_text:
            values["count"] = _int(count_text, "count")
        for option in options:
            key, sep, value = option.partition("=")
            key = key.strip()
            if not sep:
                raise ValueError(f"fault option {option!r} is not key=value")
            if key in ("count", "status", "size", "skip"):
                values[key] = _int(value, key)
            elif key in ("retry_after", "seconds"):
                values[key] = _float(value, key)
            elif key in ("endpoint", "number"):
                values[key] = value.strip()
            else:
                raise ValueError(f"unknown fault option {key!r}")
        return cls(kind=kind, **values)  # type: ignore[arg-type]


def _int(text: str, key: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"fault {key} must be a whole number, got {text!r}") from None


def _float(text: str, key: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"fault {key} must be a number, got {text!r}") from None


def html_error_page(status: int, host: str) -> bytes:
    """A Cloudflare-style error page, as a CDN in front of an API serves it."""
    title = {502: "Bad gateway", 503: "Service unavailable", 504: "Gateway time-out"}.get(
        status, "Error"
    )
    return f"""<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<!--[if gt IE 8]><!--> <html class="no-js" lang="en-US"> <!--<![endif]-->
<head>
<title>{host} | {status}: {title}</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta name="robots" content="noindex, nofollow" />
<meta name="viewport" content="width=device-width,initial-scale=1" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="p-0">
    <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">
      <h1 class="inline-block sm:block sm:mb-2 font-light text-60 lg:text-4xl leading-tight mr-2">
        <span class="inline-block">{title}</span>
        <span class="code-label">Error code {status}</span>
      </h1>
    </header>
    <div class="my-8 bg-gradient-gray">
      <div class="w-240 lg:w-full mx-auto">
        <div id="cf-host-status" class="cf-error-source relative w-1/3 md:w-full py-15">
          <span class="md:block w-full truncate">{host}</span>
          <h3 class="md:inline-block mt-3 md:mt-0 text-2xl text-gray-600 font-light">Host</h3>
          <span class="leading-1.3 text-2xl text-red-error">Error</span>
        </div>
      </div>
    </div>
    <div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto">
      <p class="text-13">
        <span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID:
          <strong class="font-semibold">8e2f4c1a9b7d3e60</strong></span>
        <span class="cf-footer-separator sm:hidden">&bull;</span>
        <span class="cf-footer-item sm:block sm:mb-1">Performance &amp; security by
          Cloudflare</span>
      </p>
    </div>
  </div>
</div>
</body>
</html>
""".encode()


def huge_body(size: int, prefix: bytes) -> Iterator[bytes]:
    """``size`` bytes of valid JSON: ``prefix`` (an object missing its closing brace) padded.

    >>> b"".join(huge_body(40, b'{"success":true')).decode()
    '{"success":true,"padding":"xxxxxxxxxxx"}'
    """
    head = prefix + b',"padding":"'
    tail = b'"}'
    padding = max(0, size - len(head) - len(tail))
    yield head
    chunk = b"x" * 65536
    while padding > 0:
        piece = chunk[: min(padding, len(chunk))]
        padding -= len(piece)
        yield piece
    yield tail
