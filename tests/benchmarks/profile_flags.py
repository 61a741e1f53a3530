"""Where a flag evaluation spends its time: every statement it runs, timed.

Not a benchmark (``make bench`` does not run it): the tool behind the statement
figures of docs/perf-flags.md. It copies a database (the original is not written),
times the floor query (best of 3) and one :func:`analysis.flags.evaluate_flags` at
the step's instant, with every ``execute`` on the store's connection timed, and
prints the slowest statements (a temporary table by its name, any other statement
by its first words)::

    # a database as the benchmark builds it, evaluated once and then touched:
    .venv/bin/python tests/benchmarks/profile_flags.py /tmp/big.duckdb --prepare /tmp/cron.duckdb
    .venv/bin/python tests/benchmarks/profile_flags.py /tmp/cron.duckdb cron
    .venv/bin/python tests/benchmarks/profile_flags.py /tmp/cron.duckdb cron --explain _pf_inputs

``first`` evaluates at the benchmark's NOW, ``cron`` a day later (incremental when
the database was prepared with this tree's rules: their SQL is part of the
evaluation's digest). ``--explain NAME`` writes ``EXPLAIN ANALYZE`` of that
statement to ``NAME.plan`` beside the copy.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench_flags import CHANGED, FLOOR_SQL, LATER  # noqa: E402
from tests.benchmarks.synth import NOW, touch_shipments  # noqa: E402

_TABLE = re.compile(r"\s*CREATE OR REPLACE TEMP TABLE (\w+)")


class _Timed:
    """A connection whose ``execute`` is timed per statement name."""

    def __init__(self, conn: Any, explain: set[str], folder: Path) -> None:
        self._conn = conn
        self._explain = explain
        self._folder = folder
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        match = _TABLE.match(sql)
        name = match.group(1) if match else " ".join(sql.split())[:60]
        if name in self._explain:
            plan = self._conn.execute("EXPLAIN ANALYZE " + sql, *args, **kwargs).fetchall()
            (self._folder / f"{name}.plan").write_text(plan[0][1])
            return self._conn.execute("SELECT 1")  # the statement ran inside EXPLAIN
        started = time.perf_counter()
        result = self._conn.execute(sql, *args, **kwargs)
        self.seconds[name] += time.perf_counter() - started
        self.calls[name] += 1
        return result


def prepare(source: Path, target: Path) -> None:
    """``target``: ``source`` evaluated at NOW, then 1 % of it touched (as the
    benchmark's ``cron`` step finds it)."""
    from analysis.flags import evaluate_flags
    from collector.config import Settings
    from collector.store import Store

    shutil.copyfile(source, target)
    with Store.open(target) as store:
        store.conn.execute("SET enable_progress_bar = false")
        evaluate_flags(store, NOW, Settings())
        touched = touch_shipments(store, CHANGED, NOW + timedelta(hours=12))
    print(f"{target}: evaluated at {NOW:%Y-%m-%d %H:%M}Z, {touched:,} shipments touched")


def profile(db: Path, step: str, top: int, explain: set[str]) -> None:
    from analysis.flags import evaluate_flags
    from collector.config import Settings
    from collector.store import Store

    work = db.with_name(db.stem + "-profile" + db.suffix)
    shutil.copyfile(db, work)
    try:
        with Store.open(work) as store:
            store.conn.execute("SET enable_progress_bar = false")
            floors = []
            for _ in range(3):
                started = time.perf_counter()
                store.conn.execute(FLOOR_SQL).pl()
                floors.append(time.perf_counter() - started)
            floor = min(floors)
            real = store.conn
            timed = _Timed(real, explain, work.parent)
            store.conn = timed  # type: ignore[assignment]
            started = time.perf_counter()
            try:
                evaluation = evaluate_flags(store, NOW if step == "first" else LATER, Settings())
            finally:
                store.conn = real
            seconds = time.perf_counter() - started
    finally:
        work.unlink(missing_ok=True)
        work.with_name(work.name + ".wal").unlink(missing_ok=True)
    kind = "incremental" if evaluation.incremental else f"full ({evaluation.reason})"
    print(
        f"{step}: {seconds:.3f} s = {seconds / floor:.2f} x the floor ({floor:.3f} s); "
        f"{kind}, {evaluation.evaluated:,} shipments evaluated, "
        f"{sum(timed.calls.values())} statements"
    )
    ranked = sorted(timed.seconds.items(), key=lambda item: -item[1])
    for name, spent in ranked[:top]:
        print(f"  {spent:7.3f} s  {timed.calls[name]:3d} x  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="the database (copied, never written)")
    parser.add_argument("step", nargs="?", choices=("first", "cron"), default="cron")
    parser.add_argument("--top", type=int, default=15, help="statements listed")
    parser.add_argument("--explain", action="append", default=[], help="a statement's name")
    parser.add_argument("--prepare", type=Path, metavar="TARGET", help="see the docstring")
    args = parser.parse_args()
    if not args.db.exists():
        parser.error(f"no database at {args.db}")
    if args.prepare is not None:
        prepare(args.db, args.prepare)
    else:
        profile(args.db, args.step, args.top, set(args.explain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
