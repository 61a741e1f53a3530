"""A poll whose answers do not match the protocol (issue 17.6): evidence, never a status.

17TRACK answering ``track_info`` as a string used to be stored as "not found" (and
raised a critical ``not_found`` flag); ``providers`` as a string gave "delivered"
with no events; ``{"accepted": "nope"}`` gave errors with no text and exit 0.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector import clock
from collector.poll import run_poll
from collector.store import Store

from .test_poll import BOTH, KEY_ENV, seed, settings

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    clock.set_now(NOW)
    monkeypatch.setenv(KEY_ENV, "k-123456")


def serve(trackinfo: Any) -> httpx.MockTransport:
    """17TRACK that registers everything and answers gettrackinfo with ``trackinfo``."""

    def answer(request: httpx.Request) -> httpx.Response:
        numbers = [item["number"] for item in json.loads(request.content)]
        if request.url.path.endswith("/register"):
            accepted = [{"number": n} for n in numbers]
            return httpx.Response(200, json={"code": 0, "data": {"accepted": accepted}})
        body = trackinfo(numbers) if callable(trackinfo) else trackinfo
        return httpx.Response(200, json=body)

    return httpx.MockTransport(answer)


def entries(info: Any) -> Any:
    return lambda numbers: {
        "code": 0,
        "data": {"accepted": [{"number": n, "track_info": info} for n in numbers]},
    }


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (entries("NotFound"), "$.data.accepted[0].track_info is a string, expected an object"),
        (
            entries({"latest_status": {"status": "Delivered"}, "tracking": {"providers": "x"}}),
            "$.data.accepted[0].track_info.tracking.providers is a string, expected an array",
        ),
        ({"accepted": "nope"}, "$.code is missing; the body's keys: accepted"),
    ],
)
def test_unreadable_answers_are_errors_with_the_path_and_exit_1(
    db_path: Path, answer: Any, problem: str
) -> None:
    seed(db_path, [("o1", "UB123456785CN", "s10")])
    config = settings(sources={"17track": BOTH["sources"]["17track"]})
    report = run_poll(db_path, config, transports={"17track": serve(answer)})
    assert report.exit_code == 1
    line = report.summary_lines()[0]
    assert "1 error," in line and "1 unreadable answer" in line, line
    with Store.open(db_path) as store:
        results = store.query(
            "SELECT r.outcome, r.code, r.message FROM poll_results r JOIN polls p USING (poll_id) "
            "WHERE p.operation = 'gettrackinfo'"
        )
        state = store.query(
            "SELECT status, last_outcome, consecutive_not_found FROM tracking_state"
        )
        polls = store.query("SELECT outcome, error FROM polls WHERE operation = 'gettrackinfo'")
    message = f"gettrackinfo: unreadable answer: {problem}"
    assert results == [("error", "unreadable", message)]
    # No status is concluded: the shipment stays as it was (never polled: unknown).
    assert state == [("unknown", "error", 0)]
    assert polls[0][0] == "error" and problem in (polls[0][1] or "")
