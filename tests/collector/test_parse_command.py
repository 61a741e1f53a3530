"""``parcelproof parse``: a source's parser on saved bodies, no database (issue 11.3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import run_cli

from .helpers import PAYLOADS


def saved(tmp_path: Path, *names: str) -> list[str]:
    out = []
    for name in names:
        shutil.copy(PAYLOADS / name, tmp_path / name)
        out.append(name)
    return out


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_parse_json_lines_per_number_without_a_database(tmp_path: Path) -> None:
    files = saved(tmp_path, "17track-latest-event-only.json", "17track-push-stopped.json")
    done = run_cli("parse", "--source", "17track", *files, "--json")
    assert done.exit_code == 0, done.stderr
    assert done.stderr == ""
    assert lines(done.stdout) == [
        {
            "file": "17track-latest-event-only.json",
            "number": "LV112233445CN",
            "outcome": "ok",
            "status": "in_transit",
            "sub_status": "departure",
            "events": [
                {
                    "occurred_at": "2026-11-01T23:15:00Z",
                    "offset_minutes": 480,
                    "tz_known": True,
                    "status": "in_transit",
                    "description": "Departed from the international office of exchange",
                    "location": "SHANGHAI",
                    "country": "CN",
                }
            ],
        },
        {
            "file": "17track-latest-event-only.json",
            "number": "LV998877665CN",
            "outcome": "ok",
            "status": "delivered",
            "sub_status": None,
            "events": [
                {
                    "occurred_at": "2026-11-20T13:02:00Z",
                    "offset_minutes": 60,
                    "tz_known": True,
                    "status": "delivered",
                    "description": "Bezorgd",
                    "location": "NL",
                    "country": "NL",
                }
            ],
        },
        {
            "file": "17track-push-stopped.json",
            "number": "UB123456785CN",
            "outcome": "ok",
            "status": None,
            "sub_status": None,
            "events": [],
        },
        {
            "file": "17track-push-stopped.json",
            "number": "LY839205143CN",
            "outcome": "ok",
            "status": None,
            "sub_status": None,
            "events": [],
        },
    ]
    assert not (tmp_path / "data").exists()  # no database was created


def test_parse_cainiao_real_capture_summary(tmp_path: Path) -> None:
    files = saved(tmp_path, "cainiao-detail-AE010698498.json", "cainiao-seller-preparing.json")
    done = run_cli("parse", "--source", "cainiao", *files)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines() == [
        "cainiao-detail-AE010698498.json: AE010698498  ok  in_transit  15 events; "
        "last 2023-01-27T05:23:00Z: Arrived at linehual office",
        "cainiao-seller-preparing.json: LP00712345678901  ok  info_received (seller_preparing)"
        "  0 events; Awaiting seller dispatch",
        "cainiao-seller-preparing.json: LP00798765432101  ok  in_transit (customs)  2 events; "
        "last 2026-11-11T13:00:00Z: [NL] Import customs clearance started, NL",
    ]


def test_parse_names_unreadable_files_and_exits_1(tmp_path: Path) -> None:
    files = saved(tmp_path, "17track-v1-track.json", "17track-gettrackinfo.json")
    (tmp_path / "bad.json").write_text('{"code": 0, "data": {"accepted": [{"number": "A1", '
                                       '"track_info": "NotFound"}]}}')  # fmt: skip
    done = run_cli("parse", "--source", "17track", "--json", *files, "bad.json", "missing.json")
    assert done.exit_code == 1
    out = lines(done.stdout)
    assert [(o["file"], o["number"], o["outcome"]) for o in out] == [
        ("17track-v1-track.json", None, "error"),
        ("17track-gettrackinfo.json", "UB123456785CN", "ok"),
        ("17track-gettrackinfo.json", "LY839205143CN", "not_found"),
        ("17track-gettrackinfo.json", "RR507128933CN", "invalid"),
        ("17track-gettrackinfo.json", "LE703159285NL", "error"),
        ("bad.json", "A1", "error"),
        ("missing.json", None, "error"),
    ]
    assert done.stderr.splitlines() == [
        "unreadable: 17track-v1-track.json: gettrackinfo: unreadable answer: $.code is missing "
        "(a v1 answer?); the body's keys: dat, msg, ret",
        "unreadable: bad.json: A1: gettrackinfo: unreadable answer: "
        "$.data.accepted[0].track_info is a string, expected an object",
        "unreadable: missing.json: cannot read: No such file or directory",
    ]


def test_parse_unknown_source_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    done = run_cli("parse", "--source", "nope", "x.json")
    assert done.exit_code == 2
    assert "unknown source 'nope'" in done.stderr


def test_parse_reads_the_direct_carriers_saved_answers(tmp_path: Path) -> None:
    # Saved bodies carry no HTTP status: DHL's 404 problem document names its
    # number in `instance`; USPS's whole-call "not yet in system" is not_found.
    files = saved(tmp_path, "dhl-not-found.json", "dhl-shipments.json")
    done = run_cli("parse", "--source", "dhl", *files, "--json")
    assert done.exit_code == 0, done.stderr
    assert [
        (d["number"], d["outcome"], d["status"], len(d["events"])) for d in lines(done.stdout)
    ] == [  # type: ignore[arg-type]
        ("JJD000000000000000000", "not_found", "not_found", 0),
        ("00340434161094042557", "ok", "delivered", 3),
    ]
    files = saved(tmp_path, "usps-v3r2-multistatus.json", "usps-v3-error.json")
    done = run_cli("parse", "--source", "usps", *files, "--json")
    assert done.exit_code == 0, done.stderr
    assert [(d["number"], d["outcome"], d["status"]) for d in lines(done.stdout)] == [
        ("9400111206206406260787", "ok", "delivered"),
        ("9400100000000000000000", "not_found", "not_found"),
        ("XYZ", "invalid", None),
        (None, "not_found", None),
    ]
