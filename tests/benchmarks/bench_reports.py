"""Benchmark: evidence packs (``make bench``).

Builds a database of N shipments with a realistic amount of evidence each (10
events, polls every two days in batches of 40 numbers, a raw body per poll, flags)
in a few set-oriented SQL statements, then measures

- HTML packs for all N shipments in one ``write_packs`` call: packs/second, and the
  number of database queries it made (it must not grow with N: one bulk read);
- the same with the JSON manifest;
- PDF (WeasyPrint) and PNG page images (pypdfium2) per pack, on a sample.

    .venv/bin/python tests/benchmarks/bench_reports.py               # N = 1,000
    BENCH_QUICK=1 .venv/bin/python tests/benchmarks/bench_reports.py # N = 100
    .venv/bin/python tests/benchmarks/bench_reports.py --size 5000 --pdf 10
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from analysis.reports import write_packs  # noqa: E402
from analysis.reports.facts import load_facts  # noqa: E402
from analysis.reports.render import PackView, Renderer  # noqa: E402
from collector.config import Settings  # noqa: E402
from collector.store import Store  # noqa: E402
from collector.store.state import refresh_event_digest  # noqa: E402

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
EVENTS_PER_SHIPMENT = 10
POLLS_PER_SHIPMENT = 24  # every two days for ~7 weeks
BATCH = 40

SQL = [
    # Shipments: AliExpress orders from Shenzhen to Madrid, shipped over 60 days.
    """
    INSERT INTO shipments (shipment_id, order_id, tracking_number, tracking_number_raw,
        marketplace, store, carrier, courier, number_format, number_verdict, ordered_at,
        shipped_at, promised_from, promised_to, protection_ends_at, destination_country,
        destination_postcode, destination_city, item, amount, currency, created_at,
        updated_at)
    SELECT i, (8101300000000 + i)::VARCHAR, 'LP' || lpad(i::VARCHAR, 14, '0'),
        'LP' || lpad(i::VARCHAR, 14, '0'), 'aliexpress', 'Store ' || (i % 97),
        'Cainiao', 'cainiao', 'cainiao-lp', 'unknown',
        TIMESTAMPTZ '2026-09-20 08:00:00+00' + INTERVAL (i % 60) DAY,
        TIMESTAMPTZ '2026-09-22 08:00:00+00' + INTERVAL (i % 60) DAY,
        TIMESTAMPTZ '2026-10-08 22:00:00+00' + INTERVAL (i % 60) DAY,
        TIMESTAMPTZ '2026-10-25 22:59:59+00' + INTERVAL (i % 60) DAY,
        TIMESTAMPTZ '2026-11-21 22:59:59+00' + INTERVAL (i % 60) DAY,
        'ES', '28013', 'Madrid', 'Item number ' || i, 10 + (i % 50), 'EUR', $now, $now
    FROM range(1, $n + 1) t(i)
    """,
    # Events: ten per shipment, a day and a half apart, Shanghai time, then Madrid.
    """
    INSERT INTO events (shipment_id, event_key, occurred_at, local_time, utc_offset_minutes,
        tz_known, status, sub_status, raw_code, raw_status, description, location, city,
        country, source, first_poll_id, recorded_at)
    SELECT s.shipment_id, md5(s.shipment_id::VARCHAR || '-' || k),
        s.shipped_at + INTERVAL (k * 36) HOUR,
        strftime(s.shipped_at + INTERVAL (k * 36 + 8) HOUR, '%Y-%m-%d %H:%M'),
        CASE WHEN k < 6 THEN 480 ELSE 60 END, true,
        CASE WHEN k = 0 THEN 'info_received' ELSE 'in_transit' END, NULL,
        'SC_' || k, 'Step ' || k, 'Departed from sorting center ' || k,
        CASE WHEN k < 6 THEN 'Shenzhen' ELSE 'Madrid' END,
        CASE WHEN k < 6 THEN 'Shenzhen' ELSE 'Madrid' END,
        CASE WHEN k < 6 THEN 'CN' ELSE 'ES' END, 'cainiao', 1, $now
    FROM shipments s, range($events) r(k)
    """,
    # Polls: one request per batch of 40 numbers every two days.
    """
    INSERT INTO polls (poll_id, run_id, requested_at, source, operation, method, url, numbers,
        http_status, duration_ms, outcome, body_sha256, chain_hash)
    SELECT b * $polls + d + 1, 'run-' || d, TIMESTAMPTZ '2026-10-01 06:00:00+00'
        + INTERVAL (2 * d) DAY, 'cainiao', 'detail', 'GET',
        'https://global.cainiao.com/global/detail.json?mailNos=...', []::VARCHAR[], 200,
        120.0, 'ok', sha256('body-' || b || '-' || d), sha256('chain-' || b || '-' || d)
    FROM range(($n + $batch - 1) // $batch) x(b), range($polls) y(d)
    """,
    """
    INSERT INTO raw_documents SELECT body_sha256, 'application/json', 2048, 'zlib',
        body_sha256, 'x'::BLOB, requested_at FROM polls
    """,
    """
    INSERT INTO poll_results SELECT p.poll_id, s.shipment_id, s.tracking_number, 'ok', NULL, NULL
    FROM shipments s JOIN polls p ON (p.poll_id - 1) // $polls = (s.shipment_id - 1) // $batch
    """,
    """
    INSERT INTO tracking_state (shipment_id, status, first_event_at, last_event_at,
        event_count, last_poll_at, ever_found, updated_at)
    SELECT shipment_id, 'in_transit', min(occurred_at), max(occurred_at), count(*), $now,
        true, $now FROM events GROUP BY shipment_id
    """,
    """
    INSERT INTO flags (shipment_id, code, severity, raised_at, confirmed_at, threshold,
        detail, evidence)
    SELECT shipment_id, 'stalled', 'critical', last_event_at + INTERVAL 10 DAY, $now,
        'stalled_days=10', 'no tracking event for many days',
        '{"event_keys": [], "poll_ids": []}'
    FROM tracking_state
    UNION ALL
    SELECT s.shipment_id, 'overdue', 'warning', s.promised_to, $now, 'overdue_grace_days=0',
        'promised_to passed', '{"event_keys": [], "poll_ids": []}'
    FROM shipments s WHERE s.shipment_id % 2 = 0
    """,
]


def build(store: Store, n: int) -> None:
    params: dict[str, Any] = {
        "n": n,
        "now": NOW,
        "events": EVENTS_PER_SHIPMENT,
        "polls": POLLS_PER_SHIPMENT,
        "batch": BATCH,
    }
    with store.transaction():
        for sql in SQL:
            names = set(re.findall(r"\$(\w+)", sql))
            store.conn.execute(sql, {k: params[k] for k in names})
        # The latest events' fields, as the collector keeps them in tracking_state.
        refresh_event_digest(store.conn)


class QueryCounter:
    """Counts the queries ``Store`` runs (the packs must read in bulk)."""

    def __init__(self) -> None:
        self.count = 0
        self._frame = Store.frame
        self._query = Store.query

    def __enter__(self) -> QueryCounter:
        counter = self

        def frame(store: Store, sql: str, params: Any = None) -> Any:
            counter.count += 1
            return counter._frame(store, sql, params)

        def query(store: Store, sql: str, params: Any = None) -> Any:
            counter.count += 1
            return counter._query(store, sql, params)

        Store.frame = frame  # type: ignore[method-assign]
        Store.query = query  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Store.frame = self._frame  # type: ignore[method-assign]
        Store.query = self._query  # type: ignore[method-assign]


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100 if quick else 1000)
    parser.add_argument("--pdf", type=int, default=3 if quick else 10, help="PDF/PNG sample")
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "b.duckdb") as store:
        started = time.perf_counter()
        build(store, args.size)
        ids = [r[0] for r in store.query("SELECT shipment_id FROM shipments ORDER BY 1")]
        events = store.query("SELECT count(*) FROM events")[0][0]
        results = store.query("SELECT count(*) FROM poll_results")[0][0]
        print(
            f"database: {len(ids)} shipments, {events} events, {results} poll results "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )

        for formats in (("html",), ("html", "json")):
            out = Path(tmp) / "-".join(formats)
            with QueryCounter() as counter:
                started = time.perf_counter()
                packs = write_packs(
                    store, ids, now=NOW, settings=settings, formats=formats, out_dir=out
                )
                elapsed = time.perf_counter() - started
            assert len(packs) == len(ids)
            print(
                f"{'+'.join(formats):<9} {len(packs)} packs in {elapsed:.2f} s: "
                f"{len(packs) / elapsed:,.0f} packs/s ({elapsed / len(packs) * 1000:.1f} ms "
                f"per pack), {counter.count} database queries in all"
            )

        # Read and HTML apart, to show where the time goes.
        started = time.perf_counter()
        facts = load_facts(store, ids, now=NOW, settings=settings)
        read = time.perf_counter() - started
        renderer = Renderer()
        started = time.perf_counter()
        pages = [renderer.html(PackView(f, renderer.version, NOW)) for f in facts]
        render = time.perf_counter() - started
        print(
            f"of which: bulk read {read:.2f} s, HTML rendering {render:.2f} s "
            f"({len(pages) / render:,.0f} pages/s, one Jinja environment)"
        )

        pdf_times, png_times, page_counts, png_bytes = [], [], [], []
        for html in pages[: args.pdf]:
            started = time.perf_counter()
            pdf = renderer.pdf(html)
            pdf_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            images = renderer.pngs(pdf)
            png_times.append(time.perf_counter() - started)
            page_counts.append(len(images))
            png_bytes.extend(len(i) for i in images)
        print(
            f"pdf       {statistics.mean(pdf_times):.2f} s per pack "
            f"(median {statistics.median(pdf_times):.2f} s, {statistics.mean(page_counts):.1f} "
            f"pages, sample of {len(pdf_times)})"
        )
        print(
            f"png       {statistics.mean(png_times):.2f} s per pack "
            f"({statistics.mean(png_times) / statistics.mean(page_counts):.3f} s per page, "
            f"largest page {max(png_bytes) / 1e6:.2f} MB of 2 MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
