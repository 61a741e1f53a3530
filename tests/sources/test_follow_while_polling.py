"""The last mile is followed while the first mile is still being polled (issue 13.5).

A run's floor is its slowest source's own floor. The delivering carrier's source
must not wait for the aggregator to finish before it asks about the numbers already
handed over: it is asked as soon as the answer that named the handover is written,
in the same event loop (a second loop once crashed a source that had numbers of its
own and handed-over ones: its rate limiter belonged to the first loop).
"""

from __future__ import annotations

from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path

import pytest

from collector.config import settings_from_dict
from collector.importer import import_rows
from collector.poll import run_poll
from collector.simulator import Simulator, serve_in_thread
from collector.simulator.model import scenarios_from_dict
from collector.store import Store
from tests.sources.test_last_mile import DOC, FIRST_MILE, LAST_MILE

# A second parcel handed from Cainiao to USPS, and a USPS number of its own.
SECOND_FIRST, SECOND_LAST = "LP00246813579031", "9400111206206406131018"
DIRECT = "9400111206206406260787"
# Cainiao numbers it has never heard of: work that keeps the aggregator busy.
FILLERS = tuple(f"LP0024681357{i:04d}" for i in range(100, 106))


def _doc() -> dict[str, object]:
    doc = deepcopy(DOC)
    scenarios = doc["scenarios"]
    assert isinstance(scenarios, list)
    second = deepcopy(scenarios[0])
    second.update(number=SECOND_FIRST, last_mile_number=SECOND_LAST)
    direct = deepcopy(scenarios[0])
    direct.update(number=DIRECT, carriers=["usps"], last_mile_number=None)
    scenarios.extend([second, direct])
    return doc


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with serve_in_thread(cainiao_rate_limit=4) as simulator:
        simulator.add_scenarios(scenarios_from_dict(_doc()))
        for name, value in simulator.source_env().items():
            monkeypatch.setenv(name, value)
        yield simulator


def settings(sim: Simulator, usps_batch: int = 1) -> object:
    return settings_from_dict(
        {
            "sources": {
                # One number a call, 4 a second: the aggregator takes about 2 s.
                "cainiao": {
                    "base_url": sim.base_url_cainiao,
                    "requests_per_second": 4,
                    "batch_size": 1,
                },
                "usps": {
                    "base_url": sim.base_url_for("usps"),
                    "client_id_env": "PARCELPROOF_SIM_USPS_CLIENT_ID",
                    "client_secret_env": "PARCELPROOF_SIM_USPS_CLIENT_SECRET",
                    "requests_per_second": 20,
                    "batch_size": usps_batch,
                },
            },
            "routing": {"default": ["cainiao"], "usps": ["usps", "cainiao"]},
        }
    )


def seed(db_path: Path) -> None:
    header = ["order_id", "tracking_number", "shipped_at"]
    numbers = (FIRST_MILE, SECOND_FIRST, DIRECT, *FILLERS)
    rows = [
        (i + 2, {"order_id": f"AE-{i}", "tracking_number": n, "shipped_at": "2026-11-01"})
        for i, n in enumerate(numbers)
    ]
    with Store.open(db_path) as store:
        assert not import_rows(store, header, rows).rejected


def test_the_carrier_is_asked_before_the_aggregator_has_finished(
    db_path: Path, sim: Simulator
) -> None:
    seed(db_path)
    report = run_poll(db_path, settings(sim), all_shipments=True)  # type: ignore[arg-type]
    assert report.exit_code == 0, report.summary_lines()
    asked = {(r.endpoint, n): r.at for r in sim.requests for n in r.numbers}
    last_cainiao = max(r.at for r in sim.requests if r.endpoint == "cainiao")
    # Each handed-over number goes to USPS once, while Cainiao is still being polled.
    assert asked[("usps:track", LAST_MILE)] < last_cainiao
    assert asked[("usps:track", SECOND_LAST)] < last_cainiao
    assert sim.counts() == {"cainiao": 2 + len(FILLERS), "usps:token": 1, "usps:track": 3}
    summary = report.sources["usps"]
    assert (summary.shipments, summary.requests, summary.count("ok")) == (3, 4, 3)
    with Store.open(db_path, read_only=True) as store:
        rows = store.query(
            "SELECT s.tracking_number, t.status FROM tracking_state t JOIN shipments s "
            "USING (shipment_id) WHERE s.tracking_number IN (?, ?, ?) ORDER BY 1",
            [FIRST_MILE, SECOND_FIRST, DIRECT],
        )
    assert sorted(rows) == sorted((n, "delivered") for n in (FIRST_MILE, SECOND_FIRST, DIRECT))


def test_a_second_run_does_not_ask_the_aggregator_about_settled_parcels(
    db_path: Path, sim: Simulator
) -> None:
    seed(db_path)
    run_poll(db_path, settings(sim), all_shipments=True)  # type: ignore[arg-type]
    sim.reset_log()
    report = run_poll(db_path, settings(sim), all_shipments=True)  # type: ignore[arg-type]
    assert report.exit_code == 0, report.summary_lines()
    asked_cainiao = {n for r in sim.requests if r.endpoint == "cainiao" for n in r.numbers}
    assert asked_cainiao == set(FILLERS)
    assert sim.counts() == {"cainiao": len(FILLERS), "usps:token": 1, "usps:track": 3}


def test_a_partial_batch_of_the_carriers_own_numbers_waits_for_handed_over_ones(
    db_path: Path, sim: Simulator
) -> None:
    seed(db_path)
    report = run_poll(db_path, settings(sim, usps_batch=3), all_shipments=True)  # type: ignore[arg-type]
    assert report.exit_code == 0, report.summary_lines()
    # One USPS number of its own and two handed over: one call of three, not 1 + 2.
    (call,) = [r for r in sim.requests if r.endpoint == "usps:track"]
    assert sorted(call.numbers) == sorted((DIRECT, LAST_MILE, SECOND_LAST))
    assert report.sources["usps"].count("ok") == 3
