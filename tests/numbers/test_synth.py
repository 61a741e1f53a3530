"""Made-up numbers: right where asked to be right, wrong where asked to be wrong."""

from __future__ import annotations

import random

import pytest

from collector.numbers import detect
from collector.numbers.formats import registry
from collector.numbers.synth import example, examples_for_every_format, garbage


def test_one_valid_number_per_format() -> None:
    made = examples_for_every_format(random.Random(1))
    assert list(made) == [f.key for f in registry().formats]
    assert {key: detect(number).format_key for key, number in made.items()} == {
        key: key for key in made
    }


def test_invalid_numbers_fail_their_check() -> None:
    number = example("ups", random.Random(2), valid=False)
    assert detect(number).verdict == "invalid"
    with pytest.raises(ValueError, match="yunexpress has no check digit to get wrong"):
        example("yunexpress", valid=False)


def test_garbage_is_upper_case_alphanumeric() -> None:
    text = garbage(random.Random(3), 12)
    assert len(text) == 12 and text.isalnum() and text == text.upper()
