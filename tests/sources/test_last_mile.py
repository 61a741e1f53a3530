"""The last mile followed to the carrier that delivers (issue 13.4).

Cainiao hands an AliExpress parcel to USPS (``realMailNo``, ``destCpInfo``): the
handover is recorded with the poll that said it, USPS's own source is asked about
the last-mile number in the same run, both records land in one timeline, and the
USPS delivery scan (its ZIP, not the destination's) settles ``delivered_elsewhere``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.config import settings_from_dict
from collector.importer import import_rows
from collector.poll import run_poll
from collector.simulator import Simulator, serve_in_thread
from collector.simulator.model import scenarios_from_dict
from collector.store import Store

FIRST_MILE = "LP00246813579024"
LAST_MILE = "9400111206206406131001"

DOC = {
    "carriers": {
        "cainiao": {"key": 190271, "name": "Cainiao", "country": "CN", "cainiao": "CAINIAO"},
        "usps": {"key": 21051, "name": "USPS", "country": "US", "cainiao": "USPS"},
    },
    "places": {
        "yiwu": {"city": "Yiwu", "country": "CN", "zone": "Asia/Shanghai"},
        "jamaica-ny": {
            "city": "Jamaica",
            "state": "NY",
            "postal_code": "11430",
            "country": "US",
            "zone": "America/New_York",
        },
        "jersey-city": {
            "city": "Jersey City",
            "state": "NJ",
            "postal_code": "07097",
            "country": "US",
            "zone": "America/New_York",
        },
    },
    "scenarios": [
        {
            "number": FIRST_MILE,
            "destination": "US",
            "carriers": ["cainiao", "usps"],
            "last_mile_number": LAST_MILE,
            "events": [
                {"at": "2026-11-02T10:00:00+08:00", "kind": "picked_up", "place": "yiwu"},
                {
                    "at": "2026-11-09T08:00:00-05:00",
                    "kind": "handover_last_mile",
                    "place": "jamaica-ny",
                    "leg": 0,
                },
                {
                    "at": "2026-11-10T09:00:00-05:00",
                    "kind": "arrived_facility",
                    "place": "jamaica-ny",
                },
                {
                    "at": "2026-11-12T07:30:00-05:00",
                    "kind": "out_for_delivery",
                    "place": "jersey-city",
                },
                {"at": "2026-11-12T13:05:00-05:00", "kind": "delivered", "place": "jersey-city"},
            ],
        }
    ],
}


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with serve_in_thread() as simulator:
        simulator.add_scenarios(scenarios_from_dict(DOC))
        for name, value in simulator.source_env().items():
            monkeypatch.setenv(name, value)
        yield simulator


def settings(sim: Simulator, usps: bool = True) -> object:
    tables: dict[str, object] = {"cainiao": {"base_url": sim.base_url_cainiao}}
    if usps:
        tables["usps"] = {
            "base_url": sim.base_url_for("usps"),
            "client_id_env": "PARCELPROOF_SIM_USPS_CLIENT_ID",
            "client_secret_env": "PARCELPROOF_SIM_USPS_CLIENT_SECRET",
            "requests_per_second": 20,
        }
    return settings_from_dict(
        {"sources": tables, "routing": {"default": ["cainiao"], "usps": ["usps", "cainiao"]}}
    )


def seed(db_path: Path) -> None:
    header = [
        "order_id",
        "tracking_number",
        "shipped_at",
        "destination_country",
        "destination_postcode",
        "destination_city",
    ]
    row = {
        "order_id": "AE-1",
        "tracking_number": FIRST_MILE,
        "shipped_at": "2026-11-01",
        "destination_country": "US",
        "destination_postcode": "11201",
        "destination_city": "Brooklyn",
    }
    with Store.open(db_path) as store:
        assert not import_rows(store, header, [(2, row)]).rejected


def test_handover_is_recorded_and_followed_to_usps_in_the_same_run(
    db_path: Path, sim: Simulator
) -> None:
    seed(db_path)
    report = run_poll(db_path, settings(sim), all_shipments=True)  # type: ignore[arg-type]
    assert report.exit_code == 0, report.summary_lines()
    assert sim.counts() == {"cainiao": 1, "usps:token": 1, "usps:track": 1}
    with Store.open(db_path) as store:
        handover = store.query(
            "SELECT h.last_mile_number, h.carrier_text, h.courier, h.source, p.source, "
            "p.operation FROM last_mile_handovers h JOIN polls p USING (poll_id)"
        )
        timeline = store.query(
            "SELECT source, status, postcode FROM events WHERE status = 'delivered' ORDER BY source"
        )
        state = store.query("SELECT status, delivery_postcode, delivery_city FROM tracking_state")
        asked = store.query(
            "SELECT p.source, r.tracking_number FROM poll_results r JOIN polls p "
            "USING (poll_id) ORDER BY p.poll_id"
        )
    # The evidence it came from: Cainiao's detail.json answer.
    assert handover == [(LAST_MILE, "USPS", "usps", "cainiao", "cainiao", "detail")]
    # One timeline, each event with its source; the carrier's scan carries the ZIP.
    assert ("usps", "delivered", "07097") in timeline
    assert {s for s, _, _ in timeline} == {"cainiao", "usps"}
    assert state == [("delivered", "07097", "JERSEY CITY")]
    assert asked == [("cainiao", FIRST_MILE), ("usps", LAST_MILE)]


def test_once_the_carrier_answered_the_first_mile_is_not_asked_again(
    db_path: Path, sim: Simulator
) -> None:
    seed(db_path)
    run_poll(db_path, settings(sim), all_shipments=True)  # type: ignore[arg-type]
    again = run_poll(db_path, settings(sim), all_shipments=True)  # type: ignore[arg-type]
    assert again.exit_code == 0, again.summary_lines()
    assert sim.count("cainiao") == 1 and sim.count("usps:track") == 2


def test_without_the_carriers_source_the_aggregator_keeps_the_parcel(
    db_path: Path, sim: Simulator
) -> None:
    seed(db_path)
    run_poll(db_path, settings(sim, usps=False), all_shipments=True)  # type: ignore[arg-type]
    run_poll(db_path, settings(sim, usps=False), all_shipments=True)  # type: ignore[arg-type]
    assert sim.count("cainiao") == 2 and sim.count("usps:track") == 0
    with Store.open(db_path) as store:
        assert store.query("SELECT courier FROM last_mile_handovers") == [("usps",)]


def test_delivered_elsewhere_is_flagged_from_the_usps_record(db_path: Path, sim: Simulator) -> None:
    from analysis.flags import evaluate_flags
    from collector.config import Settings

    seed(db_path)
    run_poll(db_path, settings(sim), all_shipments=True)  # type: ignore[arg-type]
    with Store.open(db_path) as store:
        flags = evaluate_flags(store, datetime(2026, 11, 28, 12, tzinfo=UTC), Settings())
        codes = flags.current.filter(flags.current["code"] == "delivered_elsewhere")
        detail = codes["detail"].to_list()
    assert len(detail) == 1 and "07097" in detail[0], detail


def test_the_carriers_own_delivery_scan_wins_over_an_aggregators_later_copy(
    tmp_path: Path,
) -> None:
    # An aggregator's copy of the delivery, later and without a place, must not hide
    # the carrier's own scan with its ZIP (whatever the keys' order).
    from collector.store.state import refresh_event_digest

    with Store.open(tmp_path / "t.duckdb") as store:
        conn = store.conn
        conn.execute(
            "INSERT INTO tracking_state (shipment_id, status, updated_at) "
            "VALUES (1, 'delivered', now())"
        )
        for key, source, minute, postcode in (
            ("zzzz", "usps", 5, "07097"),
            ("aaaa", "cainiao", 9, None),
        ):
            conn.execute(
                "INSERT INTO events (shipment_id, event_key, occurred_at, tz_known, status, "
                "postcode, source, first_poll_id, recorded_at) VALUES (1, ?, ?, true, "
                "'delivered', ?, ?, 1, now())",
                [key, datetime(2026, 11, 12, 18, minute, tzinfo=UTC), postcode, source],
            )
        refresh_event_digest(conn)
        assert store.query("SELECT delivery_postcode, delivery_event_key FROM tracking_state") == [
            ("07097", "zzzz")
        ]


def test_a_last_mile_number_named_in_a_handover_event_is_followed(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DHL's answer has no handover field: its event text names the USPS number.
    first, last = "JJD000390007827612399", "9400111206206406131001"
    doc = {
        "carriers": {
            "dhl": {"key": 100001, "name": "DHL Paket", "country": "DE"},
            "usps": {"key": 21051, "name": "USPS", "country": "US"},
        },
        "places": DOC["places"],
        "scenarios": [
            {
                "number": first,
                "destination": "US",
                "carriers": ["dhl", "usps"],
                "last_mile_number": last,
                "events": [
                    {"at": "2026-11-02T10:00:00+08:00", "kind": "picked_up", "place": "yiwu"},
                    {
                        "at": "2026-11-09T08:00:00-05:00",
                        "kind": "handover_last_mile",
                        "place": "jamaica-ny",
                        "leg": 0,
                        "desc": f"Shipment handed over to USPS, tracking number {last}",
                    },
                    {
                        "at": "2026-11-12T13:05:00-05:00",
                        "kind": "delivered",
                        "place": "jersey-city",
                    },
                ],
            }
        ],
    }
    with serve_in_thread() as sim:
        sim.add_scenarios(scenarios_from_dict(doc))
        for name, value in sim.source_env().items():
            monkeypatch.setenv(name, value)
        header = ["order_id", "tracking_number", "shipped_at"]
        with Store.open(db_path) as store:
            import_rows(
                store,
                header,
                [(2, {"order_id": "D1", "tracking_number": first, "shipped_at": "2026-11-01"})],
            )
            store.conn.execute("UPDATE shipments SET courier = 'dhl'")
        tables = {
            name: {
                k: v.strip('"')
                for k, _, v in (
                    line.partition(" = ") for line in sim.source_table(name).splitlines()[1:]
                )
            }
            | {"requests_per_second": 20}
            for name in ("dhl", "usps")
        }
        config = settings_from_dict(
            {"sources": tables, "routing": {"dhl": ["dhl"], "usps": ["usps"]}}
        )
        report = run_poll(db_path, config, all_shipments=True)
        assert report.exit_code == 0, report.summary_lines()
        assert sim.count("usps:track") == 1
    with Store.open(db_path) as store:
        assert store.query(
            "SELECT last_mile_number, carrier_text, courier, source FROM last_mile_handovers"
        ) == [(last, "USPS", "usps", "dhl")]
        assert store.query("SELECT delivery_postcode FROM tracking_state") == [("07097",)]
