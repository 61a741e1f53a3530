"""USPS, UPS, FedEx and DHL end to end against the loopback simulator (issue 13.1-13.3).

The tables hold only ``base_url`` and the names of the credential variables, as
a user's would. OAuth2: one token for the run, a fresh one once after a 401, the
token never in a log line, a poll row or a stored body.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from collector.config import settings_from_dict
from collector.importer import import_rows
from collector.poll import run_poll
from collector.simulator import Fault, Simulator, serve_in_thread
from collector.simulator.model import scenarios_from_dict
from collector.store import Store

DHL_NUMBERS = ("00340434161094042557",)
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


US_DOC = {
    "carriers": {
        "ups": {"key": 100002, "name": "UPS", "country": "US"},
        "fedex": {"key": 100003, "name": "FedEx", "country": "US"},
    },
    "places": {
        "wayne": {
            "city": "Wayne",
            "state": "NJ",
            "country": "US",
            "postal_code": "07470",
            "zone": "America/New_York",
        },
        "brooklyn": {
            "city": "Brooklyn",
            "state": "NY",
            "country": "US",
            "postal_code": "11201",
            "zone": "America/New_York",
        },
    },
    "scenarios": [
        {
            "number": number,
            "destination": "US",
            "carriers": [carrier],
            "events": [
                {"at": "2026-11-10T09:15:02-05:00", "kind": "info_received", "place": "wayne"},
                {"at": "2026-11-11T18:00:00-05:00", "kind": "picked_up", "place": "wayne"},
                {
                    "at": "2026-11-13T06:15:00-05:00",
                    "kind": "out_for_delivery",
                    "place": "brooklyn",
                    "zone_known": False,
                },
                {"at": "2026-11-13T14:33:12-05:00", "kind": "delivered", "place": "brooklyn"},
            ],
        }
        for number, carrier in (
            ("1Z5R89390357567127", "ups"),
            ("986578788855", "fedex"),
            ("041441760228964", "fedex"),
        )
    ],
}
UPS_NUMBERS = ("1Z5R89390357567127", "1Z12345E0205271688")
FEDEX_NUMBERS = ("986578788855", "041441760228964", "477179081230")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with serve_in_thread() as simulator:
        simulator.add_scenarios(scenarios_from_dict(DHL_DOC))
        simulator.add_scenarios(scenarios_from_dict(US_DOC))
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


def _evidence(db_path: Path) -> tuple[list[tuple[str, str]], bytes]:
    import zlib

    with Store.open(db_path) as store:
        ops = store.query("SELECT operation, outcome FROM polls ORDER BY poll_id")
        bodies = b"".join(
            zlib.decompress(b) for (b,) in store.query("SELECT body FROM raw_documents")
        )
    return ops, bodies


def test_ups_polls_one_number_a_call_with_basic_client_auth(
    db_path: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    seed(db_path, UPS_NUMBERS)
    caplog.set_level(logging.DEBUG)
    report = run_poll(db_path, settings(sim, "ups"), all_shipments=True)  # type: ignore[arg-type]
    assert report.exit_code == 0, report.summary_lines()
    summary = report.sources["ups"]
    assert (summary.count("ok"), summary.count("not_found")) == (1, 1)
    # One token (HTTP Basic, as UPS requires), one call per number, each with its
    # own transId: the simulator answers 400 without transId/transactionSrc.
    assert sim.counts() == {"ups:token": 1, "ups:details": 2}
    ops, bodies = _evidence(db_path)
    assert ops == [("token", "ok"), ("details", "ok"), ("details", "not_found")]
    token = next(iter(sim.endpoints["ups"].oauth._tokens))  # type: ignore[attr-defined]
    assert token.encode() not in bodies and token not in caplog.text
    assert "simulator-ups-secret" not in caplog.text
    with Store.open(db_path) as store:
        rows = store.query(
            "SELECT status, tz_known, postcode, source FROM events ORDER BY occurred_at"
        )
    assert rows == [
        ("info_received", True, "07470", "ups"),
        ("in_transit", True, "07470", "ups"),
        ("out_for_delivery", False, "11201", "ups"),
        ("delivered", True, "11201", "ups"),
    ]


def test_fedex_polls_a_batch_in_one_call_and_answers_not_found_per_number(
    db_path: Path, sim: Simulator
) -> None:
    seed(db_path, FEDEX_NUMBERS)
    report = run_poll(db_path, settings(sim, "fedex"), all_shipments=True)  # type: ignore[arg-type]
    assert report.exit_code == 0, report.summary_lines()
    summary = report.sources["fedex"]
    # Two requests: the token and one call for the three numbers.
    assert (summary.count("ok"), summary.count("not_found"), summary.requests) == (2, 1, 2)
    assert sim.counts() == {"fedex:token": 1, "fedex:trackingnumbers": 1}
    with Store.open(db_path) as store:
        delivered = store.query(
            "SELECT s.tracking_number, e.city, e.postcode FROM events e "
            "JOIN shipments s USING (shipment_id) WHERE e.status = 'delivered' ORDER BY 1"
        )
    assert delivered == [
        ("041441760228964", "Brooklyn", "11201"),
        ("986578788855", "Brooklyn", "11201"),
    ]


def test_fedex_daily_quota_429_stops_the_source_until_its_reset(
    db_path: Path, sim: Simulator
) -> None:
    seed(db_path, FEDEX_NUMBERS)
    sim.set_source_quota("fedex", 0)
    config = settings(sim, "fedex", fedex={"batch_size": 1})
    report = run_poll(db_path, config, all_shipments=True)  # type: ignore[arg-type]
    stopped = report.sources["fedex"].stopped or ""
    assert "FedEx daily transaction quota exceeded" in stopped and "00:00 GMT" in stopped
    # Not retried; batches already in flight may have been answered the same way,
    # but once the 429 is read nothing more is sent, in this run or the next.
    sent = sim.count("fedex:trackingnumbers")
    assert 1 <= sent <= 3 and report.exit_code == 1
    again = run_poll(db_path, config, all_shipments=True)  # type: ignore[arg-type]
    assert "answered earlier today" in (again.sources["fedex"].stopped or "")
    assert sim.count("fedex:trackingnumbers") == sent


def test_fedex_in_flight_batches_stop_at_the_quota_answer(db_path: Path, sim: Simulator) -> None:
    seed(db_path, FEDEX_NUMBERS)
    sim.set_source_quota("fedex", 0)
    # One batch at a time (a rate of 1/s leaves one request in flight at a time).
    config = settings(sim, "fedex", fedex={"batch_size": 1, "requests_per_second": 1})
    report = run_poll(db_path, config, all_shipments=True)  # type: ignore[arg-type]
    assert "00:00 GMT" in (report.sources["fedex"].stopped or "")
    assert sim.count("fedex:trackingnumbers") == 1


@pytest.mark.parametrize("name", ["ups", "fedex", "dhl"])
@pytest.mark.parametrize(
    "fault",
    [
        Fault("429", count=1, retry_after=0),
        Fault("error", status=503, count=1),
        Fault("truncate", count=1),
        Fault("html", count=1),
        Fault("huge", count=1),
    ],
    ids=["429", "503", "truncate", "html", "huge"],
)
def test_direct_sources_survive_the_standard_faults(
    db_path: Path, sim: Simulator, name: str, fault: Fault
) -> None:
    numbers = {"ups": UPS_NUMBERS[:1], "fedex": FEDEX_NUMBERS[:1], "dhl": DHL_NUMBERS}[name]
    seed(db_path, numbers, courier=name)
    endpoint = {"ups": "ups:details", "fedex": "fedex:trackingnumbers", "dhl": "dhl:shipments"}
    sim.add_fault(replace(fault, endpoint=endpoint[name]))
    first = run_poll(db_path, settings(sim, name), all_shipments=True)  # type: ignore[arg-type]
    sim.clear_faults()
    report = run_poll(db_path, settings(sim, name), all_shipments=True)  # type: ignore[arg-type]
    assert report.sources[name].count("ok") == 1, (first.summary_lines(), report.summary_lines())


def test_the_four_carriers_poll_from_tables_of_base_url_and_variable_names(
    db_path: Path, sim: Simulator, tmp_path: Path
) -> None:
    # The toml the user writes: per source only base_url and the variables' names,
    # every limit at the carrier's documented default (USPS: 60 an hour, so one call).
    from collector.config import load_settings

    numbers = (USPS_NUMBERS[0], UPS_NUMBERS[0], FEDEX_NUMBERS[0], DHL_NUMBERS[0])
    seed(db_path, numbers)
    with Store.open(db_path) as store:
        store.conn.execute(
            "UPDATE shipments SET courier = 'dhl' WHERE tracking_number = ?", [DHL_NUMBERS[0]]
        )
    names = ("usps", "ups", "fedex", "dhl")
    toml = sim.config_toml(sources=names) + (
        '\n[routing]\nusps = ["usps"]\nups = ["ups"]\nfedex = ["fedex"]\ndhl = ["dhl"]\n'
    )
    tables = [block for block in toml.split("\n\n") if block.startswith("[sources.")]
    for block in tables[2:]:
        keys = {line.split(" = ")[0] for line in block.splitlines()[1:]}
        assert keys <= {"base_url", "api_key_env", "client_id_env", "client_secret_env"}
    path = tmp_path / "parcelproof.toml"
    path.write_text(toml, encoding="utf-8")
    report = run_poll(db_path, load_settings(path), all_shipments=True)
    assert report.exit_code == 0, report.summary_lines()
    assert {name: report.sources[name].count("ok") for name in names} == dict.fromkeys(names, 1)
    with Store.open(db_path) as store:
        sources = store.query(
            "SELECT s.tracking_number, e.source FROM events e JOIN shipments s "
            "USING (shipment_id) WHERE e.status = 'delivered' ORDER BY e.source"
        )
    assert sources == [
        (DHL_NUMBERS[0], "dhl"),
        (FEDEX_NUMBERS[0], "fedex"),
        (UPS_NUMBERS[0], "ups"),
        (USPS_NUMBERS[0], "usps"),
    ]
