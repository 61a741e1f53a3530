"""A synthetic parcelproof database of any size, generated inside DuckDB.

:func:`build_synthetic_db` writes shipments, polls, poll results, events and the
derived ``tracking_state`` with a handful of ``INSERT ... SELECT FROM range(...)``
statements (no Python loop per row), deterministically from ``seed``. The mix of
outcomes is fixed, so every flag rule has work to do: about 70 % delivered (5 % of
them somewhere else), 10 % moving, 5 % stalled, 3 % label only, 2 % not found,
2 % returned, 2 % exception, 1 % expired, 5 % in transit for a while (moving,
label-only, not-found and in-transit parcels were ordered in the last 30 days); 0.5 % bad check
digits, 0.5 % carrier mismatches, 0.5 % reused numbers, 0.3 % first scans before
the order. "Now" for this data is :data:`NOW`.

    from tests.benchmarks.synth import NOW, build_synthetic_db
    stats = build_synthetic_db(Path("/tmp/big.duckdb"), 1_000_000, 20, seed=1)
    stats["events"]   # about 18.8 million (not-found and label-only parcels have fewer)

``python tests/benchmarks/synth.py PATH [SHIPMENTS] [EVENTS_PER_SHIPMENT]`` builds one
from the command line.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from collector.simulator.model import Scenario  # noqa: E402
from collector.store import Store  # noqa: E402
from collector.store.state import (  # noqa: E402
    DIGEST_COLUMNS,
    event_digest_sql,
    refresh_event_digest,
)

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)

_CITIES = (
    "('US', 'New York', '10001'), ('US', 'San Francisco', '94107'), ('US', 'Chicago', '60614'), "
    "('ES', 'Madrid', '28013'), ('DE', 'Berlin', '10115'), ('FR', 'Paris', '75011'), "
    "('GB', 'London', 'SW1A 1AA'), ('IT', 'Milano', '20121'), ('NL', 'Amsterdam', '1012 AB'), "
    "('PL', 'Warszawa', '00-001'), ('BR', 'Sao Paulo', '01310-100'), ('AU', 'Sydney', '2000'), "
    "('CA', 'Toronto', 'M5V 2T6'), ('JP', 'Tokyo', '150-0002'), ('SE', 'Stockholm', '11122'), "
    "('CH', 'Zurich', '8001')"
)
_TEXTS = (
    "'Electronic information received', 'Accepted by carrier', 'Inbound in sorting center', "
    "'Outbound in sorting center', 'Received by line-haul', 'Hand over to airline', "
    "'Airline departure from original country', 'Arrive at destination country', "
    "'Arrived at customs', 'Import customs clearance complete', "
    "'Received by local delivery company', 'Arrived at delivery facility', "
    "'Out for delivery', 'Delivered'"
)

# Per shipment s: h(k) is a deterministic pseudo-random number for purpose k.
_H = "hash(s * 1000003 + {k} + $seed)"


def _h(k: int) -> str:
    return _H.format(k=k)


# kind: 0 delivered, 1 moving, 2 stalled, 3 label only, 4 not found, 5 returned,
# 6 exception, 7 expired, 8 long in transit.
_KIND = (
    f"CASE WHEN {_h(3)} % 1000 < 700 THEN 0 WHEN {_h(3)} % 1000 < 800 THEN 1 "
    f"WHEN {_h(3)} % 1000 < 850 THEN 2 WHEN {_h(3)} % 1000 < 880 THEN 3 "
    f"WHEN {_h(3)} % 1000 < 900 THEN 4 WHEN {_h(3)} % 1000 < 920 THEN 5 "
    f"WHEN {_h(3)} % 1000 < 940 THEN 6 WHEN {_h(3)} % 1000 < 950 THEN 7 ELSE 8 END"
)

_SHIPMENTS_SQL = f"""
INSERT INTO shipments (shipment_id, order_id, tracking_number, tracking_number_raw,
    marketplace, store, carrier, courier, number_format, number_verdict, number_reason,
    carrier_mismatch, ordered_at, shipped_at, promised_from, promised_to,
    protection_ends_at, destination_country, destination_postcode, destination_city,
    item, amount, currency, created_at, updated_at, archived)
SELECT s, 'ORD' || s,
       -- 0.5 % reuse the number of the shipment before them (same number, two orders)
       CASE WHEN {_h(9)} % 1000 < 5 AND s > 1 THEN 'LP' || lpad((s - 1)::VARCHAR, 14, '0')
            ELSE 'LP' || lpad(s::VARCHAR, 14, '0') END AS tn, NULL,
       ['aliexpress', 'aliexpress', 'aliexpress', 'ebay', 'amazon', 'paypal', 'other']
           [1 + ({_h(4)} % 7)::INT],
       'Store ' || ({_h(5)} % 500), 'Cainiao', 'cainiao', 'cainiao_lp',
       CASE WHEN {_h(6)} % 1000 < 5 THEN 'invalid' ELSE 'weak' END,
       CASE WHEN {_h(6)} % 1000 < 5 THEN 'check digit' END,
       {_h(7)} % 1000 < 5,
       ordered, ordered + to_days(1 + ({_h(2)} % 3)::INT) AS shipped,
       ordered + INTERVAL 15 DAY, ordered + to_days(20 + ({_h(8)} % 30)::INT),
       ordered + to_days(60 + ({_h(8)} % 30)::INT),
       c.country, c.postcode, c.city, 'Item ' || s, 10 + s % 90, 'USD', $now, $now,
       {_h(10)} % 100 = 0
FROM (SELECT s, CASE WHEN {_KIND} IN (1, 3, 4, 8)
                    -- parcels still on their way (or never seen) were ordered lately
                    THEN $now - to_seconds((2 * 86400 + {_h(1)} % (28 * 86400))::BIGINT)
                    ELSE TIMESTAMPTZ '2026-01-01 00:00:00+00'
                         + to_seconds(({_h(1)} % (300 * 86400))::BIGINT) END AS ordered
      FROM range(1, $n + 1) r(s)) base
JOIN (SELECT row_number() OVER () - 1 AS ci, * FROM (VALUES {_CITIES}) v(country, city, postcode)) c
  ON c.ci = {_h(11)} % 16
"""

# Event times run from shortly after shipping to span_end; the last event's status
# follows the shipment's kind.
_EVENTS_SQL = f"""
INSERT INTO events (shipment_id, event_key, occurred_at, local_time, utc_offset_minutes,
    tz_known, status, sub_status, raw_code, raw_status, description, location, city, state,
    postcode, country, source, provider, first_poll_id, recorded_at)
WITH sh AS (
    SELECT shipment_id AS s, shipped_at, ordered_at, destination_country AS dc,
           destination_city AS dcity, destination_postcode AS dpc, {_KIND} AS kind,
           CASE {_KIND} WHEN 4 THEN 0 WHEN 3 THEN 1 ELSE $e END AS n
    FROM shipments
), span AS (
    SELECT *, CASE
        WHEN kind IN (0, 5) THEN shipped_at + to_days(5 + ({_h(12)} % 35)::INT)
        WHEN kind = 1 THEN $now - to_hours(({_h(12)} % 96)::INT)
        WHEN kind IN (2, 7) THEN $now - to_days(11 + ({_h(12)} % 60)::INT)
        WHEN kind = 6 THEN $now - to_days(({_h(12)} % 20)::INT)
        ELSE $now - to_days(({_h(12)} % 9)::INT) END AS span_end,
        -- 0.3 % recycled numbers: the history starts 40 days before the order
        CASE WHEN {_h(13)} % 1000 < 3 THEN INTERVAL 40 DAY ELSE INTERVAL 0 DAY END AS early
    FROM sh
), ev AS (
    SELECT sp.*, q.seq,
           sp.shipped_at - sp.early + INTERVAL 2 HOUR
           + (greatest(sp.span_end, sp.shipped_at + INTERVAL 1 DAY) - sp.shipped_at + sp.early)
             * (q.seq / greatest(sp.n - 1, 1)::DOUBLE) AS ev_at
    FROM span sp, range(0, $e) q(seq)
    WHERE q.seq < sp.n
)
SELECT s, printf('%016x', hash(s * 131 + seq + $seed)), ev_at,
       strftime(ev_at + INTERVAL 8 HOUR, '%Y-%m-%d %H:%M:%S'), 480, true,
       CASE WHEN seq = 0 THEN 'info_received'
            WHEN seq < n - 1 THEN 'in_transit'
            ELSE ['delivered', 'in_transit', 'in_transit', 'info_received', 'not_found',
                  'returned', 'exception', 'in_transit', 'in_transit'][kind + 1] END AS status,
       CASE WHEN seq = n - 1 AND kind = 6 THEN 'customs' END, NULL,
       [{_TEXTS}][1 + least(seq, 13)::INT],
       [{_TEXTS}][1 + least(seq, 13)::INT], NULL,
       CASE WHEN seq = n - 1 AND kind = 0 AND {_h(14)} % 100 < 5 THEN 'Austin'
            WHEN seq = n - 1 THEN dcity WHEN seq < 4 THEN 'Guangzhou' ELSE dcity END,
       NULL,
       CASE WHEN seq = n - 1 AND kind = 0 AND {_h(14)} % 100 < 5 THEN '73301'
            WHEN seq = n - 1 THEN dpc END,
       CASE WHEN seq < 4 THEN 'CN' ELSE dc END, '17track', NULL,
       (s - 1) // 40 + 1, $now
FROM ev
"""

_POLLS_SQL = """
INSERT INTO polls (poll_id, run_id, requested_at, source, operation, method, url,
    numbers, http_status, duration_ms, outcome, chain_hash)
SELECT p, 'synthetic', $now - INTERVAL 6 HOUR, '17track', 'gettrackinfo', 'POST',
       'https://api.17track.net/track/v2.2/gettrackinfo', []::VARCHAR[], 200, 120.0, 'ok',
       printf('%064x', hash(p))
FROM range(1, ($n - 1) // 40 + 2) r(p)
"""

_RESULTS_SQL = f"""
INSERT INTO poll_results (poll_id, shipment_id, tracking_number, outcome, code, message)
SELECT (shipment_id - 1) // 40 + 1, shipment_id, tracking_number,
       CASE WHEN number_verdict = 'invalid' AND {_KIND.replace("s *", "shipment_id *")} = 4
                THEN 'invalid'
            WHEN {_KIND.replace("s *", "shipment_id *")} = 4 THEN 'not_found' ELSE 'ok' END,
       NULL, NULL
FROM shipments
"""

_DIGEST = ", ".join(
    "coalesce(e.event_count, 0)" if c == "event_count" else f"e.{c}" for c in DIGEST_COLUMNS
)
# tracking_state as the collector derives it: the event-derived columns from the
# collector's own digest SQL, the rest from the single poll each shipment had.
_STATE_SQL = f"""
INSERT INTO tracking_state (shipment_id, status, sub_status, source, {", ".join(DIGEST_COLUMNS)},
    delivered_at, last_poll_at, last_poll_id, last_outcome, consecutive_not_found, ever_found,
    updated_at)
SELECT s.shipment_id,
       CASE WHEN {_KIND.replace("s *", "s.shipment_id *")} = 7 THEN 'expired'
            ELSE coalesce(e.last_event_status, 'not_found') END,
       e.last_event_sub_status, '17track', {_DIGEST},
       e.first_delivered_at, $now - INTERVAL 6 HOUR, (s.shipment_id - 1) // 40 + 1,
       CASE WHEN e.event_count IS NULL THEN 'not_found' ELSE 'ok' END,
       CASE WHEN e.event_count IS NULL THEN 3 ELSE 0 END, e.event_count IS NOT NULL, $now
FROM shipments s
LEFT JOIN ({event_digest_sql()}) e USING (shipment_id)
"""


def build_synthetic_db(
    path: Path | str, shipments: int, events_per_shipment: int, seed: int = 1
) -> dict[str, float]:
    """Create (replace) a database at ``path`` with ``shipments`` synthetic shipments
    and about ``events_per_shipment`` events each; returns row counts and seconds.
    """
    path = Path(path)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    params = {"n": shipments, "e": events_per_shipment, "seed": seed, "now": NOW}
    with Store.open(path) as store:
        conn = store.conn
        conn.execute("SET preserve_insertion_order = false")
        for sql in (_SHIPMENTS_SQL, _POLLS_SQL, _RESULTS_SQL, _EVENTS_SQL, _STATE_SQL):
            names = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
            conn.execute(sql, names)
        conn.execute("CHECKPOINT")
        stats: dict[str, float] = {
            table: float(store.query(f"SELECT count(*) FROM {table}")[0][0])
            for table in ("shipments", "events", "tracking_state", "polls", "poll_results")
        }
    stats["seconds"] = time.perf_counter() - started
    stats["bytes"] = float(path.stat().st_size)
    return stats


# A poll run between two cron evaluations: one new poll answers for the shipments
# picked, each gets one new event (a scan in transit, or a repeat of a final
# status) and its tracking_state is derived again the way the collector does it
# (the event digest by the collector's own SQL, a new input version).
_TOUCH_SQL = """
CREATE OR REPLACE TEMP TABLE _touched AS
SELECT s.shipment_id, s.tracking_number,
       CASE WHEN t.status IN ('delivered', 'returned', 'expired') THEN t.status
            ELSE 'in_transit' END AS status
FROM shipments s JOIN tracking_state t USING (shipment_id)
WHERE hash(s.shipment_id * 7919 + $seed) % 1000000 < $per_million;
INSERT INTO polls (poll_id, run_id, requested_at, source, operation, method, url,
    numbers, http_status, duration_ms, outcome, chain_hash)
SELECT (SELECT max(poll_id) + 1 FROM polls), 'synthetic-touch', $at, '17track',
       'gettrackinfo', 'POST', 'https://api.17track.net/track/v2.2/gettrackinfo',
       []::VARCHAR[], 200, 120.0, 'ok', printf('%064x', hash($at));
INSERT INTO poll_results (poll_id, shipment_id, tracking_number, outcome, code, message)
SELECT (SELECT max(poll_id) FROM polls), shipment_id, tracking_number, 'ok', NULL, NULL
FROM _touched;
INSERT INTO events (shipment_id, event_key, occurred_at, local_time, utc_offset_minutes,
    tz_known, status, sub_status, raw_code, raw_status, description, location, city, state,
    postcode, country, source, provider, first_poll_id, recorded_at)
SELECT shipment_id, printf('t%015x', hash(shipment_id + $seed)), $at - INTERVAL 1 HOUR,
       strftime($at + INTERVAL 7 HOUR, '%Y-%m-%d %H:%M:%S'), 480, true, status, NULL, NULL,
       'Arrived at delivery facility', 'Arrived at delivery facility', NULL, NULL, NULL, NULL,
       NULL, '17track', NULL, (SELECT max(poll_id) FROM polls), $at
FROM _touched;
UPDATE tracking_state SET status = u.status, last_poll_at = $at,
       last_poll_id = (SELECT max(poll_id) FROM polls), last_outcome = 'ok', updated_at = $at,
       input_version = nextval('input_version_seq')
FROM _touched u WHERE tracking_state.shipment_id = u.shipment_id
"""


def touch_shipments(store: Store, fraction: float, at: datetime, seed: int = 1) -> int:
    """Give about ``fraction`` of the shipments a new poll answer and event at ``at``
    (see ``_TOUCH_SQL``); returns how many were touched."""
    conn = store.conn
    params = {"seed": seed, "per_million": int(fraction * 1_000_000), "at": at}
    with store.transaction():
        for sql in _TOUCH_SQL.split(";\n"):
            names = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
            conn.execute(sql, names)
        refresh_event_digest(conn, "shipment_id IN (SELECT shipment_id FROM _touched)")
    row = conn.execute("SELECT count(*) FROM _touched").fetchone()
    conn.execute("DROP TABLE temp._touched")
    return int(row[0]) if row else 0


if __name__ == "__main__":
    target = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    e = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    print(build_synthetic_db(target, n, e))


def import_scenarios(db: Path, scenarios: Iterable[Scenario], workdir: Path) -> None:
    """Import the orders of simulator scenarios into a new database at ``db``."""
    from collector.importer import import_file
    from collector.simulator.synthetic import write_orders_csv

    with Store.open(db) as store:
        result = import_file(store, write_orders_csv(scenarios, workdir / "orders.csv"))
    assert not result.rejected, result.rejected[:3]
