"""The check-digit algorithms against worked examples and the standards' definitions.

The worked examples are the ones of docs' reference (carriers.md section 8) and the
standards' own (UPU S10, ISO/IEC 7812 Luhn); the rest of the expectations are
computed here from each algorithm's definition, written out the slow, obvious way.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.numbers import checksums
from collector.numbers.checksums import (
    UnknownAlgorithm,
    compute,
    letter_value,
    luhn,
    make_check,
    mod7,
    mod10,
    mod_37_36,
    s10,
    sum_product_with_weightings_and_modulo,
)

FEDEX_12 = [3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1]
FEDEX_GSN = [1, 7, 3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1]

digits = st.text(alphabet=string.digits, min_size=1, max_size=40)
alnum = st.text(alphabet=string.digits + string.ascii_uppercase, min_size=1, max_size=30)


# --- worked examples (carriers.md section 8) ------------------------------------


def test_s10_worked_examples() -> None:
    # RB 12345678 5 GB: 1*8+2*6+3*4+4*2+5*3+6*5+7*9+8*7 = 204; 204 mod 11 = 6; 11-6 = 5.
    assert s10("12345678") == 5
    # The UPU standard's own: 47312482 -> 200, 200 mod 11 = 2, check 9.
    assert s10("47312482") == 9


def test_ups_worked_example() -> None:
    # 1Z 5R8939035756712 7: letters as (ord-3)%10, every second character doubled.
    assert mod10("5R8939035756712", evens_multiplier=1, odds_multiplier=2) == 7


def test_fedex_express_worked_examples() -> None:
    assert sum_product_with_weightings_and_modulo("98657878885", FEDEX_12, 11, 10) == 5
    assert sum_product_with_weightings_and_modulo("47717908123", FEDEX_12, 11, 10) == 0


def test_fedex_ground_worked_examples() -> None:
    assert mod10("04144176022896", evens_multiplier=1, odds_multiplier=3) == 4
    # FedEx Ground 96: the check over the 14 digits before it (shipper + package).
    assert mod10("98765431234567", evens_multiplier=1, odds_multiplier=3) == 2


def test_usps_worked_examples() -> None:
    # IMpb 9400111206206406260787: weight 3 next to the check, then 1, 3, ... leftwards.
    assert mod10("940011120620640626078", evens_multiplier=3, reverse=True) == 7
    # 20 digits 0307179000052348374 1.
    assert mod10("0307179000052348374", evens_multiplier=3) == 1


def test_luhn_standard_example() -> None:
    # ISO/IEC 7812's usual illustration: 7992739871 -> 3.
    assert luhn("7992739871") == 3


# --- the definitions, written out slowly -----------------------------------------


def slow_mod10(serial: str, evens: int, odds: int, reverse: bool) -> int:
    values = [int(c) if c.isdigit() else (ord(c) - 3) % 10 for c in serial]
    if reverse:
        values.reverse()
    total = sum(v * (evens if i % 2 == 0 else odds) for i, v in enumerate(values))
    return (10 - total % 10) % 10


def slow_s10(serial: str) -> int:
    total = sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def slow_luhn(serial: str) -> int:
    total = 0
    for position, char in enumerate(reversed(serial)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def iso7064_hybrid_ok(text: str, alphabet: str = checksums.ALNUM36) -> bool:
    """ISO/IEC 7064 hybrid MOD (M+1),M validation: the recurrence ends at 1."""
    modulus = len(alphabet)
    product = modulus
    for char in text[:-1]:
        total = (product + alphabet.index(char)) % modulus or modulus
        product = (2 * total) % (modulus + 1)
    return (product + alphabet.index(text[-1])) % modulus == 1


@given(st.text(alphabet=string.digits + string.ascii_uppercase, min_size=1, max_size=30))
def test_mod10_matches_its_definition(serial: str) -> None:
    for evens, odds, reverse in [(1, 2, False), (3, 1, False), (3, 1, True), (1, 3, False)]:
        got = mod10(serial, evens_multiplier=evens, odds_multiplier=odds, reverse=reverse)
        assert got == slow_mod10(serial, evens, odds, reverse)


@given(st.text(alphabet=string.digits, min_size=8, max_size=8))
def test_s10_matches_its_definition(serial: str) -> None:
    assert s10(serial) == slow_s10(serial)


@given(digits)
def test_luhn_matches_its_definition(serial: str) -> None:
    assert luhn(serial) == slow_luhn(serial)


@given(digits)
def test_mod7_is_the_number_mod_7(serial: str) -> None:
    assert mod7(serial) == int(serial) % 7


@given(alnum)
def test_mod_37_36_makes_the_iso7064_check_hold(serial: str) -> None:
    check = mod_37_36(serial)
    assert iso7064_hybrid_ok(serial + check)
    for other in checksums.ALNUM36.replace(check, ""):
        assert not iso7064_hybrid_ok(serial + other)


@given(st.text(alphabet=string.digits, min_size=11, max_size=11))
def test_sum_product_matches_its_definition(serial: str) -> None:
    expected = sum(int(d) * w for d, w in zip(serial, FEDEX_12, strict=True)) % 11 % 10
    assert sum_product_with_weightings_and_modulo(serial, FEDEX_12, 11, 10) == expected


@given(digits, st.data())
def test_luhn_and_gs1_catch_every_single_digit_error(serial: str, data: st.DataObject) -> None:
    # Luhn and GS1 mod 10 (weights 3/1) catch any one wrong digit in the serial;
    # S10, mod 7 and the UPS weights (2) do not, so they are not claimed here.
    position = data.draw(st.integers(0, len(serial) - 1))
    wrong = data.draw(st.sampled_from([d for d in string.digits if d != serial[position]]))
    changed = serial[:position] + wrong + serial[position + 1 :]
    assert luhn(changed) != luhn(serial)
    assert mod10(changed, evens_multiplier=3, reverse=True) != mod10(
        serial, evens_multiplier=3, reverse=True
    )


def test_letter_values_are_the_ups_mapping() -> None:
    assert [letter_value(c) for c in string.ascii_uppercase] == [
        (ord(c) - 3) % 10 for c in string.ascii_uppercase
    ]
    assert [letter_value(c) for c in string.digits] == list(range(10))
    with pytest.raises(ValueError, match="not a digit"):
        letter_value("a")


# --- dispatch by the data's names --------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "serial", "check"),
    [
        ({"name": "mod10", "evens_multiplier": 1, "odds_multiplier": 2}, "5R8939035756712", "7"),
        ({"name": "mod7", "modulo": 7}, "123456789", str(123456789 % 7)),
        ({"name": "s10", "weightings": [8, 6, 4, 2, 3, 5, 9, 7], "modulo": 11}, "12345678", "5"),
        ({"name": "luhn", "modulo": 10}, "7992739871", "3"),
        ({"name": "mod_37_36", "modulo": 36, "alphabet": checksums.ALNUM36}, "0123456789", "R"),
        (
            {
                "name": "sum_product_with_weightings_and_modulo",
                "weightings": FEDEX_12,
                "modulo1": 11,
                "modulo2": 10,
            },
            "98657878885",
            "5",
        ),
    ],
)
def test_compute_dispatches_on_the_data_names(
    spec: dict[str, object], serial: str, check: str
) -> None:
    assert compute(spec, serial) == check
    assert make_check(spec)(serial) == check


def test_mod_37_36_worked_value_is_iso7064() -> None:
    assert iso7064_hybrid_ok("0123456789" + mod_37_36("0123456789"))


def test_unknown_algorithm_and_unreadable_serials() -> None:
    with pytest.raises(UnknownAlgorithm, match="'crc32'"):
        make_check({"name": "crc32"})
    for func, bad in [
        (s10, "1234567"),
        (s10, "1234567X"),
        (luhn, "12a"),
        (mod7, "12 3"),
        (lambda s: sum_product_with_weightings_and_modulo(s, FEDEX_12, 11, 10), "123"),
        (mod_37_36, "ab"),
        (mod10, "12-3"),
    ]:
        with pytest.raises(ValueError):
            func(bad)  # type: ignore[operator]
