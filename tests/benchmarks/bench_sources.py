"""Benchmark: one run over four sources at once (issue 13.5), against the simulator.

N shipments (``synthetic_mixed``): Chinese first-mile numbers tracked through
17TRACK, some of them handed over to USPS, FedEx or DHL with a number of their own,
and those carriers' own numbers. parcelproof is configured as a user would be:
``[sources.<name>]`` tables holding ``base_url`` and the *names* of the credential
variables, ``[routing]`` sending each carrier's numbers to its own source. The rates
are explicit and chosen so that the run takes tens of seconds and every source's
floor is about the same (the hardest case for running them side by side; the
documented defaults, USPS 60 an hour, DHL 1 a second, are for production and
would make this run take an hour). The simulator runs in a process of its own and
enforces the same rates (429 above them) and DHL's 250 calls a day.

The floor: each source's required calls at its own rate. 17TRACK: ceil(n/40)
``register`` + ceil(n/40) ``gettrackinfo`` for its n first-mile numbers; USPS (10 a
call), FedEx (30 a call), DHL (1 a call): the carrier's own numbers plus the
last-mile numbers handed over to it, in as few calls as its batch size allows, and
one OAuth2 token for the run (USPS, FedEx; not paced by the tracking rate, so it
is counted, not timed). A source's floor is its calls / its rate, and must fit in
its daily quota; the run's floor is the slowest source's. It prints elapsed /
floor (goal <= 1.1), that every shipment was answered (ok, not found or invalid),
and each source's calls against what the protocols need: no call beyond them.
A second run with every shipment due shows the poll of a first-mile number is not
repeated once the last-mile carrier answered (only the others go to 17TRACK again).

    .venv/bin/python tests/benchmarks/bench_sources.py                 # N=2000
    BENCH_QUICK=1 .venv/bin/python tests/benchmarks/bench_sources.py   # N=300
    .venv/bin/python tests/benchmarks/bench_sources.py --n 2000 --rates 17track=3,usps=3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from collector import clock  # noqa: E402
from collector.config import settings_from_dict  # noqa: E402
from collector.poll import run_poll  # noqa: E402
from collector.simulator.model import Scenario  # noqa: E402
from collector.simulator.synthetic import DEFAULT_END, synthetic_mixed  # noqa: E402
from collector.sources.base import ClientCredentials  # noqa: E402
from collector.sources.registry import source_class  # noqa: E402
from collector.store import Store  # noqa: E402
from tests.benchmarks.synth import import_scenarios  # noqa: E402

KEY = "bench-17track-key"
SEED = 13
CARRIERS = ("usps", "fedex", "dhl")
SOURCES = ("17track", *CARRIERS)
#: Requests a second, chosen so that each source's floor is about 20 s at N=2000
#: (60 x 17TRACK, 61 x USPS, 13 x FedEx, 144 x DHL calls).
RATES = {"17track": 3.0, "usps": 3.0, "fedex": 0.6, "dhl": 7.0}

# Runs the simulator in its own process: prints the tables and credentials as JSON
# once it listens, and the request counts when its stdin closes.
SERVER = r"""
import json, sys
from collector.simulator import Simulator
from collector.simulator.synthetic import DEFAULT_END, synthetic_mixed
n, seed, key, rates = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
sim = Simulator(synthetic_mixed(n, seed=seed), api_key=key, rate_limit=rates.pop("17track"),
                as_of=DEFAULT_END, source_rate_limits=rates, source_quotas={"dhl": 250})
sim.start()
tables = {name: dict(line.split(" = ", 1) for line in sim.source_table(name).splitlines()[1:])
          for name in rates}
print(json.dumps({"base_17track": sim.base_url_17track, "env": sim.source_env(),
                  "tables": {n: {k: v.strip('"') for k, v in t.items()}
                             for n, t in tables.items()}}), flush=True)
for line in sys.stdin:  # one line per report asked for; EOF ends
    limited = {}
    for r in sim.requests:
        if r.status == 429:
            limited[r.endpoint] = limited.get(r.endpoint, 0) + 1
    print(json.dumps({"counts": sim.counts(), "limited": limited}), flush=True)
    sim.reset_log()
sim.stop()
"""


def required(scenarios: list[Scenario]) -> dict[str, dict[str, int]]:
    """The calls each source's protocol needs for a first run over ``scenarios``."""
    first_mile = sum(1 for s in scenarios if s.carriers[0].code not in CARRIERS)
    numbers = dict.fromkeys(CARRIERS, 0)
    for s in scenarios:
        if s.carriers[0].code in CARRIERS:
            numbers[s.carriers[0].code] += 1
        elif s.last_mile_number and s.handed_over(s.visible(DEFAULT_END)):
            numbers[s.carriers[-1].code] += 1
    need = {"17track": {"register": math.ceil(first_mile / 40)}}
    need["17track"]["gettrackinfo"] = need["17track"]["register"]
    for name, count in numbers.items():
        cls = source_class(name)
        calls = math.ceil(count / cls.batch_size)
        need[name] = {"track": calls}
        if calls and isinstance(cls.auth, ClientCredentials):
            need[name]["token"] = 1  # one token lives longer than the run
    return need


def paced(need: dict[str, int]) -> int:
    """The calls the tracking rate paces (an OAuth2 token request is not paced)."""
    return sum(v for k, v in need.items() if k != "token")


def settings(hello: dict[str, Any], rates: dict[str, float]) -> Any:
    os.environ["BENCH_17TRACK_KEY"] = KEY
    os.environ.update(hello["env"])
    tables: dict[str, dict[str, Any]] = {
        "17track": {"base_url": hello["base_17track"], "api_key_env": "BENCH_17TRACK_KEY"}
    }
    tables.update(hello["tables"])
    for name in SOURCES:
        tables[name]["requests_per_second"] = rates[name]
    routing = {"default": ["17track"], **{c: [c, "17track"] for c in CARRIERS}}
    return settings_from_dict({"sources": tables, "routing": routing})


def by_source(counts: dict[str, int]) -> dict[str, dict[str, int]]:
    """Simulator endpoint counts (``register``, ``usps:track``) grouped by source."""
    out: dict[str, dict[str, int]] = {name: {} for name in SOURCES}
    for endpoint, count in counts.items():
        name, _, operation = endpoint.rpartition(":")
        if name and operation != "token":
            operation = "track"  # usps:track, fedex:trackingnumbers, dhl:shipments
        calls = out[name or "17track"]
        calls[operation] = calls.get(operation, 0) + count
    return out


def bench(n: int, rates: dict[str, float], workdir: Path) -> dict[str, float]:
    clock.set_now(DEFAULT_END)
    scenarios = synthetic_mixed(n, seed=SEED)
    db = workdir / f"sources-{n}.duckdb"
    import_scenarios(db, scenarios, workdir)
    need = required(scenarios)
    floors = {name: paced(need[name]) / rates[name] for name in SOURCES}
    for name in SOURCES:
        quota = source_class(name).default_daily_quota
        assert quota is None or paced(need[name]) <= quota, f"{name}: over its daily quota"
    floor_source = max(floors, key=floors.__getitem__)
    floor = floors[floor_source]
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(n), str(SEED), KEY, json.dumps(rates)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert server.stdout is not None and server.stdin is not None
        config = settings(json.loads(server.stdout.readline()), rates)
        t0 = time.perf_counter()
        report = run_poll(db, config, progress=False)
        elapsed = time.perf_counter() - t0
        server.stdin.write("\n")
        server.stdin.flush()
        first = json.loads(server.stdout.readline())
        t1 = time.perf_counter()
        again = run_poll(db, config, progress=False, all_shipments=True, carriers=["17track"])
        second_elapsed = time.perf_counter() - t1
        server.stdin.write("\n")
        server.stdin.flush()
        second = json.loads(server.stdout.readline())
    finally:
        if server.stdin is not None and not server.stdin.closed:
            server.stdin.close()  # the simulator stops at the end of its input
        server.wait(timeout=30)
    with Store.open(db, read_only=True) as store:
        ((total, answered),) = store.query(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM poll_results r "
            "JOIN shipments x ON x.tracking_number = r.tracking_number "
            "WHERE x.shipment_id = s.shipment_id "
            "AND r.outcome IN ('ok', 'not_found', 'invalid'))) FROM shipments s"
        )
        ((unusable,),) = store.query(
            "SELECT count(*) FROM tracking_state WHERE last_outcome IN ('error', 'rate_limited')"
        )
        ((handovers,),) = store.query("SELECT count(*) FROM last_mile_handovers")
        ((settled,),) = store.query(
            "SELECT count(DISTINCT h.shipment_id) FROM last_mile_handovers h "
            "JOIN poll_results r ON r.tracking_number = h.last_mile_number "
            "JOIN polls p ON p.poll_id = r.poll_id AND p.source IN ('usps', 'fedex', 'dhl') "
            "WHERE r.outcome = 'ok'"
        )
    for line in report.summary_lines():
        print(f"  {line}")
    made = by_source(first["counts"])
    print(f"  N={n}: floor {floor:.2f}s ({floor_source}), elapsed {elapsed:.2f}s, "
          f"ratio {elapsed / floor:.3f} (goal <= 1.1)")  # fmt: skip
    extra = 0
    for name in SOURCES:
        calls = ", ".join(f"{v} {k}" for k, v in sorted(made[name].items()))
        needed = ", ".join(f"{v} {k}" for k, v in sorted(need[name].items()))
        over = sum(max(0, made[name].get(k, 0) - v) for k, v in need[name].items())
        over += sum(v for k, v in made[name].items() if k not in need[name])
        extra += over
        limited = sum(by_source(first["limited"])[name].values())
        print(
            f"    {name:8} {rates[name]:g}/s: {calls or 'no calls'} (protocol needs {needed}; "
            f"floor {floors[name]:.2f}s; {limited} answered 429)"
        )
    print(
        f"  answered {answered}/{total} shipments ({unusable} without a usable answer); "
        f"{handovers} handovers recorded, {settled} settled by the carrier's own record; "
        f"{extra} calls beyond what the protocols need"
    )
    rest = by_source(second["counts"])["17track"]
    unsettled_17 = sum(1 for s in scenarios if s.carriers[0].code not in CARRIERS) - settled
    print(
        f"  second run (every shipment due, --carrier 17track): {second_elapsed:.2f}s, "
        f"17TRACK asked {rest.get('gettrackinfo', 0)} gettrackinfo + {rest.get('register', 0)} "
        f"register calls for the {unsettled_17} first-mile numbers not settled by a carrier "
        f"(needs {math.ceil(unsettled_17 / 40)} + 0)"
    )
    assert answered == total and unusable == 0, "some shipments were left unanswered"
    assert report.exit_code == 0, report.summary_lines()
    assert again.exit_code == 0, again.summary_lines()
    return {
        "ratio": elapsed / floor,
        "extra_calls": extra,
        "second_run_extra": max(0, rest.get("gettrackinfo", 0) - math.ceil(unsettled_17 / 40))
        + rest.get("register", 0),
    }


def parse_rates(text: str | None) -> dict[str, float]:
    """``17track=3,usps=2`` over :data:`RATES`."""
    rates = dict(RATES)
    for part in (text or "").split(","):
        if part.strip():
            name, _, value = part.partition("=")
            if name.strip() not in rates:
                raise SystemExit(f"--rates: unknown source {name.strip()!r} (one of {SOURCES})")
            rates[name.strip()] = float(value)
    return rates


def main() -> int:
    quick = bool(os.environ.get("BENCH_QUICK"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300 if quick else 2000)
    parser.add_argument("--rates", help="requests/s per source, e.g. 17track=3,usps=3")
    args = parser.parse_args()
    rates = parse_rates(args.rates)
    with tempfile.TemporaryDirectory(prefix="bench-sources-") as tmp:
        figures = bench(args.n, rates, Path(tmp))
    failed = figures["extra_calls"] or figures["second_run_extra"]
    # The ratio goal is stated for N=2,000 at the default rates; others are reported.
    if args.n == 2000 and rates == RATES and figures["ratio"] > 1.1:
        print(f"  ratio {figures['ratio']:.3f} is above the 1.1 goal", file=sys.stderr)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
