"""Expected values shared by the number tests (computed by hand, see test_checksums)."""

from __future__ import annotations

from typing import Any


def gb_s10_decoded(check_digit: str) -> dict[str, Any]:
    """``decoded`` of RB 12345678 <check> GB: Royal Mail, registered letter post."""
    return {
        "service_type": "RB",
        "serial_number": "12345678",
        "check_digit": check_digit,
        "country_code": "GB",
        "service_type_name": "Letter Post Registered",
        "service_type_description": (
            "Prepaid first-class mail that is recorded by the post office before being sent "
            "and at each point along its route to safeguard against loss, theft, or damage."
        ),
        "country": "Great Britain",
        "operator": "Royal Mail Group plc",
        "operator_url": (
            "http://www.royalmail.com/postcode-finder?gear=postcode"
            "&campaignid=postcodefinder_redirect"
        ),
    }


def gb_s10_line(input_text: str, check_digit: str) -> dict[str, Any]:
    """The whole ``check --json`` object of RB 12345678 <check> GB (5 is right)."""
    valid = check_digit == "5"
    return {
        "input": input_text,
        "number": f"RB12345678{check_digit}GB",
        "valid": valid,
        "courier": "s10",
        "format": "s10",
        "candidates": [
            {
                "courier": "s10",
                "format": "s10",
                "format_name": "S10",
                "valid": valid,
                "checksum": "pass" if valid else "fail",
            }
        ],
        "decoded": gb_s10_decoded(check_digit),
        "verdict": "valid" if valid else "invalid",
        "reason": None if valid else f"check digit {check_digit} does not match computed 5 (S10)",
        "courier_name": "S10 International Standard",
        "format_name": "S10",
        "tracking_url": None,
        "partners": [],
    }
