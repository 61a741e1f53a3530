"""The simulated 17TRACK v2.2 API: whole answers compared with the documented shapes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

from collector.simulator import Simulator, sample_scenarios, serve_in_thread
from tests.simulator.conftest import KEY, numbers, post

NULL_COORDINATES = {"longitude": None, "latitude": None}


def address(
    country: str | None,
    state: str | None = None,
    city: str | None = None,
    postal_code: str | None = None,
) -> dict[str, Any]:
    return {
        "country": country,
        "state": state,
        "city": city,
        "street": None,
        "postal_code": postal_code,
        "coordinates": NULL_COORDINATES,
    }


def raw(date: str | None, time_: str | None, zone: str | None) -> dict[str, Any]:
    return {"date": date, "time": time_, "timezone": zone}


ARRIVAL_PARIS = {
    "time_iso": "2026-11-10T07:15:00+01:00",
    "time_utc": "2026-11-10T06:15:00Z",
    "time_raw": raw("2026-11-10", "07:15:00", "+01:00"),
    "description": "Arrivee en France",
    "description_translation": None,
    "location": "Paris, 75011, FR",
    "stage": "Arrival",
    "sub_status": "InTransit_Arrival",
    "address": address("FR", city="Paris", postal_code="75011"),
}
PICKED_UP_SHENZHEN = {
    "time_iso": "2026-11-02T09:30:00+08:00",
    "time_utc": "2026-11-02T01:30:00Z",
    "time_raw": raw("2026-11-02", "09:30:00", "+08:00"),
    "description": "【深圳市】已收寄",
    "description_translation": {"lang": "en", "description": "[Shenzhen] Accepted"},
    "location": "Shenzhen, Guangdong, CN",
    "stage": "PickedUp",
    "sub_status": "InTransit_PickedUp",
    "address": address("CN", state="Guangdong", city="Shenzhen"),
}
INFO_SHENZHEN_NO_ZONE = {
    "time_iso": "2026-11-01T10:00:00+08:00",
    "time_utc": "2026-11-01T02:00:00Z",
    "time_raw": raw("2026-11-01", "10:00:00", None),  # the carrier gave no zone
    "description": "Shipment information received",
    "description_translation": None,
    "location": "Shenzhen, Guangdong, CN",
    "stage": "InfoReceived",
    "sub_status": "InfoReceived",
    "address": address("CN", state="Guangdong", city="Shenzhen"),
}


def milestone(stage: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    if event is None:
        return {
            "key_stage": stage,
            "time_iso": None,
            "time_utc": None,
            "time_raw": raw(None, None, None),
        }
    return {
        "key_stage": stage,
        "time_iso": event["time_iso"],
        "time_utc": event["time_utc"],
        "time_raw": event["time_raw"],
    }


def provider(key: int, name: str, homepage: str, country: str) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "alias": name,
        "tel": None,
        "homepage": homepage,
        "country": country,
    }


# The tiny scenario at 2026-11-12T12:00Z, registered with tag "8101".
TINY_ITEM = {
    "number": "ZZ123456785CN",
    "carrier": 3011,
    "param": None,
    "tag": "8101",
    "track_info": {
        "shipping_info": {"shipper_address": address("CN"), "recipient_address": address("FR")},
        "latest_status": {
            "status": "InTransit",
            "sub_status": "InTransit_Arrival",
            "sub_status_descr": None,
        },
        "latest_event": ARRIVAL_PARIS,
        "time_metrics": {
            "days_after_order": 11,  # 11-01T02:00Z .. now 11-12T12:00Z
            "days_of_transit": 10,  # from the pick-up 11-02T01:30Z
            "days_of_transit_done": 0,  # not delivered
            "days_after_last_update": 2,  # 11-10T06:15Z .. now
            "estimated_delivery_date": {
                "source": "Official",
                "from": "2026-11-15T00:00:00+01:00",
                "to": "2026-11-20T23:59:59+01:00",
            },
        },
        "milestone": [
            milestone("InfoReceived", INFO_SHENZHEN_NO_ZONE),
            milestone("PickedUp", PICKED_UP_SHENZHEN),
            milestone("Departure"),
            milestone("Arrival", ARRIVAL_PARIS),
            milestone("AvailableForPickup"),
            milestone("OutForDelivery"),
            milestone("Delivered"),
            milestone("Returning"),
            milestone("Returned"),
        ],
        "misc_info": {
            "risk_factor": 0,
            "service_type": None,
            "weight_raw": None,
            "weight_kg": None,
            "pieces": None,
            "dimensions": None,
            "customer_number": None,
            "reference_number": None,
            "local_number": "6A12345678901",
            "local_provider": "La Poste Colissimo",
            "local_key": 6051,
        },
        "tracking": {
            "providers_hash": -315080990,
            "providers": [
                {
                    "provider": provider(
                        6051, "La Poste Colissimo", "https://www.laposte.fr/", "FR"
                    ),
                    "service_type": None,
                    "latest_sync_status": "Success",
                    "latest_sync_time": "2026-11-12T12:00:00Z",
                    "events_hash": -1315824142,
                    "events": [ARRIVAL_PARIS],
                },
                {
                    "provider": provider(3011, "China Post", "http://www.chinapost.com.cn/", "CN"),
                    "service_type": None,
                    "latest_sync_status": "Success",
                    "latest_sync_time": "2026-11-12T12:00:00Z",
                    "events_hash": -1326390249,
                    "events": [PICKED_UP_SHENZHEN, INFO_SHENZHEN_NO_ZONE],
                },
            ],
        },
    },
}


def test_register_then_gettrackinfo_whole_answers(sim: Simulator, http: httpx.Client) -> None:
    answer = post(http, sim, "register", [{"number": "ZZ123456785CN", "tag": "8101"}])
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    assert answer.json() == {
        "code": 0,
        "data": {
            "accepted": [
                {
                    "origin": 1,
                    "number": "ZZ123456785CN",
                    "carrier": 3011,
                    "email": None,
                    "tag": "8101",
                    "lang": None,
                }
            ],
            "rejected": [],
        },
    }
    answer = post(http, sim, "gettrackinfo", [{"number": "ZZ123456785CN"}])
    assert answer.json() == {"code": 0, "data": {"accepted": [TINY_ITEM], "rejected": []}}
    assert sim.counts() == {"register": 1, "gettrackinfo": 1}


def test_missing_or_wrong_key_is_401_with_an_error_body(sim: Simulator, http: httpx.Client) -> None:
    expected = {
        "code": -18010002,
        "data": {"errors": [{"code": -18010002, "message": "Invalid security key."}]},
    }
    for key in (None, "wrong", ""):
        answer = post(http, sim, "register", numbers("ZZ123456785CN"), key=key)
        assert answer.status_code == 401
        assert answer.json() == expected
    assert sim.registered == frozenset()
    assert sim.count("register", status=401) == 3


def test_more_than_40_numbers_is_refused_as_a_whole(sim: Simulator, http: httpx.Client) -> None:
    body = numbers(*(f"LX{i:08d}5CN" for i in range(41)))
    for operation in ("register", "gettrackinfo"):
        answer = post(http, sim, operation, body)
        assert answer.status_code == 200
        assert answer.json() == {
            "code": -18010014,
            "data": {
                "errors": [
                    {
                        "code": -18010014,
                        "message": (
                            "The number of submitted tracking numbers exceeds the limit of 40."
                        ),
                    }
                ]
            },
        }
    assert sim.registered == frozenset()
    assert post(http, sim, "register", body[:40]).json()["data"]["rejected"] == []
    assert sim.quota_used == 40


def test_body_that_is_not_a_json_array(sim: Simulator, http: httpx.Client) -> None:
    for content in (b"{}", b"not json", b""):
        answer = http.post(
            f"{sim.base_url_17track}/register", content=content, headers={"17token": KEY}
        )
        assert answer.json() == {
            "code": -18010013,
            "data": {
                "errors": [
                    {
                        "code": -18010013,
                        "message": "The submitted data is invalid, a JSON array is expected.",
                    }
                ]
            },
        }


def test_registration_semantics(sim: Simulator, http: httpx.Client) -> None:
    first = post(http, sim, "register", numbers("UB123456785CN", "LY839205143CN")).json()
    assert [a["number"] for a in first["data"]["accepted"]] == ["UB123456785CN", "LY839205143CN"]
    assert sim.quota_used == 2
    again = post(http, sim, "register", numbers("UB123456785CN")).json()
    assert again == {
        "code": 0,
        "data": {
            "accepted": [],
            "rejected": [
                {
                    "number": "UB123456785CN",
                    "error": {
                        "code": -18019901,
                        "message": (
                            "The tracking number 'UB123456785CN' has been registered, "
                            "don't need to repeat registration."
                        ),
                    },
                }
            ],
        },
    }
    assert sim.quota_used == 2  # a refused registration costs nothing
    unregistered = post(http, sim, "gettrackinfo", numbers("LE703159285NL", "UB123456785CN")).json()
    assert unregistered["data"]["rejected"] == [
        {
            "number": "LE703159285NL",
            "error": {
                "code": -18019902,
                "message": (
                    "The tracking number 'LE703159285NL' does not register, please register first."
                ),
            },
        }
    ]
    assert [a["number"] for a in unregistered["data"]["accepted"]] == ["UB123456785CN"]
    sim.clear_registrations()
    lost = post(http, sim, "gettrackinfo", numbers("UB123456785CN")).json()
    assert lost["data"]["rejected"][0]["error"]["code"] == -18019902


def test_supplied_carrier_and_param_are_kept(sim: Simulator, http: httpx.Client) -> None:
    post(
        http,
        sim,
        "register",
        [{"number": "UB123456785CN", "carrier": 21051, "param": "94107", "tag": "x"}],
    )
    item = post(http, sim, "gettrackinfo", numbers("UB123456785CN")).json()["data"]["accepted"][0]
    assert (item["carrier"], item["param"], item["tag"]) == (21051, "94107", "x")


def test_bad_items_are_rejected_one_by_one(sim: Simulator, http: httpx.Client) -> None:
    body = [
        {"number": "ab"},
        {"nope": 1},
        "UB123456785CN",
        {"number": "GARBAGE123"},
        {"number": "ub 1234 56785cn"},
    ]
    answer = post(http, sim, "register", body).json()
    assert answer["data"]["rejected"] == [
        {"number": "ab", "error": {"code": -18010012, "message": "The format of 'ab' is invalid."}},
        {"number": "", "error": {"code": -18010010, "message": "The data of 'number' is missing."}},
        {"number": "", "error": {"code": -18010010, "message": "The data of 'number' is missing."}},
        {
            "number": "GARBAGE123",
            "error": {
                "code": -18019903,
                "message": (
                    "The carrier of 'GARBAGE123' cannot be detected, please specify the carrier."
                ),
            },
        },
    ]
    # Spaces and case do not make another number: the answer echoes what was sent.
    assert answer["data"]["accepted"] == [
        {
            "origin": 1,
            "number": "ub 1234 56785cn",
            "carrier": 3011,
            "email": None,
            "tag": None,
            "lang": None,
        }
    ]
    assert sim.registered == frozenset({"UB123456785CN"})


def test_not_found_invalid_and_expired_answers(sim: Simulator, http: httpx.Client) -> None:
    wanted = ("LY839205143CN", "RR507128933CN", "LP00987654321098", "NOSCENARIO123")
    assert post(http, sim, "register", numbers(*wanted)).json()["data"]["rejected"] == []
    items = post(http, sim, "gettrackinfo", numbers(*wanted)).json()["data"]["accepted"]
    statuses = {i["number"]: i["track_info"]["latest_status"] for i in items}
    assert statuses == {
        "LY839205143CN": {
            "status": "NotFound",
            "sub_status": "NotFound_Other",
            "sub_status_descr": None,
        },
        "RR507128933CN": {
            "status": "NotFound",
            "sub_status": "NotFound_InvalidCode",
            "sub_status_descr": None,
        },
        "LP00987654321098": {
            "status": "Expired",
            "sub_status": "Expired_Other",
            "sub_status_descr": None,
        },
        "NOSCENARIO123": {
            "status": "NotFound",
            "sub_status": "NotFound_Other",
            "sub_status_descr": None,
        },
    }
    not_found = items[0]["track_info"]
    assert not_found["latest_event"] is None
    assert not_found["tracking"] == {
        "providers_hash": 0,
        "providers": [
            {
                "provider": provider(3011, "China Post", "http://www.chinapost.com.cn/", "CN"),
                "service_type": None,
                "latest_sync_status": "Success",
                "latest_sync_time": "2026-11-12T12:00:00Z",
                "events_hash": 0,
                "events": [],
            }
        ],
    }
    assert items[3]["carrier"] == 0 and items[3]["track_info"]["tracking"]["providers"] == []


def test_exception_status_carries_the_reason(sim: Simulator, http: httpx.Client) -> None:
    sim.set_as_of(datetime(2026, 11, 28, 12, tzinfo=UTC))
    post(http, sim, "register", numbers("772986123539", "RS312456780NL", "UH204817360CN"))
    items = post(
        http, sim, "gettrackinfo", numbers("772986123539", "RS312456780NL", "UH204817360CN")
    )
    statuses = [i["track_info"]["latest_status"] for i in items.json()["data"]["accepted"]]
    assert statuses == [
        {
            "status": "Exception",
            "sub_status": "Exception_Security",
            "sub_status_descr": (
                "Shipment is held by customs, awaiting information from the recipient"
            ),
        },
        {
            "status": "DeliveryFailure",
            "sub_status": "DeliveryFailure_NoBody",
            "sub_status_descr": "Delivery attempt failed, the recipient was not at home",
        },
        {
            "status": "Exception",
            "sub_status": "Exception_Returned",
            "sub_status_descr": "Returned item delivered to sender",
        },
    ]


def test_quota_exhausted_and_getquota(fixed_now: datetime, http: httpx.Client) -> None:
    with serve_in_thread(api_key=KEY, quota=2) as sim:
        answer = post(
            http, sim, "register", numbers("UB123456785CN", "LY839205143CN", "LE703159285NL")
        )
        assert [a["number"] for a in answer.json()["data"]["accepted"]] == [
            "UB123456785CN",
            "LY839205143CN",
        ]
        assert answer.json()["data"]["rejected"] == [
            {
                "number": "LE703159285NL",
                "error": {"code": -18019908, "message": "The quota is exhausted, please recharge."},
            }
        ]
        quota = post(http, sim, "getquota", []).json()
        assert quota == {
            "code": 0,
            "data": {
                "quota_total": 2,
                "quota_used": 2,
                "quota_remain": 0,
                "today_used": 2,
                "max_track_daily": 2,
                "free_email_quota": 0,
                "free_email_quotaused": 0,
            },
        }


def test_wrong_method_and_unknown_path(sim: Simulator, http: httpx.Client) -> None:
    assert http.get(f"{sim.base_url_17track}/register", headers={"17token": KEY}).status_code == 405
    assert post(http, sim, "stoptrack", numbers("UB123456785CN")).status_code == 404
    assert sim.count("unknown") == 1


def test_rate_limit_answers_429_above_the_rate(fixed_now: datetime, http: httpx.Client) -> None:
    with serve_in_thread(api_key=KEY, rate_limit=5) as sim:
        codes = [post(http, sim, "getquota", []).status_code for _ in range(10)]
        assert codes[:5] == [200] * 5  # the burst is one second's worth
        assert 429 in codes[5:]
        limited = post(http, sim, "getquota", [])
        if limited.status_code == 429:
            assert "retry-after" not in limited.headers  # 17TRACK documents none
            assert limited.text == "Too Many Requests"
        time.sleep(0.45)  # two tokens come back at 5/s
        assert post(http, sim, "getquota", []).status_code == 200
        # At the rate itself, nothing is refused.
        sim.set_rate_limit(20)
        sim.reset_log()
        for _ in range(15):
            post(http, sim, "getquota", [])
            time.sleep(1 / 20)
        assert sim.count(status=429) == 0


def test_rate_limit_is_per_key_and_can_send_retry_after(
    fixed_now: datetime, http: httpx.Client
) -> None:
    with serve_in_thread(api_key=KEY, rate_limit=1, rate_limit_retry_after=True) as sim:
        assert post(http, sim, "getquota", []).status_code == 200
        refused = post(http, sim, "getquota", [])
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        # A refused key does not use up the allowance: bad keys are 401 first.
        assert post(http, sim, "getquota", [], key="other").status_code == 401


def test_as_of_hides_later_events(sim: Simulator, http: httpx.Client) -> None:
    post(http, sim, "register", numbers("ZZ123456785CN"))
    sim.set_as_of(datetime(2026, 11, 5, tzinfo=UTC))
    info = post(http, sim, "gettrackinfo", numbers("ZZ123456785CN")).json()["data"]["accepted"][0][
        "track_info"
    ]
    assert info["latest_event"]["time_utc"] == "2026-11-02T01:30:00Z"
    assert [p["provider"]["key"] for p in info["tracking"]["providers"]] == [3011]
    assert info["misc_info"]["local_number"] is None  # not handed over yet
    assert info["time_metrics"]["days_after_last_update"] == 2
    sim.set_as_of(datetime(2026, 10, 1, tzinfo=UTC))
    info = post(http, sim, "gettrackinfo", numbers("ZZ123456785CN")).json()["data"]["accepted"][0][
        "track_info"
    ]
    assert info["latest_status"]["status"] == "NotFound"


def test_every_sample_number_renders_consistently(sim: Simulator, http: httpx.Client) -> None:
    sim.set_as_of(None)
    library = sample_scenarios()
    wanted = sorted(n for n, s in library.items() if s.register_error is None)
    assert len(wanted) == 23  # 24 numbers, GARBAGE123 cannot be registered
    post(http, sim, "register", numbers(*wanted))
    items = post(http, sim, "gettrackinfo", numbers(*wanted)).json()["data"]["accepted"]
    assert [i["number"] for i in items] == wanted
    for item in items:
        scenario = library[item["number"]]
        events = [e for p in item["track_info"]["tracking"]["providers"] for e in p["events"]]
        expected = len(scenario.events) if scenario.outcome not in ("not_found", "invalid") else 0
        assert len(events) == expected, item["number"]
        for event in events:
            local = datetime.fromisoformat(event["time_iso"])
            assert local.astimezone(UTC) == datetime.fromisoformat(
                event["time_utc"].replace("Z", "+00:00")
            )
        if events:
            newest = max(events, key=lambda e: e["time_utc"])
            assert item["track_info"]["latest_event"] == newest


def test_small_answers_are_not_held_back_by_nagle(sim: Simulator, http: httpx.Client) -> None:
    # With Nagle on, each small answer on a keep-alive connection waited ~40 ms for
    # the client's delayed ACK: 100 calls took over 4 s. The benchmark needs more.
    post(http, sim, "getquota", [])
    started = time.perf_counter()
    for _ in range(100):
        post(http, sim, "getquota", [])
    assert time.perf_counter() - started < 2.0
