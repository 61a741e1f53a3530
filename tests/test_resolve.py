"""The one resolver of user-given ids (issue 11.2): order id, number, shipment id."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.errors import NotFoundError
from collector.resolve import AmbiguousId, resolve_shipments
from collector.store import Store
from tests.conftest import run_cli
from tests.flags.builder import World


@pytest.fixture
def world() -> World:
    store = Store.open(":memory:")
    w = World(store)
    w.shipment("8101203344552", "RB123456785GB")
    w.shipment("8101203344552", "LP00123456789012")  # one order, two numbers
    w.shipment("EB-1", "UB123456785CN")
    w.shipment("EB-2", "UB123456785CN")  # one number, two orders
    w.shipment("LE703159285NL", "LP00000000000009")  # an order id that is a number...
    w.shipment("O-9", "LE703159285NL")  # ... of another shipment
    return w


def _ids(world: World, *given: str) -> list[tuple[str, str]]:
    found = resolve_shipments(world.store, given)
    rows = dict(world.store.query("SELECT shipment_id, order_id FROM shipments"))
    numbers = dict(world.store.query("SELECT shipment_id, tracking_number FROM shipments"))
    return [(rows[i], numbers[i]) for i in found.shipment_ids]


def test_a_number_is_found_however_it_is_written(world: World) -> None:
    assert _ids(world, "rb 1234-5678.5 gb") == [("8101203344552", "RB123456785GB")]
    assert _ids(world, "number:lp0012 3456 7890 12") == [("8101203344552", "LP00123456789012")]


def test_an_order_with_two_numbers_gives_both_and_says_so(world: World) -> None:
    found = resolve_shipments(world.store, ["8101203344552"])
    assert len(found.shipment_ids) == 2
    assert found.notes == [
        "order 8101203344552 has 2 tracking numbers (LP00123456789012, RB123456785GB): all used"
    ]


def test_a_number_on_two_orders_gives_both_and_says_so(world: World) -> None:
    found = resolve_shipments(world.store, ["UB123456785CN"])
    assert [m.order_id for m in found.matches] == ["EB-1", "EB-2"]
    assert found.notes == ["tracking number UB123456785CN is on 2 orders (EB-1, EB-2): all used"]


def test_an_order_id_that_is_another_shipments_number_is_ambiguous(world: World) -> None:
    with pytest.raises(AmbiguousId) as caught:
        resolve_shipments(world.store, ["LE703159285NL"])
    assert str(caught.value) == (
        "'LE703159285NL' is ambiguous: the order id of LE703159285NL/LP00000000000009 and the "
        "tracking number of O-9/LE703159285NL; write order:LE703159285NL or "
        "number:LE703159285NL"
    )
    assert _ids(world, "order:LE703159285NL") == [("LE703159285NL", "LP00000000000009")]
    assert _ids(world, "number:LE703159285NL") == [("O-9", "LE703159285NL")]


def test_shipment_ids_and_unknown_ids(world: World) -> None:
    assert _ids(world, "#3", "shipment:4") == [("EB-1", "UB123456785CN"), ("EB-2", "UB123456785CN")]
    assert _ids(world, "3") == [("EB-1", "UB123456785CN")]  # digits nothing else matches
    with pytest.raises(NotFoundError, match=r"shipment id 'nope', '#99'$"):
        resolve_shipments(world.store, ["nope", "EB-1", "#99"])


def test_poll_and_report_use_the_resolver(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    with Store.open(db) as store:
        w = World(store)
        w.shipment("LE703159285NL", "LP00000000000009")
        w.shipment("O-9", "LE703159285NL")
    for command in (("poll", "--shipment", "LE703159285NL"), ("report", "LE703159285NL")):
        result = run_cli("--db", str(db), *command)
        assert result.exit_code == 1, result.output
        assert "'LE703159285NL' is ambiguous" in result.output, command
    result = run_cli("--db", str(db), "poll", "--shipment", "nothing-like-it")
    assert result.exit_code == 1
    assert "no shipment has the order id, tracking number or shipment id" in result.output
