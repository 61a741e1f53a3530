"""Benchmark: importing a large marketplace export, its time and its peak memory.

Writes a CSV of N orders (an AliExpress-like export: order id, tracking number of
one of the 44 formats, dates, store, destination, amount; 1% of the numbers in
scientific notation, 1% repeated rows), then runs ``parcelproof import`` on it in a
process of its own, through the real command line, into a new database. The floor
is DuckDB's own ``read_csv`` of the same file into a table (one process, no
validation). Reported: seconds, ratio to the floor, peak RSS of the import.

Goal (issue 17, item 7): memory bounded by a chunk, not by the file: the peak RSS
of 1,400,000 rows stays under 1 GiB (it was 4.5 GB).

    .venv/bin/python tests/benchmarks/bench_import.py                  # N=1,400,000
    .venv/bin/python tests/benchmarks/bench_import.py --rows 200000
    BENCH_QUICK=1 .venv/bin/python tests/benchmarks/bench_import.py    # N=20,000
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from collector.numbers.synth import examples_for_every_format  # noqa: E402
from tests.benchmarks.measure import timed  # noqa: E402

GOAL_MIB = 1024


def write_export(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    numbers = list(examples_for_every_format(rng).values())
    stores = [f"Store {i}" for i in range(200)]
    countries = ["US", "DE", "FR", "GB", "ES", "IT", "NL", "PL", "BR", "CA"]
    start = date(2026, 9, 1)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "order_id",
                "tracking_number",
                "marketplace",
                "store",
                "ordered_at",
                "shipped_at",
                "promised_to",
                "destination_country",
                "destination_postcode",
                "amount",
                "currency",
            ]
        )
        for i in range(rows):
            ordered = start + timedelta(days=rng.randrange(90))
            number = f"{numbers[i % len(numbers)]}"
            if i % 100 == 1:
                number = "9.40011E+21"  # a spreadsheet's rendering of a long number
            order = f"81{i:011d}" if i % 100 != 2 else f"81{i - 1:011d}"  # 1% repeated
            writer.writerow(
                [
                    order,
                    number if i % 100 != 2 else f"{numbers[(i - 1) % len(numbers)]}",
                    "aliexpress",
                    stores[i % len(stores)],
                    ordered.isoformat(),
                    (ordered + timedelta(days=2)).isoformat(),
                    (ordered + timedelta(days=30)).isoformat(),
                    countries[i % len(countries)],
                    f"{10000 + i % 89999}",
                    f"{(i % 5000) / 100 + 1:.2f}",
                    "USD",
                ]
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = bool(os.environ.get("BENCH_QUICK"))
    parser.add_argument("--rows", type=int, default=20_000 if quick else 1_400_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as work:
        folder = Path(work)
        export = folder / "orders.csv"
        write_export(export, options.rows)
        size = export.stat().st_size
        floor_code = (
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
            'c.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, all_varchar=true)", '
            "[sys.argv[2]])"
        )
        floor, floor_rss, _ = timed(
            [sys.executable, "-c", floor_code, str(folder / "floor.duckdb"), str(export)]
        )
        db = folder / "import.duckdb"
        seconds, rss, code = timed(
            [sys.executable, "-m", "analysis", "--db", str(db), "import", str(export)]
        )
        print(
            f"  {options.rows:,} rows ({size / 2**20:,.0f} MiB CSV): import {seconds:.1f} s "
            f"= {seconds / floor:.1f} x the floor (DuckDB read_csv {floor:.1f} s, "
            f"{floor_rss:,.0f} MiB); peak RSS {rss:,.0f} MiB (goal < {GOAL_MIB} MiB); "
            f"exit {code}; load {os.getloadavg()[0]:.1f}"
        )
        # The same export again (a daily export re-imported): every row is compared
        # with the stored one; nothing changes.
        again, again_rss, again_code = timed(
            [sys.executable, "-m", "analysis", "--db", str(db), "import", str(export)]
        )
        print(
            f"  the same file again: {again:.1f} s, peak RSS {again_rss:,.0f} MiB, "
            f"exit {again_code}"
        )
    return 0 if max(rss, again_rss) < GOAL_MIB or quick else 1


if __name__ == "__main__":
    sys.exit(main())
