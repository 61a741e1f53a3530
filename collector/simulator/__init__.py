"""A loopback stand-in for 17TRACK and Cainiao, speaking their real wire formats.

Used by ``parcelproof demo``, the tests and the benchmarks; ``parcelproof simulate``
serves it standalone. One HTTP server on 127.0.0.1 (a free port by default) serves

- 17TRACK Tracking API v2.2: ``POST {base_url_17track}/register``, ``/gettrackinfo``
  and ``/getquota``; header ``17token`` must equal ``api_key`` (else HTTP 401 with
  ``{"code": -18010002, "data": {"errors": [...]}}``); JSON arrays of at most 40
  items (more: ``-18010014``); ``register`` costs one quota unit per accepted
  number, answers ``-18019901`` for a number already registered, ``-18019908``
  once the quota is used up, and the scenario's ``register_error`` (``-18019903``
  for a string that is not a tracking number); ``gettrackinfo`` answers
  ``-18019902`` for a number not registered, else the full documented
  ``track_info`` (two providers where the parcel changed hands; NotFound /
  NotFound_InvalidCode / Expired where the scenario says so). Above
  ``rate_limit`` requests a second per key it answers HTTP 429 (no Retry-After,
  as documented, unless ``rate_limit_retry_after=True``). With ``sync_delay`` set,
  a number answers NotFound (no provider yet) for that many seconds after its
  registration, as the real service does while it looks the number up.
- Cainiao: ``GET {base_url_cainiao}/global/detail.json?mailNos=a,b&lang=en-US`` with
  ``{"module": [...], "success": true}``, one module per number, shaped like the real
  capture; an unknown number is ``mailNoSource: "EXTERNAL"`` with no details.

Every number in the scenario library can be asked of either source. The default
library covers the 25 sample orders (``data/samples/orders.csv``);
:func:`synthetic_scenarios` makes thousands, deterministically, for benchmarks.

The API (kept small and stable; tests, demo and benchmarks use it)::

    from collector.simulator import Fault, serve_in_thread, synthetic_scenarios

    with serve_in_thread(                       # same arguments as Simulator(...)
        scenarios=None,                         # None: the sample library; or Scenarios
        api_key="simulator-17track-key",        # the 17token the server expects
        rate_limit=20,                          # 17TRACK requests/s per key (None: no limit)
        cainiao_rate_limit=None,                # Cainiao requests/s
        faults=[Fault.parse("503:2")],          # injected faults, see collector.simulator.faults
        quota=1_000_000,                        # 17TRACK registrations allowed
        as_of=None,                             # hide events after this instant
        sync_delay=0.0,                         # seconds a new registration answers NotFound
    ) as sim:
        sim.base_url_17track   # "http://127.0.0.1:PORT/track/v2.2"  -> [sources.17track] base_url
        sim.base_url_cainiao   # "http://127.0.0.1:PORT"             -> [sources.cainiao] base_url
        sim.config_toml("SEVENTEENTRACK_API_KEY")   # a ready parcelproof.toml snippet
        sim.count("register"), sim.count("gettrackinfo", status=200), sim.counts()
        sim.requests           # [RequestRecord(at, method, path, endpoint, numbers, status, ...)]
        sim.add_fault(Fault("timeout", count=1, seconds=5)); sim.set_faults([...])
        sim.clear_faults(); sim.set_rate_limit(3); sim.set_as_of(datetime(...))
        sim.registered, sim.quota_used, sim.clear_registrations(), sim.reset_log()

"Now" (for ``days_after_last_update``, ``latest_sync_time``, ``daysNumber``) is
``as_of`` when set, else :func:`collector.clock.now` (so ``--now`` and
``PARCELPROOF_NOW`` make answers reproducible).
"""

from __future__ import annotations

from collector.simulator.faults import Fault
from collector.simulator.model import (
    KINDS,
    Carrier,
    Event,
    Place,
    Scenario,
    ScenarioError,
    final_canonical,
    load_scenarios,
    sample_scenarios,
)
from collector.simulator.server import (
    DEFAULT_API_KEY,
    RequestRecord,
    Simulator,
    serve_in_thread,
)
from collector.simulator.synthetic import synthetic_orders, synthetic_scenarios, write_orders_csv

__all__ = [
    "DEFAULT_API_KEY",
    "KINDS",
    "Carrier",
    "Event",
    "Fault",
    "Place",
    "RequestRecord",
    "Scenario",
    "ScenarioError",
    "Simulator",
    "final_canonical",
    "load_scenarios",
    "sample_scenarios",
    "serve_in_thread",
    "synthetic_orders",
    "synthetic_scenarios",
    "write_orders_csv",
]
