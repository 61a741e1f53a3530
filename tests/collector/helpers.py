"""Helpers shared by the collector tests: payloads, normalised views, fake senders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector.sources.base import Event, Request, Response, Result

PAYLOADS = Path(__file__).resolve().parent / "payloads"


def payload(name: str) -> bytes:
    """The bytes of a recorded payload."""
    return (PAYLOADS / name).read_bytes()


def iso(value: datetime | None) -> str | None:
    """UTC text with milliseconds, for compact expected values."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_row(event: Event) -> tuple[Any, ...]:
    """Every field of an event, in declaration order (instants as UTC text)."""
    return (
        iso(event.occurred_at),
        event.local_time,
        event.utc_offset_minutes,
        event.tz_known,
        event.status.value,
        event.sub_status,
        event.raw_code,
        event.raw_status,
        event.description,
        event.location,
        event.city,
        event.state,
        event.postcode,
        event.country,
        event.provider,
    )


def result_view(result: Result) -> dict[str, Any]:
    """Every field of a result, events as rows."""
    return {
        "number": result.number,
        "outcome": result.outcome.value,
        "code": result.code,
        "message": result.message,
        "status": result.status.value if result.status else None,
        "sub_status": result.sub_status,
        "source_status_raw": result.source_status_raw,
        "last_mile_number": result.last_mile_number,
        "last_mile_carrier": result.last_mile_carrier,
        "estimated_from": iso(result.estimated_from),
        "estimated_to": iso(result.estimated_to),
        "events": [event_row(e) for e in result.events],
    }


Script = Callable[[Request], tuple[int | None, bytes | None]]


class FakeSender:
    """A ``send`` for :meth:`Source.track` that answers from a script and records requests."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []

    async def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        status, body = self.script(request)
        return Response(
            request=request,
            requested_at=datetime(2026, 11, 28, 12, tzinfo=UTC),
            url=request.url,
            status=status,
            body=body,
            content_type="application/json",
            duration_ms=1.0,
        )

    def operations(self) -> list[tuple[str, Sequence[str]]]:
        return [(r.operation, r.numbers) for r in self.requests]
