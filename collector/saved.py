"""``parse``: run a source's parser on saved bodies, with no database.

A body saved from a source (a ``gettrackinfo`` answer, a 17TRACK push, a Cainiao
``detail.json``) is parsed by today's parser and shown per tracking number in the
shape ``poll`` would store it::

    >>> records = parse_files("cainiao", [path])               # doctest: +SKIP
    >>> records[0].line()["outcome"]                            # doctest: +SKIP
    'ok'

An answer that cannot be read (its JSON does not match the protocol) is named with
the JSON path of the bad field; a file that cannot be opened is named with why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from collector.sources.base import UNREADABLE, Event, Outcome, Parsed, Result
from collector.sources.registry import source_class


@dataclass(frozen=True)
class SavedRecord:
    """What one saved file said about one number (``result`` None: nothing readable)."""

    file: str
    result: Result | None
    #: Why the file, or this number's answer in it, could not be read.
    problem: str | None = None
    #: What a readable answer naming no number said (a quota or key refusal).
    note: str | None = None
    #: The outcome of such an answer as a whole (``not_found`` for USPS's
    #: "not yet in system" call error, ``rate_limited`` for a quota refusal).
    outcome: Outcome = Outcome.ERROR

    @property
    def unreadable(self) -> bool:
        """The file could not be read, or this number's answer did not match the protocol."""
        return self.problem is not None

    def line(self) -> dict[str, Any]:
        """The ``parse --json`` line: outcome as in ``poll_results``, events as stored."""
        result = self.result
        if result is None:
            return {
                "file": self.file,
                "number": None,
                "outcome": self.outcome.value,
                "status": None,
                "sub_status": None,
                "events": [],
            }
        status, sub_status = shipment_status(result)
        return {
            "file": self.file,
            "number": result.number,
            "outcome": result.outcome.value,
            "status": status,
            "sub_status": sub_status,
            "events": [event_line(e) for e in result.events],
        }


def shipment_status(result: Result) -> tuple[str | None, str | None]:
    """The status a poll would derive from ``result`` alone (source's, else last event's)."""
    if result.status is not None:
        return result.status.value, result.sub_status
    if result.outcome is Outcome.OK and result.events:
        last = result.events[-1]
        return last.status.value, last.sub_status
    return None, None


def event_line(event: Event) -> dict[str, Any]:
    """One event of a ``parse --json`` line."""
    instant = event.occurred_at
    return {
        "occurred_at": instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if instant is not None
        else None,
        "offset_minutes": event.utc_offset_minutes,
        "tz_known": event.tz_known,
        "status": event.status.value,
        "description": event.description,
        "location": event.location,
        "country": event.country,
    }


def parse_body(source: str, body: bytes) -> Parsed:
    """Parse one saved body of ``source`` (ConfigError for an unknown source)."""
    return source_class(source).parse_saved(body)


def parse_files(source: str, paths: Sequence[Path]) -> list[SavedRecord]:
    """Parse every file with ``source``'s parser; one record per number (or per bad file)."""
    cls = source_class(source)  # an unknown source fails before any file is read
    records: list[SavedRecord] = []
    for path in paths:
        name = str(path)
        try:
            body = path.read_bytes()
        except OSError as exc:
            records.append(SavedRecord(name, None, f"cannot read: {exc.strerror or exc}"))
            continue
        records.extend(_records(name, cls.parse_saved(body)))
    return records


def _records(name: str, parsed: Parsed) -> Iterable[SavedRecord]:
    if not parsed.results:
        # A call-level answer with no number in it: unreadable, or the source's own
        # refusal (a quota or key error), which was read.
        if parsed.code == UNREADABLE or parsed.outcome is Outcome.OK:
            why = parsed.message or "the answer names no tracking number"
            yield SavedRecord(name, None, why)
        else:
            yield SavedRecord(name, None, None, note=parsed.message, outcome=parsed.outcome)
        return
    for result in parsed.results:
        bad = result.message if result.code == UNREADABLE else None
        yield SavedRecord(name, result, bad)
