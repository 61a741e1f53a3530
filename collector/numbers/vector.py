"""Detection of a whole column at once: numpy over a matrix of character codes.

The same answers as :func:`~collector.numbers.detect.detect`, row for row, worked
out a column at a time instead of a number at a time::

    >>> frame = detect_frame(["RB123456785GB", "rb 1234 5678 4 gb", "LP00123456789012", "x"])
    >>> for row in frame.select("number", "format", "verdict").rows():
    ...     print(row)
    ('RB123456785GB', 's10', 'valid')
    ('RB123456784GB', 's10', 'invalid')
    ('LP00123456789012', 'cainiao_lp', 'weak')
    ('X', None, 'unknown')
    >>> frame["reason"][1]
    'check digit 4 does not match computed 5 (S10)'

How, in five steps over the column (no Python call per number):

1. **Normalise** the bytes of the column (its Arrow buffers) with numpy: spaces
   removed, upper case; a dash follows :func:`normalise`'s rule as string
   expressions over the rows that hold one (it stays where a format has its own,
   LaserShip's ``-1``). Inputs that need more (a dot, which scientific notation
   keeps; other punctuation, tabs, non-ASCII text, folded with NFKC) take the
   per-number path of :mod:`~collector.numbers.detect`, once per distinct input:
   a handful in an import, 0.7% of the benchmark's inputs.
2. **One matrix per length**: the numbers of each length become an (n, length)
   matrix of character codes, with two bit masks per number (which positions hold
   a digit, which a letter).
3. **Match** every format of that length as position masks
   (:mod:`~collector.numbers.positions`: each way its regex can match a number of
   that length fixes the class of every position and the span of every group): a
   path is a few integer tests on the bit masks plus a byte test for the
   positions that need a literal or a narrower class. Look-aheads are folded into
   the masks, so no format needs a regex engine.
4. **Check digits as arithmetic** on the columns of the ``SerialNumber`` span: a
   table look-up, a weighted sum or, for MOD 37,36, one vector step per character.
   Required lookups are answered once per distinct value of their group.
5. **Rank and explain**: the best candidate of a number is a running minimum over
   the formats; reasons are written for the failing candidates only, and a number
   that fits several formats without passing one gets the joined text of
   :attr:`Detection.reason` from a group-by over those numbers alone.

``tests/numbers/test_vector.py`` compares this with :func:`detect` row by row;
``tests/benchmarks/bench_numbers.py`` does so on its million inputs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from collector.numbers.checksums import ALNUM36, S10_WEIGHTS
from collector.numbers.detect import Candidate, Detection, match_formats, normalise
from collector.numbers.formats import (
    RANK_CATCH_ALL,
    RANK_CHECK_FAILED,
    RANK_LOOKUP_FAILED,
    RANK_NO_CHECK,
    RANK_PASS,
    Additional,
    Format,
    registry,
)
from collector.numbers.positions import UNIVERSE, Path, Unsupported, paths_for

__all__ = ["RESULT_SCHEMA", "detect_frame"]

#: What :func:`detect_frame` returns, one row per input in input order.
RESULT_SCHEMA: dict[str, Any] = {
    "input": pl.String,
    "number": pl.String,
    "courier": pl.String,
    "format": pl.String,
    "format_name": pl.String,
    "verdict": pl.String,
    "valid": pl.Boolean,
    "reason": pl.String,
}
_FAILED = (RANK_LOOKUP_FAILED, RANK_CHECK_FAILED)
# Sort key of a candidate: rank first, then the format's tiebreak (as _rank_key).
_RANK_WEIGHT = 10_000_000
_NO_KEY = np.iinfo(np.int16).max
_PLACES = 256  # formats at most, for the best candidate's key (rank * _PLACES + place)

Codes = npt.NDArray[np.int64]
Bytes = npt.NDArray[np.uint8]
Rows = npt.NDArray[np.intp]
Mask = npt.NDArray[np.bool_]
#: A serial matrix (n, width) of ASCII codes -> (the check value each expects, the
#: rows whose serial the algorithm cannot read: a failed check).
Kernel = Callable[[Bytes], tuple[Codes, Mask]]


# --- check-digit kernels ----------------------------------------------------------


def _table(values: Mapping[str, int]) -> Codes:
    """A 256-entry look-up from character code to value (-1: not readable)."""
    table = np.full(256, -1, dtype=np.int64)
    for char, value in values.items():
        table[ord(char)] = value
    return table


_DIGITS = _table({str(d): d for d in range(10)})
# mod10 reads letters as (ord - 3) % 10 (UPS), see checksums.letter_value.
_MOD10 = _table({**{str(d): d for d in range(10)}, **{chr(c): (c - 3) % 10 for c in range(65, 91)}})
_LUHN_DOUBLE = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int64)


def _unreadable(values: Codes) -> Mask:
    """Rows with a character the algorithm cannot read (a failed check)."""
    return np.asarray((values < 0).any(axis=1), dtype=np.bool_)


def _weights_from(width: int, *, right: bool, evens: int, odds: int) -> Codes:
    # Index 0 is the first character, or the last one when reading from the right.
    index = np.arange(width)[::-1] if right else np.arange(width)
    return np.where(index % 2 == 0, evens, odds).astype(np.int64)


# What an unreadable character adds to a weighted sum: enough to make it negative
# whatever the rest adds (64 positions at most).
_UNREADABLE = -(1 << 24)


def _position_tables(rows: Sequence[Codes]) -> npt.NDArray[np.int32]:
    """(width, 256): what each character adds at each position (its value times the
    position's weight, folded into the table), _UNREADABLE where it cannot be read."""
    return np.array(
        [np.where(values < 0, _UNREADABLE, values) for values in rows], dtype=np.int32
    ).reshape(len(rows), 256)


def _weighted(values: Codes, weights: Sequence[int]) -> npt.NDArray[np.int32]:
    return _position_tables([np.where(values < 0, -1, values * w) for w in weights])


def _sum(codes: Bytes, tables: npt.NDArray[np.int32]) -> tuple[Codes, Mask]:
    """The weighted sum of each row, one table look-up per position; and the rows
    with an unreadable character (or none at all: the per-number rules raise on "")."""
    total = np.zeros(len(codes), dtype=np.int32)
    for position in range(codes.shape[1]):
        total += tables[position][codes[:, position]]
    bad = total < 0
    if not codes.shape[1]:
        bad[:] = True
    return total.astype(np.int64), bad


def _by_width(
    make: Callable[[int], npt.NDArray[np.int32]],
) -> Callable[[int], npt.NDArray[np.int32]]:
    return functools.lru_cache(maxsize=128)(make)


def _mod10_kernel(evens: int, odds: int, reverse: bool, modulo: int) -> Kernel:
    tables = _by_width(
        lambda width: _weighted(
            _MOD10, _weights_from(width, right=reverse, evens=evens, odds=odds).tolist()
        )
    )

    def kernel(codes: Bytes) -> tuple[Codes, Mask]:
        total, bad = _sum(codes, tables(codes.shape[1]))
        return (modulo - total % modulo) % modulo, bad

    return kernel


_LUHN_DOUBLED = _table({str(d): int(_LUHN_DOUBLE[d]) for d in range(10)})
# The digit next to the check (the first one read from the right) is doubled.
_luhn_tables = _by_width(
    lambda width: _position_tables(
        [_LUHN_DOUBLED if (width - 1 - p) % 2 == 0 else _DIGITS for p in range(width)]
    )
)


def _luhn_kernel(codes: Bytes) -> tuple[Codes, Mask]:
    total, bad = _sum(codes, _luhn_tables(codes.shape[1]))
    return (10 - total % 10) % 10, bad


# int(serial) % 7 as a weighted sum: digit k from the right weighs 10**k mod 7.
_mod7_tables = _by_width(
    lambda width: _weighted(_DIGITS, [pow(10, k, 7) for k in range(width)][::-1])
)


def _mod7_kernel(codes: Bytes) -> tuple[Codes, Mask]:
    total, bad = _sum(codes, _mod7_tables(codes.shape[1]))
    return total % 7, bad


def _weighted_kernel(weights: Sequence[int], finish: Callable[[Codes], Codes]) -> Kernel:
    """A fixed-length weighted digit sum (S10, FedEx): any other length fails."""
    size = len(weights)
    tables = _weighted(_DIGITS, weights)

    def kernel(codes: Bytes) -> tuple[Codes, Mask]:
        if codes.shape[1] != size:
            return np.zeros(len(codes), dtype=np.int64), np.ones(len(codes), dtype=np.bool_)
        total, bad = _sum(codes, tables)
        return finish(total), bad

    return kernel


def _mod_37_36_kernel(alphabet: str) -> Kernel:
    modulus = len(alphabet)
    # The ISO/IEC 7064 hybrid recurrence as a table: step[P * 256 + code] is the next
    # P after that character, -1 after a character outside the alphabet (and ever after).
    step = np.full((modulus + 2) * 256, -1, dtype=np.int32)
    for product in range(1, modulus + 1):
        for value, char in enumerate(alphabet):
            total = (product + value) % modulus or modulus
            step[product * 256 + ord(char)] = (total * 2) % (modulus + 1)
    # Row "-1" (index modulus + 1 after wrapping below) stays unreadable.
    step[(modulus + 1) * 256 :] = -1

    def kernel(codes: Bytes) -> tuple[Codes, Mask]:
        product = np.full(len(codes), modulus, dtype=np.int32)
        for column in np.ascontiguousarray(codes.T):
            product = step[np.where(product < 0, modulus + 1, product) * 256 + column]
        bad = product < 0
        return ((modulus + 1 - product) % modulus).astype(np.int64), bad

    return kernel


# 11 - remainder, with 11 -> 5 (remainder 0) and 10 -> 0 (remainder 1), as checksums.
_S10_CHECK = ("5", "0", "9", "8", "7", "6", "5", "4", "3", "2", "1")


@dataclass(frozen=True)
class _Check:
    """A format's check-digit algorithm as a matrix kernel, and how its values read."""

    kernel: Kernel
    #: The check character of each value (None: the value written in decimal).
    chars: Sequence[str] | None

    def texts(self) -> list[str]:
        """Value -> the text the per-number rule returns (enough for any modulus)."""
        return list(self.chars) if self.chars is not None else [str(v) for v in range(256)]

    @functools.cached_property
    def text_series(self) -> pl.Series:
        return pl.Series(self.texts(), dtype=pl.String)

    @functools.cached_property
    def codes(self) -> Codes:
        """Value -> the character code it must equal (0: a text of two characters)."""
        out = np.zeros(256, dtype=np.int64)
        for value, text in enumerate(self.texts()):
            out[value] = ord(text) if len(text) == 1 else 0
        return out


def check_for(spec: Mapping[str, Any]) -> _Check:
    """The matrix kernel of a ``validation.checksum`` object (as :func:`make_check`)."""
    name = spec.get("name")
    if name == "mod10":
        return _Check(
            _mod10_kernel(
                int(spec.get("evens_multiplier", 1)),
                int(spec.get("odds_multiplier", 1)),
                bool(spec.get("reverse", False)),
                int(spec.get("modulo", 10)),
            ),
            None,
        )
    if name == "mod7":
        return _Check(_mod7_kernel, None)
    if name == "luhn":
        return _Check(_luhn_kernel, None)
    if name == "s10":
        weights = tuple(int(w) for w in spec.get("weightings", S10_WEIGHTS))
        return _Check(_weighted_kernel(weights, lambda total: total % 11), _S10_CHECK)
    if name == "mod_37_36":
        alphabet = str(spec.get("alphabet", ALNUM36))
        return _Check(_mod_37_36_kernel(alphabet), alphabet)
    if name == "sum_product_with_weightings_and_modulo":
        first, second = int(spec["modulo1"]), int(spec["modulo2"])
        return _Check(
            _weighted_kernel(
                [int(w) for w in spec["weightings"]], lambda total: total % first % second
            ),
            None,
        )
    raise ValueError(f"no column kernel for check-digit algorithm {name!r}")


def _matrix(texts: Sequence[str]) -> Bytes:
    """Equally long ASCII strings as an (n, width) matrix of codes."""
    width = len(texts[0]) if texts else 0
    blob = "".join(texts).encode("ascii")
    return np.frombuffer(blob, dtype=np.uint8).reshape(len(texts), width)


def kernel_for(spec: Mapping[str, Any]) -> Callable[[pl.Series], pl.Series]:
    """The column kernel of a ``validation.checksum`` object over a String series:
    the check character each serial expects, null where the rule raises.

    >>> kernel_for({"name": "s10"})(pl.Series(["12345678", "1234567"])).to_list()
    ['5', None]
    """
    check = check_for(spec)
    texts = check.texts()

    def kernel(serials: pl.Series) -> pl.Series:
        out: list[str | None] = [None] * len(serials)
        values = serials.to_list()
        for width in sorted({len(v) for v in values}):
            at = [i for i, v in enumerate(values) if len(v) == width]
            if not all(values[i].isascii() for i in at):
                continue
            expected, bad = check.kernel(_matrix([values[i] for i in at]))
            for i, value, unreadable in zip(at, expected.tolist(), bad.tolist(), strict=True):
                out[i] = None if unreadable else texts[value]
        return pl.Series(out, dtype=pl.String)

    return kernel


# --- formats as masks -------------------------------------------------------------

_DIGIT_SET = frozenset(b"0123456789")
_LETTER_SET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALNUM_SET = _DIGIT_SET | _LETTER_SET


@dataclass(frozen=True)
class _Test:
    """A conjunction of position classes, as integer and byte tests."""

    #: Bits of the positions that must hold a digit, a letter, anything but a dash.
    digits: int
    letters: int
    alnum: int
    #: (position, the one code allowed) and (position, a 256-entry table of allowed).
    literals: tuple[tuple[int, int], ...]
    tables: tuple[tuple[int, Mask], ...]

    @staticmethod
    def of(conditions: Sequence[tuple[int, frozenset[int]]]) -> _Test:
        digits = letters = alnum = 0
        literals: list[tuple[int, int]] = []
        tables: list[tuple[int, Mask]] = []
        for position, chars in conditions:
            if chars == UNIVERSE:
                continue
            if chars == _DIGIT_SET:
                digits |= 1 << position
            elif chars == _LETTER_SET:
                letters |= 1 << position
            elif chars == _ALNUM_SET:
                alnum |= 1 << position
            elif len(chars) == 1:
                literals.append((position, next(iter(chars))))
            else:
                table = np.zeros(256, dtype=np.bool_)
                table[list(chars)] = True
                tables.append((position, table))
        # Literals first: they rule out the most rows.
        return _Test(digits, letters, alnum, tuple(literals), tuple(tables))

    def holds(self, group: _Group) -> Mask:
        mask: Mask | None = None
        for position, code in self.literals:
            test = group.matrix[:, position] == code
            mask = test if mask is None else mask & test
        if self.digits:
            bits = np.uint64(self.digits)
            test = (group.digits & bits) == bits
            mask = test if mask is None else mask & test
        if self.letters:
            bits = np.uint64(self.letters)
            test = (group.letters & bits) == bits
            mask = test if mask is None else mask & test
        if self.alnum and group.dashes is not None:
            test = (group.dashes & np.uint64(self.alnum)) == 0
            mask = test if mask is None else mask & test
        for position, table in self.tables:
            test = table[group.matrix[:, position]]
            mask = test if mask is None else mask & test
        return np.ones(group.size, dtype=np.bool_) if mask is None else mask


@dataclass(frozen=True)
class _PathTest:
    """One path of a format: its test, what it must not meet, its group spans."""

    test: _Test
    excluded: tuple[_Test, ...]
    groups: Mapping[str, tuple[int, int]]

    @staticmethod
    def of(path: Path) -> _PathTest:
        return _PathTest(
            _Test.of(list(enumerate(path.classes))),
            tuple(_Test.of(conditions) for conditions in path.excluded),
            path.groups,
        )

    def holds(self, group: _Group) -> Mask:
        mask = self.test.holds(group)
        for excluded in self.excluded:
            mask &= ~excluded.holds(group)
        return mask


@dataclass(frozen=True)
class _Plan:
    """What the column engine does for one format."""

    index: int
    fmt: Format
    check: _Check | None
    #: prepend_if as (the serial start that stops it, the prefix), for "^(?!91).+".
    prepend: tuple[bytes, bytes] | None
    tiebreak: int

    @property
    def checked(self) -> bool:
        return self.check is not None or bool(self.fmt.required)

    @functools.cache  # noqa: B019 - a handful of plans, kept for the process
    def paths(self, length: int) -> tuple[_PathTest, ...] | None:
        """The format's paths at ``length`` (None: the pattern needs ``re``)."""
        if not self.fmt.admits_length(length):
            return ()
        try:
            return tuple(_PathTest.of(p) for p in paths_for(self.fmt.pattern.pattern, length))
        except Unsupported:
            return None


def _prepend(fmt: Format) -> tuple[bytes, bytes] | None:
    rule = fmt.checksum.prepend_if if fmt.checksum else None
    if rule is None:
        return None
    pattern, prefix = rule
    text = pattern.pattern
    # The data's only shape: "^(?!91).+" (the serial does not start with 91).
    if text.startswith("^(?!") and text.endswith((").+", ").+$")):
        head = text[4 : text.index(")")]
        if head.isalnum() and head.isascii():
            return head.encode(), prefix.encode("ascii")
    raise Unsupported(f"{fmt.key}: prepend_if {text!r}")  # pragma: no cover - not in the data


@functools.cache
def _plans() -> tuple[_Plan, ...]:
    out = []
    for index, fmt in enumerate(registry().formats):
        check = check_for(fmt.checksum.spec) if fmt.checksum is not None else None
        out.append(_Plan(index, fmt, check, _prepend(fmt), fmt.tiebreak))
    return tuple(out)


@functools.cache
def _per_format() -> dict[str, pl.Series]:
    """Per format index (and one more, null: no format): what a best candidate says."""
    formats = registry().formats
    return {
        "courier": pl.Series([*(f.courier for f in formats), None], dtype=pl.String),
        "format": pl.Series([*(f.id for f in formats), None], dtype=pl.String),
        "format_name": pl.Series([*(f.name for f in formats), None], dtype=pl.String),
        "weak": pl.Series(
            [
                *(
                    f"{f.name} has no check digit: the shape fits but cannot be verified"
                    for f in formats
                ),
                None,
            ],
            dtype=pl.String,
        ),
    }


@functools.cache
def _tiebreak_order() -> tuple[Codes, Codes]:
    """(each format's place in tiebreak order, the format at each place): a
    candidate's key is rank * _PLACES + place, and a key's place names its format."""
    order = np.argsort(np.array([p.tiebreak for p in _plans()], dtype=np.int64), kind="stable")
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order))
    return place, order.astype(np.int64)


# --- the engine -------------------------------------------------------------------


class _Group:
    """The numbers of one length: their rows, code matrix and digit/letter/dash bits
    (each worked out when a path first reads it)."""

    def __init__(self, rows: Rows, matrix: Bytes, *, dashes: bool) -> None:
        self.rows = rows
        self.matrix = matrix
        self.size = len(rows)
        self.has_dashes = dashes

    @functools.cached_property
    def digits(self) -> npt.NDArray[np.uint64]:
        return _bits((self.matrix - np.uint8(48)) < 10)

    @functools.cached_property
    def letters(self) -> npt.NDArray[np.uint64]:
        return _bits((self.matrix - np.uint8(65)) < 26)

    @functools.cached_property
    def dashes(self) -> npt.NDArray[np.uint64] | None:
        """None when no number of the group has a dash."""
        return _bits(self.matrix == 45) if self.has_dashes else None


def _bits(flags: Mask) -> npt.NDArray[np.uint64]:
    """Each row's flags as one integer (bit p: position p), for rows up to 64 long."""
    weights = np.left_shift(np.uint64(1), np.arange(flags.shape[1], dtype=np.uint64))
    return np.asarray(flags.astype(np.uint64) @ weights, dtype=np.uint64)


_BYTE_TEXT = pl.Series([chr(i) for i in range(128)] + [""] * 128, dtype=pl.String)


def _texts(matrix: Bytes) -> pl.Series:
    """The rows of an ASCII code matrix as a String series."""
    size, width = matrix.shape
    offsets = np.arange(0, (size + 1) * width, max(width, 1), dtype=np.int64)[: size + 1]
    if width == 0:
        offsets = np.zeros(size + 1, dtype=np.int64)
    array = pa.LargeStringArray.from_buffers(
        size, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(matrix).tobytes())
    )
    return pl.Series(pl.from_arrow(array)).cast(pl.String)


@dataclass
class _Found:
    """Every candidate of one format: rows, ranks; and the failures with their reasons."""

    rows: list[Rows]
    ranks: list[npt.NDArray[np.int8]]
    failed_rows: list[Rows]
    failed_ranks: list[int]
    #: Per failed chunk: (indices into it) -> their reasons. Written only for the
    #: numbers whose reason reads them (most failures sit beside a passing format).
    reasons: list[Callable[[Rows], pl.Series]]

    def add(self, rows: Rows, rank: int | npt.NDArray[np.int8]) -> None:
        if len(rows):
            self.rows.append(rows)
            self.ranks.append(np.broadcast_to(np.asarray(rank, dtype=np.int8), rows.shape))

    def fail(self, rows: Rows, rank: int, reasons: Callable[[Rows], pl.Series]) -> None:
        if len(rows):
            self.failed_rows.append(rows)
            self.failed_ranks.append(rank)
            self.reasons.append(reasons)


def _lookup_answers(lookup: Additional, values: list[str]) -> tuple[list[bool], list[bool]]:
    """Of a group's distinct values: whether the rank accepts each, whether ``find`` does."""
    exact = frozenset(lookup.exact)
    patterns = [e.matches_regex for e in lookup.by_regex if e.matches_regex is not None]
    ranked = [v in exact or any(p.fullmatch(v) for p in patterns) for v in values]
    found = [lookup.find(v) is not None for v in values]
    return ranked, found


def _span_codes(matrix: Bytes, span: tuple[int, int]) -> tuple[Codes, list[str]]:
    """A group's values as one integer per row, and the text of each distinct one."""
    start, end = span
    part = matrix[:, start:end]
    if end - start > 7:  # pragma: no cover - lookup groups are 1-3 characters
        raise Unsupported("a lookup group longer than 7 characters")
    keys = np.zeros(len(matrix), dtype=np.int64)
    for column in part.T:
        keys = keys * 256 + column
    distinct, inverse = np.unique(keys, return_inverse=True)
    width = end - start
    texts = [
        int(k).to_bytes(width, "big").decode("ascii") if width else "" for k in distinct.tolist()
    ]
    return inverse.astype(np.int64), texts


def _lookups(
    plan: _Plan, path: _PathTest, matrix: Bytes
) -> tuple[Mask, list[tuple[Mask, pl.Series]]]:
    """Whether every required lookup accepts each row (as the rank reads it), and
    per lookup: where ``find`` fails, with the reason of each row."""
    fmt = plan.fmt
    size = len(matrix)
    found_all = np.ones(size, dtype=np.bool_)
    reasons: list[tuple[Mask, pl.Series]] = []
    for lookup in fmt.required:
        entry = fmt.glossary.get(lookup.group)
        label = entry.label.lower() if entry else lookup.group
        head, tail = f"{label} ", f" has no entry in the {lookup.name} lookup ({fmt.name})"
        span = path.groups.get(lookup.group)
        if span is None:  # the group took no part: None
            patterns = [e.matches_regex for e in lookup.by_regex if e.matches_regex]
            if not any(p.fullmatch("") for p in patterns):
                found_all[:] = False
            reasons.append(
                (np.ones(size, dtype=np.bool_), pl.repeat(head + "None" + tail, size, eager=True))
            )
            continue
        inverse, texts = _span_codes(matrix, span)
        ranked, found = _lookup_answers(lookup, texts)
        found_all &= np.array(ranked, dtype=np.bool_)[inverse]
        missing = ~np.array(found, dtype=np.bool_)[inverse]
        text = pl.Series([head + t + tail for t in texts], dtype=pl.String)
        reasons.append((missing, text.gather(inverse[missing])))
    return found_all, reasons


def _check_values(plan: _Plan, serials: Bytes) -> tuple[Codes, Mask]:
    """What the format's algorithm expects of each serial (prepend_if applied)."""
    check = plan.check
    assert check is not None
    if plan.prepend is None:
        return check.kernel(serials)
    stop, prefix = plan.prepend
    width = serials.shape[1]
    applies = np.full(len(serials), width > 0, dtype=np.bool_)
    if width >= len(stop):
        starts = np.ones(len(serials), dtype=np.bool_)
        for i, code in enumerate(stop):
            starts &= serials[:, i] == code
        applies &= ~starts
    values = np.zeros(len(serials), dtype=np.int64)
    bad = np.zeros(len(serials), dtype=np.bool_)
    if applies.any():
        head = np.broadcast_to(
            np.frombuffer(prefix, dtype=np.uint8), (int(applies.sum()), len(prefix))
        )
        values[applies], bad[applies] = check.kernel(np.hstack([head, serials[applies]]))
    if not applies.all():
        values[~applies], bad[~applies] = check.kernel(serials[~applies])
    return values, bad


def _gatherer(texts: pl.Series) -> Callable[[Rows], pl.Series]:
    return lambda at: texts.gather(pl.Series(at))


@dataclass(frozen=True)
class _CheckFailures:
    """The failed check digits of a chunk, explained on demand (as Candidate.reason)."""

    plan: _Plan
    actual: Bytes
    values: Codes
    bad: Mask
    serials: Bytes

    def __call__(self, at: Rows) -> pl.Series:
        check, name = self.plan.check, self.plan.fmt.name
        assert check is not None  # only made for checked formats
        differs = pl.concat_str(
            [
                pl.lit("check digit "),
                pl.lit(_BYTE_TEXT.gather(self.actual[at])),
                pl.lit(" does not match computed "),
                pl.lit(check.text_series.gather(self.values[at])),
                pl.lit(f" ({name})"),
            ]
        )
        reason = pl.select(differs).to_series()
        unreadable = self.bad[at]
        if unreadable.any():
            texts = _texts(self.serials[at[unreadable]])
            cannot = "the check digit cannot be computed from " + texts + f" ({name})"
            reason = reason.scatter(np.flatnonzero(unreadable), cannot)
        return reason


def _evaluate(plan: _Plan, path: _PathTest, group: _Group, local: Rows, found: _Found) -> None:
    """Rank (and explain the failures of) a checked format on the rows a path matched."""
    fmt = plan.fmt
    matrix = group.matrix[local]
    rows = group.rows[local]
    size = len(rows)
    found_all, lookup_reasons = _lookups(plan, path, matrix)
    if plan.check is None:
        rank = np.where(found_all, RANK_NO_CHECK, RANK_LOOKUP_FAILED).astype(np.int8)
        passed = np.ones(size, dtype=np.bool_)
    else:
        start, end = path.groups["SerialNumber"]
        digit_at, digit_end = path.groups["CheckDigit"]
        if digit_end - digit_at != 1:  # pragma: no cover - every check digit is one character
            raise Unsupported(f"{fmt.key}: a check digit of {digit_end - digit_at} characters")
        values, bad = _check_values(plan, matrix[:, start:end])
        actual = matrix[:, digit_at]
        passed = (plan.check.codes[values] == actual) & ~bad
        rank = np.where(
            passed, np.where(found_all, RANK_PASS, RANK_LOOKUP_FAILED), RANK_CHECK_FAILED
        ).astype(np.int8)
        wrong = np.flatnonzero(~passed)
        if len(wrong):
            found.fail(
                rows[wrong],
                RANK_CHECK_FAILED,
                _CheckFailures(
                    plan, actual[wrong], values[wrong], bad[wrong], matrix[wrong, start:end]
                ),
            )
    found.add(rows, rank)
    if lookup_reasons:
        # The first lookup that finds no row names the reason (as Candidate.reason).
        unlisted = passed & (rank == RANK_LOOKUP_FAILED)
        reason = pl.repeat(None, size, dtype=pl.String, eager=True)
        explained = np.zeros(size, dtype=np.bool_)
        for missing, why in reversed(lookup_reasons):
            at = np.flatnonzero(missing)
            reason = reason.scatter(at, why)
            explained |= missing
        keep = np.flatnonzero(unlisted & explained)
        found.fail(rows[keep], RANK_LOOKUP_FAILED, _gatherer(reason.gather(keep)))
        # A lookup failing as the rank reads it, yet found: no reason (None).


def _python_candidates(plan: _Plan, group: _Group, found: _Found) -> None:
    """A format whose pattern the masks cannot read: ``re`` once per number."""
    fmt = plan.fmt
    fullmatch, evaluate = fmt.pattern.fullmatch, fmt.evaluate
    rows: list[int] = []
    ranks: list[int] = []
    failed: dict[int, tuple[list[int], list[str | None]]] = {r: ([], []) for r in _FAILED}
    for row, number in zip(group.rows.tolist(), _texts(group.matrix).to_list(), strict=True):
        match = fullmatch(number)
        if match is None:
            continue
        rank = fmt.static_rank if evaluate is None else evaluate(match)
        rows.append(row)
        ranks.append(rank)
        if rank in failed:
            failed[rank][0].append(row)
            failed[rank][1].append(Candidate(fmt, number, rank).reason)
    found.add(np.array(rows, dtype=np.intp), np.array(ranks, dtype=np.int8))
    for rank, (at, reasons) in failed.items():
        texts = pl.Series(reasons, dtype=pl.String)
        found.fail(np.array(at, dtype=np.intp), rank, _gatherer(texts))


def _match_group(group: _Group, founds: list[_Found]) -> None:
    """Every format of the group's length on its numbers."""
    length = group.matrix.shape[1]
    for plan in _plans():
        paths = plan.paths(length)
        if paths is None:
            _python_candidates(plan, group, founds[plan.index])
            continue
        if not paths:
            continue
        found = founds[plan.index]
        taken: Mask | None = None
        for path in paths:
            mask = path.holds(group)
            if taken is not None:
                mask &= ~taken
                taken |= mask
            elif len(paths) > 1:
                taken = mask.copy()
            local = np.flatnonzero(mask)
            if not len(local):
                continue
            if plan.checked:
                _evaluate(plan, path, group, local, found)
            else:
                found.add(group.rows[local], plan.fmt.static_rank)


_LOOSE = "{}; the shape also fits {}, which has no check digit"


def _joined(at: Rows, keys: Codes, texts: pl.Series, rows: Rows, separator: str) -> pl.Series:
    """Per row of ``rows`` (sorted): the ``texts`` found ``at`` it, in ``keys`` order,
    joined ("" when none). A column per place in the row, then one concat."""
    size = len(rows)
    if not len(at):
        return pl.repeat("", size, dtype=pl.String, eager=True)
    order = np.lexsort((keys, at))
    at = at[order]
    where = np.searchsorted(rows, at)
    within = np.arange(len(at)) - np.searchsorted(at, at)
    padded = pl.concat([texts, pl.Series([None], dtype=pl.String)]).rechunk()
    columns = []
    for place in range(int(within.max()) + 1):
        index = np.full(size, len(texts), dtype=np.int64)
        chosen = within == place
        index[where[chosen]] = order[chosen]
        columns.append(pl.lit(padded.gather(pl.Series(index))))
    return pl.select(pl.concat_str(columns, separator=separator, ignore_nulls=True)).to_series()


@functools.cache
def _names_unique() -> bool:
    names = [f.name for f in registry().formats]
    return len(set(names)) == len(names)


def _several(
    wanted: Mask,
    best: tuple[Rows, Codes, Codes],
    founds: list[_Found],
    failures_of: tuple[list[Rows], list[Codes], list[pl.Series]],
) -> pl.Series:
    """Numbers that fit several formats, the best not passing (``wanted``; ``best``:
    their rows, sorted, with the best rank and format): every failure once, in rank
    order (``failures_of``: their rows, keys and reasons), and the formats that fit
    loosely (as Detection.reason)."""
    rows, best_rank, best_f = best
    failed_at, failed_keys, failed_texts = failures_of
    loose_at: list[Rows] = []
    loose_keys: list[Codes] = []
    loose_f: list[Codes] = []
    for plan, found in zip(_plans(), founds, strict=True):
        for at, ranks in zip(found.rows, found.ranks, strict=True):
            keep = wanted[at] & (ranks != RANK_CHECK_FAILED) & (ranks != RANK_LOOKUP_FAILED)
            if keep.any():
                loose_at.append(at[keep])
                loose_keys.append(ranks[keep].astype(np.int64) * _RANK_WEIGHT + plan.tiebreak)
                loose_f.append(np.full(int(keep.sum()), plan.index, dtype=np.int64))
    empty = np.zeros(0, dtype=np.int64)
    texts = pl.concat(failed_texts) if failed_texts else pl.Series(dtype=pl.String)
    at = np.concatenate(failed_at) if failed_at else empty
    keys = np.concatenate(failed_keys) if failed_keys else empty
    if not _names_unique():  # two formats of one name can fail with the same words
        first = pl.DataFrame({"at": at, "key": keys, "text": texts}).with_row_index("i")
        first = first.sort("at", "key").unique(["at", "text"], keep="first", maintain_order=True)
        kept = np.sort(first["i"].to_numpy())
        at, keys, texts = at[kept], keys[kept], texts.gather(pl.Series(kept))
    # A lookup that fails as ranked yet finds a row says nothing (no reason).
    said = (texts.str.len_bytes().fill_null(0) > 0).to_numpy()
    if not said.all():
        at, keys, texts = at[said], keys[said], texts.filter(pl.Series(said))
    failures = _joined(at, keys, texts, rows, "; ")
    names = pl.Series([f.name for f in registry().formats], dtype=pl.String)
    loose = _joined(
        np.concatenate(loose_at) if loose_at else empty,
        np.concatenate(loose_keys) if loose_keys else empty,
        names.gather(pl.Series(np.concatenate(loose_f) if loose_f else empty)),
        rows,
        ", ",
    )
    frame = pl.DataFrame(
        {
            "best_rank": best_rank,
            "failures": failures,
            "loose": loose,
            "weak": _per_format()["weak"].gather(pl.Series(best_f)),
        }
    )
    failures_text, loose_text, weak_text = pl.col("failures"), pl.col("loose"), pl.col("weak")
    reason = (
        pl.when(pl.col("best_rank").is_in(_FAILED))
        .then(
            pl.when(loose_text == "").then(failures_text)
            .otherwise(pl.format(_LOOSE, failures_text, loose_text))
        )
        .otherwise(
            pl.when(failures_text == "").then(weak_text)
            .otherwise(pl.format("{}; {}", weak_text, failures_text))
        )
    )  # fmt: skip
    return frame.select(reason).to_series()


def _python_rows(texts: list[str]) -> tuple[list[str], Codes, Codes, list[str | None]]:
    """Inputs the byte normalisation does not cover: the per-number path, once per
    input. Per input: the number, the best format's index (-1: none), the best
    rank (5: none) and the reason."""
    answers: dict[str, tuple[str, int, int, str | None]] = {}
    for text in texts:
        if text in answers:
            continue
        number = normalise(text) if text else ""
        detection = Detection(text, number, match_formats(number) if number else ())
        best = detection.best
        answers[text] = (
            number,
            best.format_.order if best else -1,
            best.rank if best else 5,
            None if detection.verdict == "valid" else detection.reason,
        )
    rows = [answers[text] for text in texts]
    return (
        [r[0] for r in rows],
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype=np.int64),
        [r[3] for r in rows],
    )


def _replaced(series: pl.Series, rows: Rows, values: pl.Series) -> pl.Series:
    """``series`` with ``values`` at ``rows``: one gather (a scatter into a long
    String series rebuilds it, several times slower)."""
    index = np.arange(len(series), dtype=np.int64)
    index[rows] = len(series) + np.arange(len(rows))
    return pl.concat([series, values.cast(series.dtype)]).rechunk().gather(pl.Series(index))


@functools.cache
def _dash_patterns() -> tuple[str | None, ...]:
    return tuple(_polars_regex(f.pattern.pattern) for f in registry().dash_formats)


def _polars_regex(pattern: str) -> str | None:
    """``pattern`` anchored for polars' regex engine, or None if that engine lacks a
    feature it uses (look-arounds)."""
    anchored = rf"\A(?:{pattern})\z"
    try:
        pl.Series([""]).str.contains(anchored)
    except pl.exceptions.ComputeError:  # pragma: no cover - no dash format has them
        return None
    return anchored


def _dashes(numbers: pl.Series) -> pl.Series | None:
    """``normalise``'s dash rule on numbers that hold one: a dash stays where a format
    of its own has one (LaserShip's ``-1``), else dashes are grouping and go."""
    patterns = _dash_patterns()
    if any(p is None for p in patterns):
        return None  # pragma: no cover - the per-number path takes these rows
    frame = pl.DataFrame({"t": numbers.str.strip_chars("-")})

    def kept(column: pl.Expr) -> pl.Expr:
        test: pl.Expr = pl.lit(False)
        for pattern in patterns:
            test = test | column.str.contains(str(pattern)).fill_null(False)
        return test

    t = pl.col("t")
    last = pl.format(
        "{}-{}",
        t.str.extract(r"\A(.*)-[^-]*\z").str.replace_all("-", "", literal=True),
        t.str.extract(r"-([^-]*)\z"),
    )
    frame = frame.with_columns(last.alias("last"))
    chosen = (
        pl.when(kept(t))
        .then(t)
        .when(kept(pl.col("last")))
        .then(pl.col("last"))
        .otherwise(t.str.replace_all("-", "", literal=True))
    )
    return frame.select(chosen.alias("n"))["n"]


@dataclass
class _Normalised:
    """The column's numbers, and the rows the bytes do not normalise (punctuation,
    tabs, non-ASCII: they take the per-number path)."""

    numbers: pl.Series
    other: Mask
    #: Rows whose number keeps a dash (a format's own).
    dashes: Mask


def _large_strings(series: pl.Series) -> tuple[Codes, Bytes]:
    """(offsets, bytes) of a String series: row i is ``data[offsets[i]:offsets[i + 1]]``."""
    array = series.rechunk().to_arrow()
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    size = len(array)
    _validity, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + size + 1]
    if data_buffer is None or not size:
        return np.zeros(size + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


# Bytes per step of the byte normalisation: its masks stay in the processor's cache
# and are reused, where whole-column masks would be fresh memory each time.
_CHUNK = 1 << 18


def _byte_kinds(data: Bytes) -> tuple[Bytes, Rows, Rows, Rows]:
    """The bytes upper-cased without their spaces, and the positions (in ``data``)
    of the spaces, the dashes and the other bytes that are not letters or digits."""
    kept = np.empty(len(data), dtype=np.uint8)
    found: tuple[list[Rows], list[Rows], list[Rows]] = ([], [], [])
    size = 0
    work = np.empty(_CHUNK, dtype=np.uint8)
    lower = np.empty(_CHUNK, dtype=np.bool_)
    plain = np.empty(_CHUNK, dtype=np.bool_)
    test = np.empty(_CHUNK, dtype=np.bool_)
    space = np.empty(_CHUNK, dtype=np.bool_)
    for start in range(0, len(data), _CHUNK):
        part = data[start : start + _CHUNK]
        n = len(part)
        w, lo, pl_, te, sp = work[:n], lower[:n], plain[:n], test[:n], space[:n]
        np.subtract(part, 97, out=w)
        np.less(w, 26, out=lo)  # a-z
        np.left_shift(lo.view(np.uint8), 5, out=w)
        np.subtract(part, w, out=w)  # upper case
        np.subtract(w, 65, out=w)
        np.less(w, 26, out=pl_)  # A-Z (either case)
        np.subtract(part, 48, out=w)
        np.less(w, 10, out=te)
        np.logical_or(pl_, te, out=pl_)  # letters and digits
        if pl_.all():
            np.subtract(part, lo.view(np.uint8) << 5, out=kept[size : size + n])
            size += n
            continue
        np.equal(part, 32, out=sp)
        np.equal(part, 45, out=te)
        if te.any():
            found[1].append(np.flatnonzero(te) + start)
        np.logical_or(pl_, sp, out=pl_)
        np.logical_or(pl_, te, out=pl_)
        if not pl_.all():
            found[2].append(np.flatnonzero(~pl_) + start)
        upper = part - (lo.view(np.uint8) << 5)
        if sp.any():
            found[0].append(np.flatnonzero(sp) + start)
            upper = upper[~sp]
        kept[size : size + len(upper)] = upper
        size += len(upper)
    empty = np.zeros(0, dtype=np.intp)
    spaces, dashes, others = (np.concatenate(f) if f else empty for f in found)
    return kept[:size], spaces, dashes, others


def _normalise_bytes(inputs: pl.Series) -> _Normalised:
    """Spaces removed and letters upper-cased, over the column's Arrow buffers; then
    ``normalise``'s dash rule on the rows that hold a dash."""
    offsets, data = _large_strings(inputs.fill_null(""))
    size = len(offsets) - 1
    kept, spaces, dash_at, other_at = _byte_kinds(data)
    other = np.zeros(size, dtype=np.bool_)
    other[np.searchsorted(offsets, other_at, side="right") - 1] = True
    dashed_rows = np.zeros(size, dtype=np.bool_)
    dashed_rows[np.searchsorted(offsets, dash_at, side="right") - 1] = True
    # Each offset moves back by the spaces before it.
    new_offsets = offsets - np.searchsorted(spaces, offsets) if len(spaces) else offsets
    array = pa.LargeStringArray.from_buffers(
        size, pa.py_buffer(np.ascontiguousarray(new_offsets)), pa.py_buffer(kept)
    )
    numbers = pl.Series(pl.from_arrow(array)).cast(pl.String)
    dashed = np.flatnonzero(dashed_rows & ~other)
    dashes = np.zeros(size, dtype=np.bool_)
    if len(dashed):
        at = pl.Series(dashed)
        fixed = _dashes(numbers.gather(at))
        if fixed is None:  # pragma: no cover - no dash format has look-arounds
            other[dashed] = True
        else:
            numbers = _replaced(numbers, dashed, fixed)
            dashes[dashed] = fixed.str.contains("-", literal=True).to_numpy()
    return _Normalised(numbers, other, dashes)


def detect_frame(numbers: Sequence[str | None] | pl.Series) -> pl.DataFrame:
    """Detect every input of a column: a frame with ``RESULT_SCHEMA``, in input order.

    A missing input (``None``) is ``unknown`` with reason "empty input", as "".

    >>> detect_frame(["1Z5R89390357567127", None])["verdict"].to_list()
    ['valid', 'unknown']
    """
    series = numbers if isinstance(numbers, pl.Series) else pl.Series(numbers, dtype=pl.String)
    inputs = series.cast(pl.String).alias("input")
    size = len(inputs)
    normalised = _normalise_bytes(inputs)
    numbers = normalised.numbers
    lengths = numbers.str.len_bytes().to_numpy()
    longest = registry().max_length
    usable = ~normalised.other & (lengths > 0) & (lengths <= min(longest, 64))
    candidate_lengths = np.where(usable, lengths, 0).astype(np.uint8)
    order = np.argsort(candidate_lengths, kind="stable")
    counts = np.bincount(candidate_lengths, minlength=longest + 1)
    ends = np.cumsum(counts)

    # Sorted by length, the numbers of each length are one block of bytes: a matrix.
    offsets, data = _large_strings(numbers.gather(pl.Series(order)))
    founds = [_Found([], [], [], [], []) for _ in _plans()]
    for length in range(1, len(counts)):
        if not counts[length]:
            continue
        first, end = int(ends[length - 1]), int(ends[length])
        rows = order[first:end]
        matrix = data[offsets[first] : offsets[end]].reshape(end - first, length)
        group = _Group(rows, matrix, dashes=bool(normalised.dashes[rows].any()))
        _match_group(group, founds)

    # The best candidate of each row: a running minimum of (rank, tiebreak) keys.
    place, format_at = _tiebreak_order()
    best = np.full(size, _NO_KEY, dtype=np.int16)
    count = np.zeros(size, dtype=np.int8)
    for plan, found in zip(_plans(), founds, strict=True):
        for rows, ranks in zip(found.rows, found.ranks, strict=True):
            keys = ranks.astype(np.int16) * _PLACES + place[plan.index]
            best[rows] = np.minimum(best[rows], keys)
            count[rows] += 1
    has = count > 0
    rank = np.where(has, best // _PLACES, 5).astype(np.int64)
    f = np.where(has, format_at[np.where(has, best % _PLACES, 0)], len(_plans()))

    # Reasons: a lone candidate's own; several candidates without a pass: joined;
    # none: the number is empty or fits nothing. One gather puts them in place.
    several = (count > 1) & (rank != RANK_PASS)
    reason_rows: list[Rows] = []
    reason_texts: list[pl.Series] = []
    other = normalised.other
    if other.any():
        at_other = np.flatnonzero(other)
        texts_other = inputs.fill_null("").gather(pl.Series(at_other)).to_list()
        numbers_other, f[at_other], rank[at_other], reasons_other = _python_rows(texts_other)
        f[at_other] = np.where(f[at_other] < 0, len(_plans()), f[at_other])
        has[at_other] = rank[at_other] < 5
        numbers = _replaced(numbers, at_other, pl.Series(numbers_other, dtype=pl.String))
        reason_rows.append(at_other)
        reason_texts.append(pl.Series(reasons_other, dtype=pl.String))
    # The failures whose reason is read: a lone candidate's, or one of several.
    read = (count == 1) | several
    several_failures: tuple[list[Rows], list[Codes], list[pl.Series]] = ([], [], [])
    for plan, found in zip(_plans(), founds, strict=True):
        failed = zip(found.failed_rows, found.failed_ranks, found.reasons, strict=True)
        for rows, failed_rank, explain in failed:
            chosen = np.flatnonzero(read[rows])
            if not len(chosen):
                continue
            at, texts = rows[chosen], explain(chosen)
            alone = count[at] == 1
            reason_rows.append(at[alone])
            reason_texts.append(texts.filter(pl.Series(alone)))
            among = ~alone
            if among.any():
                several_failures[0].append(at[among])
                several_failures[1].append(
                    np.full(int(among.sum()), failed_rank * _RANK_WEIGHT + plan.tiebreak)
                )
                several_failures[2].append(texts.filter(pl.Series(among)))
    weak_rows = np.flatnonzero((count == 1) & ((rank == RANK_NO_CHECK) | (rank == RANK_CATCH_ALL)))
    reason_rows.append(weak_rows)
    reason_texts.append(_per_format()["weak"].gather(pl.Series(f[weak_rows])))
    if several.any():
        at_several = np.flatnonzero(several)
        reason_rows.append(at_several)
        reason_texts.append(
            _several(
                several, (at_several, rank[at_several], f[at_several]), founds, several_failures
            )
        )
    for text, rows_without in (
        ("empty input", np.flatnonzero(~has & ~other & (lengths == 0))),
        ("matches no known format", np.flatnonzero(~has & ~other & (lengths > 0))),
    ):
        reason_rows.append(rows_without)
        reason_texts.append(pl.repeat(text, len(rows_without), dtype=pl.String, eager=True))
    texts = pl.concat([*reason_texts, pl.Series([None], dtype=pl.String)]).rechunk()
    index = np.full(size, len(texts) - 1, dtype=np.int64)
    index[np.concatenate(reason_rows)] = np.arange(len(texts) - 1)
    reason = texts.gather(pl.Series(index))

    per_format = _per_format()
    format_index = pl.Series(f, dtype=pl.Int64)
    verdict_of = pl.Series(["valid", "weak", "invalid", "invalid", "weak", "unknown"])
    result = pl.DataFrame(
        {
            "input": inputs,
            "number": numbers,
            "courier": per_format["courier"].gather(format_index),
            "format": per_format["format"].gather(format_index),
            "format_name": per_format["format_name"].gather(format_index),
            "verdict": verdict_of.gather(pl.Series(rank, dtype=pl.Int64)),
            "valid": pl.Series(has & (rank != RANK_CHECK_FAILED) & (rank != RANK_LOOKUP_FAILED)),
            "reason": reason,
        }
    )
    return result.select([pl.col(name).cast(dtype) for name, dtype in RESULT_SCHEMA.items()])
