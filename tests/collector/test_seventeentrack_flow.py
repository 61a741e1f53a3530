"""The 17TRACK protocol flow of one batch, driven by a scripted ``send`` (no HTTP)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest

from collector.sources.base import BatchOutcome, Outcome, Request
from collector.sources.seventeentrack.source import SeventeenTrack
from collector.sources.status import Status

from .helpers import FakeSender


def envelope(accepted: Sequence[dict[str, Any]] = (), rejected: Sequence[Any] = ()) -> bytes:
    return json.dumps(
        {"code": 0, "data": {"accepted": list(accepted), "rejected": list(rejected)}}
    ).encode()


def rejected(number: str, code: int, message: str = "") -> dict[str, Any]:
    return {"number": number, "error": {"code": code, "message": message}}


def tracked(number: str, status: str = "InTransit") -> dict[str, Any]:
    event = {
        "time_iso": "2026-11-20T10:00:00+08:00",
        "time_utc": "2026-11-20T02:00:00Z",
        "description": "Departed",
        "stage": "Departure",
        "sub_status": "InTransit_Departure",
    }
    return {
        "number": number,
        "track_info": {
            "latest_status": {"status": status},
            "tracking": {"providers": [{"provider": {"name": "China Post"}, "events": [event]}]},
        },
    }


def not_found(number: str) -> dict[str, Any]:
    return {"number": number, "track_info": {"latest_status": {"status": "NotFound"}}}


def numbers_of(request: Request) -> list[str]:
    return [item["number"] for item in json.loads(request.body or b"[]")]


def run(sender: FakeSender, numbers: Sequence[str], registered: Sequence[str] = ()) -> BatchOutcome:
    source = SeventeenTrack()
    return asyncio.run(source.track(numbers, registered=frozenset(registered), send=sender))


def test_new_numbers_are_registered_then_fetched_in_the_same_batch() -> None:
    def script(request: Request) -> tuple[int, bytes]:
        wanted = numbers_of(request)
        if request.operation == "register":
            return 200, envelope(
                [{"number": n} for n in wanted if n != "BAD1"], [rejected("BAD1", -18019903)]
            )
        return 200, envelope([tracked(n) for n in wanted])

    sender = FakeSender(script)
    out = run(sender, ["A1", "BAD1", "B2"], registered=["B2"])
    assert sender.operations() == [("register", ("A1", "BAD1")), ("gettrackinfo", ("A1", "B2"))]
    assert {n: r.outcome for n, r in out.results.items()} == {
        "A1": Outcome.OK,
        "BAD1": Outcome.INVALID,
        "B2": Outcome.OK,
    }
    assert out.registered == {"A1"} and out.stop is None
    assert len(out.exchanges) == 2


def test_already_registered_counts_as_registered() -> None:
    def script(request: Request) -> tuple[int, bytes]:
        if request.operation == "register":
            return 200, envelope([], [rejected("A1", -18019901, "already registered")])
        return 200, envelope([tracked("A1")])

    out = run(FakeSender(script), ["A1"])
    assert out.registered == {"A1"} and out.results["A1"].outcome is Outcome.OK


def test_not_registered_is_registered_and_fetched_once_more() -> None:
    calls: list[str] = []

    def script(request: Request) -> tuple[int, bytes]:
        calls.append(request.operation)
        if request.operation == "register":
            return 200, envelope([{"number": "A1"}])
        if calls.count("gettrackinfo") == 1:
            return 200, envelope([tracked("B2")], [rejected("A1", -18019902)])
        return 200, envelope([tracked("A1")])

    sender = FakeSender(script)
    out = run(sender, ["A1", "B2"], registered=["A1", "B2"])
    assert sender.operations() == [
        ("gettrackinfo", ("A1", "B2")),
        ("register", ("A1",)),
        ("gettrackinfo", ("A1",)),
    ]
    assert out.results["A1"].outcome is Outcome.OK and out.results["A1"].events
    assert out.registered == {"A1"}


def test_not_registered_twice_gives_up_after_one_retry() -> None:
    def script(request: Request) -> tuple[int, bytes]:
        if request.operation == "register":
            return 200, envelope([{"number": "A1"}])
        return 200, envelope([], [rejected("A1", -18019902, "not registered")])

    sender = FakeSender(script)
    out = run(sender, ["A1"], registered=["A1"])
    assert [op for op, _ in sender.operations()] == ["gettrackinfo", "register", "gettrackinfo"]
    assert (out.results["A1"].outcome, out.results["A1"].code) == (Outcome.ERROR, "-18019902")


def test_quota_on_register_stops_before_fetching() -> None:
    def script(request: Request) -> tuple[int, bytes]:
        return 200, envelope([{"number": "A1"}], [rejected("B2", -18019908, "quota")])

    sender = FakeSender(script)
    out = run(sender, ["A1", "B2"])
    assert [op for op, _ in sender.operations()] == ["register"]
    assert out.stop is not None and "quota used up" in out.stop
    assert out.results["B2"].outcome is Outcome.RATE_LIMITED
    # A1 was registered (its quota is spent): recorded, fetched by the next run.
    assert out.registered == {"A1"} and "A1" not in out.results


def test_not_found_right_after_registering_is_pending_not_evidence() -> None:
    def looked_up(sync: str) -> dict[str, Any]:
        return {"tracking": {"providers": [{"latest_sync_status": sync, "events": []}]}}

    def script(request: Request) -> tuple[int, bytes]:
        wanted = numbers_of(request)
        if request.operation == "register":
            return 200, envelope([{"number": n} for n in wanted])
        answers = [not_found(n) for n in wanted]
        answers[2]["track_info"].update(looked_up("Success"))  # C3: looked up, nothing there
        answers[3]["track_info"].update(looked_up("Failure"))  # D4: its look-up failed
        answers[4]["track_info"].update(looked_up("Pending"))  # E5: still being looked up
        return 200, envelope(answers)

    out = run(FakeSender(script), ["A1", "B2", "C3", "D4", "E5"], registered=["B2"])
    fresh, known = out.results["A1"], out.results["B2"]
    assert (fresh.outcome, fresh.pending, fresh.status) == (Outcome.OK, True, None)
    assert fresh.message == "registered in this run; 17TRACK has not looked it up yet"
    # Registered in an earlier run, or looked up already: a plain "not found".
    assert (known.outcome, known.pending) == (Outcome.NOT_FOUND, False)
    assert [(out.results[n].outcome, out.results[n].pending) for n in ("C3", "D4", "E5")] == [
        (Outcome.NOT_FOUND, False),
        (Outcome.NOT_FOUND, False),
        (Outcome.OK, True),
    ]


@pytest.mark.parametrize("info", [None, {}, {"latest_status": None, "tracking": None}])
def test_an_entry_with_nothing_in_it_is_not_found(info: Any) -> None:
    def script(request: Request) -> tuple[int, bytes]:
        return 200, envelope([{"number": n, "track_info": info} for n in numbers_of(request)])

    fresh = run(FakeSender(script), ["A1"]).results["A1"]
    known = run(FakeSender(script), ["A1"], registered=["A1"]).results["A1"]
    # Registered in this run: not looked up yet; later: a plain "not found".
    assert (fresh.outcome, fresh.pending, fresh.code) == (Outcome.OK, True, "NotFound")
    assert (known.outcome, known.status) == (Outcome.NOT_FOUND, Status.NOT_FOUND)
    assert known.code == "NotFound"
    assert known.message == "no tracking information yet (the answer had no track_info)"


def test_whole_call_failure_on_fetch() -> None:
    def script(request: Request) -> tuple[int, bytes]:
        return 200, b'{"code":-18010003,"data":{"errors":[{"code":-18010003,"message":"x"}]}}'

    out = run(FakeSender(script), ["A1"], registered=["A1"])
    assert out.results["A1"].outcome is Outcome.ERROR and out.stop is None
