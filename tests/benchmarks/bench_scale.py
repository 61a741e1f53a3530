"""Benchmark: the cost curve of one machine, from 100,000 to 1,000,000 shipments and up.

For each size it builds a synthetic database (tests/benchmarks/synth.py, 20 events a
shipment) and times what a deployment runs, each command in its own process through
the real command line (``python -m analysis``), output to /dev/null:

- ``build``: generating the database (DuckDB SQL over ``range()``), and its size;
- ``floor``: ``select shipment_id, max(occurred_at) from events group by 1``;
- ``flags (first)``: ``flags --json`` on an empty flag history (every flag raised);
- ``cron``: ``flags --json`` a day later, what ``run`` does after polling;
- ``status --json``: one line per shipment, with flags and dispute windows;
- ``export``: ``export OUT`` (Parquet, one file per table) and
  ``export --partitioned OUT`` (events Hive-partitioned by month).

It prints a Markdown table (seconds, peak RSS of that process) and the machine's
load (``/proc/loadavg``) before and after, for docs/perf-scale.md.

    .venv/bin/python tests/benchmarks/bench_scale.py                      # 100k and 1M
    .venv/bin/python tests/benchmarks/bench_scale.py --sizes 100000,1000000,10000000
    BENCH_QUICK=1 .venv/bin/python tests/benchmarks/bench_scale.py        # 2k and 10k
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.measure import timed  # noqa: E402
from tests.benchmarks.synth import NOW, build_synthetic_db  # noqa: E402

FLOOR_SQL = "select shipment_id, max(occurred_at) from events group by 1"


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def cli(db: Path, *args: str, now: str) -> list[str]:
    return [sys.executable, "-m", "analysis", "--db", str(db), "--now", now, *args]


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(size: int, work: Path) -> list[tuple[str, float, str]]:
    db = work / f"scale-{size}.duckdb"
    stats = build_synthetic_db(db, size, 20, seed=1)
    rows: list[tuple[str, float, str]] = [
        (
            "build",
            stats["seconds"],
            f"{int(stats['events']):,} events, {stats['bytes'] / 2**20:,.0f} MiB",
        )
    ]
    floor_code = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
        "best = min((lambda t: (c.execute(sys.argv[2]).pl(), time.perf_counter() - t)[1])"
        "(time.perf_counter()) for _ in range(3)); print(best)"
    )
    done = subprocess.run(
        [sys.executable, "-c", floor_code, str(db), FLOOR_SQL],
        capture_output=True,
        text=True,
        check=True,
    )
    rows.append(("floor query (best of 3)", float(done.stdout), ""))
    first, later = NOW.isoformat(), (NOW + timedelta(days=1)).isoformat()
    for label, args in (
        ("flags --json (first evaluation)", cli(db, "flags", "--json", now=first)),
        ("flags --json a day later (cron)", cli(db, "flags", "--json", now=later)),
        ("status --json", cli(db, "status", "--json", now=later)),
    ):
        seconds, rss, _ = timed(args)
        rows.append((label, seconds, f"peak RSS {rss:,.0f} MiB"))
    for label, extra in (("export (Parquet)", []), ("export --partitioned", ["--partitioned"])):
        out = work / f"export-{size}-{len(extra)}"
        seconds, rss, _ = timed(cli(db, "export", *extra, str(out), now=later))
        rows.append(
            (
                label,
                seconds,
                f"{folder_size(out) / 2**20:,.0f} MiB written, peak RSS {rss:,.0f} MiB",
            )
        )
        shutil.rmtree(out, ignore_errors=True)
    rows.append(("database after the runs", 0.0, f"{db.stat().st_size / 2**20:,.0f} MiB"))
    db.unlink()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = os.environ.get("BENCH_QUICK") == "1"
    parser.add_argument("--sizes", default="2000,10000" if quick else "100000,1000000")
    parser.add_argument("--work", type=Path, help="folder for the databases (default: a temp one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"load before: {load()}", flush=True)
    results = {}
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            results[size] = measure(size, work)
            print(f"{size:,} shipments done, load {load()}", flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("| step | " + " | ".join(f"{size:,} shipments" for size in results) + " |")
    print("| --- |" + " ---: |" * len(results))
    labels = [label for label, _s, _n in next(iter(results.values()))]
    for i, label in enumerate(labels):
        cells = []
        for rows in results.values():
            _label, seconds, note = rows[i]
            cells.append((f"{seconds:.2f} s" if seconds else "") + (f" ({note})" if note else ""))
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\nload after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
