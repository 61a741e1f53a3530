"""Fixtures for the simulator tests: a fixed clock, a tiny scenario, a running server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from collector import clock
from collector.simulator import Scenario, Simulator, sample_scenarios, serve_in_thread
from collector.simulator.model import scenarios_from_dict

NOW = datetime(2026, 11, 12, 12, 0, tzinfo=UTC)
KEY = "test-key"

# One parcel, two carriers, a last-mile number, a Chinese description with its
# translation and a first event without a zone: small enough to write its whole
# rendering out in the tests.
TINY = {
    "carriers": {
        "china-post": {
            "key": 3011,
            "name": "China Post",
            "country": "CN",
            "homepage": "http://www.chinapost.com.cn/",
            "cainiao": "CNPOST",
        },
        "la-poste": {
            "key": 6051,
            "name": "La Poste Colissimo",
            "country": "FR",
            "homepage": "https://www.laposte.fr/",
            "cainiao": "COLISSIMO",
        },
    },
    "places": {
        "shenzhen": {
            "city": "Shenzhen",
            "state": "Guangdong",
            "country": "CN",
            "zone": "Asia/Shanghai",
        },
        "paris": {"city": "Paris", "postal_code": "75011", "country": "FR", "zone": "Europe/Paris"},
    },
    "scenarios": [
        {
            "number": "ZZ123456785CN",
            "origin": "CN",
            "destination": "FR",
            "carriers": ["china-post", "la-poste"],
            "last_mile_number": "6A12345678901",
            "eta": ["2026-11-15T00:00:00+01:00", "2026-11-20T23:59:59+01:00"],
            "events": [
                {
                    "at": "2026-11-01T10:00:00+08:00",
                    "kind": "info_received",
                    "place": "shenzhen",
                    "zone_known": False,
                },
                {
                    "at": "2026-11-02T09:30:00+08:00",
                    "kind": "picked_up",
                    "place": "shenzhen",
                    "desc": "【深圳市】已收寄",
                    "translation": "[Shenzhen] Accepted",
                },
                {
                    "at": "2026-11-10T07:15:00+01:00",
                    "kind": "arrived_destination",
                    "place": "paris",
                    "desc": "Arrivee en France",
                },
            ],
        }
    ],
}


def tiny_scenarios() -> dict[str, Scenario]:
    return scenarios_from_dict(TINY)


@pytest.fixture
def fixed_now() -> Iterator[datetime]:
    clock.set_now(NOW)
    yield NOW
    clock.set_now(None)


@pytest.fixture
def sim(fixed_now: datetime) -> Iterator[Simulator]:
    scenarios = {**sample_scenarios(), **tiny_scenarios()}
    with serve_in_thread(scenarios, api_key=KEY) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def post(
    http: httpx.Client, sim: Simulator, operation: str, body: Any, key: str | None = KEY
) -> httpx.Response:
    """POST a JSON body to a 17TRACK endpoint of the simulator."""
    headers = {"17token": key} if key is not None else {}
    return http.post(f"{sim.base_url_17track}/{operation}", json=body, headers=headers)


def numbers(*values: str) -> list[dict[str, str]]:
    return [{"number": v} for v in values]
