"""The column API used by imports: one batch over a whole column."""

from __future__ import annotations

import polars as pl
import pytest

from collector.numbers import COLUMN_SCHEMA, detect_column, detect_columns


def test_a_column_in_full() -> None:
    frame = detect_column(
        pl.Series(
            [
                "rb 123 456 785 gb",
                "RB123456784GB",
                "LP00123456789012",
                None,
                "nope",
                "UB123456785CN",
            ]
        ),
        declared=["Royal Mail", None, "Cainiao", "UPS", "UPS", "UPS"],
        destination=["GB", None, "ES", None, None, "CH"],
    )
    assert frame.schema == pl.Schema(COLUMN_SCHEMA)
    assert frame.rows() == [
        ("rb 123 456 785 gb", "RB123456785GB", "s10", "s10", "S10", "valid", True, None, False),
        (
            "RB123456784GB", "RB123456784GB", "s10", "s10", "S10", "invalid", False,
            "check digit 4 does not match computed 5 (S10)", None,
        ),
        (
            "LP00123456789012", "LP00123456789012", "cainiao", "cainiao_lp",
            "Cainiao Global (LP)", "weak", True,
            "Cainiao Global (LP) has no check digit: the shape fits but cannot be verified",
            False,
        ),
        (None, "", None, None, None, "unknown", False, "empty input", None),
        ("nope", "NOPE", None, None, None, "unknown", False, "matches no known format", None),
        ("UB123456785CN", "UB123456785CN", "s10", "s10", "S10", "valid", True, None, True),
    ]  # fmt: skip


def test_repeats_and_plain_lists() -> None:
    columns = detect_columns(["1Z5R89390357567127"] * 3 + ["LX123456785CN"])
    assert columns["number"] == ["1Z5R89390357567127"] * 3 + ["LX123456785CN"]
    assert columns["format"] == ["ups", "ups", "ups", "s10"]
    assert columns["carrier_mismatch"] == [None] * 4
    empty = detect_column([])
    assert (empty.height, empty.schema) == (0, pl.Schema(COLUMN_SCHEMA))


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="expected 2 values, got 1"):
        detect_columns(["a", "b"], declared=["UPS"])


def test_a_format_without_id_reports_its_name() -> None:
    frame = detect_column(["1LS7 1 23 011 123456-1"])
    assert frame.select("number", "format", "format_name").row(0) == (
        "1LS7123011123456-1",
        None,
        "LaserShip 1LS7 (18)",
    )
