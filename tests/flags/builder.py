"""A small builder of stored shipments, events, answers and tracking state.

Flag tests need exact histories without the collector: this writes rows straight
into the tables the way the collector leaves them (events with their first poll,
``poll_results`` per answer, ``tracking_state`` derived from the events)::

    world = World(store)
    sid = world.shipment("o1", shipped_at="2026-11-01T00:00:00Z", country="ES")
    world.events(sid, Ev("2026-11-02T10:00:00+08:00", "in_transit", "Accepted", city="Guangzhou"))
    codes = world.codes("2026-11-28T12:00:00Z")     # {"o1": {"stalled", ...}}
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analysis.flags import Evaluation, compute_flags, evaluate_flags
from collector.clock import parse_instant
from collector.config import RulesConfig, Settings
from collector.store import Store
from collector.store.state import refresh_event_digest

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


class World:
    """Writes shipments and their tracking history into a store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Continue after what an earlier builder on the same database wrote.
        row = store.conn.execute(
            "SELECT coalesce(max(poll_id), 0) + (SELECT count(*) FROM events) FROM polls"
        ).fetchone()
        self._keys = itertools.count(int(row[0]) + 1 if row else 1)

    # -- shipments ------------------------------------------------------------------

    def shipment(
        self,
        order_id: str = "o1",
        number: str = "LP00123456789012",
        **fields: Any,
    ) -> int:
        """Insert one shipment; ``fields`` are shipments columns (dates as ISO text).

        Defaults: ordered 2026-10-30, shipped 2026-11-01, a valid Cainiao number,
        destination Madrid (ES), marketplace aliexpress. ``country``, ``postcode``
        and ``city`` are short for the destination columns.
        """
        row: dict[str, Any] = {
            "order_id": order_id,
            "tracking_number": number,
            "marketplace": "aliexpress",
            "courier": "cainiao",
            "number_format": "cainiao-lp",
            "number_verdict": "valid",
            "ordered_at": "2026-10-30T00:00:00Z",
            "shipped_at": "2026-11-01T00:00:00Z",
            "destination_country": "ES",
            "destination_city": "Madrid",
            "destination_postcode": "28013",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for short, column in (
            ("country", "destination_country"),
            ("postcode", "destination_postcode"),
            ("city", "destination_city"),
        ):
            if short in fields:
                fields[column] = fields.pop(short)
        row.update(fields)
        for key, value in list(row.items()):
            if key.endswith("_at") and isinstance(value, str):
                row[key] = T(value)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        found = self.store.conn.execute(
            f"INSERT INTO shipments ({columns}) VALUES ({marks}) RETURNING shipment_id",
            list(row.values()),
        ).fetchone()
        assert found is not None
        return int(found[0])

    # -- sources --------------------------------------------------------------------

    def poll(self, number: str, outcome: str, at: str, source: str = "17track") -> int:
        """One request to a source about ``number``; returns its poll id."""
        poll_id = next(self._keys)
        self.store.conn.execute(
            "INSERT INTO polls (poll_id, run_id, requested_at, source, operation, method, url, "
            "numbers, http_status, duration_ms, outcome, chain_hash) "
            "VALUES (?, 'test', ?, ?, 'gettrackinfo', 'POST', 'http://127.0.0.1/t', ?, 200, 1.0, "
            "?, ?)",
            [poll_id, T(at), source, [number], outcome, f"chain-{poll_id}"],
        )
        return poll_id

    def answer(
        self,
        sid: int,
        outcome: str,
        at: str = "2026-11-27T06:00:00Z",
        source: str = "17track",
        code: str | None = None,
    ) -> int:
        """What a source answered about a shipment (``ok``, ``not_found``, ``invalid``...)."""
        number = self._number(sid)
        poll_id = self.poll(number, outcome, at, source)
        self.store.conn.execute(
            "INSERT INTO poll_results VALUES (?, ?, ?, ?, ?, NULL)",
            [poll_id, sid, number, outcome, code],
        )
        self.state(sid)
        return poll_id

    def events(self, sid: int, *events: Ev, at: str | None = None, source: str = "17track") -> int:
        """Store events as one ``ok`` answer; ``at`` defaults to after the last event."""
        latest = max((e.instant() for e in events), default=T("2026-11-01T00:00:00Z"))
        when = at or latest.isoformat()
        number = self._number(sid)
        poll_id = self.poll(number, "ok", when, source)
        self.store.conn.execute(
            "INSERT INTO poll_results VALUES (?, ?, ?, 'ok', NULL, NULL)", [poll_id, sid, number]
        )
        for event in events:
            instant = datetime.fromisoformat(event.at)
            offset = instant.utcoffset()
            key = f"k{next(self._keys)}"
            self.store.conn.execute(
                "INSERT INTO events (shipment_id, event_key, occurred_at, local_time, "
                "utc_offset_minutes, tz_known, status, sub_status, raw_code, raw_status, "
                "description, location, city, state, postcode, country, source, first_poll_id, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    sid,
                    key,
                    event.instant(),
                    event.at[:19].replace("T", " "),
                    int(offset.total_seconds() // 60) if offset and event.tz_known else None,
                    event.tz_known,
                    event.status,
                    event.sub_status,
                    event.description,
                    event.description,
                    event.location,
                    event.city,
                    event.state,
                    event.postcode,
                    event.country,
                    source,
                    poll_id,
                    T(when),
                ],
            )
        self.state(sid)
        return poll_id

    def state(self, sid: int, **overrides: Any) -> None:
        """(Re)derive ``tracking_state`` of a shipment from its events and answers.

        ``overrides`` set columns afterwards (e.g. ``status="expired"``).
        """
        conn = self.store.conn
        conn.execute("DELETE FROM tracking_state WHERE shipment_id = ?", [sid])
        conn.execute(
            """
            INSERT INTO tracking_state (shipment_id, status, sub_status, source, first_event_at,
                last_event_at, last_event_key, delivered_at, event_count, last_poll_at,
                last_poll_id, last_outcome, consecutive_not_found, ever_found, updated_at)
            SELECT $sid,
                   coalesce(arg_max(e.status, e.occurred_at),
                            CASE WHEN a.outcome = 'not_found' THEN 'not_found' END, 'unknown'),
                   arg_max(e.sub_status, e.occurred_at), '17track', min(e.occurred_at),
                   max(e.occurred_at), arg_max(e.event_key, e.occurred_at),
                   min(e.occurred_at) FILTER (WHERE e.status = 'delivered'), count(e.event_key),
                   a.at, a.poll_id, a.outcome, 0, count(e.event_key) > 0,
                   coalesce(a.at, TIMESTAMPTZ '2026-11-01 00:00:00+00')
            FROM (SELECT max(p.requested_at) AS at, max(p.poll_id) AS poll_id,
                         arg_max(pr.outcome, pr.poll_id) AS outcome
                  FROM poll_results pr JOIN polls p USING (poll_id)
                  WHERE pr.shipment_id = $sid) a
            LEFT JOIN events e ON e.shipment_id = $sid
            GROUP BY a.at, a.poll_id, a.outcome
            """,
            {"sid": sid},
        )
        # The latest event's fields, the way the collector keeps them.
        refresh_event_digest(conn, "shipment_id = $sid", {"sid": sid})
        if overrides:
            sets = ", ".join(f"{k} = ?" for k in overrides)
            values = [
                T(v) if k.endswith("_at") and isinstance(v, str) else v
                for k, v in overrides.items()
            ]
            # A new input version, as every writer of the collector takes one.
            conn.execute(
                f"UPDATE tracking_state SET {sets}, input_version = nextval('input_version_seq') "
                "WHERE shipment_id = ?",
                [*values, sid],
            )

    def _number(self, sid: int) -> str:
        row = self.store.conn.execute(
            "SELECT tracking_number FROM shipments WHERE shipment_id = ?", [sid]
        ).fetchone()
        assert row is not None
        return str(row[0])

    # -- reading ---------------------------------------------------------------------

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
