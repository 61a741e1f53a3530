"""Evidence writes: raw bodies, the hash-chained poll log, events and tracking state.

Everything one batch produced lands in **one transaction** through
:meth:`EvidenceWriter.write_batch`, so that a crash loses at most the batch in
flight:

- ``raw_documents``: content-addressed by the sha256 of the body as received,
  zlib-compressed, with the sha256 of the stored bytes beside it; an identical
  body is stored once;
- ``polls``: one row per request, with ``chain_hash = sha256(previous chain_hash +
  canonical form of the row)`` in ``poll_id`` order (see :func:`canonical_poll`),
  so that any later edit of the log is detectable by ``verify``;
- ``poll_results`` per number and shipment, ``source_registrations`` for numbers
  a source now knows;
- ``events``, de-duplicated on ``(shipment_id, event_key)`` with an anti-join of one
  Arrow batch (never row by row);
- ``tracking_state`` of the touched shipments, recomputed by one set-oriented
  statement.

A rerun whose answers did not change stores no new body and no new event (only
the new ``polls`` rows that record the requests)::

    >>> writer = EvidenceWriter(store, run_id="poll-1")         # doctest: +SKIP
    >>> writer.write_batch("cainiao", outcome, {"LP001": [7]}, clock.now())  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from collector.config import PollConfig
from collector.lastmile import courier_of, number_in_events
from collector.model import FINAL_STATUSES, status_in
from collector.plausible import plausible
from collector.sources.base import (
    SOURCE_QUOTA_STOP,
    TOKEN_OPERATION,
    BatchOutcome,
    Event,
    Outcome,
    Result,
)
from collector.store import Store, value_table
from collector.store.state import DIGEST_COLUMNS, event_digest_sql

#: chain_hash of the (absent) row before the first poll.
GENESIS = ""
CHAIN_VERSION = 1
COMPRESSION = "zlib"

POLL_COLUMNS = (
    "poll_id",
    "run_id",
    "requested_at",
    "source",
    "operation",
    "method",
    "url",
    "request_sha256",
    "numbers",
    "http_status",
    "duration_ms",
    "outcome",
    "error",
    "body_sha256",
)


def sha256_hex(data: bytes) -> str:
    """Lower-case hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def compress(body: bytes) -> bytes:
    """The stored form of a body (zlib, level 6)."""
    return zlib.compress(body, 6)


def _instant_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_poll(row: Mapping[str, Any]) -> str:
    """The canonical text of a ``polls`` row that its chain hash covers.

    Sorted-key compact JSON of every column but ``chain_hash``; instants as UTC text
    with microseconds, so that the same row always gives the same text whether it
    comes from Python or from the database.
    """
    doc: dict[str, Any] = {"v": CHAIN_VERSION}
    for column in POLL_COLUMNS:
        value = row.get(column)
        if column == "requested_at":
            value = _instant_text(value)
        elif column == "numbers":
            value = list(value) if value is not None else None
        elif column == "duration_ms" and value is not None:
            value = float(value)
        elif column in ("poll_id", "http_status") and value is not None:
            value = int(value)
        doc[column] = value
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(previous: str | None, row: Mapping[str, Any]) -> str:
    """``sha256(previous chain_hash + canonical form of row)``."""
    return sha256_hex(((previous or GENESIS) + canonical_poll(row)).encode("utf-8"))


@dataclass(frozen=True)
class BatchWrite:
    """What one batch added to the database."""

    polls: int
    poll_ids: tuple[int, ...]
    new_documents: int
    new_events: int
    results: int
    registrations: int


@dataclass(frozen=True)
class BatchItem:
    """One completed batch waiting to be written: its source, outcome and shipment ids."""

    source: str
    batch: BatchOutcome
    ids_by_number: Mapping[str, Sequence[int]]


DOCUMENT_SCHEMA: dict[str, Any] = {
    "sha256": pl.String,
    "content_type": pl.String,
    "byte_length": pl.Int64,
    "compression": pl.String,
    "stored_sha256": pl.String,
    "body": pl.Binary,
    "first_seen_at": pl.Datetime("us", "UTC"),
}

POLL_SCHEMA: dict[str, Any] = {
    "poll_id": pl.Int64,
    "run_id": pl.String,
    "requested_at": pl.Datetime("us", "UTC"),
    "source": pl.String,
    "operation": pl.String,
    "method": pl.String,
    "url": pl.String,
    "request_sha256": pl.String,
    "numbers": pl.List(pl.String),
    "http_status": pl.Int32,
    "duration_ms": pl.Float64,
    "outcome": pl.String,
    "error": pl.String,
    "body_sha256": pl.String,
    "chain_hash": pl.String,
}

REGISTRATION_SCHEMA: dict[str, Any] = {
    "source": pl.String,
    "tracking_number": pl.String,
    "registered_at": pl.Datetime("us", "UTC"),
    "poll_id": pl.Int64,
}

EVENT_SCHEMA: dict[str, Any] = {
    "shipment_id": pl.Int64,
    "event_key": pl.String,
    "occurred_at": pl.Datetime("us", "UTC"),
    "local_time": pl.String,
    "utc_offset_minutes": pl.Int32,
    "tz_known": pl.Boolean,
    "status": pl.String,
    "sub_status": pl.String,
    "raw_code": pl.String,
    "raw_status": pl.String,
    "description": pl.String,
    "description_translation": pl.String,
    "location": pl.String,
    "city": pl.String,
    "state": pl.String,
    "postcode": pl.String,
    "country": pl.String,
    "source": pl.String,
    "provider": pl.String,
    "first_poll_id": pl.Int64,
    "recorded_at": pl.Datetime("us", "UTC"),
    "implausible": pl.Boolean,
}

RESULT_SCHEMA: dict[str, Any] = {
    "shipment_id": pl.Int64,
    "source": pl.String,
    "outcome": pl.String,
    "status": pl.String,
    "sub_status": pl.String,
    "source_status_raw": pl.String,
    "last_mile_number": pl.String,
    "last_mile_carrier": pl.String,
    "estimated_from": pl.Datetime("us", "UTC"),
    "estimated_to": pl.Datetime("us", "UTC"),
    "poll_id": pl.Int64,
    "poll_at": pl.Datetime("us", "UTC"),
    "pending": pl.Boolean,
}

# One statement recomputes the state of every shipment of the batch from its
# events and the batch's final result per shipment; the event-derived columns are
# collector.store.state's digest (the same definition the migration backfilled).
_DIGEST_COLUMNS = ", ".join(DIGEST_COLUMNS)
_STATE_SQL = f"""
INSERT OR REPLACE INTO tracking_state (
    shipment_id, status, sub_status, source, source_status_raw, {_DIGEST_COLUMNS},
    delivered_at, last_poll_at, last_poll_id, last_outcome, next_poll_at,
    consecutive_not_found, ever_found, last_mile_number, last_mile_carrier,
    estimated_from, estimated_to, updated_at, input_version)
WITH ev AS ({event_digest_sql("e.shipment_id IN (SELECT shipment_id FROM staged_results)")}
), merged AS (
    SELECT r.*, ev.* EXCLUDE (shipment_id, event_count),
           coalesce(ev.event_count, 0) AS event_count,
           old.status AS old_status, old.sub_status AS old_sub_status,
           old.source_status_raw AS old_source_status_raw,
           coalesce(old.consecutive_not_found, 0) AS old_not_found,
           coalesce(old.ever_found, false) AS old_ever_found,
           old.last_mile_number AS old_last_mile_number,
           old.last_mile_carrier AS old_last_mile_carrier,
           old.estimated_from AS old_estimated_from,
           old.estimated_to AS old_estimated_to,
           CASE
               -- The delivering carrier's own delivery scan settles it, whatever
               -- an aggregator polled in the same run says of the first-mile number.
               WHEN coalesce(ev.own_delivered, false) THEN 'delivered'
               WHEN r.outcome = 'ok' AND r.status IS NOT NULL THEN r.status
               WHEN r.outcome = 'ok' AND ev.last_event_status IS NOT NULL
                   THEN ev.last_event_status
               WHEN r.outcome IN ('not_found', 'invalid') AND coalesce(ev.event_count, 0) = 0
                   THEN 'not_found'
               -- Not looked up yet (a source's "NotFound" right after registering):
               -- that is still what the source says, not "unknown".
               WHEN r.pending AND coalesce(ev.event_count, 0) = 0
                   THEN coalesce(nullif(old.status, 'unknown'), 'not_found')
               ELSE coalesce(old.status, ev.last_event_status, 'unknown')
           END AS new_status,
           CASE
               WHEN coalesce(ev.own_delivered, false) THEN NULL
               WHEN r.outcome = 'ok' AND r.status IS NOT NULL THEN r.sub_status
               WHEN r.outcome = 'ok' AND ev.last_event_status IS NOT NULL
                   THEN ev.last_event_sub_status
               WHEN r.outcome IN ('not_found', 'invalid') AND coalesce(ev.event_count, 0) = 0
                   THEN r.sub_status
               ELSE old.sub_status
           END AS new_sub_status,
           CASE
               WHEN r.outcome IN ('not_found', 'invalid')
                   THEN coalesce(old.consecutive_not_found, 0) + 1
               WHEN r.outcome = 'ok' THEN 0
               ELSE coalesce(old.consecutive_not_found, 0)
           END AS new_not_found
    FROM staged_results r
    LEFT JOIN ev USING (shipment_id)
    LEFT JOIN tracking_state old USING (shipment_id)
), final AS (
    SELECT *,
           coalesce(first_delivered_at,
                    CASE WHEN new_status = 'delivered' THEN last_event_at END) AS delivered_at,
           coalesce(
               CASE WHEN new_status = 'delivered' THEN first_delivered_at END,
               last_event_at, poll_at) AS final_since
    FROM merged
)
SELECT shipment_id,
       new_status,
       new_sub_status,
       source,
       CASE WHEN outcome IN ('ok', 'not_found', 'invalid')
            THEN coalesce(source_status_raw, old_source_status_raw)
            ELSE old_source_status_raw END,
       {_DIGEST_COLUMNS},
       delivered_at,
       poll_at,
       poll_id,
       outcome,
       CASE
           WHEN {status_in("new_status", FINAL_STATUSES)} THEN
               CASE WHEN final_since + to_microseconds(CAST($grace_us AS BIGINT)) <= $now
                    THEN NULL
                    ELSE $now + to_microseconds(CAST($interval_us AS BIGINT)) END
           WHEN outcome IN ('not_found', 'invalid') THEN
               $now + to_microseconds(CAST(least(
                   $backoff_us * pow(2, least(new_not_found - 1, 40)),
                   $backoff_max_us) AS BIGINT))
           WHEN outcome IN ('error', 'rate_limited') OR pending THEN $now
           ELSE $now + to_microseconds(CAST($interval_us AS BIGINT))
       END,
       new_not_found,
       old_ever_found OR (outcome = 'ok' AND NOT pending),
       coalesce(last_mile_number, old_last_mile_number),
       coalesce(last_mile_carrier, old_last_mile_carrier),
       coalesce(estimated_from, old_estimated_from),
       coalesce(estimated_to, old_estimated_to),
       $now,
       -- A new version on every write: what a flag evaluation looks for.
       nextval('input_version_seq')
FROM final
"""


class EvidenceWriter:
    """Writes batches of evidence; remembers the chain's head between batches.

    One writer per database and process (the poll lock guarantees a single
    writing process); its ``write_batch`` calls must not run concurrently.
    """

    def __init__(self, store: Store, *, run_id: str, poll: PollConfig | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.poll = poll or PollConfig()
        self._head: tuple[int, str] | None = None

    def head(self) -> tuple[int, str]:
        """``(last poll_id, its chain_hash)``; ``(0, "")`` for an empty log."""
        if self._head is None:
            row = self.store.conn.execute(
                "SELECT poll_id, chain_hash FROM polls ORDER BY poll_id DESC LIMIT 1"
            ).fetchone()
            self._head = (int(row[0]), str(row[1])) if row else (0, GENESIS)
        return self._head

    def write_batch(
        self,
        source: str,
        batch: BatchOutcome,
        ids_by_number: Mapping[str, Sequence[int]],
        now: datetime,
    ) -> BatchWrite:
        """Store everything ``batch`` produced in one transaction; returns what was added."""
        return self.write_batches([BatchItem(source, batch, ids_by_number)], now)[0]

    def write_batches(self, items: Sequence[BatchItem], now: datetime) -> list[BatchWrite]:
        """Store several completed batches in one transaction (group commit).

        The poller hands over every batch that completed while the previous write
        was running, so that a busy run pays the per-transaction cost once; each
        batch still gets its own :class:`BatchWrite`.
        """
        written = [i for i, item in enumerate(items) if item.batch.exchanges]
        nothing = BatchWrite(0, (), 0, 0, 0, 0)
        if len(written) < len(items):
            done = self.write_batches([items[i] for i in written], now) if written else []
            out = [nothing] * len(items)
            for i, result in zip(written, done, strict=True):
                out[i] = result
            return out
        now = now.astimezone(UTC)
        with self.store.transaction():
            last_id, last_hash = self.head()
            staged = _Staging(now)
            for index, item in enumerate(items):
                last_id, last_hash = staged.add(index, item, self.run_id, last_id, last_hash)
            new_documents = self._insert_documents(list(staged.documents.values()))
            self._insert_polls(staged.polls)
            if staged.poll_results:
                _insert_frame(self.store.conn, "poll_results", pl.DataFrame(staged.poll_results))
            registrations = self._insert_registrations(staged.registrations)
            new_events = self._insert_events(staged.events)
            self._recompute_state(staged.state, now)
        self._head = (last_id, last_hash)
        item_of = staged.item_of
        poll_ids: dict[int, list[int]] = {}
        for poll in staged.polls:
            poll_ids.setdefault(item_of[poll["poll_id"]], []).append(poll["poll_id"])
        documents = Counter(staged.doc_item[sha] for sha in new_documents)
        events = Counter(item_of[p] for p in new_events)
        results = Counter(item_of[r["poll_id"]] for r in staged.poll_results)
        registered = Counter(item_of[p] for p in registrations)
        out = [
            BatchWrite(
                polls=len(poll_ids.get(index, ())),
                poll_ids=tuple(poll_ids.get(index, ())),
                new_documents=documents[index],
                new_events=events[index],
                results=results[index],
                registrations=registered[index],
            )
            for index in range(len(items))
        ]
        return out

    def _insert_documents(self, rows: list[dict[str, Any]]) -> list[str]:
        if not rows:
            return []
        frame = pl.DataFrame(rows, schema=DOCUMENT_SCHEMA)
        return [
            str(r[0])
            for r in _insert_new(self.store.conn, "raw_documents", frame, ("sha256",), "sha256")
        ]

    def _insert_polls(self, rows: list[dict[str, Any]]) -> None:
        _insert_frame(self.store.conn, "polls", pl.DataFrame(rows, schema=POLL_SCHEMA))

    def _insert_registrations(self, rows: list[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        frame = pl.DataFrame(rows, schema=REGISTRATION_SCHEMA).unique(
            ["source", "tracking_number"], keep="first", maintain_order=True
        )
        keys = ("source", "tracking_number")
        return [
            int(r[0])
            for r in _insert_new(self.store.conn, "source_registrations", frame, keys, "poll_id")
        ]

    def _insert_events(self, rows: list[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        frame = pl.DataFrame(rows, schema=EVENT_SCHEMA).unique(
            ["shipment_id", "event_key"], keep="first", maintain_order=True
        )
        inserted = _insert_new(
            self.store.conn,
            "events",
            frame,
            ("shipment_id", "event_key"),
            "first_poll_id",
            narrow="shipment_id",
        )
        return [int(r[0]) for r in inserted]

    def _recompute_state(self, rows: list[dict[str, Any]], now: datetime) -> None:
        if not rows:
            return
        # One row per shipment (the last answer wins if a shipment came twice).
        frame = pl.DataFrame(rows, schema=RESULT_SCHEMA).unique(
            "shipment_id", keep="last", maintain_order=True
        )
        conn = self.store.conn
        hour_us = 3_600_000_000
        conn.register("staged_results", frame.to_arrow())
        try:
            conn.execute(
                _STATE_SQL,
                {
                    "now": now,
                    "grace_us": int(self.poll.final_grace_days * 24 * hour_us),
                    "interval_us": int(self.poll.interval_hours * hour_us),
                    "backoff_us": int(self.poll.not_found_backoff_hours * hour_us),
                    "backoff_max_us": int(self.poll.not_found_backoff_max_hours * hour_us),
                },
            )
        finally:
            conn.unregister("staged_results")
        self._record_handovers(rows)

    def _record_handovers(self, rows: list[dict[str, Any]]) -> None:
        """A ``last_mile_handovers`` row for each new (shipment, last-mile number)."""
        handed = [
            {
                "shipment_id": r["shipment_id"],
                "last_mile_number": r["last_mile_number"],
                "carrier_text": r["last_mile_carrier"],
                "courier": courier_of(r["last_mile_number"], r["last_mile_carrier"]),
                "source": r["source"],
                "poll_id": r["poll_id"],
                "seen_at": r["poll_at"],
            }
            for r in rows
            if r["last_mile_number"]
        ]
        if not handed:
            return
        frame = pl.DataFrame(handed, schema=HANDOVER_SCHEMA).unique(
            ["shipment_id", "last_mile_number"], keep="first", maintain_order=True
        )
        _insert_new(
            self.store.conn,
            "last_mile_handovers",
            frame,
            ("shipment_id", "last_mile_number"),
            "shipment_id",
            narrow="shipment_id",
        )


#: The columns of a ``last_mile_handovers`` row (migration 0008).
HANDOVER_SCHEMA: dict[str, Any] = {
    "shipment_id": pl.Int64,
    "last_mile_number": pl.String,
    "carrier_text": pl.String,
    "courier": pl.String,
    "source": pl.String,
    "poll_id": pl.Int64,
    "seen_at": pl.Datetime("us", "UTC"),
}


def last_mile_routes(store: Store, shipment_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Shipment id -> (last-mile number, courier) of its latest handover with a known courier."""
    if not shipment_ids:
        return {}
    with value_table(store.conn, "shipment_id", shipment_ids, pl.Int64) as ids:
        rows = store.conn.execute(
            "SELECT shipment_id, arg_max(last_mile_number, poll_id), arg_max(courier, poll_id) "
            "FROM last_mile_handovers WHERE courier IS NOT NULL "
            f"AND shipment_id IN (SELECT shipment_id FROM {ids}) GROUP BY shipment_id"
        ).fetchall()
    return {int(r[0]): (str(r[1]), str(r[2])) for r in rows}


def handed_over_by(store: Store, poll_ids: Sequence[int]) -> set[int]:
    """The shipments whose handover these polls recorded (first said by one of them)."""
    if not poll_ids:
        return set()
    with value_table(store.conn, "poll_id", poll_ids, pl.Int64) as ids:
        rows = store.conn.execute(
            "SELECT DISTINCT shipment_id FROM last_mile_handovers "
            f"WHERE poll_id IN (SELECT poll_id FROM {ids})"
        ).fetchall()
    return {int(r[0]) for r in rows}


def answered_ok(store: Store, source: str, numbers: Sequence[str]) -> set[str]:
    """The numbers ``source`` has answered ``ok`` about (at least once)."""
    if not numbers:
        return set()
    with value_table(store.conn, "tracking_number", numbers, pl.String) as asked:
        rows = store.conn.execute(
            "SELECT DISTINCT r.tracking_number FROM poll_results r JOIN polls p USING (poll_id) "
            "WHERE p.source = ? AND r.outcome = 'ok' "
            f"AND r.tracking_number IN (SELECT tracking_number FROM {asked})",
            [source],
        ).fetchall()
    return {str(r[0]) for r in rows}


class _Staging:
    """The rows of one write (one or more batches), before they go in as Arrow batches."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.documents: dict[str, dict[str, Any]] = {}
        self.doc_item: dict[str, int] = {}
        self.polls: list[dict[str, Any]] = []
        self.poll_results: list[dict[str, Any]] = []
        self.registrations: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.state: list[dict[str, Any]] = []
        self.item_of: dict[int, int] = {}

    def add(
        self, index: int, item: BatchItem, run_id: str, last_id: int, last_hash: str
    ) -> tuple[int, str]:
        """Stage one batch; returns the new chain head ``(poll_id, chain_hash)``."""
        batch, ids = item.batch, item.ids_by_number
        # A number's final answer came from the last request that mentioned it.
        final_poll: dict[str, int] = {}
        registered_by: dict[str, int] = {}
        requested: dict[int, datetime] = {}
        for exchange in batch.exchanges:
            response, parsed = exchange.response, exchange.parsed
            request = response.request
            last_id += 1
            self.item_of[last_id] = index
            body_sha = self._document(index, response.body, response.content_type)
            error = parsed.message if parsed.outcome is not Outcome.OK else None
            if response.error is not None and error is None:
                error = str(response.error)
            row: dict[str, Any] = {
                "poll_id": last_id,
                "run_id": run_id,
                "requested_at": response.requested_at.astimezone(UTC),
                "source": item.source,
                "operation": request.operation,
                "method": request.method,
                "url": response.url,
                "request_sha256": sha256_hex(request.body) if request.body else None,
                "numbers": list(request.numbers),
                "http_status": response.status,
                "duration_ms": round(response.duration_ms, 3),
                "outcome": parsed.outcome.value,
                "error": error,
                "body_sha256": body_sha,
            }
            last_hash = chain_hash(last_hash, row)
            row["chain_hash"] = last_hash
            self.polls.append(row)
            requested[last_id] = row["requested_at"]
            for result in parsed.results:
                final_poll[result.number] = last_id
                if request.operation == "register" and result.outcome is Outcome.OK:
                    registered_by.setdefault(result.number, last_id)
                for shipment_id in ids.get(result.number, ()):
                    self.poll_results.append(
                        {
                            "poll_id": last_id,
                            "shipment_id": shipment_id,
                            "tracking_number": result.number,
                            "outcome": result.outcome.value,
                            "code": result.code,
                            "message": result.message,
                        }
                    )
        for number in sorted(batch.registered):
            self.registrations.append(
                {
                    "source": item.source,
                    "tracking_number": number,
                    "registered_at": self.now,
                    "poll_id": registered_by.get(number, last_id),
                }
            )
        self._events(item, final_poll)
        self.state += _state_rows(item.source, batch.results, final_poll, requested, ids)
        return last_id, last_hash

    def _document(self, index: int, body: bytes | None, content_type: str | None) -> str | None:
        if body is None:
            return None
        sha = sha256_hex(body)
        if sha not in self.documents:
            stored = compress(body)
            self.documents[sha] = {
                "sha256": sha,
                "content_type": content_type,
                "byte_length": len(body),
                "compression": COMPRESSION,
                "stored_sha256": sha256_hex(stored),
                "body": stored,
                "first_seen_at": self.now,
            }
            self.doc_item[sha] = index
        return sha

    def _events(self, item: BatchItem, final_poll: Mapping[str, int]) -> None:
        for number, result in item.batch.results.items():
            poll_id = final_poll.get(number)
            if not result.events or poll_id is None:
                continue
            for shipment_id in item.ids_by_number.get(number, ()):
                self.events += [
                    event_row(shipment_id, event, item.source, poll_id, self.now)
                    for event in result.events
                ]


def event_row(
    shipment_id: int, event: Event, source: str, poll_id: int, recorded_at: datetime
) -> dict[str, Any]:
    """One ``events`` row (see :data:`EVENT_SCHEMA`) for a shipment's normalised event."""
    return {
        "shipment_id": shipment_id,
        "event_key": event.key,
        "occurred_at": event.occurred_at,
        "local_time": event.local_time,
        "utc_offset_minutes": event.utc_offset_minutes,
        "tz_known": event.tz_known,
        "status": event.status.value,
        "sub_status": event.sub_status,
        "raw_code": event.raw_code,
        "raw_status": event.raw_status,
        "description": event.description,
        "description_translation": event.description_translation,
        "location": event.location,
        "city": event.city,
        "state": event.state,
        "postcode": event.postcode,
        "country": event.country,
        "source": source,
        "provider": event.provider,
        "first_poll_id": poll_id,
        "recorded_at": recorded_at,
        # Kept as evidence, ignored by the state and the rules.
        "implausible": event.occurred_at is not None and not plausible(event.occurred_at),
    }


def _state_rows(
    source: str,
    results: Mapping[str, Result],
    final_poll: Mapping[str, int],
    requested: Mapping[int, datetime],
    ids_by_number: Mapping[str, Sequence[int]],
) -> list[dict[str, Any]]:
    """One row per shipment of the batch: the final result that decides its state."""
    rows = []
    for number, result in results.items():
        poll_id = final_poll.get(number)
        if poll_id is None:
            continue
        # A source's overall status may come from an event dated in year 9999: with
        # an implausible event in the answer, the status is derived from the
        # plausible events instead (the state's own rule when a source gives none).
        doubtful = any(
            e.occurred_at is not None and not plausible(e.occurred_at) for e in result.events
        )
        status = None if doubtful or not result.status else result.status.value
        last_mile = (result.last_mile_number, result.last_mile_carrier)
        if last_mile[0] is None:
            # No handover field: a handover event may name the number (issue 13.4).
            named = number_in_events((e.description for e in result.events), number)
            if named is not None:
                last_mile = (named[0], result.last_mile_carrier or named[1].upper())
        for shipment_id in ids_by_number.get(number, ()):
            rows.append(
                {
                    "shipment_id": shipment_id,
                    "source": source,
                    "outcome": result.outcome.value,
                    "status": status,
                    "sub_status": None if doubtful else result.sub_status,
                    "source_status_raw": result.source_status_raw,
                    "last_mile_number": last_mile[0],
                    "last_mile_carrier": last_mile[1],
                    "estimated_from": result.estimated_from,
                    "estimated_to": result.estimated_to,
                    "poll_id": poll_id,
                    "poll_at": requested[poll_id],
                    "pending": result.pending,
                }
            )
    return rows


def _insert_frame(conn: Any, table: str, frame: pl.DataFrame) -> None:
    name = f"staged_{table}"
    conn.register(name, frame.to_arrow())
    try:
        columns = ", ".join(frame.columns)
        conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {name}")
    finally:
        conn.unregister(name)


def _insert_new(  # noqa: PLR0913 - one statement's parts, named
    conn: Any,
    table: str,
    frame: pl.DataFrame,
    keys: tuple[str, ...],
    returning: str,
    *,
    narrow: str | None = None,
) -> list[tuple[Any, ...]]:
    """Insert the rows of ``frame`` whose ``keys`` ``table`` does not hold yet (an anti-join).

    ``narrow`` is a column whose staged values bound the rows of ``table`` worth
    comparing (a semi-join first): on a large ``events`` table this keeps the
    anti-join to the shipments of the batch instead of the whole history.
    Returns the ``returning`` column of the rows inserted.
    """
    name = f"staged_{table}"
    conn.register(name, frame.to_arrow())
    try:
        columns = ", ".join(frame.columns)
        existing = f"(SELECT {', '.join(keys)} FROM {table}"
        if narrow:
            existing += f" WHERE {narrow} IN (SELECT {narrow} FROM {name})"
        existing += ")"
        rows: list[tuple[Any, ...]] = conn.execute(
            f"INSERT INTO {table} ({columns}) SELECT {', '.join('s.' + c for c in frame.columns)} "
            f"FROM {name} s ANTI JOIN {existing} t USING ({', '.join(keys)}) "
            f"RETURNING {returning}"
        ).fetchall()
    finally:
        conn.unregister(name)
    return rows


def start_run(store: Store, run_id: str, command: str, started_at: datetime) -> None:
    """Record that a run began (bookkeeping for ``run``/``status``)."""
    store.conn.execute(
        "INSERT OR REPLACE INTO runs (run_id, command, started_at) VALUES (?, ?, ?)",
        [run_id, command, started_at],
    )


def finish_run(
    store: Store, run_id: str, finished_at: datetime, summary: Mapping[str, Any]
) -> None:
    """Record that a run ended, with its summary and the poll chain's head as it stands.

    The head (last ``poll_id`` and its ``chain_hash``) lets ``verify`` notice polls
    deleted from the end of the log.
    """
    store.conn.execute(
        "UPDATE runs SET finished_at = ?, summary = ?, "
        "chain_poll_id = (SELECT max(poll_id) FROM polls), "
        "chain_hash = (SELECT chain_hash FROM polls ORDER BY poll_id DESC LIMIT 1) "
        "WHERE run_id = ?",
        [finished_at, json.dumps(summary, sort_keys=True, default=str), run_id],
    )


def registered_numbers(store: Store, source: str, numbers: Iterable[str]) -> frozenset[str]:
    """Which of ``numbers`` ``source`` has registered according to this database."""
    wanted = sorted(set(numbers))
    if not wanted:
        return frozenset()
    with value_table(store.conn, "tracking_number", wanted, pl.String) as asked:
        rows = store.conn.execute(
            f"SELECT r.tracking_number FROM source_registrations r "
            f"JOIN {asked} w USING (tracking_number) WHERE r.source = ?",
            [source],
        ).fetchall()
    return frozenset(str(r[0]) for r in rows)


def requests_today(
    store: Store, source: str, now: datetime, day_start: datetime | None = None
) -> int:
    """Requests already sent to ``source`` in its quota day (for ``daily_quota``).

    The day starts at ``day_start`` (the source's reset instant), else 00:00 UTC.
    OAuth2 token requests are not counted: a carrier's quota is of its tracking API.
    """
    start = day_start or now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    row = store.conn.execute(
        "SELECT count(*) FROM polls WHERE source = ? AND requested_at >= ? AND operation <> ?",
        [source, start, TOKEN_OPERATION],
    ).fetchone()
    return int(row[0]) if row else 0


def quota_refusal_since(store: Store, source: str, day_start: datetime) -> str | None:
    """The error of the first answer since ``day_start`` in which ``source`` said its
    own daily quota was used up (DHL's, FedEx's 429), else None."""
    row = store.conn.execute(
        "SELECT error FROM polls WHERE source = ? AND requested_at >= ? "
        "AND outcome = 'rate_limited' AND contains(error, ?) ORDER BY poll_id LIMIT 1",
        [source, day_start, SOURCE_QUOTA_STOP],
    ).fetchone()
    return str(row[0]) if row else None
