"""analysis.frames over the sample orders with known histories (tests/sample_db.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from analysis import frames
from collector import clock
from collector.errors import StoreError
from collector.store import Store
from collector.store.writes import set_archived
from tests.sample_db import NOW, build_sample_db


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_db(tmp_path_factory.mktemp("frames") / "sample.duckdb")


def row(frame: pl.DataFrame, number: str, **where: object) -> dict[str, object]:
    rows = frame.filter(pl.col("tracking_number") == number)
    for key, value in where.items():
        rows = rows.filter(pl.col(key) == value)
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def test_base_tables_keep_their_types(db: Path) -> None:
    ships = frames.shipments(db)
    assert ships.height == 25
    assert ships.schema["shipped_at"] == pl.Datetime("us", "UTC")
    assert ships.schema["amount"] == pl.Decimal(14, 2)
    assert row(ships, "UB123456785CN")["amount"] == Decimal("23.80")
    evs = frames.events(db)
    assert evs.columns[:3] == ["order_id", "tracking_number", "store"]
    # Two orders share CE119832745CN, so its five events appear once per order.
    assert evs.height == sum(map(len, _histories().values())) + 5
    ordered = frames.events(db, ordered=True)
    assert ordered.sort("shipment_id", "occurred_at").equals(ordered)
    assert ordered.height == evs.height
    assert frames.polls(db).schema["numbers"] == pl.List(pl.String)
    assert frames.tracking_state(db).height == 25


def _histories() -> dict[str, list[object]]:
    from tests.sample_db import HISTORIES

    return dict(HISTORIES)  # type: ignore[arg-type]


def test_flags_history_and_open_only(db: Path) -> None:
    every = frames.flags(db)
    assert every.height == 5
    open_ = frames.flags(db, open_only=True)
    assert set(open_["code"]) == {"stalled", "invalid_number", "overdue"}
    assert "UB123456785CN" not in open_["tracking_number"].to_list()


def test_filters_select_shipments(db: Path) -> None:
    yiwu = frames.shipments(db, store="Yiwu Home Official")
    assert yiwu.height == 6
    two = frames.shipments(db, store=["Yiwu Home Official", "Fashion Plus Co."])
    assert two.height == 10
    # Case-insensitive, on the declared carrier.
    assert frames.shipments(db, carrier="cainiao").height == 4
    assert frames.shipments(db, carrier=["USPS", "ups"]).height == 6
    # Events follow the shipments they belong to.
    assert set(frames.events(db, carrier="CAINIAO")["store"]) <= {
        "Yiwu Home Official",
        "MiniParts Factory Store",
    }
    # ordered_at is the default field; a bare `until` includes its whole day.
    nov = frames.shipments(db, since="2026-11-01", until="2026-11-06")
    assert sorted(nov["order_id"]) == [
        "8101203344553",  # 2026-11-06T11:02+08:00: inside the last day
        "8101203344564",
        "8101203344569",
        "8101203344570",
        "8101203344573",
        "EB-23-09876-55401",
    ]
    shipped = frames.shipments(
        db, since=date(2026, 11, 25), date_field="shipped_at", until=datetime(2026, 12, 1)
    )
    assert shipped["tracking_number"].to_list() == ["LP00555666777888"]
    with pytest.raises(ValueError, match="date_field"):
        frames.shipments(db, date_field="created_at")  # type: ignore[typeddict-item]


def test_archived_shipments_are_left_out_unless_asked(tmp_path: Path) -> None:
    path = build_sample_db(tmp_path / "a.duckdb")
    with Store.open(path) as store:
        outlet = store.query("SELECT shipment_id FROM shipments WHERE store = 'gadgetworld-outlet'")
        set_archived(store, [int(r[0]) for r in outlet], archived=True, now=NOW)
        assert frames.shipments(store).height == 24
        assert frames.shipments(store, include_archived=True).height == 25
        assert "gadgetworld-outlet" not in frames.store_scorecard(store, now=NOW)["store"]


def test_transit_legs(db: Path) -> None:
    t = frames.transit_times(db, now=NOW)
    ub = row(t, "UB123456785CN")
    # Shipped 2026-10-04 (a New York day: 04:00Z); first scan 10-05 02:00Z; the
    # "Arrived at destination country" event has no country; delivered 10-30 18:20Z.
    assert ub["first_scan_at"] == datetime(2026, 10, 5, 2, tzinfo=UTC)
    assert ub["arrived_destination_at"] == datetime(2026, 10, 12, 12, tzinfo=UTC)
    assert ub["delivered_at"] == datetime(2026, 10, 30, 18, 20, tzinfo=UTC)
    assert ub["handover_days"] == pytest.approx(22 / 24)
    assert ub["transit_days"] == pytest.approx(26 + 14.33333 / 24, abs=1e-4)
    assert ub["handover_days"] + ub["to_destination_days"] + ub["last_mile_days"] == (
        pytest.approx(ub["transit_days"])
    )
    assert (ub["origin_country"], ub["destination_country"]) == ("CN", "US")
    # Arrival known only from Cainiao's local-carrier code (no country on the event).
    lx = row(t, "LX593028170CN")
    assert lx["arrived_destination_at"] == datetime(2026, 11, 14, 9, tzinfo=UTC)
    assert lx["delivered_at"] is None and lx["transit_days"] is None
    # Domestic: the first scan is already in the destination country.
    usps = row(t, "9200190305014376214122")
    assert usps["origin_country"] == "US"
    assert usps["to_destination_days"] == 0
    # Delivered in Milano for an order to Portugal: it never arrived in PT.
    pt = row(t, "CE119832745CN", destination_country="PT")
    assert pt["arrived_destination_at"] is None and pt["delivered_at"] is not None
    # A number without events gets its origin from the S10 suffix.
    assert row(t, "LY839205143CN")["origin_country"] == "CN"
    assert row(t, "GARBAGE123")["origin_country"] is None


def test_recycled_number_is_not_plausible(db: Path) -> None:
    t = frames.transit_times(db, now=NOW)
    ups = row(t, "1Z4F8W310368260410")
    assert ups["plausible"] is False
    assert ups["transit_days"] < 0
    assert ups["on_time"] is False  # past the promise, and that delivery was not this order
    assert all(row(t, n)["plausible"] for n in ("UB123456785CN", "LP00123456789012"))


def test_on_time_is_judged_in_local_dates(db: Path) -> None:
    t = frames.transit_times(db, now=NOW)
    seattle = row(t, "1Z9AA293YW03482200")
    # 23:30 on the promised day in Seattle is 07:30Z the next day.
    assert seattle["delivered_at"] == datetime(2026, 11, 19, 7, 30, tzinfo=UTC)
    assert seattle["promised_date"] == date(2026, 11, 18)
    assert seattle["delivered_local_date"] == date(2026, 11, 18)
    assert seattle["on_time"] is True
    assert row(t, "RB640192835SG")["on_time"] is False  # overdue, not delivered
    assert row(t, "LE703159285NL")["on_time"] is None  # still inside its window


def test_last_activity_and_stalls(db: Path) -> None:
    a = frames.last_activity(db, now=NOW)
    stalled = a.filter("stalled")
    assert set(stalled["tracking_number"]) == {
        "LP00123456789012",  # the stalled scenario
        "772986123539",  # held in customs for three weeks
        "LP00987654321098",  # expired without delivery
    }
    lp = row(a, "LP00123456789012")
    assert lp["days_since_last_event"] == pytest.approx(35 + 14 / 24)
    assert lp["last_event_description"] == "Departed sorting center"
    assert lp["last_event_location"] == "Guangzhou, CN"
    assert lp["max_gap_days"] == pytest.approx(lp["days_since_last_event"])
    # Label only is not a stall; nor is a delivered parcel, however old.
    assert row(a, "YT2412345678901234")["stalled"] is False
    assert row(a, "YT2412345678901234")["max_gap_days"] is None
    assert row(a, "UB123456785CN")["stalled"] is False
    # A looser threshold finds more.
    assert frames.last_activity(db, now=NOW, stalled_days=5).filter("stalled").height > 3
    # Sorted: the quietest first.
    assert a["tracking_number"][0] == "LP00987654321098"


def test_lane_stats(db: Path) -> None:
    lanes = frames.lane_stats(db, now=NOW)
    assert lanes.columns[:3] == ["carrier", "origin_country", "destination_country"]
    assert {"transit_days_p50", "transit_days_p80", "transit_days_p95", "stall_rate"} <= set(
        lanes.columns
    )
    cn_us = lanes.filter(
        (pl.col("carrier") == "China Post") & (pl.col("destination_country") == "US")
    ).row(0, named=True)
    assert cn_us["shipments"] == 1 and cn_us["delivered"] == 1
    assert cn_us["transit_days_p50"] == pytest.approx(26.597, abs=1e-3)
    # The recycled UPS number is counted but not timed.
    ups = lanes.filter((pl.col("carrier") == "UPS") & (pl.col("origin_country") == "US"))
    assert ups["delivered"].item() == 1 and ups["transit_days_p50"].item() is None
    cainiao = frames.lane_stats(db, by="carrier", quantiles=[0.5, 0.999], now=NOW).filter(
        pl.col("carrier") == "Cainiao"
    )
    assert cainiao["shipments"].item() == 4
    assert cainiao["stalled"].item() == 2
    assert cainiao["stall_rate"].item() == pytest.approx(0.5)
    assert "transit_days_p99_9" in cainiao.columns
    with pytest.raises(ValueError, match="cannot group"):
        frames.lane_stats(db, by="tracking_number; DROP TABLE shipments")
    with pytest.raises(ValueError, match="quantile"):
        frames.lane_stats(db, quantiles=[50])


def test_store_scorecard(db: Path) -> None:
    card = frames.store_scorecard(db, now=NOW)
    assert card.height == 6
    shenzhen = card.filter(pl.col("store") == "Shenzhen Gadget Store").row(0, named=True)
    assert (shenzhen["on_time"], shenzhen["late"], shenzhen["pending"]) == (3, 0, 1)
    assert shenzhen["on_time_rate"] == 1.0
    tech = card.filter(pl.col("store") == "TechLife Direct Store").row(0, named=True)
    # Seattle on time; recycled UPS, FedEx customs and the failed delivery late;
    # the label-only parcel's promise is still ahead.
    assert (tech["on_time"], tech["late"], tech["pending"]) == (1, 3, 1)
    assert tech["label_only"] == 1
    mini = card.filter(pl.col("store") == "MiniParts Factory Store").row(0, named=True)
    # RR507128933CN, GARBAGE123 and LY839205143CN (never found) of five.
    assert mini["invalid"] + mini["not_found"] + mini["label_only"] == 3
    assert mini["invalid"] >= 2
    assert mini["bad_number_share"] == pytest.approx(0.6)
    # Every MiniParts parcel has some flag at now (reused number, delivered elsewhere...).
    assert mini["flagged"] == 5


def test_number_quality_agrees_with_the_flag_rules(db: Path) -> None:
    q = frames.number_quality(db, by="store", now=NOW)
    current = frames.current_flags(db, now=NOW)
    for code, column in (
        ("invalid_number", "invalid"),
        ("not_found", "not_found"),
        ("label_only", "label_only"),
    ):
        # Counted once each, in that order: a number both invalid and not found is invalid.
        flagged = current.filter(pl.col("code") == code)["shipment_id"].n_unique()
        assert q[column].sum() <= flagged
    assert q["invalid"].sum() == current.filter(pl.col("code") == "invalid_number").height
    mini = q.filter(pl.col("store") == "MiniParts Factory Store").row(0, named=True)
    assert mini["shipments"] == 5
    assert mini["bad_share"] == pytest.approx(0.6)
    by_carrier = frames.number_quality(db, by="carrier", now=NOW)
    yun = by_carrier.filter(pl.col("carrier") == "YunExpress").row(0, named=True)
    assert (yun["label_only"], yun["label_only_share"]) == (1, 0.5)
    # Too early to call: 2 days after shipping is within the label-only threshold.
    early = frames.number_quality(db, by="carrier", now=datetime(2026, 11, 10, tzinfo=UTC))
    assert early.filter(pl.col("carrier") == "YunExpress")["label_only"].item() == 0
    assert frames.number_quality(db, now=NOW).columns[:2] == ["store", "carrier"]


def test_current_flags_are_computed_not_read(db: Path) -> None:
    current = frames.current_flags(db, now=NOW)
    stored = frames.flags(db)
    # The stored history has five rows; the rules at now find many more.
    assert current.height > stored.height
    lp = current.filter(pl.col("tracking_number") == "LP00123456789012")
    assert "stalled" in lp["code"].to_list()
    yiwu = frames.current_flags(db, now=NOW, store="Yiwu Home Official")
    assert set(yiwu["store"]) == {"Yiwu Home Official"}
    # Thresholds come from the settings passed (or the configuration file).
    from collector.config import RulesConfig, Settings

    lax = Settings(rules=RulesConfig(stalled_days=60.0))
    lp_lax = frames.current_flags(db, now=NOW, settings=lax, store="Yiwu Home Official")
    assert (
        "stalled"
        not in lp_lax.filter(pl.col("tracking_number") == "LP00123456789012")["code"].to_list()
    )


def test_dispute_deadlines_for_triage(db: Path) -> None:
    d = frames.dispute_deadlines(db, now=NOW)
    assert d.height == 25
    assert {"action", "action_detail", "opens_at", "deadline", "days_left", "flags"} <= set(
        d.columns
    )
    # Most urgent first, then by deadline.
    assert d["urgency"].is_sorted(descending=True)
    top = d.filter(pl.col("action") == "open_dispute")
    assert top["deadline"].is_sorted()
    singapore = row(d, "RB640192835SG")
    assert singapore["action"] == "open_dispute"
    assert singapore["days_left"] == pytest.approx(3.04, abs=0.01)  # ends 2026-12-01 in Sydney
    assert "overdue" in singapore["flags"]
    assert row(d, "UB123456785CN")["action"] == "none"
    assert row(d, "LE703159285NL")["action"] == "wait"
    assert frames.dispute_deadlines(db, now=NOW, carrier="ups").height == 3


def test_accepts_a_connection_and_leaves_it_open(db: Path) -> None:
    conn = duckdb.connect(str(db), read_only=True)
    try:
        assert frames.shipments(conn).height == 25
        assert frames.events(conn).height > 0
        assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        conn.close()
    with frames.connect(db) as c:
        assert frames.store_scorecard(c, now=NOW).height == 6


def test_default_path_comes_from_the_environment(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCELPROOF_DB", str(db))
    assert frames.shipments().height == 25


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no database at .*parcelproof demo"):
        frames.shipments(tmp_path / "nope.duckdb")
    assert not (tmp_path / "nope.duckdb").exists()


def test_read_only_connection_is_closed_after_each_call(db: Path) -> None:
    frames.transit_times(db, now=NOW)
    # A writer can open the file at once: nothing is left holding it.
    with Store.open(db) as store:
        assert store.query("SELECT count(*) FROM shipments") == [(25,)]


def test_due_soon_counts_to_the_last_day_and_keeps_parcels_in_grace(tmp_path: Path) -> None:
    from tests.flags.builder import Ev, World

    path = tmp_path / "grace.duckdb"
    with Store.open(path) as store:
        world = World(store)
        # Protection ended 2 days before "now": past the deadline, but AliExpress takes
        # a refund request for its grace days after it, so there is still time.
        grace = world.shipment(
            "g1", "LP00123456789012", shipped_at="2026-10-01T00:00:00Z",
            promised_to="2026-10-25T00:00:00Z", protection_ends_at="2026-11-26T12:00:00Z",
        )  # fmt: skip
        world.events(grace, Ev("2026-10-02T10:00:00+08:00", "in_transit", "Accepted"))
        far = world.shipment(
            "f1", "LP00123456789013", shipped_at="2026-11-20T00:00:00Z",
            promised_to="2027-01-20T00:00:00Z",
        )  # fmt: skip
        world.events(far, Ev("2026-11-21T10:00:00+08:00", "in_transit", "Accepted"))
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    soon = frames.due_soon(path, within_days=14, now=now)
    assert soon["order_id"].to_list() == ["g1"]
    g1 = soon.row(0, named=True)
    assert g1["in_grace"] and g1["days_left"] < 0 < g1["days_to_last_day"] <= 14
    assert g1["action"] == "open_dispute"


def test_notebooks_take_now_where_the_cli_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.duckdb"
    Store.open(path).close()
    monkeypatch.delenv("PARCELPROOF_NOW", raising=False)
    before = datetime.now(UTC)
    assert frames.notebook_now(path) >= before  # never evaluated: the clock
    # An evaluation recorded by a command (here `flags` at a fixed instant) ...
    from tests.conftest import run_cli

    with Store.open(path) as store:
        from tests.flags.builder import World

        World(store).shipment(
            "o1", "N/A", courier=None, number_format=None, number_verdict="unknown"
        )
    assert run_cli("--db", str(path), "--now", "2026-11-28T12:00:00Z", "flags").exit_code == 0
    clock.set_now(None)  # the notebook is another process: only the database remembers
    assert frames.notebook_now(path) == datetime(2026, 11, 28, 12, tzinfo=UTC)
    # ... and PARCELPROOF_NOW over it, as for the command line.
    monkeypatch.setenv("PARCELPROOF_NOW", "2026-12-01T00:00:00Z")
    assert frames.notebook_now(path) == datetime(2026, 12, 1, tzinfo=UTC)


def test_small_samples_are_marked() -> None:
    assert frames.sample_size(1) == "1 parcel (small sample)"
    assert frames.sample_size(frames.SMALL_SAMPLE) == f"{frames.SMALL_SAMPLE} parcels"
