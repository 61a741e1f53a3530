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

from collector.config import PollConfig
from collector.errors import ConfigError, StoreError
from collector.sources.base import TOKEN_OPERATION, Outcome, Parsed, Result, error_results
from collector.sources.registry import source_class
from collector.store import Store
from collector.store.evidence import (
    EvidenceWriter,
    _insert_frame,
    _state_rows,
    event_row,
)
from collector.store.flag_writes import forget_flag_inputs
from collector.terminal import plural

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
_RESULT_SCHEMA: dict[str, Any] = {
    "poll_id": pl.Int64,
    "shipment_id": pl.Int64,
    "tracking_number": pl.String,
    "outcome": pl.String,
    "code": pl.String,
    "message": pl.String,
}
#: events columns a derivation must reproduce (``recorded_at`` is when it was written).
_EVENT_COMPARED = (
    "shipment_id, event_key, occurred_at, local_time, utc_offset_minutes, tz_known, status, "
    "sub_status, raw_code, raw_status, description, description_translation, location, city, "
    "state, postcode, country, source, provider, first_poll_id"
)
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
            f"rebuilt from {plural(self.polls, 'poll')} in {plural(self.runs, 'run')}: events "
            f"+{len(self.added)} -{len(self.dropped)} ({self.events_before} -> "
            f"{self.events_after}), poll results +{self.results_added} "
            f"-{self.results_dropped}, {plural(len(self.states_changed), 'tracking state')} changed"
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
        conn.execute("DELETE FROM events")
        conn.execute("DELETE FROM poll_results")
        conn.execute("DELETE FROM tracking_state")
        # Events re-derived, not added by a poll: the next flag evaluation is full
        # (what one evaluation keeps for the next, e.g. early scans, may be stale).
        forget_flag_inputs(store)
        new_results, unparsed = _derive(store, store, poll, report, answered)
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


def _derive(
    source: Store,
    target: Store,
    poll: PollConfig | None,
    report: RebuildReport,
    answered: Mapping[tuple[int, str], list[int]],
) -> tuple[list[tuple[Any, ...]], set[str]]:
    """Replay every run of ``source``'s evidence into ``target``'s (empty) derived tables.

    ``source`` is only read; ``target`` may be the same store (``rebuild``) or a
    scratch database (``verify``). Returns the poll-result rows and the sources no
    parser reads.
    """
    by_number = _shipments_by_number(source)
    writer = EvidenceWriter(target, run_id="rebuild", poll=poll)
    new_results: list[tuple[Any, ...]] = []
    unparsed: set[str] = set()
    for run_now, polls in _runs(source):
        report.runs += 1
        report.polls += len(polls)
        registered: set[tuple[str, str]] = set()
        replay = _Replay(answered, by_number, registered)
        for row in polls:
            if replay.starts_new_batch(row):
                _flush(target, writer, replay, run_now, new_results)
                replay = _Replay(answered, by_number, registered)
            parsed = _reparse(source, row, unparsed)
            replay.add(row, parsed)
        _flush(target, writer, replay, run_now, new_results)
    return new_results, unparsed


def _flush(
    target: Store,
    writer: EvidenceWriter,
    replay: _Replay,
    now: datetime,
    new_results: list[tuple[Any, ...]],
) -> None:
    """Write one replayed batch as the poller did: results, new events, then state."""
    new_results += replay.poll_results
    if replay.poll_results:
        frame = pl.DataFrame(
            [dict(zip(_RESULT_COLUMNS, r, strict=True)) for r in replay.poll_results],
            schema=_RESULT_SCHEMA,
        )
        _insert_frame(target.conn, "poll_results", frame)
    events = replay.event_rows(now)
    if events:
        writer._insert_events(events)
    writer._recompute_state(replay.state_rows(), now)


def derived_mismatches(store: Store) -> list[str]:
    """How the stored derived tables differ from a fresh derivation of the evidence.

    The evidence of ``store`` (only read; a read-only connection will do) is
    replayed into a scratch in-memory database, then ``events`` (every column but
    ``recorded_at``), ``poll_results`` and ``tracking_state``
    (:data:`STATE_COLUMNS`) are compared as multisets. One line per table that
    differs, e.g. ``events: 1 stored row the evidence does not give (shipment 1,
    event forged), 3 rows the evidence gives are missing``. Empty: they match.
    """
    scratch = Store.open(":memory:")
    try:
        _derive(store, scratch, None, RebuildReport(), _answered_for(store))
        problems = []
        for table, columns, key in (
            ("events", _EVENT_COMPARED, "shipment_id, event_key"),
            ("poll_results", ", ".join(_RESULT_COLUMNS), "poll_id, shipment_id"),
            ("tracking_state", "shipment_id, " + ", ".join(STATE_COLUMNS), "shipment_id"),
        ):
            # Materialised: an Arrow stream would be read by the first query only.
            stored = store.frame(f"SELECT {columns} FROM {table}").to_arrow()
            scratch.conn.register("stored_rows", stored)
            try:
                extra = scratch.conn.execute(
                    f"SELECT {key} FROM (SELECT {columns} FROM stored_rows "
                    f"EXCEPT ALL SELECT {columns} FROM {table}) ORDER BY ALL"
                ).fetchall()
                missing = scratch.conn.execute(
                    f"SELECT {key} FROM (SELECT {columns} FROM {table} "
                    f"EXCEPT ALL SELECT {columns} FROM stored_rows) ORDER BY ALL"
                ).fetchall()
            finally:
                scratch.conn.unregister("stored_rows")
            if extra or missing:
                problems.append(_mismatch(table, key, extra, missing))
        return problems
    finally:
        scratch.close()


def _mismatch(
    table: str, key: str, extra: list[tuple[Any, ...]], missing: list[tuple[Any, ...]]
) -> str:
    names = [k.strip() for k in key.split(",")]

    def example(row: tuple[Any, ...]) -> str:
        return ", ".join(f"{n} {v}" for n, v in zip(names, row, strict=True))

    parts = []
    if extra:
        parts.append(
            f"{len(extra)} stored row(s) the evidence does not give (e.g. {example(extra[0])})"
        )
    if missing:
        parts.append(
            f"{len(missing)} row(s) the evidence gives are missing or differ "
            f"(e.g. {example(missing[0])})"
        )
    return f"{table} do not match the raw documents: " + "; ".join(parts)


class _Replay:
    """One batch of a run, as the poller combined it: poll results, finals, events.

    A run writes one batch after another; a batch's polls are consecutive. A poll
    that asks a source again, with the same operation, for a number the current
    batch already asked about starts a new batch (a recheck, or a second write of the
    same numbers), unless the number was registered again in between (17TRACK's
    "not registered" path: fetch, register, fetch once more, all one batch).
    """

    def __init__(
        self,
        answered: Mapping[tuple[int, str], list[int]],
        by_number: Mapping[str, list[int]],
        registered: set[tuple[str, str]],
    ) -> None:
        self._answered = answered
        self._by_number = by_number
        #: (source, number) registered in this run (shared by the run's batches).
        self.registered = registered
        self.poll_results: list[tuple[Any, ...]] = []
        #: (source, number) -> (final result, its poll, the shipments it answered for)
        self.final: dict[tuple[str, str], tuple[Result, _Poll, list[int]]] = {}
        self._asked: dict[tuple[str, str, str], int] = {}
        self._registered_at: dict[tuple[str, str], int] = {}
        self._index = 0

    def ids(self, row: _Poll, number: str) -> list[int]:
        return self._answered.get((row.poll_id, number)) or self._by_number.get(number, [])

    def starts_new_batch(self, row: _Poll) -> bool:
        for number in row.numbers:
            asked = self._asked.get((row.source, row.operation, number))
            if asked is not None and self._registered_at.get((row.source, number), -1) < asked:
                return True
        return False

    def add(self, row: _Poll, parsed: Parsed | None) -> None:
        self._index += 1
        for number in row.numbers:
            self._asked[(row.source, row.operation, number)] = self._index
            if row.operation == "register":
                self._registered_at[(row.source, number)] = self._index
        if parsed is None:
            return
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
    if row.operation == TOKEN_OPERATION:
        # An OAuth2 token request: no body kept, no tracking number concerned.
        return Parsed(Outcome(row.outcome), (), row.error)
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
