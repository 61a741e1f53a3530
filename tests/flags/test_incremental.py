"""Incremental flag evaluation gives what a full evaluation gives, row by row.

An evaluation records per shipment what it read (``flag_inputs``) and the next
instant a rule could change by time alone; the next one evaluates only what changed
since. The property test drives two stores through the same random history (new
orders, scans, answers, edits of an order, instants forward, equal and backward):
one evaluated incrementally, the other fully each time; the flags they report, what
they raise and clear, and the stored history must be identical.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import fields, replace
from datetime import timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from analysis.flags import Evaluation, compute_flags, evaluate_flags, rules_digest
from analysis.rules import RULES
from collector.config import RulesConfig, Settings
from collector.store import Store
from tests.flags.builder import Ev, T, World

BASE = T("2026-11-01T00:00:00Z")
NUMBERS = ("LP00123456789012", "LP00987654321098", "RR507128933CN")
STATUSES = (
    "info_received",
    "in_transit",
    "out_for_delivery",
    "available_for_pickup",
    "delivery_failed",
    "exception",
    "returning",
    "delivered",
)
PLACES = (("Madrid", "ES", "28013"), ("Paris", "FR", "75001"), ("Guangzhou", "CN", None))
HISTORY = (
    "SELECT flag_id, shipment_id, code, severity, raised_at, confirmed_at, cleared_at, "
    "threshold, detail, evidence::VARCHAR, began_at, template, age_from, age_kind "
    "FROM flags ORDER BY flag_id"
)


def at(hours: int) -> str:
    return (BASE + timedelta(hours=hours)).isoformat()


hours = st.integers(min_value=-40 * 24, max_value=60 * 24)
day_hours = st.integers(min_value=-40, max_value=60).map(lambda d: d * 24)
instant = st.one_of(hours, day_hours)
maybe = st.one_of(st.none(), instant)

ops = st.one_of(
    st.tuples(
        st.just("ship"),
        st.sampled_from(NUMBERS),
        instant,
        maybe,
        maybe,
        st.sampled_from(PLACES),
        st.sampled_from(("valid", "invalid", "unknown")),
    ),
    st.tuples(
        st.just("events"),
        st.integers(0, 5),
        st.sampled_from(STATUSES),
        instant,
        st.sampled_from(PLACES),
        st.booleans(),
    ),
    st.tuples(
        st.just("answer"),
        st.integers(0, 5),
        st.sampled_from(("not_found", "invalid", "ok")),
        instant,
    ),
    st.tuples(st.just("expire"), st.integers(0, 5)),
    st.tuples(
        st.just("edit"),
        st.integers(0, 5),
        st.sampled_from(
            ("archived", "tracking_number", "promised_to", "protection_ends_at", "ordered_at")
        ),
        st.sampled_from(NUMBERS),
        maybe,
    ),
    st.tuples(st.just("eval"), instant),
    st.tuples(st.just("later"), st.integers(0, 72)),
)


def apply(world: World, op: tuple[Any, ...], n: int) -> None:
    """One step of a history (``n``: the step's number, for unique order ids)."""
    ids = [r[0] for r in world.store.query("SELECT shipment_id FROM shipments ORDER BY 1")]
    kind = op[0]
    if kind == "ship":
        _, number, shipped, promised, protection, (city, country, postcode), verdict = op
        fields: dict[str, Any] = {
            "shipped_at": at(shipped),
            "ordered_at": at(shipped - 48),
            "promised_to": None if promised is None else at(promised),
            "protection_ends_at": None if protection is None else at(protection),
            "number_verdict": verdict,
        }
        if verdict == "unknown":
            fields |= {"courier": None, "number_format": None}
        world.shipment(f"o{n}", number, city=city, country=country, postcode=postcode, **fields)
        return
    if not ids:
        return
    sid = ids[op[1] % len(ids)]
    if kind == "events":
        _, _, status, when, (city, country, postcode), known = op
        world.events(
            sid,
            Ev(
                at(when),
                status,
                f"{status} scan",
                city=city,
                country=country,
                postcode=postcode,
                tz_known=known,
            ),
        )
    elif kind == "answer":
        world.answer(sid, op[2], at(op[3]))
    elif kind == "expire":
        world.state(sid, status="expired")
    elif kind == "edit":
        _, _, column, number, when = op
        value: Any = {
            "archived": None,
            "tracking_number": number,
            "promised_to": None if when is None else T(at(when)),
            "protection_ends_at": None if when is None else T(at(when)),
            # The order's date moves (scans before it are read again).
            "ordered_at": T(at(-30 * 24 if when is None else when)),
        }[column]
        # As production changes a shipment: re-imported, archived, or (a new number)
        # a new shipment of the order.
        if column == "archived":
            (archived,) = world.store.query(
                "SELECT archived FROM shipments WHERE shipment_id = ?", [sid]
            )[0]
            world.archive(sid, not archived)
        elif column == "tracking_number":
            world.renumber(sid, value)
        else:
            world.edit(sid, **{column: value})


def assert_same(incremental: Evaluation, full: Evaluation) -> None:
    assert_frame_equal(incremental.current, full.current)
    assert_frame_equal(incremental.raised, full.raised)
    assert_frame_equal(incremental.cleared, full.cleared)
    assert incremental.written == full.written


@contextmanager
def two_worlds() -> Iterator[tuple[World, World]]:
    with ExitStack() as stack:
        a = stack.enter_context(Store.open(":memory:"))
        b = stack.enter_context(Store.open(":memory:"))
        yield World(a), World(b)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=st.lists(ops, min_size=1, max_size=25))
def test_incremental_evaluation_equals_a_full_one(history: list[tuple[Any, ...]]) -> None:
    config = Settings()
    with two_worlds() as (inc, full):
        now = 0
        for n, op in enumerate([*history, ("eval", 60 * 24)]):
            if op[0] in ("eval", "later"):
                now = op[1] if op[0] == "eval" else now + op[1]
                when = T(at(now))
                a = evaluate_flags(inc.store, when, config)
                b = evaluate_flags(full.store, when, config, full=True)
                assert not b.incremental
                assert_same(a, b)
                # ...and what a stateless computation says at that instant.
                assert_frame_equal(a.current, compute_flags(inc.store, when, config.rules))
                assert inc.store.query(HISTORY) == full.store.query(HISTORY)
            else:
                apply(inc, op, n)
                apply(full, op, n)


def test_every_rule_that_reads_now_says_when_it_can_change() -> None:
    for rule in RULES:
        reads = (rule.where, rule.severity, rule.candidates or "", rule.from_sql or "")
        if any("$now" in text for text in reads):
            assert rule.changes_at, rule.code


def stalled(world: World, order: str = "o1", number: str = NUMBERS[0]) -> int:
    sid = world.shipment(order, number, promised_to=None, protection_ends_at=None)
    world.events(sid, Ev("2026-11-01T00:00:00Z", "in_transit", "Departed", city="Guangzhou"))
    return sid


def test_a_later_run_evaluates_only_what_changed(world: World) -> None:
    sids = [stalled(world, f"o{i}", f"LP0012345678901{i}") for i in range(5)]
    first = world.evaluate("2026-11-12T00:00:00Z")
    assert not first.incremental and first.reason == "no earlier evaluation recorded"
    assert first.evaluated == 5

    # A day later nothing crossed a threshold (critical comes at 21 days): nothing
    # is evaluated, nothing rewritten but confirmed_at, and the text reads a day older.
    before = world.store.query("SELECT flag_id, detail, template FROM flags ORDER BY 1")
    second = world.evaluate("2026-11-13T00:00:00Z")
    assert second.incremental and second.evaluated == 0 and not second.changed
    assert world.store.query("SELECT flag_id, detail, template FROM flags ORDER BY 1") == before
    assert set(second.current["detail"].str.slice(0, 23)) == {"no movement for 12 days"}

    # One new scan: one shipment evaluated, its flag cleared.
    world.events(sids[0], Ev("2026-11-13T06:00:00Z", "in_transit", "Arrived", city="Madrid"))
    third = world.evaluate("2026-11-14T00:00:00Z")
    assert third.incremental and third.evaluated == 1
    assert third.cleared["shipment_id"].to_list() == [sids[0]]

    # The critical threshold reached by time alone: all four still stalled.
    fourth = world.evaluate("2026-11-22T00:00:00Z")
    assert fourth.incremental and fourth.evaluated == 4
    assert set(fourth.current["severity"]) == {"critical"}


def test_a_change_of_thresholds_forces_a_full_evaluation(world: World) -> None:
    stalled(world)
    world.evaluate("2026-11-12T00:00:00Z")
    assert world.evaluate("2026-11-12T06:00:00Z").incremental

    looser = Settings(rules=replace(RulesConfig(), stalled_days=15.0))
    after = evaluate_flags(world.store, T("2026-11-13T00:00:00Z"), looser)
    assert not after.incremental and after.reason == "the rules or thresholds changed"
    assert after.cleared["code"].to_list() == ["stalled"]
    assert after.current.is_empty()
    # The same thresholds again: incremental from there on.
    again = evaluate_flags(world.store, T("2026-11-13T06:00:00Z"), looser)
    assert again.incremental and again.evaluated == 0


def test_an_edit_of_one_order_re_evaluates_the_orders_sharing_its_number(world: World) -> None:
    a = world.shipment("a", NUMBERS[0])
    b = world.shipment("b", NUMBERS[0], ordered_at="2026-10-31T00:00:00Z")
    world.shipment("c", NUMBERS[1])
    first = world.evaluate("2026-11-02T00:00:00Z")
    reused = first.current.filter(pl.col("code") == "number_reused")
    assert sorted(reused["shipment_id"]) == [a, b]

    # Order b moves to another number (a new shipment of b; the old one archived):
    # a no longer shares its number either.
    moved = world.renumber(b, NUMBERS[1])
    after = world.evaluate("2026-11-02T06:00:00Z")
    assert after.incremental
    reused = after.current.filter(pl.col("code") == "number_reused")
    # (b, archived, is no longer evaluated: it keeps the flag it had.)
    assert sorted(reused["shipment_id"]) == [b, b + 1, moved]
    assert after.cleared["shipment_id"].to_list() == [a]


def test_every_rules_setting_is_in_the_digest() -> None:
    default = RulesConfig()
    digests = {rules_digest(default)}
    for field in fields(RulesConfig):
        value = getattr(default, field.name)
        other = (not value) if isinstance(value, bool) else value + 1.5
        digests.add(rules_digest(replace(default, **{field.name: other})))
    assert len(digests) == len(fields(RulesConfig)) + 1


def test_a_changed_setting_is_a_full_evaluation_with_the_full_result(world: World) -> None:
    sid = world.shipment("o1", promised_to="2026-11-20T00:00:00Z", protection_ends_at=None)
    world.events(sid, Ev("2026-11-02T00:00:00Z", "in_transit", "Departed", city="Guangzhou"))
    world.evaluate("2026-11-21T00:00:00Z")
    graceful = Settings(rules=replace(RulesConfig(), overdue_grace_days=5.0))
    when = T("2026-11-22T00:00:00Z")
    after = evaluate_flags(world.store, when, graceful)
    assert not after.incremental and after.reason == "the rules or thresholds changed"
    assert_frame_equal(after.current, compute_flags(world.store, when, graceful.rules))
    assert "overdue" in set(after.cleared["code"])
    stored = world.store.query("SELECT rules_digest FROM flag_evaluation")
    assert stored == [(rules_digest(graceful.rules),)]


def test_archiving_an_order_re_evaluates_the_orders_sharing_its_number(world: World) -> None:
    from collector.store.writes import set_archived

    a = world.shipment("a", NUMBERS[0])
    b = world.shipment("b", NUMBERS[0], ordered_at="2026-10-31T00:00:00Z")
    first = world.evaluate("2026-11-02T00:00:00Z")
    assert sorted(first.current.filter(pl.col("code") == "number_reused")["shipment_id"]) == [a, b]

    # Through the collector's own writer (the `archive` command): a's other order is gone.
    assert set_archived(world.store, [b], archived=True, now=T("2026-11-02T01:00:00Z")) == 1
    when = T("2026-11-02T06:00:00Z")
    after = evaluate_flags(world.store, when, Settings())
    assert after.incremental
    assert_frame_equal(after.current, compute_flags(world.store, when, RulesConfig()))
    assert a in after.cleared["shipment_id"].to_list()


def test_shipment_current_names_each_input_version_once(world: World) -> None:
    sid = stalled(world)
    rows = world.store.conn.execute(
        "SELECT s.input_version, t.input_version FROM shipments s JOIN tracking_state t "
        "USING (shipment_id) WHERE shipment_id = ?",
        [sid],
    ).fetchall()
    view = world.store.conn.execute(
        "SELECT input_version, state_input_version FROM shipment_current WHERE shipment_id = ?",
        [sid],
    ).fetchall()
    assert view == rows
    names = [d[0] for d in world.store.conn.execute("FROM shipment_current LIMIT 0").description]
    assert [n for n in names if "input_version" in n] == ["input_version", "state_input_version"]


def _early_keys(evaluation: Evaluation) -> list[str]:
    early = evaluation.current.filter(pl.col("code") == "scan_before_order")
    return [key for e in early["evidence"] for key in json.loads(e)["event_keys"]]


def test_early_scans_are_kept_and_a_later_poll_adds_to_them(world: World) -> None:
    sid = world.shipment("o1", NUMBERS[0], ordered_at="2026-10-22T00:00:00Z")
    world.events(sid, Ev("2026-10-20T00:00:00Z", "in_transit", "Accepted", city="Guangzhou"))
    first = world.evaluate("2026-11-02T00:00:00Z")
    assert len(_early_keys(first)) == 1
    kept = world.store.query("SELECT shipment_id, description FROM flag_early_events")
    assert kept == [(sid, "Accepted")]

    # A later poll brings a second early scan (and later ones): the evaluation reads
    # only the new events of the shipment, and lists both early scans.
    world.events(
        sid,
        Ev("2026-10-21T00:00:00Z", "in_transit", "Departed", city="Guangzhou"),
        Ev("2026-10-28T00:00:00Z", "in_transit", "Sorted", city="Madrid"),
        Ev("2026-11-02T06:00:00Z", "in_transit", "Arrived", city="Madrid"),
    )
    when = T("2026-11-03T00:00:00Z")
    second = evaluate_flags(world.store, when, Settings())
    assert second.incremental and second.evaluated == 1
    assert len(_early_keys(second)) == 2
    assert_frame_equal(second.current, compute_flags(world.store, when, Settings().rules))
    kept = world.store.query("SELECT description FROM flag_early_events ORDER BY occurred_at")
    assert kept == [("Accepted",), ("Departed",)]

    # The order's date moves later (its row changes): its events are read again, and
    # the scan that was after the old date is before the new one.
    world.edit(sid, ordered_at="2026-11-01T00:00:00Z")
    when = T("2026-11-03T06:00:00Z")
    third = evaluate_flags(world.store, when, Settings())
    assert third.incremental and third.evaluated == 1
    assert len(_early_keys(third)) == 3
    assert_frame_equal(third.current, compute_flags(world.store, when, Settings().rules))


def test_a_rebuild_of_the_events_makes_the_next_evaluation_full(world: World) -> None:
    from collector.store.rebuild import rebuild

    sid = world.shipment("o1", NUMBERS[0], ordered_at="2026-11-01T00:00:00Z")
    world.events(sid, Ev("2026-10-20T00:00:00Z", "in_transit", "Accepted", city="Guangzhou"))
    world.evaluate("2026-11-02T00:00:00Z")
    rebuild(world.store)
    after = world.evaluate("2026-11-02T06:00:00Z")
    assert not after.incremental and after.reason == "no earlier evaluation recorded"
