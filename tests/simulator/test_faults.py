"""Injected faults: each kind, its scope (count, skip, endpoint, number), run-time changes."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from collector.simulator import Fault, Simulator
from tests.simulator.conftest import numbers, post


def test_parse_fault_specs() -> None:
    assert Fault.parse("503:3") == Fault("error", count=3, status=503)
    assert Fault.parse("500") == Fault("error", status=500)
    assert Fault.parse("429:5,retry_after=2") == Fault("429", count=5, retry_after=2.0)
    assert Fault.parse("429") == Fault("429")
    assert Fault.parse("timeout:1,seconds=0.5,endpoint=gettrackinfo") == Fault(
        "timeout", count=1, seconds=0.5, endpoint="gettrackinfo"
    )
    assert Fault.parse("truncate,number=UB123456785CN,skip=1") == Fault(
        "truncate", number="UB123456785CN", skip=1
    )
    assert Fault.parse("huge:1,size=1000") == Fault("huge", count=1, size=1000)
    assert Fault.parse("html").http_status == 502
    for bad in ("boom", "503:x", "html,colour=red", "html,count", "timeout,endpoint=nowhere"):
        with pytest.raises(ValueError):
            Fault.parse(bad)


def test_503_burst_then_success(sim: Simulator, http: httpx.Client) -> None:
    sim.set_faults([Fault.parse("503:2")])
    codes = [post(http, sim, "register", numbers("UB123456785CN")).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert [r.fault for r in sim.requests] == ["error", "error", None]
    assert sim.registered == frozenset({"UB123456785CN"})  # the 503s had no effect
    assert sim.quota_used == 1


def test_429_storm_with_and_without_retry_after(sim: Simulator, http: httpx.Client) -> None:
    sim.set_faults([Fault("429", count=1, retry_after=2), Fault("429", count=1)])
    with_hint = post(http, sim, "getquota", [])
    without = post(http, sim, "getquota", [])
    assert (with_hint.status_code, with_hint.headers["retry-after"]) == (429, "2")
    assert without.status_code == 429 and "retry-after" not in without.headers
    assert post(http, sim, "getquota", []).status_code == 200


def test_timeout_sleeps_past_the_client_then_acts(sim: Simulator, http: httpx.Client) -> None:
    sim.add_fault(Fault("timeout", count=1, seconds=1.0, endpoint="register"))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        http.post(
            f"{sim.base_url_17track}/register",
            json=numbers("UB123456785CN"),
            headers={"17token": "test-key"},
            timeout=0.3,
        )
    assert time.monotonic() - started < 0.9
    # The server finishes the request the client gave up on.
    deadline = time.monotonic() + 10
    while not sim.registered and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim.registered == frozenset({"UB123456785CN"})
    again = post(http, sim, "register", numbers("UB123456785CN")).json()
    assert again["data"]["rejected"][0]["error"]["code"] == -18019901


def test_stop_wakes_a_sleeping_timeout(fixed_now: object, http: httpx.Client) -> None:
    sim = Simulator(faults=[Fault("timeout", seconds=60)]).start()
    with pytest.raises(httpx.ReadTimeout):
        http.get(f"{sim.base_url_cainiao}/global/detail.json?mailNos=X12345", timeout=0.2)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 3


def test_truncated_json(sim: Simulator, http: httpx.Client) -> None:
    sim.set_faults([Fault("truncate", count=1, endpoint="cainiao")])
    broken = http.get(
        f"{sim.base_url_cainiao}/global/detail.json", params={"mailNos": "UB123456785CN"}
    )
    assert broken.status_code == 200
    assert broken.text.startswith('{"module":[{"mailNo":"UB123456785CN"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    whole = http.get(
        f"{sim.base_url_cainiao}/global/detail.json", params={"mailNos": "UB123456785CN"}
    )
    assert len(broken.content) == len(whole.content) // 2
    assert whole.json()["success"] is True


def test_html_error_page(sim: Simulator, http: httpx.Client) -> None:
    sim.set_faults([Fault("html", count=1), Fault("html", count=1, status=200)])
    page = post(http, sim, "gettrackinfo", numbers("UB123456785CN"))
    assert page.status_code == 502
    assert page.headers["content-type"] == "text/html; charset=UTF-8"
    assert "502: Bad gateway" in page.text and "Cloudflare Ray ID" in page.text
    sneaky = post(http, sim, "gettrackinfo", numbers("UB123456785CN"))
    assert sneaky.status_code == 200 and sneaky.text.startswith("<!DOCTYPE html>")


def test_ten_megabyte_body(sim: Simulator, http: httpx.Client) -> None:
    sim.set_faults([Fault("huge", count=1, endpoint="17track")])
    answer = post(http, sim, "gettrackinfo", numbers("UB123456785CN"))
    assert answer.status_code == 200
    assert int(answer.headers["content-length"]) == len(answer.content) == 10_000_000
    assert json.loads(answer.content)["data"] == {"accepted": [], "rejected": []}


def test_huge_body_refused_by_the_client_does_not_break_the_server(
    sim: Simulator, http: httpx.Client
) -> None:
    sim.set_faults([Fault("huge", count=1, size=50_000_000)])
    with http.stream("GET", f"{sim.base_url_cainiao}/global/detail.json?mailNos=X12345") as r:
        assert int(r.headers["content-length"]) == 50_000_000
        next(r.iter_bytes())  # read a little, then hang up
    ok = http.get(f"{sim.base_url_cainiao}/global/detail.json", params={"mailNos": "UB123456785CN"})
    assert ok.status_code == 200


def test_faults_scoped_by_number_endpoint_and_skip(sim: Simulator, http: httpx.Client) -> None:
    sim.set_faults(
        [Fault("error", number="LE703159285NL", skip=1, count=1, endpoint="gettrackinfo")]
    )
    post(http, sim, "register", numbers("LE703159285NL", "UB123456785CN"))
    # Not this number: untouched. The first matching request is skipped, the next fails.
    assert post(http, sim, "gettrackinfo", numbers("UB123456785CN")).status_code == 200
    assert post(http, sim, "gettrackinfo", numbers("le703159285nl")).status_code == 200
    assert (
        post(http, sim, "gettrackinfo", numbers("UB123456785CN", "LE703159285NL")).status_code
        == 503
    )
    assert post(http, sim, "gettrackinfo", numbers("LE703159285NL")).status_code == 200
    assert sim.count("gettrackinfo", status=503) == 1


def test_changing_faults_at_run_time(sim: Simulator, http: httpx.Client) -> None:
    sim.set_faults([Fault("error", count=1)])
    assert post(http, sim, "getquota", []).status_code == 503
    assert post(http, sim, "getquota", []).status_code == 200
    sim.set_faults([Fault("error", count=1)])  # counts start afresh
    assert post(http, sim, "getquota", []).status_code == 503
    sim.add_fault(Fault("error", status=500))
    assert post(http, sim, "getquota", []).status_code == 500
    sim.clear_faults()
    assert post(http, sim, "getquota", []).status_code == 200


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("503:3", "HTTP 503 to the first 3 requests"),
        ("500", "HTTP 500 to every request"),
        ("429:5,retry_after=2,endpoint=gettrackinfo",
         "HTTP 429 with Retry-After: 2 s to the first 5 gettrackinfo requests"),
        ("timeout:1,seconds=5", "no answer for 5 s (a client timeout) to the first request"),
        ("truncate,endpoint=cainiao", "the JSON cut in half to every cainiao request"),
        ("html:2", "an HTML error page (HTTP 502) to the first 2 requests"),
        ("huge,size=2000000,skip=2", "a 2 MB body to every request after the first 2"),
    ],
)  # fmt: skip
def test_a_fault_reads_as_words(spec: str, words: str) -> None:
    assert Fault.parse(spec).describe() == words
