"""Benchmark: flag evaluation against its floor on a synthetic database.

The floor (ARCHITECTURE.md) is ``select shipment_id, max(occurred_at) from events
group by shipment_id`` on the same database. The script builds a synthetic database
(tests/benchmarks/synth.py; 1,000,000 shipments and about 20,000,000 events, or
100x fewer with BENCH_QUICK=1), then times, each in a fresh process so that peak
memory is that step's own:

- ``floor``: the floor query (best of 3);
- ``compute``: :func:`analysis.flags.compute_flags`, the rules alone (best of 3);
- ``first``: :func:`analysis.flags.evaluate_flags` on an empty flag history, the
  full first evaluation (every flag is raised and written, every shipment's inputs
  recorded; goal <= 4x the floor);
- ``touch``: a poll run between two cron runs, not timed against the floor: 1 % of
  the shipments get a new poll answer and event and their tracking_state derived
  again (``tests.benchmarks.synth.touch_shipments``); the database is then copied;
- ``cron``: evaluate again a day later, incrementally: the 1 % changed plus the
  shipments whose next instant of change came (goal <= 1x the floor); afterwards
  (not timed) its flag set is compared row by row with ``compute_flags`` at the
  same instant;
- ``full``: the same evaluation on the copy, forced full (``full=True``), and
  ``compare``: the two flag histories compared row by row, every column;
- ``same``: evaluate again at that same instant (nothing changes);
- ``assess``: :func:`analysis.assess.assess` at that instant, what every command
  runs: ``same`` plus the flags joined to their history (``since``, ``first_seen``)
  and the dispute windows over the same staged flags.

It prints seconds, evaluation / floor and peak RSS (goal < 1 GiB) per step.

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
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.synth import NOW, build_synthetic_db, touch_shipments  # noqa: E402

FLOOR_SQL = "select shipment_id, max(occurred_at) from events group by shipment_id"


#: The share of shipments a poll run changes between two cron evaluations.
CHANGED = 0.01
LATER = NOW + timedelta(days=1)
_HISTORY = (
    "SELECT flag_id, shipment_id, code, severity, raised_at, confirmed_at, cleared_at, "
    "threshold, detail, evidence::VARCHAR AS evidence, began_at, template, age_from, "
    "age_kind FROM {flags}"
)


def measure(step: str, db: Path) -> dict[str, float]:
    """Run one step in this process and return its seconds and peak RSS."""
    from polars.testing import assert_frame_equal

    from analysis.assess import assess
    from analysis.flags import compute_flags, evaluate_flags
    from collector.config import Settings
    from collector.store import Store

    settings = Settings()
    out: dict[str, float] = {}
    target = _copy_of(db) if step == "full" else db
    with Store.open(target) as store:
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
        elif step == "touch":
            t0 = time.perf_counter()
            out["rows"] = touch_shipments(store, CHANGED, NOW + timedelta(hours=12))
            out["seconds"] = time.perf_counter() - t0
        elif step == "compare":
            store.conn.execute(f"ATTACH '{_copy_of(db)}' AS c (READ_ONLY)")
            mine = _HISTORY.format(flags="flags")
            theirs = _HISTORY.format(flags="c.flags")
            t0 = time.perf_counter()
            counts = store.query(
                f"SELECT (SELECT count(*) FROM flags), (SELECT count(*) FROM c.flags), "
                f"(SELECT count(*) FROM ({mine} EXCEPT ALL {theirs})), "
                f"(SELECT count(*) FROM ({theirs} EXCEPT ALL {mine}))"
            )[0]
            out["seconds"] = time.perf_counter() - t0
            out["rows"], out["rows_full"], out["only_here"], out["only_full"] = map(float, counts)
        elif step == "assess":
            t0 = time.perf_counter()
            assessment = assess(store, LATER, settings)
            out["seconds"] = time.perf_counter() - t0
            assert assessment.evaluation is not None
            _counts(out, assessment.evaluation)
            out["rows"] = assessment.flags.height
        else:
            now = {"first": NOW, "cron": LATER, "full": LATER, "same": LATER}[step]
            t0 = time.perf_counter()
            evaluation = evaluate_flags(store, now, settings, full=step == "full")
            out["seconds"] = time.perf_counter() - t0
            _counts(out, evaluation)
            out["rows"] = evaluation.open_flags
            # What a step is meant to measure, or the figures mean nothing.
            if step == "first" and evaluation.open_flags != evaluation.raised_count:
                raise SystemExit(f"first: {evaluation.raised_count} raised, {out['rows']} stored")
            if step in ("cron", "same") and not evaluation.incremental:
                raise SystemExit(f"{step}: not incremental ({evaluation.reason})")
            if step == "cron":
                # Row by row against a stateless evaluation of every shipment (after
                # the peak memory of the evaluation itself is taken).
                out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                assert_frame_equal(evaluation.current, compute_flags(store, now, settings.rules))
                out["equal_to_compute"] = 1
    out.setdefault("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def _counts(out: dict[str, float], evaluation: Any) -> None:
    out["raised"] = evaluation.raised_count
    out["cleared"] = evaluation.cleared.height
    out["confirmed"] = evaluation.confirmed
    out["evaluated"] = evaluation.evaluated
    out["incremental"] = float(evaluation.incremental)


def _copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + ".wal"))


def _copy_of(db: Path) -> Path:
    return db.with_name(db.stem + "-full" + db.suffix)


def run_step(step: str, db: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--step", step, "--db", str(db)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _line(step: str, r: dict[str, float], floor: float) -> str:
    ratio = f" = {r['seconds'] / floor:.2f} x floor" if step not in ("touch", "compare") else ""
    if step == "touch":
        what = f"{int(r['rows']):,} shipments given a new answer and event"
    elif step == "compare":
        same = r["only_here"] == 0 and r["only_full"] == 0 and r["rows"] == r["rows_full"]
        what = (
            f"flag history {int(r['rows']):,} rows (incremental) vs {int(r['rows_full']):,} "
            f"(full): {'identical' if same else 'DIFFERENT'} "
            f"({int(r['only_here'])} / {int(r['only_full'])} rows on one side only)"
        )
    else:
        what = f"{int(r['rows']):,} flags"
        if step != "compute":
            what += (
                f", raised {int(r['raised']):,} cleared {int(r['cleared']):,} "
                f"confirmed {int(r['confirmed']):,}; "
                f"{'incremental' if r['incremental'] else 'full'}, "
                f"{int(r['evaluated']):,} shipments evaluated"
            )
        if step == "cron":
            what += "; equal to compute_flags row by row"
    return f"{step:8s} {r['seconds']:.3f} s{ratio}; {what}; peak RSS {r['peak_rss_mb']:.0f} MiB"


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
        # The steps write (flags, a poll run): they work on a copy, so that a kept
        # database is the same built one next time.
        work = args.db.with_name(args.db.stem + "-work" + args.db.suffix)
        _copy(args.db, work)
        floor = run_step("floor", work)
        print(f"floor query: {floor['seconds']:.3f} s, peak RSS {floor['peak_rss_mb']:.0f} MiB")
        for step in ("compute", "first", "touch", "cron", "full", "compare", "same", "assess"):
            if step == "cron":
                _copy(work, _copy_of(work))
            r = run_step(step, work)
            print(_line(step, r, floor["seconds"]))
        for path in (work, _copy_of(work)):
            for name in (path, path.with_name(path.name + ".wal")):
                name.unlink(missing_ok=True)
    finally:
        if folder is not None and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        elif folder is not None:
            print(f"database kept at {args.db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
