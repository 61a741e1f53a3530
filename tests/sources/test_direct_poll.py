"""USPS and DHL end to end against the loopback simulator (issue 13.1-13.3).

The tables hold only ``base_url`` and the names of the credential variables, as
a user's would. OAuth2: one token for the run, a fresh one once after a 401, the
token never in a log line, a poll row or a stored body.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.config import settings_from_dict
from collector.importer import import_rows
from collector.poll import run_poll
from collector.simulator import Fault, Simulator, serve_in_thread
from collector.simulator.model import scenarios_from_dict
from collector.store import Store

USPS_NUMBERS = ("9400111206206406260787", "9200190305014376214122", "9400109690083461234562")

DHL_DOC = {
    "carriers": {"dhl": {"key": 100001, "name": "DHL Paket", "country": "DE", "cainiao": "DHL"}},
    "places": {
        "bonn": {"city": "Bonn", "country": "DE", "postal_code": "53113", "zone": "Europe/Berlin"},
        "berlin": {
            "city": "Berlin",
            "country": "DE",
            "postal_code": "12053",
            "zone": "Europe/Berlin",
        },
    },
    "scenarios": [
        {
            "number": "00340434161094042557",
            "destination": "DE",
            "carriers": ["dhl"],
            "events": [
                {"at": "2026-11-18T17:30:00+01:00", "kind": "info_received", "place": "bonn"},
                {
                    "at": "2026-11-20T07:05:00+01:00",
                    "kind": "out_for_delivery",
                    "place": "berlin",
                    "zone_known": False,
                },
                {"at": "2026-11-20T11:42:00+01:00", "kind": "delivered", "place": "berlin"},
            ],
        }
    ],
}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with serve_in_thread() as simulator:
        simulator.add_scenarios(scenarios_from_dict(DHL_DOC))
        yield simulator


@pytest.fixture(autouse=True)
def _credentials(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in sim.source_env().items():
        monkeypatch.setenv(name, value)


def seed(db_path: Path, numbers: tuple[str, ...], courier: str | None = None) -> None:
    header = ["order_id", "tracking_number", "shipped_at"]
    rows = [
        (i + 2, {"order_id": f"o{i}", "tracking_number": n, "shipped_at": "2026-11-01"})
        for i, n in enumerate(numbers)
    ]
    with Store.open(db_path) as store:
        assert not import_rows(store, header, rows).rejected
        if courier:
            store.conn.execute("UPDATE shipments SET courier = ?", [courier])


def settings(sim: Simulator, *sources: str, **extra: object) -> object:
    tables = {}
    for name in sources:
        table = {}
        for line in sim.source_table(name).splitlines()[1:]:
            key, _, value = line.partition(" = ")
            table[key] = value.strip('"')
        table["requests_per_second"] = 50
        tables[name] = {**table, **extra.get(name, {})}  # type: ignore[dict-item]
    return settings_from_dict({"sources": tables, "routing": {"default": list(sources)}})


def test_usps_polls_with_one_token_and_keeps_it_out_of_the_evidence(
    db_path: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    seed(db_path, USPS_NUMBERS)
    caplog.set_level(logging.DEBUG)
    report = run_poll(db_path, settings(sim, "usps"), all_shipments=True)  # type: ignore[arg-type]
    assert report.exit_code == 0, report.summary_lines()
    summary = report.sources["usps"]
    assert summary.count("ok") == 3 and summary.new_events > 0
    assert sim.counts() == {"usps:token": 1, "usps:track": 1}
    with Store.open(db_path) as store:
        ops = store.query("SELECT operation, outcome, body_sha256 FROM polls ORDER BY poll_id")
        assert ops == [("token", "ok", None), ("track", "ok", ops[1][2])]
        bodies = store.query("SELECT body FROM raw_documents")
        delivered = store.query(
            "SELECT city, postcode, source FROM events e JOIN shipments s USING (shipment_id) "
            "WHERE s.tracking_number = ? AND e.status = 'delivered'",
            [USPS_NUMBERS[0]],
        )
    assert delivered == [("AUSTIN", "73301", "usps")]
    tokens = list(sim.endpoints["usps"].oauth._tokens)  # type: ignore[attr-defined]
    assert len(tokens) == 1
    import zlib

    for (body,) in bodies:
        assert tokens[0].encode() not in zlib.decompress(body)
    assert tokens[0] not in caplog.text and "simulator-usps-secret" not in caplog.text
    # A second run: a new client, a new token (tokens live in memory only).
    run_poll(db_path, settings(sim, "usps"), all_shipments=True)  # type: ignore[arg-type]
    assert sim.count("usps:token") == 2


def test_usps_refreshes_the_token_once_on_a_401(db_path: Path, sim: Simulator) -> None:
    seed(db_path, USPS_NUMBERS)
    config = settings(sim, "usps", usps={"batch_size": 1})
    # The first call gets a token; the simulator then forgets every token issued.
    sim.add_fault(Fault("error", status=401, count=1, endpoint="usps:track"))
    report = run_poll(db_path, config, all_shipments=True)  # type: ignore[arg-type]
    assert report.exit_code == 0, report.summary_lines()
    assert sim.count("usps:token") == 2
    assert report.sources["usps"].count("ok") == 3


def test_usps_wrong_client_secret_stops_the_source(
    db_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db_path, USPS_NUMBERS)
    monkeypatch.setenv("PARCELPROOF_SIM_USPS_CLIENT_SECRET", "wrong")
    report = run_poll(db_path, settings(sim, "usps"), all_shipments=True)  # type: ignore[arg-type]
    assert report.exit_code == 1
    assert "client id or secret refused" in (report.sources["usps"].stopped or "")
    assert sim.count("usps:track") == 0


def test_usps_without_credentials_is_not_used(
    db_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db_path, USPS_NUMBERS[:1])
    monkeypatch.delenv("PARCELPROOF_SIM_USPS_CLIENT_ID")
    config = settings_from_dict(
        {
            "sources": {
                "usps": {
                    "base_url": sim.base_url_for("usps"),
                    "client_id_env": "PARCELPROOF_SIM_USPS_CLIENT_ID",
                    "client_secret_env": "PARCELPROOF_SIM_USPS_CLIENT_SECRET",
                },
                "cainiao": {"base_url": sim.base_url_cainiao},
            },
            "routing": {"default": ["usps", "cainiao"]},
        }
    )
    report = run_poll(db_path, config, all_shipments=True)
    assert (
        "[sources.usps] has no client credentials (set PARCELPROOF_SIM_USPS_CLIENT_ID and "
        "PARCELPROOF_SIM_USPS_CLIENT_SECRET); source not used"
    ) in report.warnings
    assert set(report.sources) == {"cainiao"}


@pytest.mark.parametrize(
    "fault",
    [
        Fault("429", count=1, endpoint="usps:track", retry_after=0),
        Fault("error", status=503, count=1, endpoint="usps:track"),
        Fault("truncate", count=1, endpoint="usps:track"),
        Fault("html", count=1, endpoint="usps:track"),
    ],
)
def test_usps_survives_the_standard_faults(db_path: Path, sim: Simulator, fault: Fault) -> None:
    seed(db_path, USPS_NUMBERS)
    sim.add_fault(fault)
    run_poll(db_path, settings(sim, "usps"), all_shipments=True)  # type: ignore[arg-type]
    sim.clear_faults()
    report = run_poll(db_path, settings(sim, "usps"), all_shipments=True)  # type: ignore[arg-type]
    assert report.sources["usps"].count("ok") == 3


def test_dhl_polls_one_number_a_call_and_answers_not_found(db_path: Path, sim: Simulator) -> None:
    seed(db_path, ("00340434161094042557", "JJD000390007827612345"), courier="dhl")
    config = settings(sim, "dhl", dhl={"service": "parcel-de"})
    report = run_poll(db_path, config, all_shipments=True)  # type: ignore[arg-type]
    summary = report.sources["dhl"]
    assert (summary.count("ok"), summary.count("not_found"), summary.requests) == (1, 1, 2)
    with Store.open(db_path) as store:
        zones = store.query("SELECT status, tz_known FROM events ORDER BY occurred_at")
        urls = store.query("SELECT url FROM polls")
    assert zones == [("info_received", True), ("out_for_delivery", False), ("delivered", True)]
    assert all("simulator-dhl-key" not in u for (u,) in urls)
    assert all("service=parcel-de" in u for (u,) in urls)


def test_dhl_daily_quota_stops_the_source(db_path: Path, sim: Simulator) -> None:
    seed(db_path, ("00340434161094042557", "JJD000390007827612345"), courier="dhl")
    config = settings(sim, "dhl", dhl={"daily_quota": 1})
    report = run_poll(db_path, config, all_shipments=True)  # type: ignore[arg-type]
    summary = report.sources["dhl"]
    assert "daily quota of 1 requests used up" in (summary.stopped or "")
    assert sim.count("dhl:shipments") == 1
    # Counted from polls: the next run the same day sends nothing to DHL.
    again = run_poll(db_path, config, all_shipments=True)  # type: ignore[arg-type]
    assert again.sources["dhl"].stopped and sim.count("dhl:shipments") == 1
    sim.set_source_quota("dhl", 0)
    fresh = settings(sim, "dhl", dhl={"daily_quota": 100})
    stopped = run_poll(db_path, fresh, all_shipments=True)  # type: ignore[arg-type]
    assert "00:00 GMT" in (stopped.sources["dhl"].stopped or "")
