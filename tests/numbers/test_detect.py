"""Detection: every format, ranking, verdicts, reasons, decoded fields, normalisation.

Valid numbers are made up from each format's own regex and check-digit rule
(:mod:`collector.numbers.synth`); the few spelled out below were computed by hand
from the standards (see test_checksums.py for the arithmetic).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.numbers import detect, detect_many, normalise
from collector.numbers.checksums import mod_37_36
from collector.numbers.formats import registry
from collector.numbers.synth import example
from tests.numbers.expected import gb_s10_line

FORMATS = registry().formats
CHECKED = [f.key for f in FORMATS if f.checksum is not None]
CHINA = ["cainiao_lp", "cainiao_ae", "4px", "yanwen_yp", "sf_express", "yunexpress"]


@pytest.mark.parametrize("key", [f.key for f in FORMATS])
def test_a_made_up_number_of_every_format_is_detected_as_that_format(key: str) -> None:
    fmt = registry().by_key[key]
    rng = random.Random(f"detect-{key}")
    for _ in range(5):
        number = example(fmt, rng)
        d = detect(number)
        best = d.best
        assert best is not None
        assert (d.courier, d.format, d.format_name) == (fmt.courier, fmt.id, fmt.name), number
        assert d.valid and best.valid
        if fmt.checksum is None:
            assert (d.verdict, best.checksum) == ("weak", "none")
        else:
            assert (d.verdict, best.checksum, d.reason) == ("valid", "pass", None)


@given(st.sampled_from(CHECKED), st.randoms(use_true_random=False))
@settings(max_examples=200)
def test_any_other_check_digit_is_caught(key: str, rng: random.Random) -> None:
    # Every other character in the check digit's place: the format's candidate fails
    # and says which digit it computed instead.
    fmt = registry().by_key[key]
    number = example(fmt, rng)
    match = fmt.pattern.fullmatch(number)
    assert match is not None
    start, end = match.span("CheckDigit")
    right = number[start:end]
    alphabet = "0123456789" if right.isdigit() else "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for other in alphabet.replace(right, ""):
        changed = number[:start] + other + number[end:]
        mine = [c for c in detect(changed).candidates if c.format_ is fmt]
        if mine:  # the shape may no longer fit (a letter where the pattern wants a digit)
            assert (mine[0].checksum, mine[0].valid) == ("fail", False), changed
            assert mine[0].reason == (
                f"check digit {other} does not match computed {right} ({fmt.name})"
            )


@pytest.mark.parametrize("key", CHINA)
def test_china_formats_are_weak_never_invalid(key: str) -> None:
    number = example(key, random.Random(key))
    d = detect(number)
    assert (d.valid, d.verdict, d.best.checksum if d.best else None) == (True, "weak", "none")
    assert d.reason and "has no check digit" in d.reason


def test_s10_in_full() -> None:
    # The ARCHITECTURE check --json object, computed by hand (RB 12345678 5 GB).
    assert detect("rb 1234 5678 5 gb").to_json() == gb_s10_line("rb 1234 5678 5 gb", "5")


def _summary(number: str) -> dict[str, Any]:
    d = detect(number)
    return {
        "number": d.number,
        "verdict": d.verdict,
        "candidates": [(c.format_.key, c.checksum, c.valid) for c in d.candidates],
        "decoded": d.decoded,
        "reason": d.reason,
        "url": d.tracking_url,
    }


def test_ups_decoded() -> None:
    assert _summary("1Z5R89390357567127") == {
        "number": "1Z5R89390357567127",
        "verdict": "valid",
        "candidates": [("ups", "pass", True)],
        "decoded": {
            "serial_number": "5R8939035756712",
            "shipper_id": "5R8939",
            "service_type": "03",
            "package_id": "5756712",
            "check_digit": "7",
            "service_type_name": "UPS United States Ground",
        },
        "reason": None,
        "url": "https://wwwapps.ups.com/WebTracking/track?track=yes&trackNums=1Z5R89390357567127",
    }


def test_usps_with_destination_zip() -> None:
    # 420 + ZIP 10001 + the IMpb 9400111206206406260787 (check 7 over 21 digits).
    assert _summary("420 10001 9400 1112 0620 6406 2607 87") == {
        "number": "420100019400111206206406260787",
        "verdict": "valid",
        "candidates": [("usps_impb_n", "pass", True)],
        "decoded": {
            "routing_application_id": "420",
            "destination_zip": "10001",
            "serial_number": "940011120620640626078",
            "application_identifier": "94",
            "service_type": "001",
            "shipper_id": "112062",
            "package_id": "0640626078",
            "check_digit": "7",
            "application_identifier_name": "Online or vendor label",
            "application_identifier_description": (
                "Issued through USPS WebTools, or an authorized PC Postage provider"
            ),
        },
        "reason": None,
        "url": "https://tools.usps.com/go/TrackConfirmAction?tLabels=420100019400111206206406260787",
    }


def test_fedex_worked_examples_in_detection() -> None:
    assert [(n, detect(n).format, detect(n).verdict) for n in (
        "986578788855", "477179081230", "041441760228964", "9611020987654312345672",
        "9400111206206406260787", "03071790000523483741",
    )] == [
        ("986578788855", "fedex_12", "valid"),
        ("477179081230", "fedex_12", "valid"),
        ("041441760228964", "fedex_ground", "valid"),
        ("9611020987654312345672", "fedex_ground_96", "valid"),
        ("9400111206206406260787", "usps_impb_n", "valid"),
        ("03071790000523483741", "usps_20", "valid"),
    ]  # fmt: skip
    assert detect("9611020987654312345672").decoded == {
        "application_identifier": "96",
        "scnc": "11",
        "service_type": "020",
        "serial_number": "98765431234567",
        "shipper_id": "9876543",
        "package_id": "1234567",
        "check_digit": "2",
    }


def test_dpd_country_and_service_lookups() -> None:
    serial = "0012345" + "01234567890123" + "101" + "276"
    number = serial + mod_37_36(serial)
    assert _summary(number)["decoded"] == {
        "serial_number": serial,
        "destination_zip": "0012345",
        "service_type": "101",
        "country_code": "276",
        "check_digit": number[-1],
        "service_type_name": "D",
        "service_type_description": "normal parcel",
        "country_alpha3": "DEU",
        "country_alpha2": "DE",
        "country": "Deutschland",
    }


def test_verdicts_and_reasons() -> None:
    assert [(n, detect(n).verdict, detect(n).reason) for n in (
        "RB123456784GB", "RB123456785XX", "GARBAGE123", "", "   ", "UG123456789YP",
        "LX123456784CN", "K2000000007",
    )] == [
        ("RB123456784GB", "invalid", "check digit 4 does not match computed 5 (S10)"),
        ("RB123456785XX", "invalid", "country code XX has no entry in the Courier lookup (S10)"),
        ("GARBAGE123", "unknown", "matches no known format"),
        ("", "unknown", "empty input"),
        ("   ", "unknown", "empty input"),
        ("UG123456789YP", "weak", (
            "Yanwen (YP) has no check digit: the shape fits but cannot be verified; "
            "check digit 9 does not match computed 5 (S10)"
        )),
        ("LX123456784CN", "invalid", (
            "check digit 4 does not match computed 5 (S10); the shape also fits "
            "DHL E-Commerce, which has no check digit"
        )),
        ("K2000000007", "invalid", "check digit 7 does not match computed 8 (UPS Waybill)"),
    ]  # fmt: skip


def test_ranking_pass_then_no_check_then_failed_then_catch_all() -> None:
    # Yanwen (no check) outranks an S10 reading whose check fails;
    # a failing S10 outranks DHL E-Commerce's catch-all pattern.
    assert [c.format_.key for c in detect("UG123456789YP").candidates] == ["yanwen_yp", "s10"]
    assert [c.format_.key for c in detect("LX123456785CN").candidates] == ["s10", "dhl_ecommerce"]
    assert [c.format_.key for c in detect("LX123456784CN").candidates] == ["s10", "dhl_ecommerce"]
    assert detect("GM2951173225174494").verdict == "weak"  # only the catch-all fits
    # A passing check beats a failing one for the same digits.
    assert [(c.format_.key, c.checksum) for c in detect("477179081230").candidates] == [
        ("fedex_12", "pass"),
        ("purolator_numeric", "fail"),
    ]


def test_normalise() -> None:
    assert [normalise(t) for t in (
        " rb 1234-5678.5 gb ", "1LS7 1 23 011 123456-1", "1LS7-12301-1123456-1",
        "rb\u00a0123\u2009456\u2013785\u200bgb", "ＲＢ１２３４５６７８５ＧＢ", "ab-cd", "\tx\ny\r",
    )] == [
        "RB123456785GB", "1LS7123011123456-1", "1LS7123011123456-1", "RB123456785GB",
        "RB123456785GB", "ABCD", "XY",
    ]  # fmt: skip


separators = st.sampled_from([" ", "  ", "-", ".", "\u00a0", "\t", ""])


@given(st.sampled_from([f.key for f in FORMATS]), st.randoms(use_true_random=False), st.data())
@settings(max_examples=300)
def test_spacing_and_case_do_not_change_a_detection(
    key: str, rng: random.Random, data: st.DataObject
) -> None:
    number = example(key, rng)
    plain = detect(number)
    if "-" in number:  # LaserShip's own "-1" must stay where it is
        head, tail = number.rsplit("-", 1)
        parts = [*head, "-" + tail]
    else:
        parts = list(number)
    written = "".join(
        (part.lower() if data.draw(st.booleans()) else part) + data.draw(separators)
        for part in parts
    )
    variant = detect(written)
    assert (variant.number, variant.format_key, variant.verdict) == (
        plain.number,
        plain.format_key,
        plain.verdict,
    ), written


def test_detect_many_keeps_order_and_shares_repeats() -> None:
    inputs = ["RB123456785GB", "x", "RB123456785GB", "rb123456785gb"]
    found = detect_many(inputs)
    assert [d.to_json() for d in found] == [detect(n).to_json() for n in inputs]
    assert found[0] is found[2]
    assert detect_many([]) == []


def test_candidate_and_detection_accessors() -> None:
    d = detect("1Z5R89390357567127")
    best = d.best
    assert best is not None
    assert (best.courier, best.courier_name, best.format, best.number) == (
        "ups",
        "UPS",
        "ups",
        "1Z5R89390357567127",
    )
    assert (best.expected, best.actual, best.missing, best.partners) == ("7", "7", (), [])
    assert best.groups["ShipperId"] == "5R8939"
    assert d.strength == d.verdict == "valid"
    assert repr(d) == "<Detection '1Z5R89390357567127' valid ups/ups>"
    assert repr(best) == "<Candidate ups pass valid=True>"
    nothing = detect("nope")
    assert (nothing.best, nothing.courier, nothing.format, nothing.decoded) == (
        None,
        None,
        None,
        {},
    )
    assert nothing.to_json()["candidates"] == []
    assert detect("RB123456785XX").best.missing == ("Courier",)  # type: ignore[union-attr]
