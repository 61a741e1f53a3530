"""A format's position paths say what its regex says: whether a number matches, and
every named group's span (the first path a number meets is the match ``re`` finds).

Checked on every format's examples (valid and with a wrong check digit), on those
examples with one character changed, on random strings of each admitted length,
and with hypothesis; plus the constructs the data uses one by one (look-aheads,
negative look-aheads, ``\\b``, alternatives, optional groups, bounded repeats).
"""

from __future__ import annotations

import random
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.numbers.formats import Format, registry
from collector.numbers.positions import Path, Unsupported, paths_for
from collector.numbers.synth import example

CHARS = string.digits + string.ascii_uppercase + "-"


def first_path(paths: tuple[Path, ...], number: str) -> Path | None:
    codes = number.encode()
    for path in paths:
        if all(codes[i] in chars for i, chars in enumerate(path.classes)) and not any(
            all(codes[p] in chars for p, chars in conditions) for conditions in path.excluded
        ):
            return path
    return None


def assert_agrees(pattern: re.Pattern[str], number: str) -> None:
    match = pattern.fullmatch(number)
    path = first_path(paths_for(pattern.pattern, len(number)), number)
    assert (match is None) == (path is None), (pattern.pattern, number, path and path.text())
    if match is not None and path is not None:
        spans = {
            name: match.span(name) for name in pattern.groupindex if match.group(name) is not None
        }
        assert spans == dict(path.groups), (pattern.pattern, number)


def samples(fmt: Format, rng: random.Random) -> list[str]:
    numbers = [example(fmt, rng) for _ in range(60)]
    if fmt.checksum is not None:
        numbers += [example(fmt, rng, valid=False) for _ in range(20)]
    changed = []
    for number in numbers:
        for _ in range(3):
            chars = list(number)
            chars[rng.randrange(len(chars))] = rng.choice(CHARS)
            changed.append("".join(chars))
    lengths = sorted(fmt.hints.lengths or ())
    noise = [
        "".join(rng.choice(string.digits if rng.random() < 0.7 else CHARS) for _ in range(n))
        for n in lengths
        for _ in range(40)
    ]
    return numbers + changed + noise


@pytest.mark.parametrize("key", [f.key for f in registry().formats])
def test_every_format_agrees_with_re(key: str) -> None:
    fmt = registry().by_key[key]
    rng = random.Random(key)
    matched = 0
    for number in samples(fmt, rng):
        assert_agrees(fmt.pattern, number)
        matched += fmt.pattern.fullmatch(number) is not None
    assert matched >= 60  # the examples match: the test compares real matches


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(registry().formats), st.text(alphabet="0123456789ABCJLPSZ-", max_size=42))
def test_any_text_agrees_with_re(fmt: Format, text: str) -> None:
    assert_agrees(fmt.pattern, text)


@pytest.mark.parametrize(
    ("pattern", "numbers"),
    [
        # Greedy and lazy repeats, optional groups: the groups of the first path.
        (r"(?P<A>[0-9]{1,3})(?P<B>[0-9]{0,2})", ["1", "12", "123", "1234", "12345"]),
        (r"(?P<A>[0-9]{1,3}?)(?P<B>[0-9]{0,2})", ["1", "123", "12345"]),
        (r"(?:(?P<A>42)(?P<Z>[0-9]{2}))?(?P<S>9[0-9]{2,4})", ["4212900", "900", "4212"]),
        (r"(?P<A>AB|A)(?P<B>B?C)", ["ABC", "AC", "ABBC"]),
        # Look-aheads narrow classes; a negative one excludes; \b needs a boundary.
        (r"9(?=[0-5]{2}(?![0-9]))[0-9]+", ["912", "9123", "99", "91"]),
        (r"(?=[0-9]{2}(?![0-9]))[0-9A-Z]+", ["12A", "123", "12", "1A"]),
        (r"(?=[^0-9A-Z]*[0-9])[0-9A-Z]{2,4}", ["1A", "A1", "-1", "12AB"]),
        (r"\b[0-9]{3}\b", ["123", "12"]),
        (r"[0-9]+-1", ["12-1", "1-1", "12-2", "-1"]),
    ],
)
def test_constructs_agree_with_re(pattern: str, numbers: list[str]) -> None:
    compiled = re.compile(pattern)
    for number in numbers:
        assert_agrees(compiled, number)


def test_paths_are_listed_in_the_engines_order() -> None:
    texts = [p.text() for p in paths_for(r"(?P<A>[0-9]{1,2})(?P<B>[0-9])?", 2)]
    assert texts == ["[0-9][0-9] A=0:2", "[0-9][0-9] A=0:1 B=1:2"]


@pytest.mark.parametrize(
    "pattern", [r"(?i)ab", r"(?<=A)B", r"(A)\1", r"(?=(?P<X>A))A", r"(?!A(?!B))AC"]
)
def test_what_the_reading_does_not_know_is_unsupported(pattern: str) -> None:
    with pytest.raises(Unsupported):
        paths_for(pattern, 2)
