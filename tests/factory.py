"""Test data written through the production path: the importer and the evidence writer.

Every rule, report and frame test builds its database here, so that its data is
data the collector itself writes: shipments go through the importer's row API
(:func:`collector.importer.import_rows`, which derives the courier, the number's
format and verdict, the carrier mismatch), and what a source answered goes in as
the collector's own records (:class:`collector.sources.base.Result` and
:class:`~collector.sources.base.Event`) through
:class:`collector.store.evidence.EvidenceWriter`, the code path ``poll`` stores a
batch with: the raw body, the hash-chained ``polls`` row, ``poll_results``, the
de-duplicated ``events`` and the ``tracking_state`` the collector derives. Nothing
here writes those tables itself (``tests/test_factory.py`` checks that no test
module does, and that the state equals a real poll's)::

    >>> with Store.open(":memory:") as store:                          # doctest: +SKIP
    ...     f = Factory(store)
    ...     sid = f.shipment("o1", "LP00123456789012", shipped_at="2026-11-01T00:00:00Z")
    ...     f.answer("2026-11-03T06:00:00Z", [f.result("LP00123456789012", events=[
    ...         event("2026-11-02T10:00:00+08:00", "in_transit", "Accepted")])])

Fetch times are the wall clock: each answer is written with :func:`collector.clock.wall`
injected at its ``at``, as a poll at that instant would be (the writer stamps
``updated_at``, ``first_seen_at``, ``recorded_at`` and ``next_poll_at`` from it). The
evaluation instant stays a parameter of whatever reads the data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from collector import clock
from collector.importer import COLUMNS as IMPORT_COLUMNS
from collector.importer import import_rows
from collector.sources.base import (
    BatchOutcome,
    Event,
    Exchange,
    Outcome,
    Parsed,
    Request,
    Response,
    Result,
    call_outcome,
)
from collector.sources.status import Status
from collector.store import Store
from collector.store.evidence import EvidenceWriter
from collector.store.writes import NUMBER_COLUMNS

#: Shipment columns the importer derives from the number (and the declared carrier).
DERIVED_COLUMNS = tuple(c for c in NUMBER_COLUMNS if c != "tracking_number_raw")

#: Where each built-in source is asked (the URL a ``polls`` row records).
URLS = {
    "17track": "https://api.17track.net/track/v2.2/gettrackinfo",
    "cainiao": "https://global.cainiao.com/global/detail.json",
}


def instant(value: str | datetime) -> datetime:
    """An aware UTC instant from ISO text (a time without a zone is read as UTC)."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


@contextmanager
def wall_at(at: datetime) -> Iterator[datetime]:
    """The wall clock fixed at ``at`` for the duration (then the real one again)."""
    clock.set_wall(lambda: at)
    try:
        yield at
    finally:
        clock.set_wall(None)


def event(
    at: str | datetime,
    status: str,
    description: str | None = None,
    *,
    offset: int | None = None,
    tz_known: bool = True,
    local_time: str | None = None,
    sub_status: str | None = None,
    raw_code: str | None = None,
    raw_status: str | None = None,
    location: str | None = None,
    city: str | None = None,
    state: str | None = None,
    postcode: str | None = None,
    country: str | None = None,
    provider: str | None = None,
) -> Event:
    """One normalised event as a parser returns it.

    ``at`` is ISO text with the source's offset (``2026-11-02T10:00:00+08:00``) or an
    aware instant with ``offset`` (minutes) beside it. The local time text is the
    wall-clock time at that offset (``YYYY-MM-DD HH:MM:SS``) unless given; a zone-less
    event (``tz_known=False``) keeps no offset.
    """
    if isinstance(at, str):
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        delta = parsed.utcoffset()
        minutes = int(delta.total_seconds() // 60) if delta is not None else 0
        offset = minutes if offset is None else offset
        local = local_time or at[:19].replace("T", " ")
    else:
        parsed = at
        local = local_time or (
            (at.astimezone(UTC) + timedelta(minutes=offset or 0)).strftime("%Y-%m-%d %H:%M:%S")
        )
    return Event(
        occurred_at=parsed.astimezone(UTC),
        local_time=local,
        utc_offset_minutes=offset if tz_known else None,
        tz_known=tz_known and offset is not None,
        status=Status(status),
        sub_status=sub_status,
        raw_code=raw_code,
        raw_status=raw_status if raw_status is not None else description,
        description=description,
        location=location,
        city=city,
        state=state,
        postcode=postcode,
        country=country,
        provider=provider,
    )


class Factory:
    """Writes shipments and source answers into ``store`` the way the collector does."""

    def __init__(self, store: Store, *, run_id: str = "factory") -> None:
        self.store = store
        self.writer = EvidenceWriter(store, run_id=run_id)
        self._line = 1

    # -- shipments (the importer) --------------------------------------------------------

    def shipments(self, rows: Sequence[Mapping[str, Any]], at: datetime) -> list[int]:
        """Import ``rows`` (import-file columns) as one file at wall-clock ``at``.

        Values may be text, instants, decimals or booleans; they are written as an
        import file would carry them. A row the importer rejects is an error naming
        the row and the importer's reason. Returns the shipment ids, in row order.
        """
        header = sorted({c for row in rows for c in row} | {"order_id", "tracking_number"})
        unknown = set(header) - set(IMPORT_COLUMNS)
        if unknown:
            raise ValueError(f"not import columns: {', '.join(sorted(unknown))}")
        lines = []
        for row in rows:
            self._line += 1
            lines.append((self._line, {c: _cell(row.get(c)) for c in header}))
        with wall_at(at):
            result = import_rows(self.store, header, lines, name="tests/factory")
        if result.rejected:
            raise ValueError(f"the importer rejects {result.rejected[0]}")
        ids = []
        for row in rows:
            found = self.store.conn.execute(
                "SELECT max(shipment_id) FROM shipments WHERE order_id = ? "
                "AND coalesce(tracking_number_raw, '') = ?",
                [str(row["order_id"]).strip(), (_cell(row.get("tracking_number")) or "").strip()],
            ).fetchone()
            assert found is not None and found[0] is not None, row
            ids.append(int(found[0]))
        return ids

    def shipment(self, order_id: str, tracking_number: str | None, **columns: Any) -> int:
        """Import one shipment; ``columns`` are import-file columns, plus the derived
        ones (``courier``, ``number_verdict`` ...) as an *expectation*: when the
        importer derives another value the data is not what production stores, and
        that is an error saying what it derives.
        """
        at = instant(columns.pop("imported_at", None) or clock.wall())
        expected = {c: columns.pop(c) for c in DERIVED_COLUMNS if c in columns}
        (sid,) = self.shipments(
            [{"order_id": order_id, "tracking_number": tracking_number, **columns}], at
        )
        if expected:
            names = ", ".join(expected)
            row = self.store.conn.execute(
                f"SELECT {names} FROM shipments WHERE shipment_id = ?", [sid]
            ).fetchone()
            assert row is not None
            got = dict(zip(expected, row, strict=True))
            wrong = {c: got[c] for c, v in expected.items() if got[c] != v}
            if wrong:
                raise ValueError(
                    f"the importer derives {wrong} for {tracking_number!r} "
                    f"(carrier {columns.get('carrier')!r}), not "
                    f"{ {c: expected[c] for c in wrong} }: use data it derives"
                )
        return sid

    def update(self, sid: int, at: datetime, **columns: Any) -> None:
        """Re-import a shipment's row with ``columns`` changed (the importer's upsert;
        columns the row does not carry stay as they are)."""
        row = self.store.conn.execute(
            "SELECT order_id, tracking_number_raw, ordered_at, shipped_at FROM shipments "
            "WHERE shipment_id = ?",
            [sid],
        ).fetchone()
        assert row is not None, sid
        order_id, raw, ordered, shipped = row
        dates = {"ordered_at": ordered, "shipped_at": shipped}
        self.shipments([{"order_id": order_id, "tracking_number": raw, **dates, **columns}], at)

    # -- answers (the evidence writer) ---------------------------------------------------

    @staticmethod
    def result(
        number: str,
        outcome: str | Outcome = Outcome.OK,
        events: Iterable[Event] = (),
        **fields: Any,
    ) -> Result:
        """What a source answered about ``number`` (``fields``: the other Result fields)."""
        status = fields.pop("status", None)
        return Result(
            number,
            Outcome(outcome),
            events=tuple(events),
            status=Status(status) if status is not None else None,
            **fields,
        )

    def answer(
        self,
        at: str | datetime,
        results: Sequence[Result],
        *,
        source: str = "17track",
        ids: Mapping[str, Sequence[int]] | None = None,
        operation: str = "gettrackinfo",
        http_status: int | None = 200,
        body: bytes | None = None,
        url: str | None = None,
        message: str | None = None,
        duration_ms: float = 120.0,
    ) -> int:
        """One request to ``source`` at wall-clock ``at`` and its parsed answer; the
        poll id the writer gave it.

        ``ids`` maps each number to the shipments it answers for (default: every
        non-archived shipment with that number, as the poller groups them). The raw
        body stored is ``body``, else a JSON rendering of ``results``. An event after
        ``at`` is an error: no answer tells of one before it happened.
        """
        when = instant(at)
        ahead = [e for r in results for e in r.events if e.occurred_at and e.occurred_at > when]
        if ahead:
            raise ValueError(
                f"an answer fetched at {when.isoformat()} tells of an event at "
                f"{ahead[0].occurred_at.isoformat()} ({ahead[0].description!r}): "
                "no source reports one before it happened"
            )
        numbers = tuple(dict.fromkeys(r.number for r in results))
        if ids is None:
            ids = self.ids_of(numbers)
        method = "GET" if source == "cainiao" else "POST"
        address = url or URLS.get(source, f"http://127.0.0.1/{source}/{operation}")
        request = Request(operation, method, address, numbers, body=_request_body(numbers))
        outcome = call_outcome(results)
        stored = body if body is not None else _answer_body(source, results)
        with wall_at(when):
            response = Response(
                request=request,
                requested_at=clock.wall(),
                url=address,
                status=http_status,
                body=stored or None,
                content_type="application/json" if stored else None,
                duration_ms=duration_ms,
            )
            parsed = Parsed(outcome, tuple(results), message if outcome is not Outcome.OK else None)
            batch = BatchOutcome(
                exchanges=[Exchange(response, parsed)],
                results={r.number: r for r in results},
            )
            written = self.writer.write_batch(source, batch, ids, clock.wall())
        return written.poll_ids[0]

    def ids_of(self, numbers: Iterable[str]) -> dict[str, list[int]]:
        """Each number's non-archived shipments (whom an answer about it concerns)."""
        out: dict[str, list[int]] = {}
        for number in numbers:
            rows = self.store.conn.execute(
                "SELECT shipment_id FROM shipments WHERE tracking_number = ? AND NOT archived "
                "ORDER BY shipment_id",
                [number],
            ).fetchall()
            out[number] = [int(r[0]) for r in rows]
        return out

    def number_of(self, sid: int) -> str:
        """The (normalised) tracking number of a shipment."""
        row = self.store.conn.execute(
            "SELECT tracking_number FROM shipments WHERE shipment_id = ?", [sid]
        ).fetchone()
        assert row is not None, sid
        return str(row[0])

    def state_of(self, sid: int) -> dict[str, Any]:
        """The shipment's ``tracking_state`` row as a dict (empty before a first answer)."""
        cursor = self.store.conn.execute(
            "SELECT * FROM tracking_state WHERE shipment_id = ?", [sid]
        )
        row = cursor.fetchone()
        if row is None:
            return {}
        return dict(zip([d[0] for d in cursor.description], row, strict=True))


def _cell(value: Any) -> str | None:
    """A value as an import file's cell holds it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal | int | float):
        return str(value)
    return str(value)


def _request_body(numbers: Sequence[str]) -> bytes:
    return json.dumps([{"number": n} for n in numbers]).encode()


def _answer_body(source: str, results: Sequence[Result]) -> bytes:
    """A deterministic JSON rendering of the results (the stored evidence body)."""

    def text(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    doc = {
        "factory": source,
        "results": [
            {
                "number": r.number,
                "outcome": r.outcome.value,
                "code": r.code,
                "message": r.message,
                "status": r.status.value if r.status else None,
                "events": [
                    {name: text(getattr(e, name)) for name in Event.__slots__} for e in r.events
                ],
            }
            for r in results
        ],
    }
    return json.dumps(doc, sort_keys=True, default=str).encode()
