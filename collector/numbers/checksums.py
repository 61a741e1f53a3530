"""Check-digit algorithms used by the courier data, one small pure function each.

Every function takes the *serial* (the characters the check is computed over, as
the format's ``SerialNumber`` group gives them, upper case) and returns the check
it expects. Validating a number is comparing that with the number's own
``CheckDigit``; :func:`compute` dispatches on the algorithm names the courier data
uses (``validation.checksum.name``)::

    >>> s10("12345678")                     # RB 12345678 5 GB
    5
    >>> compute({"name": "s10"}, "12345678")
    '5'

The algorithms (see CHECKSUM_ALGORITHMS.md of jkeen/tracking_number_data, UPU S10,
GS1 General Specifications, ISO/IEC 7812 and 7064):

- ``mod10``: weighted sum, every character at an even index (0-based, from the left,
  or from the right with ``reverse``) times ``evens_multiplier``, odd ones times
  ``odds_multiplier``; letters count as ``(ord(c) - 3) % 10`` (UPS); the check brings
  the sum up to a multiple of 10. GS1 mod 10 and the UPS 1Z check are both this.
- ``mod7``: the serial read as one integer, modulo 7 (DHL Express).
- ``s10``: UPU S10, weights 8 6 4 2 3 5 9 7, ``11 - sum mod 11`` with 10 -> 0, 11 -> 5.
- ``luhn``: ISO/IEC 7812 Luhn.
- ``mod_37_36``: ISO/IEC 7064 MOD 37,36 (hybrid), an alphanumeric check (DPD).
- ``sum_product_with_weightings_and_modulo``: ``sum(d * w) % modulo1 % modulo2`` (FedEx).

Each algorithm is written once, as a *rule*: its parameters bound, a function from
serial to the expected check character. The public functions call the rule; the
engine keeps one rule per format (:func:`make_check`) and calls it for every
number, which is why the rules avoid Python-level loops: a digit sum is
``sum(text.encode()) - 48 * len(text)`` (the ASCII bytes summed in C).
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Mapping, Sequence
from operator import mul
from typing import Any

__all__ = [
    "ALNUM36",
    "S10_WEIGHTS",
    "UnknownAlgorithm",
    "compute",
    "letter_value",
    "luhn",
    "make_check",
    "mod7",
    "mod10",
    "mod_37_36",
    "s10",
    "sum_product_with_weightings_and_modulo",
]

#: The alphabet of ISO/IEC 7064 MOD 37,36 as DPD uses it.
ALNUM36 = string.digits + string.ascii_uppercase
#: UPU S10 weights over the eight serial digits.
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)

Rule = Callable[[str], str]

_ZERO = ord("0")
# Letters -> digits as UPS computes them: (ord(c) - 3) % 10, so A=2 ... H=9, I=0 ... Z=7.
_LETTERS_AS_DIGITS = bytes.maketrans(
    string.ascii_uppercase.encode(),
    bytes(_ZERO + (ord(c) - 3) % 10 for c in string.ascii_uppercase),
)
# Luhn doubling: each digit d replaced by the digit sum of 2d (5 -> 10 -> 1, 9 -> 18 -> 9).
_LUHN_DOUBLE = bytes.maketrans(b"0123456789", b"0246813579")
# str(n) for the small results, without a call.
_TEXT = tuple(str(n) for n in range(100))


class UnknownAlgorithm(ValueError):
    """The courier data names a check-digit algorithm this module does not know."""


def _not_digits(serial: str) -> ValueError:
    return ValueError(f"expected digits only, got {serial!r}")


def letter_value(char: str) -> int:
    """The value a character has in ``mod10``: a digit is itself, a letter ``(ord-3)%10``.

    >>> [letter_value(c) for c in "09AHIRSZ"]
    [0, 9, 2, 9, 0, 9, 0, 7]
    """
    if char.isascii() and char.isdigit():
        return int(char)
    if char.isascii() and char.isupper():
        return (ord(char) - 3) % 10
    raise ValueError(f"not a digit or upper-case letter: {char!r}")


# --- rules (parameters bound; serial -> expected check) -------------------------


@functools.lru_cache(maxsize=64)
def mod10_rule(evens: int = 1, odds: int = 1, reverse: bool = False, modulo: int = 10) -> Rule:
    """The ``mod10`` rule with its multipliers bound (see :func:`mod10`)."""

    def check(serial: str) -> str:
        digits = serial.encode("ascii")  # UnicodeEncodeError is a ValueError
        if not digits.isdigit():
            digits = digits.translate(_LETTERS_AS_DIGITS)
            if not digits.isdigit():
                raise ValueError(f"expected digits and upper-case letters, got {serial!r}")
        size = len(digits)
        if reverse:  # index 0 is the last character: read with negative strides
            at_even, at_odd = digits[-1::-2], digits[-2::-2]
        else:
            at_even, at_odd = digits[0::2], digits[1::2]
        total = evens * sum(at_even) + odds * sum(at_odd)
        total -= _ZERO * (evens * ((size + 1) // 2) + odds * (size // 2))
        return _TEXT[(modulo - total % modulo) % modulo]

    return check


def _mod7_check(serial: str) -> str:
    if not (serial.isascii() and serial.isdigit()):
        raise _not_digits(serial)
    return _TEXT[int(serial) % 7]


# 11 - remainder, with 11 -> 5 (remainder 0) and 10 -> 0 (remainder 1).
_S10_CHECK = ("5", "0", "9", "8", "7", "6", "5", "4", "3", "2", "1")


@functools.lru_cache(maxsize=16)
def s10_rule(weights: tuple[int, ...] = S10_WEIGHTS) -> Rule:
    """The ``s10`` rule with its weights bound (see :func:`s10`)."""
    size = len(weights)
    offset = _ZERO * sum(weights)  # what the ASCII codes add to the weighted sum

    def check(serial: str) -> str:
        if len(serial) != size or not (serial.isascii() and serial.isdigit()):
            raise ValueError(f"S10 serial must be {size} digits, got {serial!r}")
        total: int = sum(map(mul, serial.encode("ascii"), weights)) - offset
        return _S10_CHECK[total % 11]

    return check


def _luhn_check(serial: str) -> str:
    if not (serial.isascii() and serial.isdigit()):
        raise _not_digits(serial)
    reversed_digits = serial.encode("ascii")[::-1]
    # The digit next to the check (the first one read from the right) is doubled.
    doubled = reversed_digits[0::2].translate(_LUHN_DOUBLE)
    undoubled = reversed_digits[1::2]
    total = sum(doubled) + sum(undoubled) - _ZERO * len(reversed_digits)
    return _TEXT[(10 - total % 10) % 10]


def _mod_37_36_table(alphabet: str) -> list[list[int]]:
    """``table[P][byte]`` = the next P after that character (-1: not in the alphabet)."""
    modulus = len(alphabet)
    table = [[-1] * 256 for _ in range(modulus + 1)]
    for product in range(1, modulus + 1):
        for value, char in enumerate(alphabet):
            total = (product + value) % modulus or modulus
            table[product][ord(char)] = (total * 2) % (modulus + 1)
    return table


@functools.lru_cache(maxsize=8)
def mod_37_36_rule(alphabet: str = ALNUM36) -> Rule:
    """The ``mod_37_36`` rule for an alphabet (see :func:`mod_37_36`)."""
    modulus = len(alphabet)
    # The recurrence as a table: a DPD serial is 14-27 characters, and one table
    # step per character is several times cheaper than the arithmetic.
    step = _mod_37_36_table(alphabet)

    def check(serial: str) -> str:
        product = modulus
        for byte in serial.encode("utf-8"):
            product = step[product][byte] if byte < 256 else -1
            if product < 0:
                raise ValueError(f"{serial!r} has characters outside the MOD 37,36 alphabet")
        return alphabet[(modulus + 1 - product) % modulus]

    return check


@functools.lru_cache(maxsize=16)
def sum_product_rule(weightings: tuple[int, ...], modulo1: int, modulo2: int) -> Rule:
    """The ``sum_product_with_weightings_and_modulo`` rule with its parameters bound."""
    size = len(weightings)
    offset = _ZERO * sum(weightings)

    def check(serial: str) -> str:
        if len(serial) != size or not (serial.isascii() and serial.isdigit()):
            raise ValueError(f"expected {size} digits, got {serial!r}")
        total: int = sum(map(mul, serial.encode("ascii"), weightings)) - offset
        return _TEXT[total % modulo1 % modulo2]

    return check


# --- the algorithms as plain functions ------------------------------------------


def mod10(
    serial: str,
    *,
    evens_multiplier: int = 1,
    odds_multiplier: int = 1,
    reverse: bool = False,
    modulo: int = 10,
) -> int:
    """Weighted mod 10 as the courier data defines it (GS1 mod 10, UPS 1Z, OnTrac).

    Characters at even 0-based indices are multiplied by ``evens_multiplier``, odd
    ones by ``odds_multiplier``, counting from the left (from the right when
    ``reverse``); letters count as ``(ord(c) - 3) % 10``. The check is what brings
    the sum to a multiple of ``modulo``.

    >>> mod10("5R8939035756712", odds_multiplier=2)          # UPS 1Z5R8939035756712 7
    7
    >>> mod10("940011120620640626078", evens_multiplier=3, reverse=True)   # GS1, USPS
    7
    """
    return int(mod10_rule(evens_multiplier, odds_multiplier, reverse, modulo)(serial))


def mod7(serial: str) -> int:
    """The serial read as one integer, modulo 7 (DHL Express waybills).

    >>> mod7("123456789")
    1
    """
    return int(_mod7_check(serial))


def s10(serial: str, weights: Sequence[int] = S10_WEIGHTS) -> int:
    """UPU S10 check digit over the eight serial digits.

    ``11 - (sum mod 11)``, where 10 becomes 0 and 11 becomes 5.

    >>> s10("12345678")           # RB123456785GB
    5
    >>> s10("47312482")           # the UPU standard's own example
    9
    """
    return int(s10_rule(tuple(weights))(serial))


def luhn(serial: str) -> int:
    """Luhn (ISO/IEC 7812) check digit for ``serial`` (the digits before the check).

    >>> luhn("7992739871")
    3
    """
    return int(_luhn_check(serial))


def mod_37_36(serial: str, alphabet: str = ALNUM36) -> str:
    """ISO/IEC 7064 MOD 37,36 (hybrid system) check character, as DPD uses it.

    With M = 36: start with P = M; for each character S = (P + value) mod M (0 read
    as M), P = 2S mod (M + 1); the check is the character worth (M + 1 - P) mod M.

    >>> mod_37_36("0123456789")
    'R'
    """
    return mod_37_36_rule(alphabet)(serial)


def sum_product_with_weightings_and_modulo(
    serial: str, weightings: Sequence[int], modulo1: int, modulo2: int
) -> int:
    """``sum(digit * weight) % modulo1 % modulo2`` (FedEx Express and GSN).

    >>> sum_product_with_weightings_and_modulo("98657878885", [3, 1, 7] * 3 + [3, 1], 11, 10)
    5
    """
    return int(sum_product_rule(tuple(weightings), modulo1, modulo2)(serial))


def make_check(spec: Mapping[str, Any]) -> Rule:
    """The rule a ``validation.checksum`` object describes: serial -> expected check.

    >>> check = make_check({"name": "s10", "weightings": [8, 6, 4, 2, 3, 5, 9, 7]})
    >>> check("12345678")
    '5'

    Raises :class:`UnknownAlgorithm` for a name the data does not define.
    """
    name = spec.get("name")
    if name == "mod10":
        return mod10_rule(
            int(spec.get("evens_multiplier", 1)),
            int(spec.get("odds_multiplier", 1)),
            bool(spec.get("reverse", False)),
            int(spec.get("modulo", 10)),
        )
    if name == "mod7":
        return _mod7_check
    if name == "s10":
        return s10_rule(tuple(int(w) for w in spec.get("weightings", S10_WEIGHTS)))
    if name == "luhn":
        return _luhn_check
    if name == "mod_37_36":
        return mod_37_36_rule(str(spec.get("alphabet", ALNUM36)))
    if name == "sum_product_with_weightings_and_modulo":
        return sum_product_rule(
            tuple(int(w) for w in spec["weightings"]), int(spec["modulo1"]), int(spec["modulo2"])
        )
    raise UnknownAlgorithm(f"unknown check-digit algorithm {name!r}")


def compute(spec: Mapping[str, Any], serial: str) -> str:
    """The check character that ``spec`` (a ``validation.checksum`` object) expects.

    >>> compute({"name": "mod10", "evens_multiplier": 1, "odds_multiplier": 2}, "5R8939035756712")
    '7'

    Raises :class:`UnknownAlgorithm` for a name the data does not define and
    ``ValueError`` when the serial has characters the algorithm cannot read.
    """
    return make_check(spec)(serial)
