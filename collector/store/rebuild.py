"""``rebuild``: re-derive ``events``, ``poll_results`` and ``tracking_state`` from evidence.

After a parser fix, the derived tables still hold what yesterday's parser made of
the stored answers. :func:`rebuild` reads every ``polls`` row in ``poll_id`` order,
parses its stored body (``raw_documents``) with today's parser
(:meth:`Source.parse_answer`) and replays the runs as the poller wrote them, in one
transaction:

- ``poll_results``: one row per number of each poll and each shipment it answered
  for (the shipments the stored rows name, else every non-archived shipment with
  that number);
- ``events``: the events of each number's final answer in its run, de-duplicated
  on ``(shipment_id, event_key)``, first poll first;
- ``tracking_state``: recomputed run by run by the same statement ``poll`` uses
  (:data:`collector.store.evidence._STATE_SQL`), at the run's own "now".

A request that got no usable answer (no status, HTTP 429, 401/403 or 5xx: the
transport's verdict, not the parser's) keeps the outcome and error its ``polls``
row recorded. ``raw_documents`` and ``polls`` are only read, never written, so
``verify`` passes after a rebuild::

    >>> report = rebuild(store, PollConfig())                 # doctest: +SKIP
    >>> report.added, report.dropped                          # doctest: +SKIP
    ([(3, '5f0c...')], [])
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from collector.carriers.base import Outcome, Parsed, Result, error_results
from collector.carriers.registry import source_class
from collector.config import PollConfig
from collector.errors import ConfigError, StoreError
from collector.store import Store
from collector.store.evidence import (
    EvidenceWriter,
    _insert_frame,
    _state_rows,
    event_row,
)

#: tracking_state columns a rebuild compares (the rest are timing of the run).
STATE_COLUMNS = (
    "status",
    "sub_status",
    "source",
    "source_status_raw",
    "first_event_at",
    "last_event_at",
    "last_event_key",
    "delivered_at",
    "event_count",
    "last_poll_id",
    "last_outcome",
    "consecutive_not_found",
    "ever_found",
    "last_mile_number",
    "last_mile_carrier",
    "estimated_from",
    "estimated_to",
)
_RESULT_COLUMNS = ("poll_id", "shipment_id", "tracking_number", "outcome", "code", "message")
#: HTTP statuses the transport turns into an error before any parser sees the body.
_TRANSPORT_STATUSES = frozenset({401, 403, 429})


@dataclass
class RebuildReport:
    """What a rebuild changed in the derived tables."""

    polls: int = 0
    runs: int = 0
    events_before: int = 0
    events_after: int = 0
    #: ``(shipment_id, event_key)`` of events the rebuild added / dropped.
    added: list[tuple[int, str]] = field(default_factory=list)
    dropped: list[tuple[int, str]] = field(default_factory=list)
    #: ``poll_results`` rows that differ (counted on each side).
    results_added: int = 0
    results_dropped: int = 0
    #: Shipments whose ``tracking_state`` (:data:`STATE_COLUMNS`) changed, appeared or went.
    states_changed: list[int] = field(default_factory=list)
    #: Sources named in ``polls`` that no registered parser reads (kept as stored).
    unparsed_sources: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the derived tables differ from what was stored before."""
        return bool(
            self.added
            or self.dropped
            or self.results_added
            or self.results_dropped
            or self.states_changed
        )

    def summary(self) -> str:
        """One line for the command's output."""
        text = (
            f"rebuilt from {self.polls} polls in {self.runs} runs: events "
            f"+{len(self.added)} -{len(self.dropped)} ({self.events_before} -> "
            f"{self.events_after}), poll results +{self.results_added} "
            f"-{self.results_dropped}, {len(self.states_changed)} tracking states changed"
        )
        if self.unparsed_sources:
            text += f"; no parser for {', '.join(self.unparsed_sources)} (their answers skipped)"
        return text

    def as_dict(self) -> dict[str, Any]:
        """The ``rebuild --json`` document."""
        return {
            "polls": self.polls,
            "runs": self.runs,
            "events": {
                "before": self.events_before,
                "after": self.events_after,
                "added": [{"shipment_id": s, "event_key": k} for s, k in self.added],
                "dropped": [{"shipment_id": s, "event_key": k} for s, k in self.dropped],
            },
            "poll_results": {"added": self.results_added, "dropped": self.results_dropped},
            "tracking_state": {"changed": self.states_changed},
            "unparsed_sources": self.unparsed_sources,
        }


@dataclass(frozen=True)
class _Poll:
    poll_id: int
    run_id: str
    requested_at: datetime
    source: str
    operation: str
    numbers: tuple[str, ...]
    http_status: int | None
    outcome: str
    error: str | None
    body_sha256: str | None


def rebuild(store: Store, poll: PollConfig | None = None) -> RebuildReport:
    """Re-derive ``events``, ``poll_results`` and ``tracking_state`` in one transaction.

    ``poll`` gives the intervals that decide ``next_poll_at`` (the ``[poll]``
    settings). Raises StoreError when a stored body cannot be read (run ``verify``).
    """
    report = RebuildReport()
    conn = store.conn
    with store.transaction():
        old_events = _pairs(conn.execute("SELECT shipment_id, event_key FROM events").fetchall())
        old_results = Counter(
            conn.execute(f"SELECT {', '.join(_RESULT_COLUMNS)} FROM poll_results").fetchall()
        )
        old_states = _states(store)
        answered = _answered_for(store)
        by_number = _shipments_by_number(store)
        conn.execute("DELETE FROM events")
        conn.execute("DELETE FROM poll_results")
        conn.execute("DELETE FROM tracking_state")
        writer = EvidenceWriter(store, run_id="rebuild", poll=poll)
        new_results: list[tuple[Any, ...]] = []
        unparsed: set[str] = set()
        for run_now, polls in _runs(store):
            report.runs += 1
            report.polls += len(polls)
            replay = _Replay(answered, by_number)
            for row in polls:
                parsed = _reparse(store, row, unparsed)
                if parsed is not None:
                    replay.add(row, parsed)
            new_results += replay.poll_results
            if replay.poll_results:
                frame = pl.DataFrame(
                    [dict(zip(_RESULT_COLUMNS, r, strict=True)) for r in replay.poll_results],
                    schema={
                        "poll_id": pl.Int64,
                        "shipment_id": pl.Int64,
                        "tracking_number": pl.String,
                        "outcome": pl.String,
                        "code": pl.String,
                        "message": pl.String,
                    },
                )
                _insert_frame(conn, "poll_results", frame)
            events = replay.event_rows(run_now)
            if events:
                writer._insert_events(events)
            writer._recompute_state(replay.state_rows(), run_now)
        new_events = _pairs(conn.execute("SELECT shipment_id, event_key FROM events").fetchall())
        new_states = _states(store)
    report.events_before, report.events_after = len(old_events), len(new_events)
    report.added = sorted(new_events - old_events)
    report.dropped = sorted(old_events - new_events)
    new_counter = Counter(new_results)
    report.results_added = sum((new_counter - old_results).values())
    report.results_dropped = sum((old_results - new_counter).values())
    report.states_changed = sorted(
        sid
        for sid in set(old_states) | set(new_states)
        if old_states.get(sid) != new_states.get(sid)
    )
    report.unparsed_sources = sorted(unparsed)
    return report


class _Replay:
    """One run's answers, as the poller combined them: poll results, finals, events."""

    def __init__(
        self,
        answered: Mapping[tuple[int, str], list[int]],
        by_number: Mapping[str, list[int]],
    ) -> None:
        self._answered = answered
        self._by_number = by_number
        self.poll_results: list[tuple[Any, ...]] = []
        self.registered: set[tuple[str, str]] = set()
        #: (source, number) -> (final result, its poll, the shipments it answered for)
        self.final: dict[tuple[str, str], tuple[Result, _Poll, list[int]]] = {}

    def ids(self, row: _Poll, number: str) -> list[int]:
        return self._answered.get((row.poll_id, number)) or self._by_number.get(number, [])

    def add(self, row: _Poll, parsed: Parsed) -> None:
        for result in parsed.results:
            ids = self.ids(row, result.number)
            self.poll_results += [
                (row.poll_id, sid, result.number, result.outcome.value, result.code, result.message)
                for sid in ids
            ]
            key = (row.source, result.number)
            if row.operation == "register" and result.outcome is Outcome.OK:
                # Registered: its answer comes from the fetch that follows.
                self.registered.add(key)
                continue
            self.final[key] = (result, row, ids)

    def _settled(self) -> Iterator[tuple[str, Result, _Poll, list[int]]]:
        for (source, number), (result, row, ids) in self.final.items():
            try:
                cls = source_class(source)
            except ConfigError:
                continue
            settled = cls.settle(result, registered_in_run=(source, number) in self.registered)
            yield source, settled, row, ids

    def event_rows(self, now: datetime) -> list[dict[str, Any]]:
        rows = []
        for source, result, row, ids in self._settled():
            for sid in ids:
                rows += [event_row(sid, e, source, row.poll_id, now) for e in result.events]
        return rows

    def state_rows(self) -> list[dict[str, Any]]:
        rows = []
        for source, result, row, ids in self._settled():
            rows += _state_rows(
                source,
                {result.number: result},
                {result.number: row.poll_id},
                {row.poll_id: row.requested_at},
                {result.number: ids},
            )
        return rows


def _reparse(store: Store, row: _Poll, unparsed: set[str]) -> Parsed | None:
    """Today's parser's verdict on a stored answer (the transport's, when it had one)."""
    if _transport_failed(row):
        outcome = Outcome(row.outcome)
        message = row.error or "no usable answer"
        results = error_results(row.numbers, outcome, message)
        return Parsed(outcome, results, message)
    try:
        cls = source_class(row.source)
    except ConfigError:
        unparsed.add(row.source)
        return None
    body = _body(store, row.body_sha256) if row.body_sha256 else None
    return cls.parse_answer(row.operation, body, row.numbers, row.http_status)


def _transport_failed(row: _Poll) -> bool:
    status = row.http_status
    return status is None or status in _TRANSPORT_STATUSES or status >= 500


def _body(store: Store, sha256: str) -> bytes:
    found = store.conn.execute(
        "SELECT compression, body FROM raw_documents WHERE sha256 = ?", [sha256]
    ).fetchone()
    if found is None:
        raise StoreError(f"raw document {sha256} named by a poll is missing: run verify")
    compression, stored = found
    if compression == "none":
        return bytes(stored)
    try:
        return zlib.decompress(bytes(stored))
    except zlib.error as exc:
        raise StoreError(f"raw document {sha256} cannot be decompressed: run verify") from exc


def _runs(store: Store) -> Iterator[tuple[datetime, list[_Poll]]]:
    """Each run's polls in ``poll_id`` order, with the "now" the poller wrote them at."""
    started = dict(store.conn.execute("SELECT run_id, started_at FROM runs").fetchall())
    rows = store.conn.execute(
        "SELECT poll_id, run_id, requested_at, source, operation, numbers, http_status, "
        "outcome, error, body_sha256 FROM polls ORDER BY poll_id"
    ).fetchall()
    current: list[_Poll] = []
    for r in rows:
        row = _Poll(
            int(r[0]),
            str(r[1]),
            r[2].astimezone(UTC),
            str(r[3]),
            str(r[4]),
            tuple(r[5] or ()),
            r[6],
            str(r[7]),
            r[8],
            r[9],
        )
        if current and current[-1].run_id != row.run_id:
            yield _run_now(started, current), current
            current = []
        current.append(row)
    if current:
        yield _run_now(started, current), current


def _run_now(started: Mapping[str, datetime], polls: Sequence[_Poll]) -> datetime:
    now = started.get(polls[0].run_id)
    return (now or polls[0].requested_at).astimezone(UTC)


def _answered_for(store: Store) -> dict[tuple[int, str], list[int]]:
    out: dict[tuple[int, str], list[int]] = {}
    rows = store.conn.execute(
        "SELECT DISTINCT poll_id, tracking_number, shipment_id FROM poll_results "
        "ORDER BY poll_id, tracking_number, shipment_id"
    ).fetchall()
    for poll_id, number, shipment_id in rows:
        out.setdefault((int(poll_id), str(number)), []).append(int(shipment_id))
    return out


def _shipments_by_number(store: Store) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    rows = store.conn.execute(
        "SELECT tracking_number, shipment_id FROM shipments WHERE NOT archived ORDER BY shipment_id"
    ).fetchall()
    for number, shipment_id in rows:
        out.setdefault(str(number), []).append(int(shipment_id))
    return out


def _states(store: Store) -> dict[int, tuple[Any, ...]]:
    rows = store.conn.execute(
        f"SELECT shipment_id, {', '.join(STATE_COLUMNS)} FROM tracking_state"
    ).fetchall()
    return {int(r[0]): tuple(r[1:]) for r in rows}


def _pairs(rows: list[tuple[Any, ...]]) -> set[tuple[int, str]]:
    return {(int(r[0]), str(r[1])) for r in rows}
