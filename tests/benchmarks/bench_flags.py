"""Benchmark: flag evaluation against its floor on a synthetic database.

The floor (ARCHITECTURE.md) is ``select shipment_id, max(occurred_at) from events
group by shipment_id`` on the same database. The script builds a synthetic database
(tests/benchmarks/synth.py; 1,000,000 shipments and about 20,000,000 events, or
100x fewer with BENCH_QUICK=1), then times, each in a fresh process so that peak
memory is that step's own:

- ``floor``: the floor query (best of 3);
- ``compute``: :func:`analysis.flags.compute_flags`, the rules alone (best of 3);
- ``first``: :func:`analysis.flags.evaluate_flags` on an empty flag history (every
  flag is raised and written);
- ``steady``: evaluate again a day later (the cron case: every open flag confirmed,
  some raised or cleared);
- ``same``: evaluate again at that same instant (nothing changes);
- ``assess``: :func:`analysis.assess.assess` at that instant, what every command
  runs: ``same`` plus the flags joined to their history (``since``, ``first_seen``)
  and the dispute windows over the same staged flags.

It prints seconds, evaluation / floor (goal <= 2) and peak RSS per step.

    .venv/bin/python tests/benchmarks/bench_flags.py                  # full size
    BENCH_QUICK=1 .venv/bin/python tests/benchmarks/bench_flags.py    # 100x smaller
    .venv/bin/python tests/benchmarks/bench_flags.py --db /tmp/big.duckdb --keep
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
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.synth import NOW, build_synthetic_db  # noqa: E402

FLOOR_SQL = "select shipment_id, max(occurred_at) from events group by shipment_id"


def measure(step: str, db: Path) -> dict[str, float]:
    """Run one step in this process and return its seconds and peak RSS."""
    from analysis.assess import assess
    from analysis.flags import compute_flags, evaluate_flags
    from collector.config import Settings
    from collector.store import Store

    settings = Settings()
    out: dict[str, float] = {}
    with Store.open(db) as store:
        if step == "floor":
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                rows = store.conn.execute(FLOOR_SQL).pl().height
                times.append(time.perf_counter() - t0)
            out["seconds"], out["rows"] = min(times), rows
        elif step == "compute":
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                rows = compute_flags(store, NOW, settings.rules).height
                times.append(time.perf_counter() - t0)
            out["seconds"], out["rows"] = min(times), rows
        elif step == "assess":
            t0 = time.perf_counter()
            assessment = assess(store, NOW + timedelta(days=1), settings)
            out["seconds"] = time.perf_counter() - t0
            assert assessment.evaluation is not None
            out["raised"] = assessment.evaluation.raised.height
            out["cleared"] = assessment.evaluation.cleared.height
            out["confirmed"] = assessment.evaluation.confirmed
            out["rows"] = assessment.flags.height
        else:
            later = NOW + timedelta(days=1)
            now = {"first": NOW, "steady": later, "same": later}[step]
            t0 = time.perf_counter()
            evaluation = evaluate_flags(store, now, settings)
            out["seconds"] = time.perf_counter() - t0
            out["raised"] = evaluation.raised.height
            out["cleared"] = evaluation.cleared.height
            out["confirmed"] = evaluation.confirmed
            out["rows"] = evaluation.current.height
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_step(step: str, db: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--step", step, "--db", str(db)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="reuse (or build) the database here")
    parser.add_argument("--shipments", type=int)
    parser.add_argument("--events", type=int, default=20, help="events per shipment")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(measure(args.step, args.db)))
        return 0

    quick = os.environ.get("BENCH_QUICK") == "1"
    shipments = args.shipments or (10_000 if quick else 1_000_000)
    folder = None
    if args.db is None:
        folder = Path(tempfile.mkdtemp(prefix="bench-flags-"))
        args.db = folder / "synthetic.duckdb"
    try:
        if not args.db.exists():
            stats = build_synthetic_db(args.db, shipments, args.events, seed=1)
            print(
                f"built {int(stats['shipments']):,} shipments, {int(stats['events']):,} events "
                f"in {stats['seconds']:.1f} s ({stats['bytes'] / 2**20:,.0f} MiB)"
            )
        else:
            # Reusing a database: start from an empty history so "first" means it.
            from collector.store import Store

            with Store.open(args.db) as store:
                store.conn.execute("DELETE FROM flags")
                store.conn.execute("CHECKPOINT")
        floor = run_step("floor", args.db)
        print(f"floor query: {floor['seconds']:.3f} s, peak RSS {floor['peak_rss_mb']:.0f} MiB")
        for step in ("compute", "first", "steady", "same", "assess"):
            r = run_step(step, args.db)
            extra = ""
            if step != "compute":
                extra = (
                    f", raised {int(r['raised']):,} cleared {int(r['cleared']):,} "
                    f"confirmed {int(r['confirmed']):,}"
                )
            print(
                f"{step:8s} {r['seconds']:.3f} s = {r['seconds'] / floor['seconds']:.2f} x floor; "
                f"{int(r['rows']):,} flags{extra}; peak RSS {r['peak_rss_mb']:.0f} MiB"
            )
    finally:
        if folder is not None and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        elif folder is not None:
            print(f"database kept at {args.db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
