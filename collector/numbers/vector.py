"""Detection of a whole column at once: polars expressions and numpy kernels.

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

How, in five set operations over the column (no Python call per number):

1. **Normalise** with string expressions (ASCII white space and dots removed, upper
   case). Inputs that need more (a dash, which a format may keep; non-ASCII text,
   folded with NFKC; punctuation left after normalising) take the per-number path
   of :mod:`~collector.numbers.detect`, once per distinct input: a handful in an
   import, 0.7% of the benchmark's garbage.
2. **Dispatch** on (length, first two characters), as the per-number engine does:
   the distinct pairs of the column are looked up in the registry's hints once
   each, and a join pairs every number with the formats worth trying.
3. **Match** each format's regex on its rows only (polars' regex engine, anchored),
   extracting the groups a check or lookup needs. Three formats use look-aheads
   the engine lacks (USPS IMpb N and C, DHL eCommerce): their rows are matched with
   Python's ``re``, once per distinct number.
4. **Check digits as arithmetic**: the serials of a format become a matrix of
   character codes (one row per number) and each algorithm is a table look-up,
   a weighted sum or, for MOD 37,36, one vector step per character, in numpy.
   Required lookups are answered once per distinct value of their group.
5. **Rank and explain**: every (number, format) candidate gets its rank and, when
   it fails, its reason; a sort and a group-by pick the best candidate per number
   and join the failures into the same text :attr:`Detection.reason` writes.

``tests/numbers/test_vector.py`` compares this with :func:`detect` row by row;
``tests/benchmarks/bench_numbers.py`` does so on its million inputs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from collector.numbers.checksums import ALNUM36, S10_WEIGHTS
from collector.numbers.detect import (
    SCIENTIFIC,
    Candidate,
    Detection,
    match_formats,
    normalise,
)
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
_OUT = tuple(RESULT_SCHEMA)
_FAILED = (RANK_LOOKUP_FAILED, RANK_CHECK_FAILED)
_VALID = (RANK_PASS, RANK_NO_CHECK, RANK_CATCH_ALL)
# Sort key of a candidate: rank first, then the format's tiebreak (as _rank_key).
_RANK_WEIGHT = 10_000_000
# ASCII white space and dots: what normalising removes from an ASCII input.
_ASCII_REMOVED = r"[ \t\n\r\f\v.]"
_ALNUM_ONLY = r"^[0-9A-Z-]*$"

Codes = npt.NDArray[np.int64]
#: serials (a String series, [0-9A-Z] only) -> the check character each expects,
#: null where the algorithm cannot read the serial (a failed check).
Kernel = Callable[[pl.Series], pl.Series]


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


def _codes(serials: pl.Series, width: int, *, right: bool) -> npt.NDArray[np.uint8]:
    """The serials as an (n, width) matrix of ASCII codes, padded with "0".

    Right-aligned (``right``) for algorithms read from the right, where leading
    zeros add nothing; left-aligned otherwise, where trailing zeros add nothing.
    """
    padded = serials.str.pad_start(width, "0") if right else serials.str.pad_end(width, "0")
    blob = str(padded.str.join("").item()).encode("ascii")
    return np.frombuffer(blob, dtype=np.uint8).reshape(len(serials), width)


def _as_text(values: Codes, bad: npt.NDArray[np.bool_], chars: Sequence[str] | None) -> pl.Series:
    """Check values as the characters the per-number rules return (null where bad)."""
    series = pl.Series(np.where(bad, -1, values), dtype=pl.Int64)
    if chars is None:
        text = series.cast(pl.String)
    else:
        text = series.replace_strict(dict(enumerate(chars)), default=None, return_dtype=pl.String)
    return text.set(pl.Series(bad), None)


def _width(serials: pl.Series) -> int:
    longest = serials.str.len_bytes().max()
    return max(int(longest), 1) if isinstance(longest, int) else 1


def _unreadable(values: Codes) -> npt.NDArray[np.bool_]:
    """Rows with a character the algorithm cannot read (a failed check)."""
    return np.asarray((values < 0).any(axis=1), dtype=np.bool_)


def _weights_from(width: int, *, right: bool, evens: int, odds: int) -> Codes:
    # Index 0 is the first character, or the last one when reading from the right.
    index = np.arange(width)[::-1] if right else np.arange(width)
    return np.where(index % 2 == 0, evens, odds).astype(np.int64)


def _mod10_kernel(evens: int, odds: int, reverse: bool, modulo: int) -> Kernel:
    def kernel(serials: pl.Series) -> pl.Series:
        width = _width(serials)
        values = _MOD10[_codes(serials, width, right=reverse)]
        total = values @ _weights_from(width, right=reverse, evens=evens, odds=odds)
        return _as_text((modulo - total % modulo) % modulo, _unreadable(values), None)

    return kernel


def _luhn_kernel(serials: pl.Series) -> pl.Series:
    width = _width(serials)
    digits = _DIGITS[_codes(serials, width, right=True)]
    bad = _unreadable(digits)
    doubled = _weights_from(width, right=True, evens=1, odds=0).astype(bool)
    values = np.where(doubled, _LUHN_DOUBLE[np.clip(digits, 0, 9)], digits)
    total = values.sum(axis=1)
    return _as_text((10 - total % 10) % 10, bad, None)


def _mod7_kernel(serials: pl.Series) -> pl.Series:
    # int(serial) % 7 as a weighted sum: digit k from the right weighs 10**k mod 7.
    width = _width(serials)
    digits = _DIGITS[_codes(serials, width, right=True)]
    weights = np.array([pow(10, k, 7) for k in range(width)][::-1], dtype=np.int64)
    return _as_text((digits @ weights) % 7, _unreadable(digits), None)


def _weighted_kernel(
    weights: Sequence[int], finish: Callable[[Codes], Codes], chars: Sequence[str] | None
) -> Kernel:
    """A fixed-length weighted digit sum (S10, FedEx): any other length fails."""
    size = len(weights)
    vector = np.array(weights, dtype=np.int64)

    def kernel(serials: pl.Series) -> pl.Series:
        lengths = serials.str.len_bytes().to_numpy()
        digits = _DIGITS[_codes(serials, max(size, int(lengths.max() or 0)), right=False)]
        digits = digits[:, :size]
        bad = _unreadable(digits) | (lengths != size)
        return _as_text(finish(digits @ vector), bad, chars)

    return kernel


# 11 - remainder, with 11 -> 5 (remainder 0) and 10 -> 0 (remainder 1), as checksums.
_S10_CHECK = ("5", "0", "9", "8", "7", "6", "5", "4", "3", "2", "1")


def _mod_37_36_kernel(alphabet: str) -> Kernel:
    modulus = len(alphabet)
    values_of = _table({char: value for value, char in enumerate(alphabet)})

    def one_length(serials: pl.Series, width: int) -> tuple[Codes, npt.NDArray[np.bool_]]:
        values: Codes = (
            values_of[_codes(serials, width, right=False)]
            if width
            else np.zeros((len(serials), 0), dtype=np.int64)
        )
        product = np.full(len(serials), modulus, dtype=np.int64)
        for column in values.T:  # ISO/IEC 7064 hybrid: one vector step per character
            total = (product + column) % modulus
            product = (np.where(total == 0, modulus, total) * 2) % (modulus + 1)
        return (modulus + 1 - product) % modulus, _unreadable(values)

    def kernel(serials: pl.Series) -> pl.Series:
        # The recurrence is not neutral to padding: one matrix per serial length.
        lengths = serials.str.len_bytes().to_numpy()
        result = np.zeros(len(serials), dtype=np.int64)
        bad = np.zeros(len(serials), dtype=bool)
        for width in np.unique(lengths):
            at = np.flatnonzero(lengths == width)
            result[at], bad[at] = one_length(serials.gather(at), int(width))
        return _as_text(result, bad, alphabet)

    return kernel


def kernel_for(spec: Mapping[str, Any]) -> Kernel:
    """The column kernel of a ``validation.checksum`` object (as :func:`make_check`).

    >>> kernel_for({"name": "s10"})(pl.Series(["12345678", "1234567"])).to_list()
    ['5', None]
    """
    name = spec.get("name")
    if name == "mod10":
        return _mod10_kernel(
            int(spec.get("evens_multiplier", 1)),
            int(spec.get("odds_multiplier", 1)),
            bool(spec.get("reverse", False)),
            int(spec.get("modulo", 10)),
        )
    if name == "mod7":
        return _mod7_kernel
    if name == "luhn":
        return _luhn_kernel
    if name == "s10":
        weights = tuple(int(w) for w in spec.get("weightings", S10_WEIGHTS))
        return _weighted_kernel(weights, lambda total: total % 11, _S10_CHECK)
    if name == "mod_37_36":
        return _mod_37_36_kernel(str(spec.get("alphabet", ALNUM36)))
    if name == "sum_product_with_weightings_and_modulo":
        first, second = int(spec["modulo1"]), int(spec["modulo2"])
        return _weighted_kernel(
            [int(w) for w in spec["weightings"]], lambda total: total % first % second, None
        )
    raise ValueError(f"no column kernel for check-digit algorithm {name!r}")


# --- formats as column plans ------------------------------------------------------


def _polars_regex(pattern: str) -> str | None:
    """``pattern`` anchored for polars' regex engine, or None if that engine lacks a
    feature it uses (look-arounds)."""
    anchored = rf"\A(?:{pattern})\z"
    try:
        pl.Series([""]).str.contains(anchored)
    except pl.exceptions.ComputeError:
        return None
    return anchored


def _skip_group(pattern: str, start: int) -> int:
    """The index just past the group opening at ``start`` (escapes and classes read)."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("]", i + 1) or pattern.startswith("^]", i + 1):
                i += 2
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(pattern)


def _without_lookarounds(pattern: str) -> str:
    """The pattern with its look-arounds dropped: it matches everything the pattern
    matches (assertions only ever rule matches out), so it can filter rows first.

    >>> _without_lookarounds(r"94(?=9[0-9]{8}(?![0-9]))[0-9]+")
    '94[0-9]+'
    """
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            i = _skip_group(pattern, i)
            continue
        out.append(char)
        i += 1
    return "".join(out)


_NAMED = re.compile(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>")


def _capturing_only(pattern: str, names: frozenset[str]) -> str:
    """The pattern with every named group not in ``names`` made non-capturing (the
    regex engine then records fewer positions, and fewer columns are built)."""
    return _NAMED.sub(lambda m: m.group(0) if m.group(1) in names else "(?:", pattern)


# "^(?!91).+$": the serial does not start with 91 (the data's only prepend_if shape).
_NOT_STARTING = re.compile(r"\^\(\?!([0-9A-Z]+)\)\.\+\$?")

Condition = Callable[[pl.Expr], pl.Expr]


@dataclass(frozen=True)
class _Plan:
    """What the column engine does for one format."""

    index: int
    fmt: Format
    #: The anchored pattern for polars (None: look-arounds, matched with ``re``).
    regex: str | None
    #: For a format with look-arounds: the anchored pattern without them (a filter).
    relaxed: str | None
    #: ``regex`` capturing only the groups a check or lookup reads.
    capture: str | None
    kernel: Kernel | None
    #: prepend_if as (serial -> whether to prepend, the prefix).
    prepend: tuple[Condition, str] | None
    tiebreak: int

    @property
    def checked(self) -> bool:
        return self.kernel is not None or bool(self.fmt.required)


def _prepend(fmt: Format) -> tuple[Condition, str] | None:
    rule = fmt.checksum.prepend_if if fmt.checksum else None
    if rule is None:
        return None
    pattern, prefix = rule
    shape = _NOT_STARTING.fullmatch(pattern.pattern)
    if shape is not None:
        head = shape.group(1)
        return (lambda serial: ~serial.str.starts_with(head) & (serial.str.len_bytes() > 0)), prefix
    if _polars_regex(pattern.pattern) is not None:
        found = pattern.pattern
        return (lambda serial: serial.str.contains(found)), prefix
    search = pattern.search  # pragma: no cover - no such rule in the data
    return (
        lambda serial: serial.map_elements(lambda s: search(s) is not None, pl.Boolean)
    ), prefix  # pragma: no cover


def _plan(index: int, fmt: Format) -> _Plan:
    regex = _polars_regex(fmt.pattern.pattern)
    kernel = kernel_for(fmt.checksum.spec) if fmt.checksum is not None else None
    needed = {a.group for a in fmt.required}
    if kernel is not None:
        needed |= {"SerialNumber", "CheckDigit"}
    capture = (
        None
        if regex is None
        else rf"\A(?P<_match>{_capturing_only(fmt.pattern.pattern, frozenset(needed))})\z"
    )
    relaxed = (
        None if regex is not None else _polars_regex(_without_lookarounds(fmt.pattern.pattern))
    )
    return _Plan(index, fmt, regex, relaxed, capture, kernel, _prepend(fmt), fmt.tiebreak)


@functools.cache
def _plans() -> tuple[_Plan, ...]:
    return tuple(_plan(index, fmt) for index, fmt in enumerate(registry().formats))


@functools.cache
def _dispatch() -> pl.DataFrame:
    """(length, prefix) -> format index, for every pair a format's hints admit."""
    reg = registry()
    lengths: list[int] = []
    prefixes: list[str] = []
    formats: list[int] = []
    for index, fmt in enumerate(reg.formats):
        shapes = fmt.hints.shapes
        if shapes is None:  # pragma: no cover - every format of the data has shapes
            raise ValueError(f"{fmt.key}: no (prefix, length) hints for the column engine")
        for prefix, length in sorted(shapes):
            if fmt.admits(length, prefix) and length <= reg.max_length:
                lengths.append(length)
                prefixes.append(prefix)
                formats.append(index)
    return pl.DataFrame(
        {"length": lengths, "prefix": prefixes, "f": formats},
        schema={"length": pl.UInt32, "prefix": pl.String, "f": pl.Int8},
    )


@functools.cache
def _per_format() -> dict[str, pl.Series]:
    """Per format index: what a detection's best candidate says of it."""
    formats = registry().formats
    return {
        "courier": pl.Series([f.courier for f in formats], dtype=pl.String),
        "format": pl.Series([f.id for f in formats], dtype=pl.String),
        "format_name": pl.Series([f.name for f in formats], dtype=pl.String),
        "weak": pl.Series(
            [
                f"{f.name} has no check digit: the shape fits but cannot be verified"
                for f in formats
            ],
            dtype=pl.String,
        ),
    }


# --- the engine -------------------------------------------------------------------

_CANDIDATES = {
    "key": pl.Int64,
    "row": pl.UInt32,
    "f": pl.Int8,
    "rank": pl.Int8,
    "reason": pl.String,
}
_VERDICT_OF_RANK = pl.Series(["valid", "weak", "invalid", "invalid", "weak"], dtype=pl.String)


def _tagged(frame: pl.DataFrame, plan: _Plan, rank: pl.Expr, reason: pl.Expr) -> pl.DataFrame:
    """Candidate rows of a format: the sort key (row, then rank, then tiebreak), etc."""
    return frame.select(
        (
            pl.col("row").cast(pl.Int64) * (1 << 27)
            + rank.cast(pl.Int64) * _RANK_WEIGHT
            + plan.tiebreak
        ).alias("key"),
        "row",
        pl.lit(plan.index, pl.Int8).alias("f"),
        rank.cast(pl.Int8).alias("rank"),
        reason.cast(pl.String).alias("reason"),
    )


def _lookup_answers(lookup: Additional, values: pl.Series) -> tuple[list[str], list[str], bool]:
    """Of a group's distinct values: those the rank accepts, those ``find`` accepts,
    and what the rank says of a missing group (the two differ only on empty values)."""
    exact = frozenset(lookup.exact)
    patterns = [e.matches_regex for e in lookup.by_regex if e.matches_regex is not None]
    ranked, found = [], []
    for value in values.drop_nulls().unique().to_list():
        if value in exact or any(p.fullmatch(value) for p in patterns):
            ranked.append(value)
        if lookup.find(value) is not None:
            found.append(value)
    return ranked, found, any(p.fullmatch("") for p in patterns)


def _candidates(plan: _Plan, rows: pl.DataFrame) -> pl.DataFrame:
    """Rank (and explain the failures of) one format on its rows (``row``, ``number``)."""
    fmt = plan.fmt
    if plan.regex is None:
        return _python_candidates(plan, rows)
    if not plan.checked:
        matched = rows.filter(pl.col("number").str.contains(plan.regex))
        return _tagged(matched, plan, pl.lit(fmt.static_rank), pl.lit(None))
    # One regex pass: the whole match is captured too, null where it does not match.
    groups = rows.select("row", pl.col("number").str.extract_groups(str(plan.capture)))
    groups = groups.unnest("number").filter(pl.col("_match").is_not_null())
    if groups.is_empty():
        return pl.DataFrame(schema=_CANDIDATES)
    found_all: pl.Expr = pl.lit(True)
    reasons: list[tuple[pl.Expr, pl.Expr]] = []  # (lookup found, reason when not)
    for lookup in fmt.required:
        ranked, found, missing_ok = _lookup_answers(lookup, groups[lookup.group])
        value = pl.col(lookup.group)
        found_all = found_all & value.is_in(ranked).fill_null(missing_ok)
        entry = fmt.glossary.get(lookup.group)
        label = entry.label.lower() if entry else lookup.group
        template = f"{label} {{}} has no entry in the {lookup.name} lookup ({fmt.name})"
        reasons.append(
            (value.is_in(found).fill_null(False), pl.format(template, value.fill_null("None")))
        )
    lookup_reason: pl.Expr = pl.lit(None, pl.String)
    for found_it, why in reversed(reasons):  # the first failing lookup names the reason
        lookup_reason = pl.when(found_it).then(lookup_reason).otherwise(why)
    if plan.kernel is None:
        ok = groups.filter(found_all)
        failed = groups.filter(~found_all)
        return pl.concat(
            [
                _tagged(ok, plan, pl.lit(RANK_NO_CHECK), pl.lit(None)),
                _tagged(failed, plan, pl.lit(RANK_LOOKUP_FAILED), lookup_reason),
            ]
        )
    serial = pl.col("SerialNumber")
    if plan.prepend is not None:
        applies, prefix = plan.prepend
        serial = pl.when(applies(serial)).then(pl.lit(prefix) + serial).otherwise(serial)
    serials = groups.select(serial.alias("s"))["s"]
    groups = groups.with_columns(plan.kernel(serials).alias("_expected"))
    expected, actual = pl.col("_expected"), pl.col("CheckDigit")
    passed = (expected == actual).fill_null(False)
    ok = groups.filter(passed & found_all)
    wrong = groups.filter(~passed)
    unlisted = groups.filter(passed & ~found_all)
    cannot = pl.format(f"the check digit cannot be computed from {{}} ({fmt.name})", "SerialNumber")
    differs = pl.format(
        f"check digit {{}} does not match computed {{}} ({fmt.name})", actual, expected
    )
    return pl.concat(
        [
            _tagged(ok, plan, pl.lit(RANK_PASS), pl.lit(None)),
            _tagged(
                wrong,
                plan,
                pl.lit(RANK_CHECK_FAILED),
                pl.when(expected.is_null()).then(cannot).otherwise(differs),
            ),
            _tagged(unlisted, plan, pl.lit(RANK_LOOKUP_FAILED), lookup_reason),
        ]
    )


def _python_candidates(plan: _Plan, rows: pl.DataFrame) -> pl.DataFrame:
    """A format polars' regex engine cannot run: ``re`` once per distinct number
    (of the rows its pattern without look-arounds lets through)."""
    fmt = plan.fmt
    if plan.relaxed is not None:
        rows = rows.filter(pl.col("number").str.contains(plan.relaxed))
    fullmatch, evaluate = fmt.pattern.fullmatch, fmt.evaluate
    numbers: list[str] = []
    ranks: list[int] = []
    reasons: list[str | None] = []
    for number in rows["number"].unique().to_list():
        match = fullmatch(number)
        if match is None:
            continue
        rank = fmt.static_rank if evaluate is None else evaluate(match)
        numbers.append(number)
        ranks.append(rank)
        reasons.append(Candidate(fmt, number, rank).reason if rank in _FAILED else None)
    table = pl.DataFrame(
        {"number": numbers, "_rank": ranks, "_reason": reasons},
        schema={"number": pl.String, "_rank": pl.Int8, "_reason": pl.String},
    )
    joined = rows.join(table, on="number")
    return _tagged(joined, plan, pl.col("_rank"), pl.col("_reason"))


def _vector_candidates(rows: pl.DataFrame) -> pl.DataFrame:
    """Every (row, format) candidate of the rows (``row``, ``number``: [0-9A-Z-] only)."""
    rows = rows.with_columns(
        pl.col("number").str.len_bytes().alias("length"),
        pl.col("number").str.slice(0, 2).alias("prefix"),
    )
    tried = rows.join(_dispatch(), on=["length", "prefix"]).select("row", "number", "f")
    plans = _plans()
    parts = [
        _candidates(plans[int(f)], part.select("row", "number"))
        for (f,), part in tried.partition_by("f", as_dict=True).items()
    ]
    return pl.concat([pl.DataFrame(schema=_CANDIDATES), *parts])


_LOOSE = "{}; the shape also fits {}, which has no check digit"


def _several(ranked: pl.DataFrame, rows: pl.Series) -> pl.DataFrame:
    """Numbers that fit several formats, the best not passing: every failure once,
    in rank order, and the formats that fit loosely (as Detection.reason)."""
    names = registry().formats
    loose_names = [f.name for f in names]
    grouped = (
        ranked.filter(pl.col("row").is_in(rows.implode()))
        .group_by("row", maintain_order=True)
        .agg(
            pl.col("rank").first().alias("best_rank"),
            pl.col("f").first(),
            pl.col("reason")
            .filter(pl.col("rank").is_in(_FAILED))
            .unique(maintain_order=True)
            .str.join("; ")
            .alias("failures"),
            pl.col("f").filter(pl.col("rank").is_in(_VALID)).alias("loose"),
        )
        .with_columns(
            pl.col("loose")
            .list.eval(
                pl.element().replace_strict(
                    list(range(len(loose_names))), loose_names, return_dtype=pl.String
                )
            )
            .list.join(", ")
        )
    )
    weak = _per_format()["weak"]
    failures, loose = pl.col("failures"), pl.col("loose")
    weak_text = pl.col("f").replace_strict(list(range(len(weak))), weak, return_dtype=pl.String)
    reason = (
        pl.when(pl.col("best_rank").is_in(_FAILED))
        .then(
            pl.when(loose == "").then(failures)
            .otherwise(pl.format(_LOOSE, failures, loose))
        )
        .otherwise(
            pl.when(failures == "").then(weak_text)
            .otherwise(pl.format("{}; {}", weak_text, failures))
        )
    )  # fmt: skip
    return grouped.select("row", reason.alias("reason"))


def _scatter(size: int, dtype: Any, at: pl.Series, values: pl.Series) -> pl.Series:
    out = pl.Series(values=[None], dtype=dtype).extend_constant(None, size - 1) if size else None
    if out is None:
        return pl.Series(dtype=dtype)
    return out.scatter(at, values) if len(at) else out


def _python_rows(texts: pl.Series) -> pl.DataFrame:
    """Inputs the expressions do not normalise: the per-number path, once per input."""
    answers: dict[str, tuple[Any, ...]] = {}
    for text in texts.unique().to_list():
        number = normalise(text) if text else ""
        detection = Detection(text, number, match_formats(number) if number else ())
        best = detection.best
        verdict = detection.verdict
        answers[text] = (
            number,
            best.courier if best else None,
            best.format if best else None,
            best.format_name if best else None,
            verdict,
            verdict != "invalid" and best is not None,
            None if verdict == "valid" else detection.reason,
        )
    names = _OUT[1:]
    columns = list(zip(*answers.values(), strict=True)) if answers else [()] * len(names)
    table = pl.DataFrame(
        {"text": list(answers), **{n: list(c) for n, c in zip(names, columns, strict=True)}},
        schema={"text": pl.String, **{k: v for k, v in RESULT_SCHEMA.items() if k != "input"}},
    )
    return pl.DataFrame({"text": texts}).join(table, on="text", how="left", maintain_order="left")


def _normalised(text: pl.Expr) -> pl.Expr:
    """The number as :func:`normalise` writes it, for ASCII inputs (null otherwise)."""
    ascii_only = text.str.len_bytes() == text.str.len_chars()
    plain = text.str.replace_all(" ", "", literal=True).str.replace_all(".", "", literal=True)
    # Scientific notation keeps its point (and so takes the per-number path).
    scientific = text.str.strip_chars().str.contains(SCIENTIFIC)
    return (
        pl.when(ascii_only & scientific)
        .then(text.str.strip_chars().str.to_uppercase())
        .when(ascii_only)
        .then(plain.str.to_uppercase())
    )


def _dashes(numbers: pl.Series) -> pl.Series | None:
    """``normalise``'s dash rule on numbers that hold one: a dash stays where a format
    of its own has one (LaserShip's ``-1``), else dashes are grouping and go."""
    patterns = [_polars_regex(f.pattern.pattern) for f in registry().dash_formats]
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


def detect_frame(numbers: Sequence[str | None] | pl.Series) -> pl.DataFrame:
    """Detect every input of a column: a frame with ``RESULT_SCHEMA``, in input order.

    A missing input (``None``) is ``unknown`` with reason "empty input", as "".

    >>> detect_frame(["1Z5R89390357567127", None])["verdict"].to_list()
    ['valid', 'unknown']
    """
    series = numbers if isinstance(numbers, pl.Series) else pl.Series(numbers, dtype=pl.String)
    inputs = series.cast(pl.String).alias("input")
    size = len(inputs)
    frame = pl.DataFrame({"input": inputs}).with_row_index("row")
    frame = frame.with_columns(_normalised(pl.col("input").fill_null("")).alias("number"))
    dashed = frame.filter(pl.col("number").str.contains("-", literal=True))
    if dashed.height:
        fixed = _dashes(dashed["number"])
        if fixed is not None:
            number = frame["number"].scatter(dashed["row"], fixed)
            frame = frame.with_columns(number)
        else:  # pragma: no cover
            frame = frame.with_columns(
                pl.when(pl.col("number").str.contains("-", literal=True)).then(None)
                .otherwise(pl.col("number")).alias("number")
            )  # fmt: skip
    fast = pl.col("number").str.contains(_ALNUM_ONLY).fill_null(False)
    vector_rows = frame.filter(fast).select("row", "number")
    other = frame.filter(~fast).select("row", pl.col("input").fill_null("").alias("text"))

    ranked = _vector_candidates(vector_rows).sort("key")
    first = pl.col("row") != pl.col("row").shift(1, fill_value=-1)  # sorted by row first
    ranked = ranked.with_columns(
        first.alias("first"), pl.when(first).then(pl.col("rank")).forward_fill().alias("best_rank")
    )
    best = ranked.filter("first")
    several = ranked.filter(~pl.col("first") & (pl.col("best_rank") != RANK_PASS))["row"].unique()

    per_format = _per_format()
    f = _scatter(size, pl.Int8, best["row"], best["f"])
    rank = _scatter(size, pl.Int8, best["row"], best["rank"])
    weak = per_format["weak"].gather(best["f"])
    best_reason = best.select(
        pl.when(pl.col("rank").is_in(_FAILED)).then(pl.col("reason"))
        .when(pl.col("rank") != RANK_PASS).then(weak)
    ).to_series()  # fmt: skip
    reason = _scatter(size, pl.String, best["row"], best_reason)
    if len(several):
        explained = _several(ranked, several)
        reason = reason.scatter(explained["row"], explained["reason"])
    result = pl.DataFrame(
        {
            "row": frame["row"],
            "input": inputs,
            "number": frame["number"].fill_null(""),
            "courier": per_format["courier"].gather(f),
            "format": per_format["format"].gather(f),
            "format_name": per_format["format_name"].gather(f),
            "verdict": _VERDICT_OF_RANK.gather(rank),
            "reason": reason,
        }
    )
    result = result.with_columns(
        pl.col("verdict").fill_null("unknown"),
        (pl.col("verdict").is_not_null() & (pl.col("verdict") != "invalid")).alias("valid"),
        pl.when(pl.col("verdict").is_not_null())
        .then(pl.col("reason"))
        .when(pl.col("number") == "")
        .then(pl.lit("empty input"))
        .otherwise(pl.lit("matches no known format"))
        .alias("reason"),
    )
    if other.height:
        answers = _python_rows(other["text"])
        at = other["row"]
        result = result.with_columns([result[name].scatter(at, answers[name]) for name in _OUT[1:]])
    return result.select([pl.col(name).cast(dtype) for name, dtype in RESULT_SCHEMA.items()])
