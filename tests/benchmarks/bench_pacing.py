"""Benchmark: pacing against a strict stand-in while the machine is busy.

The independent 17TRACK stand-in (``tests/collector/standin17.py``, written from the
public documentation) answers HTTP 429 whenever a sliding one-second window would
hold more than R requests. It runs in a process of its own; two more processes burn
CPU for the whole poll (the machine has two cores), so the poller's event loop wakes
late, the way it does on a busy cron host. parcelproof is configured to the same R.
Goal: zero 429s and elapsed at most 1.1 x the floor, 2 * ceil(N/40) / R seconds.

    .venv/bin/python tests/benchmarks/bench_pacing.py                 # N=4000, R=20
    BENCH_QUICK=1 .venv/bin/python tests/benchmarks/bench_pacing.py   # N=400
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from collector import clock  # noqa: E402
from collector.config import settings_from_dict  # noqa: E402
from collector.importer import import_file  # noqa: E402
from collector.poll import run_poll  # noqa: E402
from collector.store import Store  # noqa: E402
from tests.collector.standin17 import NOW, fillers, write_orders_csv  # noqa: E402

KEY = "bench-standin-key"

SERVER = r"""
import sys
sys.path.insert(0, sys.argv[4])
from tests.collector.standin17 import StandIn17, fillers
n, rate, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with StandIn17(key, scenarios=fillers(n), rate_per_second=rate) as s:
    print(s.base_url, flush=True)
    sys.stdin.read()
    print(s.count("/register"), s.count("/gettrackinfo"), sum(h.status == 429 for h in s.hits),
          min(h.at for h in s.hits), max(h.at for h in s.hits), flush=True)
"""

# Burns one core until its stdin closes or 10 minutes pass (bounded by design).
BURNER = r"""
import sys, threading, time
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
end = time.monotonic() + 600
while not stop.is_set() and time.monotonic() < end:
    sum(i * i for i in range(10000))
"""


def bench(n: int, rate: int, burners: int, workdir: Path) -> dict[str, float]:
    clock.set_now(clock.parse_instant(NOW))
    db = workdir / f"pacing-{n}.duckdb"
    with Store.open(db) as store:
        import_file(store, write_orders_csv(workdir / "orders.csv", fillers(n)))
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(n), str(rate), KEY, str(ROOT)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    burning = [
        subprocess.Popen([sys.executable, "-c", BURNER], stdin=subprocess.PIPE, text=True)
        for _ in range(burners)
    ]
    try:
        assert server.stdout is not None and server.stdin is not None
        base_url = server.stdout.readline().strip()
        os.environ["BENCH_STANDIN_KEY"] = KEY
        settings = settings_from_dict(
            {
                "sources": {
                    "17track": {
                        "base_url": base_url,
                        "api_key_env": "BENCH_STANDIN_KEY",
                        "requests_per_second": rate,
                    }
                },
                "poll": {"pending_rechecks": 0},
            }
        )
        # time.monotonic is the system's monotonic clock: the stand-in's stamps (its
        # own process) are on the same time line.
        t0 = time.monotonic()
        report = run_poll(db, settings, progress=False)
        elapsed = time.monotonic() - t0
        server.stdin.close()
        counts = server.stdout.readline().split()
        registers, fetches, limited = (int(x) for x in counts[:3])
        first, last = (float(x) - t0 for x in counts[3:])
    finally:
        for p in burning:
            assert p.stdin is not None
            p.stdin.close()
            p.wait(timeout=30)
        server.wait(timeout=30)
    floor = 2 * math.ceil(n / 40) / rate
    print(
        f"  N={n} R={rate}/s, {burners} CPU burners: {registers} register + {fetches} "
        f"gettrackinfo calls, {limited} answered 429; floor {floor:.2f}s, elapsed "
        f"{elapsed:.2f}s, ratio {elapsed / floor:.3f} (goal: 0 x 429, <= 1.1)\n"
        f"  the server saw the first request {first:.2f}s after the call and the last "
        f"{last:.2f}s after it (paced span {last - first:.2f}s for "
        f"{registers + fetches - 1} gaps: {(last - first) / (registers + fetches - 1) * rate:.3f}"
        f" x 1/R); the run ended {elapsed - last:.2f}s after the last request"
    )
    assert report.exit_code == 0 or limited, report.summary_lines()
    return {"ratio": elapsed / floor, "http_429": limited}


def main() -> int:
    quick = bool(os.environ.get("BENCH_QUICK"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400 if quick else 4000)
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--burners", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = bench(args.n, args.rate, args.burners, Path(tmp))
    return 0 if result["http_429"] == 0 and result["ratio"] <= 1.1 else 1


if __name__ == "__main__":
    sys.exit(main())
