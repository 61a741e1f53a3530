"""The column engine gives detect()'s answers, row for row.

The benchmark compares the two on its million inputs (bench_numbers.py); here the
same generator makes a smaller sample, plus the inputs that take the edges of the
engine: dashes a format keeps, non-ASCII text, punctuation, empty and missing
inputs, numbers of the formats polars' regex engine cannot run (look-aheads).
"""

from __future__ import annotations

import random
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.numbers import vector
from collector.numbers.formats import registry
from collector.numbers.synth import example
from collector.numbers.vector import RESULT_SCHEMA, _plans, detect_frame, kernel_for
from tests.benchmarks.bench_numbers import expected_row, make_inputs

EDGES = [
    None,
    "",
    "  ",
    "-",
    "--1--",
    "2026-11-28",
    "N/A",
    "12.99",
    "see email",
    "rb-1234-5678-5-gb",
    "1LS7 1 23 011 123456-1",
    "1LS7-12301-1123456-1",
    "-1LS7123011123456-1-",
    "ＲＢ１２３４５６７８５ＧＢ",  # full-width
    "RB\u00a0123\u2009456\u200b785 GB",
    "rb\t123456785gb",
    "ı1z5r89390357567127",  # dotless i: not ASCII, the per-number path
    "1z 5r8 939 0357 5671 27",
    "JJD0000000000000000",
]


def assert_same(inputs: list[str | None]) -> None:
    frame = detect_frame(inputs)
    assert frame.schema == pl.Schema(RESULT_SCHEMA)
    rows = [row[1:] for row in frame.rows()]  # the input column aside (None kept as None)
    wrong = [
        (got, want)
        for got, want in zip(
            rows, (expected_row("" if raw is None else raw)[1:] for raw in inputs), strict=True
        )
        if got != want
    ]
    assert not wrong, f"{len(wrong)} of {len(inputs)} rows differ, first: {wrong[:3]}"


def test_the_benchmark_inputs_row_for_row() -> None:
    inputs, _kinds, _keys = make_inputs(40_000, 2027)
    assert_same([*inputs, *EDGES])


@pytest.mark.parametrize("key", [f.key for f in registry().formats])
def test_every_format_valid_and_altered(key: str) -> None:
    fmt = registry().by_key[key]
    rng = random.Random(key)
    numbers = [example(fmt, rng) for _ in range(40)]
    if fmt.checksum is not None:
        numbers += [example(fmt, rng, valid=False) for _ in range(40)]
    spaced = [" ".join(n[i : i + 3] for i in range(0, len(n), 3)).lower() for n in numbers]
    assert_same(numbers + spaced)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="0123456789ABCDEFGHJLNPRSTUVXYZ -.", max_size=36), max_size=30))
def test_any_text_of_number_characters(inputs: list[str]) -> None:
    assert_same(list(inputs))


def test_empty_and_order_kept() -> None:
    assert detect_frame([]).height == 0
    frame = detect_frame(["x", "RB123456785GB", "x"])
    assert frame["verdict"].to_list() == ["unknown", "valid", "unknown"]


def test_bytes_normalised_in_small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    # The byte normalisation works in steps of _CHUNK bytes: spaces, dashes and other
    # bytes on either side of every step's edge.
    monkeypatch.setattr(vector, "_CHUNK", 7)
    inputs, _kinds, _keys = make_inputs(2_000, 2029)
    assert_same([*inputs, *EDGES])


def test_equal_reasons_said_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Were two formats named alike, their failures could read the same: each is
    # said once, where it first comes in rank order (the data's names differ, so
    # this takes that path on the real formats and must change nothing).
    monkeypatch.setattr(vector, "_names_unique", lambda: False)
    inputs, _kinds, _keys = make_inputs(3_000, 2030)
    assert_same([*inputs, *EDGES])


def test_every_format_is_matched_as_masks() -> None:
    # Look-aheads included (USPS IMpb N and C, DHL eCommerce): no format needs `re`.
    needs_re = [
        p.fmt.key
        for p in _plans()
        for length in sorted(p.fmt.hints.lengths or ())
        if p.paths(length) is None
    ]
    assert needs_re == []


def test_a_format_the_masks_cannot_read_is_matched_with_re(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The fallback for a pattern the position reading does not know: every format
    # taken through `re`, the same answers.
    monkeypatch.setattr(vector._Plan, "paths", lambda self, length: None)
    inputs, _kinds, _keys = make_inputs(3_000, 2028)
    assert_same([*inputs, *EDGES])


@pytest.mark.parametrize(
    ("spec", "serials", "expected"),
    [
        ({"name": "s10"}, ["12345678", "47312482", "1234567", "1234567A"], ["5", "9", None, None]),
        ({"name": "mod7"}, ["123456789", "000000007"], ["1", "0"]),
        ({"name": "luhn"}, ["7992739871", "799273987A"], ["3", None]),
        ({"name": "mod_37_36"}, ["0123456789", "ABC", "A"], None),
        (
            {"name": "mod10", "evens_multiplier": 1, "odds_multiplier": 2},
            ["5R8939035756712"],
            ["7"],
        ),
        (
            {"name": "mod10", "evens_multiplier": 3, "odds_multiplier": 1, "reverse": True},
            ["940011120620640626078", "1"],
            ["7", "7"],
        ),
    ],
)
def test_kernels_agree_with_the_rules(
    spec: dict[str, Any], serials: list[str], expected: list[str | None] | None
) -> None:
    from collector.numbers.checksums import make_check

    rule = make_check(spec)

    def by_rule(serial: str) -> str | None:
        try:
            return rule(serial)
        except ValueError:
            return None

    got = kernel_for(spec)(pl.Series(serials, dtype=pl.String)).to_list()
    assert got == [by_rule(s) for s in serials]
    if expected is not None:
        assert got == expected
