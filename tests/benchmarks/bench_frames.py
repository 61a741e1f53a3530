"""Benchmark: analysis.frames views against a plain DuckDB scan of the same columns.

For each function of :mod:`analysis.frames` it times the call (from a path: open
read-only, query, hand over to polars, close) and a plain scan that only fetches,
into polars, the table columns that view reads. The ratio says what deriving costs
on top of getting the raw data out, which is what a notebook would otherwise start
from. The floor query of ARCHITECTURE.md (``select shipment_id, max(occurred_at)
from events group by shipment_id``) is printed for reference.

The database is the synthetic one of tests/benchmarks/synth.py: 1,000,000
shipments and about 20,000,000 events (``BENCH_QUICK=1``: 100x fewer). Each step
runs in a fresh process (best of ``--repeat``), with a time limit, so one slow view
cannot hide the others.

    .venv/bin/python tests/benchmarks/bench_frames.py                  # full size
    BENCH_QUICK=1 .venv/bin/python tests/benchmarks/bench_frames.py    # smoke test
    .venv/bin/python tests/benchmarks/bench_frames.py --db /tmp/big.duckdb --keep
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.synth import NOW, build_synthetic_db  # noqa: E402

FLOOR_SQL = "select shipment_id, max(occurred_at) from events group by shipment_id"

# The shipment and event columns each derived view reads (its plain-scan baseline).
_SHIP_FACTS = (
    "shipment_id, order_id, tracking_number, marketplace, store, carrier, courier, "
    "ordered_at, shipped_at, promised_to, protection_ends_at, destination_country, archived"
)
_EVENT_FACTS = (
    "shipment_id, occurred_at, status, description, raw_status, raw_code, location, city, "
    "country, utc_offset_minutes, tz_known"
)
_STATE = "shipment_id, status, delivered_at, last_event_at"
# The flag rules read nearly everything: shipments, events, state, polls, results.
_FLAG_INPUTS = {
    "shipments": "*",
    "events": "*",
    "tracking_state": "*",
    "polls": "poll_id, source, requested_at",
    "poll_results": "*",
}
_FACTS_INPUTS = {"shipments": _SHIP_FACTS, "events": _EVENT_FACTS, "tracking_state": _STATE}

#: view -> (call, the columns of each table it reads)
VIEWS: dict[str, tuple[str, dict[str, str]]] = {
    "shipments": ("frames.shipments(db)", {"shipments": "*"}),
    "events": (
        "frames.events(db)",
        {"events": "*", "shipments": "shipment_id, order_id, tracking_number, store"},
    ),
    "polls": ("frames.polls(db)", {"polls": "*"}),
    "tracking_state": ("frames.tracking_state(db)", {"tracking_state": "*"}),
    "transit_times": ("frames.transit_times(db, now=NOW)", _FACTS_INPUTS),
    "last_activity": ("frames.last_activity(db, now=NOW)", _FACTS_INPUTS),
    "lane_stats": ("frames.lane_stats(db, now=NOW)", _FACTS_INPUTS),
    "current_flags": ("frames.current_flags(db, now=NOW)", _FLAG_INPUTS),
    "number_quality": ("frames.number_quality(db, now=NOW)", _FLAG_INPUTS),
    "store_scorecard": ("frames.store_scorecard(db, now=NOW)", _FLAG_INPUTS),
    "dispute_deadlines": ("frames.dispute_deadlines(db, now=NOW)", _FLAG_INPUTS),
}


def measure(step: str, kind: str, db: Path, repeat: int) -> dict[str, float]:
    """Time one view (``kind`` = view) or its baseline scan (``kind`` = scan)."""
    import duckdb

    from analysis import frames

    times, rows = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        if kind == "view":
            frame = eval(VIEWS[step][0], {"frames": frames, "db": db, "NOW": NOW})
            rows = frame.height
            del frame  # so that the next round's peak memory is its own
        elif kind == "scan":
            conn = duckdb.connect(str(db), read_only=True)
            try:
                parts = [
                    conn.execute(f"SELECT {cols} FROM {table}").pl()
                    for table, cols in VIEWS[step][1].items()
                ]
            finally:
                conn.close()
            rows = sum(p.height for p in parts)
            del parts
        else:  # floor
            conn = duckdb.connect(str(db), read_only=True)
            try:
                rows = conn.execute(FLOOR_SQL).fetch_arrow_table().num_rows
            finally:
                conn.close()
        times.append(time.perf_counter() - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": min(times), "rows": float(rows), "peak_mb": peak_mb}


def run_step(step: str, kind: str, db: Path, repeat: int, limit: float) -> dict[str, float]:
    """Run :func:`measure` in a fresh process; a step over ``limit`` seconds is cut off."""
    cmd = [sys.executable, __file__, "--step", step, "--kind", kind, "--db", str(db)]
    cmd += ["--repeat", str(repeat)]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=limit, check=False, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return {"seconds": float("nan"), "timeout": limit}
    if done.returncode:
        print(done.stderr, file=sys.stderr)
        return {"seconds": float("nan"), "failed": 1.0}
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="use (or build, if missing) this database")
    parser.add_argument("--keep", action="store_true", help="keep the database built")
    parser.add_argument("--shipments", type=int)
    parser.add_argument("--events", type=int, default=20, help="events per shipment")
    parser.add_argument("--repeat", type=int, default=2, help="best of N per step")
    parser.add_argument("--limit", type=float, default=600, help="seconds per step at most")
    parser.add_argument("--only", nargs="*", help="only these views")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(measure(args.step, args.kind, args.db, args.repeat)))
        return 0

    quick = os.environ.get("BENCH_QUICK") == "1"
    shipments = args.shipments or (10_000 if quick else 1_000_000)
    folder = None
    db = args.db
    if db is None:
        folder = Path(tempfile.mkdtemp(prefix="bench-frames-"))
        db = folder / "frames.duckdb"
    if not db.exists():
        stats = build_synthetic_db(db, shipments, args.events, seed=1)
        print(
            f"built {db}: {stats['shipments']:,.0f} shipments, {stats['events']:,.0f} events "
            f"in {stats['seconds']:.1f} s",
            flush=True,
        )
    floor = run_step("floor", "floor", db, 3, args.limit)
    print(f"floor query: {floor['seconds']:.3f} s", flush=True)
    print(
        "| view | rows | seconds | plain scan of its columns (s) | view / scan "
        "| peak MB (view / scan) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for step in args.only or VIEWS:
        view = run_step(step, "view", db, args.repeat, args.limit)
        scan = run_step(step, "scan", db, args.repeat, args.limit)
        ratio = view["seconds"] / scan["seconds"] if scan["seconds"] else float("nan")
        seconds = (
            f"> {view['timeout']:.0f} (cut off)" if "timeout" in view else f"{view['seconds']:.2f}"
        )
        print(
            f"| `{step}` | {view.get('rows', float('nan')):,.0f} | {seconds} | "
            f"{scan['seconds']:.2f} | {ratio:.2f} | {view.get('peak_mb', float('nan')):,.0f} / "
            f"{scan.get('peak_mb', float('nan')):,.0f} |",
            flush=True,
        )
    if folder is not None and not args.keep:
        shutil.rmtree(folder)
    elif folder is not None:
        print(f"kept {db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
