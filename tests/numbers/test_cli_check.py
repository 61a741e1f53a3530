"""``parcelproof check``: JSON lines, table, stdin, exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from collector.cli import cli as collector_cli
from tests.conftest import run_cli
from tests.numbers.expected import gb_s10_line

S10_LINE = {
    "input": "UB 123 456 785 cn",
    "number": "UB123456785CN",
    "valid": True,
    "courier": "s10",
    "format": "s10",
    "candidates": [
        {"courier": "s10", "format": "s10", "format_name": "S10", "valid": True, "checksum": "pass"}
    ],
    "decoded": {
        "service_type": "UB",
        "serial_number": "12345678",
        "check_digit": "5",
        "country_code": "CN",
        "service_type_name": "Letter Post Misc",
        "country": "China (People's Rep.)",
        "operator": "China Post",
        "operator_url": "http://www.cpdc.com.cn/web/index.php?m=postsearch&c=index&a=init&t=addr",
    },
    "verdict": "valid",
    "reason": None,
    "courier_name": "S10 International Standard",
    "format_name": "S10",
    "tracking_url": None,
    "partners": [],
}
YT_LINE = {
    "input": "YT2412345678901234",
    "number": "YT2412345678901234",
    "valid": True,
    "courier": "yunexpress",
    "format": "yunexpress",
    "candidates": [
        {
            "courier": "yunexpress",
            "format": "yunexpress",
            "format_name": "YunExpress",
            "valid": True,
            "checksum": "none",
        }
    ],
    "decoded": {"serial_number": "2412345678901234"},
    "verdict": "weak",
    "reason": "YunExpress has no check digit: the shape fits but cannot be verified",
    "courier_name": "YunExpress",
    "format_name": "YunExpress",
    "tracking_url": "https://www.yuntrack.com/parcelTracking?id=YT2412345678901234",
    "partners": [],
}
BAD_LINE = gb_s10_line("RB123456784GB", "4")
UNKNOWN_LINE = {
    "input": "hello",
    "number": "HELLO",
    "valid": False,
    "courier": None,
    "format": None,
    "candidates": [],
    "decoded": {},
    "verdict": "unknown",
    "reason": "matches no known format",
    "courier_name": None,
    "format_name": None,
    "tracking_url": None,
    "partners": [],
}


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def test_json_lines_in_input_order_exit_0_when_all_valid() -> None:
    result = run_cli("check", "--json", "UB 123 456 785 cn", "YT2412345678901234")
    assert result.exit_code == 0
    assert lines(result.output) == [S10_LINE, YT_LINE]


def test_exit_1_when_any_is_invalid_or_unknown() -> None:
    result = run_cli("check", "--json", "YT2412345678901234", "RB123456784GB", "hello")
    assert result.exit_code == 1
    assert lines(result.output) == [YT_LINE, BAD_LINE, UNKNOWN_LINE]
    assert run_cli("check", "hello").exit_code == 1


def test_numbers_from_stdin_and_double_dash() -> None:
    result = run_cli(
        "check", "--json", "--", "YT2412345678901234", "-", "hello",
        input="UB 123 456 785 cn\n\n  RB123456784GB  \n",
    )  # fmt: skip
    assert lines(result.output) == [
        YT_LINE,
        S10_LINE,
        {**BAD_LINE, "input": "RB123456784GB"},
        UNKNOWN_LINE,
    ]
    assert result.exit_code == 1
    dashed = run_cli("check", "--json", "--", "--RB123456785GB")
    assert lines(dashed.output)[0]["number"] == "RB123456785GB"


def test_empty_stdin_checks_nothing() -> None:
    result = run_cli("check", "--json", "-", input="")
    assert (result.exit_code, result.output) == (0, "")


def test_no_number_is_a_usage_error() -> None:
    result = run_cli("check")
    assert result.exit_code == 2
    assert "Missing argument" in result.output


def test_human_table() -> None:
    result = CliRunner().invoke(
        collector_cli,
        ["check", "UB123456785CN", "RB123456784GB", "LP00123456789012"],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 1
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert [[cell.strip() for cell in row.strip("│").split("│")] for row in rows] == [
        [
            "UB123456785CN", "valid", "s10", "S10",
            "operator: China Post; country: China (People's Rep.); service: Letter Post Misc",
        ],
        [
            "RB123456784GB", "invalid", "s10", "S10",
            "check digit 4 does not match computed 5 (S10)",
        ],
        [
            "LP00123456789012", "weak", "cainiao", "Cainiao Global (LP)",
            "Cainiao Global (LP) has no check digit: the shape fits but cannot be verified",
        ],
    ]  # fmt: skip


def test_check_explains_scientific_notation_as_import_does() -> None:
    result = run_cli("check", "--json", "9.40011E+21", "7,72986e+11")
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    # The number is not rewritten into another one (the point dropped: 940011E+21).
    assert [line["number"] for line in lines] == ["9.40011E+21", "7,72986E+11"]
    assert {line["reason"] for line in lines} == {
        "scientific notation, as a spreadsheet writes a long number: its last digits are "
        "lost; format the column as text and export again"
    }
    table = run_cli("check", "9.40011E+21")
    assert "scientific notation" in table.output
