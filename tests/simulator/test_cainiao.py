"""The simulated Cainiao ``global/detail.json``: shaped like the real capture."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from collector.simulator import Simulator, sample_scenarios, serve_in_thread
from collector.sources.cainiao.simulator import time_zone_text
from tests.simulator.conftest import KEY

ICONS = {
    "currentIconUrl": "https://img.alicdn.com/imgextra/i4/O1CN01MZ8JBd1yVWTLbfuHQ_!!6000000006584-2-tps-48-48.png",
    "historyIconUrl": "https://img.alicdn.com/imgextra/i1/O1CN01fPAIee1a5pTIgKnuB_!!6000000003279-2-tps-48-48.png",
}
ARRIVAL = {
    "time": 1794291300000,  # 2026-11-10T06:15:00Z
    "timeStr": "2026-11-10 07:15:00",
    "desc": "Arrivee en France",
    "standerdDesc": "[Paris] Arrived at destination country/region",
    "descTitle": "Carrier note:",
    "timeZone": "GMT+01:00",
    "actionCode": "LH_ARRIVE",
    "group": {"nodeCode": "AE_GROUP_LH_ARRIVE", "nodeDesc": "In transit", **ICONS},
}
TINY_MODULE = {
    "mailNo": "ZZ123456785CN",
    "originCountry": "Mainland China",
    "destCountry": "France",
    "status": "DELIVERING",
    "statusDesc": "Delivering",
    "mailNoSource": "AE",
    "processInfo": {
        "progressStatus": "NORMAL",
        "progressRate": 0.625,
        "type": "CROSS",
        "progressPointList": [
            {"pointName": "Mainland China", "light": True},
            {"pointName": "France", "light": True},
            {"pointName": "Destination city", "reload": True, "light": True},
            {"pointName": "Delivered"},
        ],
    },
    "latestTrace": ARRIVAL,
    "detailList": [
        ARRIVAL,
        {
            "time": 1793583000000,  # 2026-11-02T01:30:00Z
            "timeStr": "2026-11-02 09:30:00",
            "desc": "【深圳市】已收寄",
            "standerdDesc": "[Shenzhen] Received by logistics company",
            "descTitle": "Carrier note:",
            "timeZone": "GMT+0800",
            "actionCode": "PU_PICKUP_SUCCESS",
            "group": {"nodeCode": "AE_GROUP_PU_PROCESSING", "nodeDesc": "In transit", **ICONS},
        },
        {
            "time": 1793498400000,  # 2026-11-01T02:00:00Z
            "timeStr": "2026-11-01 10:00:00",
            "desc": "Shipment information received",
            "standerdDesc": "[Shenzhen] Shipment information received",
            "descTitle": "Carrier note:",
            "timeZone": "",  # the carrier gave no zone
            "actionCode": "GWMS_ACCEPT",
        },
    ],
    "daysNumber": "11\tday(s)",
    "globalEtaInfo": {
        "etaDesc": "Estimated delivery: Nov 15 - Nov 20",
        "deliveryMinTime": 1794697200000,  # 2026-11-15T00:00:00+01:00
        "deliveryMaxTime": 1795215599000,  # 2026-11-20T23:59:59+01:00
    },
    "realMailNo": "Latest Tracking Number:\t6A12345678901",
    "copyRealMailNo": "6A12345678901",
    "destCpInfo": {
        "cpName": "La Poste Colissimo",
        "cpCode": "COLISSIMO",
        "url": "https://www.laposte.fr/",
    },
}


def not_found(number: str) -> dict[str, Any]:
    return {
        "mailNo": number,
        "originCountry": "",
        "destCountry": "",
        "status": "",
        "statusDesc": "",
        "mailNoSource": "EXTERNAL",
        "detailList": [],
    }


def detail(sim: Simulator, http: httpx.Client, mail_nos: str) -> httpx.Response:
    return http.get(
        f"{sim.base_url_cainiao}/global/detail.json", params={"mailNos": mail_nos, "lang": "en-US"}
    )


def test_one_number_whole_answer(sim: Simulator, http: httpx.Client) -> None:
    answer = detail(sim, http, "ZZ123456785CN")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json;charset=UTF-8"
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.json() == {"module": [TINY_MODULE], "success": True}
    assert sim.counts() == {"cainiao": 1}


def test_several_numbers_in_order_with_not_found(sim: Simulator, http: httpx.Client) -> None:
    answer = detail(sim, http, "LY839205143CN,ZZ123456785CN,GARBAGE123,ZZ123456785CN,RR507128933CN")
    modules = answer.json()["module"]
    assert modules == [
        not_found("LY839205143CN"),
        TINY_MODULE,
        not_found("GARBAGE123"),
        not_found("RR507128933CN"),
    ]
    assert sim.requests[-1].numbers == (
        "LY839205143CN",
        "ZZ123456785CN",
        "GARBAGE123",
        "ZZ123456785CN",
        "RR507128933CN",
    )


def test_no_numbers_and_wrong_method(sim: Simulator, http: httpx.Client) -> None:
    assert detail(sim, http, "").json() == {
        "success": False,
        "errorCode": "PARAM_ERROR",
        "errorMsg": "mailNos is required",
    }
    assert http.post(f"{sim.base_url_cainiao}/global/detail.json").status_code == 405


def test_modules_have_the_fields_of_the_real_capture(sim: Simulator, http: httpx.Client) -> None:
    # Field names of reference/samples/cainiao-detail-AE010698498.json (captured 2023).
    module_keys = {
        "mailNo", "originCountry", "destCountry", "status", "statusDesc", "mailNoSource",
        "processInfo", "latestTrace", "detailList",
    }  # fmt: skip
    detail_keys = {"time", "timeStr", "desc", "standerdDesc", "descTitle", "timeZone", "actionCode"}
    numbers = [n for n, s in sample_scenarios().items() if s.outcome == "tracked" or s.events]
    modules = detail(sim, http, ",".join(numbers)).json()["module"]
    assert len(modules) == len(numbers) == 21
    zones = set()
    for module in modules:
        assert module_keys <= set(module), module["mailNo"]
        assert module["mailNoSource"] == "AE"
        times = [d["time"] for d in module["detailList"]]
        assert times == sorted(times, reverse=True)  # newest first
        for item in module["detailList"]:
            assert detail_keys <= set(item)
            zones.add(item["timeZone"])
    # The mixed forms seen in real data all occur.
    assert {"", "GMT+8", "GMT+0800", "GMT+08:00"} <= zones


def test_last_mile_handover_and_pickup_station(sim: Simulator, http: httpx.Client) -> None:
    sim.set_as_of(datetime(2026, 11, 28, 12, tzinfo=UTC))
    rome, warsaw = detail(sim, http, "YT2498765432109876,LX593028170CN").json()["module"]
    assert rome["realMailNo"] == "Latest Tracking Number:\t3UW1F02678453"
    assert rome["destCpInfo"]["cpName"] == "Poste Italiane"
    assert rome["detailList"][0]["actionCode"] == "GTMS_DO_DEPART"
    assert warsaw["detailList"][0]["actionCode"] == "GTMS_STA_SIGNED"
    assert "realMailNo" not in warsaw


def test_time_zone_forms() -> None:
    from collector.simulator import Event

    def zone(at: str, style: int, known: bool = True) -> str:
        return time_zone_text(
            Event(datetime.fromisoformat(at), "picked_up", "x", zone_known=known), style
        )

    assert [zone("2026-10-01T10:00:00-05:00", s) for s in range(3)] == [
        "GMT-5",
        "GMT-0500",
        "GMT-05:00",
    ]
    assert [zone("2026-10-01T10:00:00+05:30", s) for s in range(3)] == [
        "GMT+05:30",
        "GMT+0530",
        "GMT+05:30",
    ]
    assert zone("2026-10-01T10:00:00+00:00", 0) == "GMT+0"
    assert zone("2026-10-01T10:00:00+08:00", 1, known=False) == ""


def test_cainiao_rate_limit_is_separate_from_17track(
    fixed_now: datetime, http: httpx.Client
) -> None:
    with serve_in_thread(api_key=KEY, cainiao_rate_limit=1) as sim:
        codes = [detail(sim, http, "UB123456785CN").status_code for _ in range(3)]
        assert codes[0] == 200 and 429 in codes
        answer = http.post(f"{sim.base_url_17track}/getquota", json=[], headers={"17token": KEY})
        assert answer.status_code == 200
