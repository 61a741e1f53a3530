"""Flag tests' shorthand over the test factory (:mod:`tests.factory`).

Flag tests need exact histories; a :class:`World` states them briefly and writes
them through the production path (shipments through the importer, each history as
a source's answer through the evidence writer, ``tracking_state`` as the collector
derives it)::

    world = World(store)
    sid = world.shipment("o1", shipped_at="2026-11-01T00:00:00Z", country="ES")
    world.events(sid, Ev("2026-11-02T10:00:00+08:00", "in_transit", "Accepted", city="Guangzhou"))
    codes = world.codes("2026-11-28T12:00:00Z")     # {"o1": {"stalled", ...}}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from analysis.flags import Evaluation, compute_flags, evaluate_flags
from collector.clock import parse_instant
from collector.config import RulesConfig, Settings
from collector.importer import COLUMNS as IMPORT_COLUMNS
from collector.sources.base import Event
from collector.store import Store
from collector.store.writes import set_archived
from tests.factory import DERIVED_COLUMNS, Factory, event

NOW = "2026-11-28T12:00:00Z"

# The flags each bundled sample order must show at NOW (the team brief's scenarios);
# an empty set means no flag at all. More flags may hold (an overdue parcel whose
# protection ends soon), never fewer.
SAMPLE_SCENARIOS: dict[str, set[str]] = {
    "UB123456785CN": set(),
    "LP00123456789012": {"stalled"},
    "YT2412345678901234": {"label_only"},
    "LY839205143CN": {"not_found"},
    "RR507128933CN": {"invalid_number"},
    "UH204817360CN": {"returned"},
    "9400111206206406260787": {"delivered_elsewhere"},
    "RB640192835SG": {"overdue", "protection_expiring"},
    "4PX3001234567890CN": {"protection_expiring"},
    "1Z4F8W310368260410": {"scan_before_order"},
    "LE703159285NL": set(),
    "CE119832745CN": {"number_reused"},
    "UG390176528CN": {"carrier_mismatch"},
    "772986123539": {"exception"},
    "9200190305014376214122": set(),
    "EB908172638CN": set(),
    "YT2498765432109876": set(),
    "GARBAGE123": {"invalid_number"},
    "LP00987654321098": {"expired"},
    "RS312456780NL": {"exception"},
    "1Z9AA293YW03482200": set(),
    "LP00555666777888": set(),
}


def assert_scenarios(got: dict[str, set[str]], expected: dict[str, set[str]]) -> None:
    """Each number shows at least its expected flags, and none when none is expected."""
    for number, codes in expected.items():
        assert codes <= got[number], (number, got[number])
        if not codes:
            assert got[number] == set(), (number, got[number])


def T(text: str) -> datetime:
    """An instant from ISO text with a zone."""
    return parse_instant(text)


@dataclass(frozen=True)
class Ev:
    """One event: ``at`` is ISO 8601 with the source's offset (e.g. +08:00)."""

    at: str
    status: str
    description: str | None = None
    city: str | None = None
    postcode: str | None = None
    country: str | None = None
    location: str | None = None
    state: str | None = None
    tz_known: bool = True
    sub_status: str | None = None

    def instant(self) -> datetime:
        """The UTC instant (a local time without a zone is read as UTC, as sources do)."""
        return T(self.at) if datetime.fromisoformat(self.at).tzinfo else T(self.at + "Z")

    def record(self) -> Event:
        """The collector's normalised event (what a source's parser returns)."""
        return event(
            self.at,
            self.status,
            self.description,
            tz_known=self.tz_known,
            sub_status=self.sub_status,
            location=self.location,
            city=self.city,
            state=self.state,
            postcode=self.postcode,
            country=self.country,
        )


class World:
    """Shipments and their tracking history, written through the production path."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.factory = Factory(store, run_id="world")
        # What each source has said about each shipment so far: a source answers
        # with the whole history it knows, as real ones do.
        self._told: dict[tuple[int, str], list[Event]] = {}
        self._last: dict[int, tuple[datetime, str]] = {}

    # -- shipments ------------------------------------------------------------------

    def shipment(
        self,
        order_id: str = "o1",
        number: str = "LP00123456789012",
        **fields: Any,
    ) -> int:
        """Import one shipment; ``fields`` are import columns (dates as ISO text).

        Defaults: ordered 2026-10-30, shipped 2026-11-01, a valid Cainiao number,
        destination Madrid (ES), marketplace aliexpress. ``country``, ``postcode``
        and ``city`` are short for the destination columns. The columns the importer
        derives (``courier``, ``number_verdict``, ``carrier_mismatch`` ...) may be
        given as what the test expects it to derive.
        """
        row: dict[str, Any] = {
            "marketplace": "aliexpress",
            "ordered_at": "2026-10-30T00:00:00Z",
            "shipped_at": "2026-11-01T00:00:00Z",
            "destination_country": "ES",
            "destination_city": "Madrid",
            "destination_postcode": "28013",
        }
        for short, column in (
            ("country", "destination_country"),
            ("postcode", "destination_postcode"),
            ("city", "destination_city"),
        ):
            if short in fields:
                fields[column] = fields.pop(short)
        row.update(fields)
        # The importer derives these from the number; a test gets a verdict by
        # choosing a number that has it (Factory.shipment checks them, World trusts it).
        for column in DERIVED_COLUMNS:
            row.pop(column, None)
        return self.factory.shipment(order_id, number, imported_at=T(NOW), **row)

    def edit(self, sid: int, **columns: Any) -> None:
        """Re-import the shipment's row with ``columns`` changed (dates as ISO text)."""
        self.factory.update(sid, T(NOW), **columns)

    def archive(self, sid: int, archived: bool = True) -> None:
        """Archive (or bring back) a shipment, as ``parcelproof archive`` does."""
        set_archived(self.store, [sid], archived=archived, now=T(NOW))

    def renumber(self, sid: int, number: str) -> int:
        """The order now ships under ``number``: production has no edit of a number, a
        new number is a new shipment of the order (imported with the same columns);
        the old one is archived. Returns the new shipment's id."""
        columns = [c for c in IMPORT_COLUMNS if c not in ("tracking_number", "archived")]
        cursor = self.store.conn.execute(
            f"SELECT {', '.join(columns)} FROM shipments WHERE shipment_id = ?", [sid]
        )
        row = dict(zip(columns, cursor.fetchone() or (), strict=True))
        self.archive(sid)
        (new,) = self.factory.shipments([{**row, "tracking_number": number}], T(NOW))
        return new

    # -- sources --------------------------------------------------------------------

    def answer(
        self,
        sid: int,
        outcome: str,
        at: str = "2026-11-27T06:00:00Z",
        source: str = "17track",
        code: str | None = None,
        **result: Any,
    ) -> int:
        """What a source answered about a shipment (``ok``, ``not_found``, ``invalid``...);
        an ``ok`` answer repeats the history that source gave before. ``result``: other
        :class:`~collector.sources.base.Result` fields (``status``, ``source_status_raw``)."""
        when = T(at)
        told = self._heard(sid, source, when) if outcome == "ok" else []
        return self._answer(sid, when, source, outcome, told, code=code, **result)

    def events(self, sid: int, *events: Ev, at: str | None = None, source: str = "17track") -> int:
        """Store events as one ``ok`` answer, with what the source told before; ``at``
        defaults to the latest event's instant (an answer tells only of what happened)."""
        told = self._told.setdefault((sid, source), [])
        new = [e.record() for e in events]
        latest = max(
            (e.occurred_at for e in [*told, *new] if e.occurred_at),
            default=T("2026-11-01T00:00:00Z"),
        )
        when = T(at) if at else latest
        # Events told before and not yet happened at ``when`` stay out (a new one
        # after ``when`` is the factory's error).
        heard = self._heard(sid, source, when)
        told += new
        return self._answer(sid, when, source, "ok", [*heard, *new])

    def _heard(self, sid: int, source: str, when: datetime) -> list[Event]:
        """What ``source`` told of the shipment that had happened by ``when``."""
        told = self._told.get((sid, source), [])
        return [e for e in told if e.occurred_at is None or e.occurred_at <= when]

    def _answer(
        self,
        sid: int,
        at: datetime,
        source: str,
        outcome: str,
        events: list[Event],
        **result: Any,
    ) -> int:
        number = self.factory.number_of(sid)
        answered = self.factory.result(number, outcome, events, **result)
        self._last[sid] = (at, source)
        return self.factory.answer(at, [answered], source=source, ids={number: [sid]})

    def state(self, sid: int, **overrides: Any) -> None:
        """Make the source say what ``overrides`` state, then check the collector derived it.

        ``status`` (with ``source_status_raw``) is the source's overall status in a new
        ``ok`` answer a minute after the last one (``expired``: it stopped tracking);
        ``last_poll_at`` alone, for a shipment never answered, is an answer that learnt
        nothing (outcome ``error``) at that instant. Anything else is not a state a
        source's answer leads to, and an error.
        """
        unknown = set(overrides) - {"status", "source_status_raw", "last_poll_at"}
        if unknown:
            raise ValueError(f"no answer makes the collector write {sorted(unknown)}")
        if "last_poll_at" in overrides:
            self._answer(sid, T(overrides.pop("last_poll_at")), "17track", "error", [])
        if overrides:
            at, source = self._last.get(sid, (T("2026-11-01T00:00:00Z"), "17track"))
            when = at + timedelta(minutes=1)
            self._answer(sid, when, source, "ok", self._heard(sid, source, when), **overrides)
        written = self.factory.state_of(sid)
        for column, value in overrides.items():
            assert written.get(column) == value, (column, written.get(column), value)

    # -- reading ---------------------------------------------------------------------

    def key(self, order_id: str, description: str) -> str:
        """The stored ``event_key`` of an order's event (the collector's stable key)."""
        rows = self.store.query(
            "SELECT e.event_key FROM events e JOIN shipments s USING (shipment_id) "
            "WHERE s.order_id = ? AND e.description = ?",
            [order_id, description],
        )
        assert len(rows) == 1, (order_id, description, rows)
        return str(rows[0][0])

    def flags(self, now: str = NOW, rules: RulesConfig | None = None) -> dict[str, dict[str, Any]]:
        """The computed flags at ``now`` as ``{order_id: {code: row}}`` (nothing stored)."""
        frame = compute_flags(self.store, T(now), rules or RulesConfig())
        orders = dict(self.store.query("SELECT shipment_id, order_id FROM shipments"))
        out: dict[str, dict[str, Any]] = {}
        for row in frame.iter_rows(named=True):
            out.setdefault(orders[row["shipment_id"]], {})[row["code"]] = row
        return out

    def codes(self, now: str = NOW, rules: RulesConfig | None = None) -> dict[str, set[str]]:
        """``{order_id: {flag codes}}`` at ``now`` (orders without flags are absent)."""
        return {order: set(rows) for order, rows in self.flags(now, rules).items()}

    def evaluate(self, now: str = NOW, settings: Settings | None = None) -> Evaluation:
        """Evaluate and record the flag history at ``now``."""
        return evaluate_flags(self.store, T(now), settings or Settings())
