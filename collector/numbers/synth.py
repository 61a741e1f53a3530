"""Make up tracking numbers of any format, with correct (or deliberately wrong) checks.

A number is generated from the format's own regex (walking the stdlib's parse of
it), then the fields the format validates are made right: every required lookup
gets a value its table knows (an S10 number gets a real country), and the check
digit is computed with the format's algorithm. Tests, the benchmark and the demo use
this instead of copying published test numbers::

    >>> import random
    >>> number = example("s10", random.Random(7))
    >>> from collector.numbers.detect import detect
    >>> detect(number).verdict, detect(number).format
    ('valid', 's10')
    >>> detect(example("s10", random.Random(7), valid=False)).verdict
    'invalid'
"""

from __future__ import annotations

import functools
import random
import re
import string
from typing import Any

from collector.numbers.formats import Format, _class_chars, _sre, registry

__all__ = ["example", "examples_for_every_format", "garbage"]

_ALNUM = string.digits + string.ascii_uppercase
_MAX_EXTRA_REPEAT = 6
_ATTEMPTS = 500


# The characters of each parsed class, by the identity of its node: the parsed
# trees are cached (see _parsed), so a node is worked out once.
_CLASS_CHOICES: dict[int, str] = {}


def _choices(node: Any) -> str:
    found = _CLASS_CHOICES.get(id(node))
    if found is None:
        chars = _class_chars(node)
        found = _CLASS_CHOICES[id(node)] = "".join(sorted(chars)) if chars else _ALNUM
    return found


def _generate(items: Any, rng: random.Random, out: list[str]) -> None:
    c = _sre
    for op, av in items:
        if op is c.LITERAL:
            out.append(chr(av))
        elif op is c.IN:
            out.append(rng.choice(_choices(av)))
        elif op is c.SUBPATTERN:
            _generate(av[-1], rng, out)
        elif op is c.BRANCH:
            _generate(rng.choice(av[1]), rng, out)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            low, high, body = av
            high = min(high, low + _MAX_EXTRA_REPEAT)
            for _ in range(rng.randint(low, high)):
                _generate(body, rng, out)
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue  # the result is checked against the real pattern afterwards
        elif op is getattr(c, "ATOMIC_GROUP", None):
            _generate(av, rng, out)
        elif op is c.ANY:
            out.append(rng.choice(_ALNUM))
        else:
            raise ValueError(f"cannot generate from regex node {op}")


@functools.cache  # never evicted: _CLASS_CHOICES relies on the nodes staying alive
def _parsed(pattern: str) -> list[Any]:
    return list(_sre.parse(pattern))


def _from_regex(pattern: str, rng: random.Random) -> str:
    out: list[str] = []
    _generate(_parsed(pattern), rng, out)
    return "".join(out)


def _replace(number: str, match: re.Match[str], group: str, value: str) -> str:
    start, end = match.span(group)
    return number[:start] + value + number[end:]


def _fix(fmt: Format, number: str, rng: random.Random) -> str | None:
    """Make the required lookups and the check digit right; None if the shape breaks."""
    match = fmt.pattern.fullmatch(number)
    if match is None:
        return None
    for lookup in fmt.required:
        current = match.group(lookup.group)
        width = len(current)
        choices = [k for k in lookup.exact if len(k) == width]
        if choices:
            number = _replace(number, match, lookup.group, rng.choice(sorted(choices)))
        else:
            # Only regex rows: draw values until one is accepted.
            for _ in range(200):
                value = "".join(rng.choice(_ALNUM) for _ in range(width))
                if lookup.find(value) is not None:
                    number = _replace(number, match, lookup.group, value)
                    break
        match = fmt.pattern.fullmatch(number)
        if match is None:
            return None
    rule = fmt.checksum
    if rule is not None:
        serial = match.group("SerialNumber")
        if rule.prepend_if is not None and rule.prepend_if[0].search(serial):
            serial = rule.prepend_if[1] + serial
        try:
            expected = rule.compute(serial)
        except ValueError:
            return None
        if len(expected) != len(match.group("CheckDigit")):
            return None
        number = _replace(number, match, "CheckDigit", expected)
        if fmt.pattern.fullmatch(number) is None:
            return None
    return number


def example(
    format_key: str | Format,
    rng: random.Random | None = None,
    *,
    valid: bool = True,
    best: bool = True,
    verify: bool = True,
) -> str:
    """A made-up number of one format (by key: ``s10``, ``ups``, ``lasership:...``).

    With ``valid`` its check digit and required lookups are right; without, the
    check digit is wrong (formats without a check digit cannot be made invalid that
    way and raise ``ValueError``). With ``best``, the number is redrawn until this
    format is the best-ranked match (so that another format's check does not pass by
    chance and take it over).
    """
    from collector.numbers.detect import match_formats

    fmt = format_key if isinstance(format_key, Format) else registry().by_key[format_key]
    if not valid and fmt.checksum is None:
        raise ValueError(f"{fmt.key} has no check digit to get wrong")
    rng = rng or random.Random()
    compact = fmt.pattern.pattern
    for _ in range(_ATTEMPTS):
        number = _fix(fmt, _from_regex(compact, rng), rng)
        if number is None:
            continue
        if not valid:
            match = fmt.pattern.fullmatch(number)
            assert match is not None
            right = match.group("CheckDigit")
            alphabet = string.digits if right.isdigit() else _ALNUM
            wrong = rng.choice([ch for ch in alphabet if ch != right])
            number = _replace(number, match, "CheckDigit", wrong)
            if fmt.pattern.fullmatch(number) is None:
                continue
        if not verify:
            return number
        found = match_formats(number)
        mine = [c for c in found if c.format_ is fmt]
        if not mine or mine[0].valid != valid:
            continue
        if best and valid and found[0].format_ is not fmt:
            continue
        return number
    raise ValueError(f"could not make up a {'valid' if valid else 'invalid'} {fmt.key} number")


def examples_for_every_format(rng: random.Random | None = None) -> dict[str, str]:
    """One valid made-up number per format key, in data order.

    >>> made = examples_for_every_format(random.Random(0))
    >>> len(made), made["yunexpress"][:2]
    (44, 'YT')
    """
    rng = rng or random.Random(0)
    return {fmt.key: example(fmt, rng) for fmt in registry().formats}


def garbage(rng: random.Random, length: int | None = None) -> str:
    """A random upper-case alphanumeric string (most of them match no format).

    >>> len(garbage(random.Random(1), 12))
    12
    """
    size = length or rng.randint(4, 30)
    return "".join(rng.choice(_ALNUM) for _ in range(size))
