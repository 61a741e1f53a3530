"""The courier data, loaded once from package data and compiled for matching.

Two sources are read (never the network): ``data/tracking_number_data`` (jkeen's
courier files, unchanged, MIT) and ``data/parcelproof`` (our own China-origin
formats, same schema, marked ``"source": "parcelproof"``). Each format becomes a
:class:`Format`: its Ruby/PCRE regex converted to Python (``(?<Name>`` becomes
``(?P<Name>``), a *compact* variant without the ``\\s*`` that the published
patterns put between characters (numbers are normalised before matching, so the
whitespace can never be there), the bound check-digit function, lookup tables, the
``exists`` requirements, partners and the tracking URL template.

Matching every number against every pattern would be slow, so each format also
gets dispatch hints read from the stdlib's own parse of its regex: the lengths it
accepts, the two-character prefixes a number may start with (together: which
prefixes go with which lengths), and whether it is digits only.
:meth:`Registry.formats_for` returns only the formats whose hints admit a number,
remembered per (length, prefix). The hints only ever over-approximate (look-aheads
are ignored), so a format is never skipped wrongly, and when the parse cannot be
read the format is simply always tried. Compact patterns also turn unnamed groups
into non-capturing ones, which the regex engine runs about twice as fast::

    >>> reg = registry()
    >>> [f.key for f in reg.formats_for("1Z5R89390357567127")]
    ['ups']
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Generic, TypeVar

from collector.numbers.checksums import make_check

__all__ = [
    "ALPHABET",
    "RANK_CATCH_ALL",
    "RANK_CHECK_FAILED",
    "RANK_LOOKUP_FAILED",
    "RANK_NO_CHECK",
    "RANK_PASS",
    "Additional",
    "Checksum",
    "Entry",
    "Format",
    "GlossaryEntry",
    "Hints",
    "LookupEntry",
    "Partner",
    "Registry",
    "build_registry",
    "compact_regex",
    "hints",
    "load_sources",
    "registry",
    "snake",
    "to_python_regex",
]

#: How a number fares against one format, best first (the candidates' sort key).
#: A catch-all pattern-only format ranks last, see ``Format.catch_all``.
RANK_PASS, RANK_NO_CHECK, RANK_LOOKUP_FAILED, RANK_CHECK_FAILED, RANK_CATCH_ALL = 0, 1, 2, 3, 4

#: Characters a normalised number consists of (anything else makes it garbage).
ALPHABET = frozenset(string.digits + string.ascii_uppercase + "-")
_DIGITS = frozenset(string.digits)
#: Where the data lives inside the package, and the name each source is known by.
SOURCES: tuple[tuple[str, str], ...] = (
    ("tracking_number_data", "data/tracking_number_data"),
    ("parcelproof", "data/parcelproof"),
)

# "(?<Name>" but not the look-behinds "(?<=" and "(?<!".
_RUBY_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")
# The "\s*" the published patterns allow between characters (not an escaped "\\s*").
_OPTIONAL_SPACE = re.compile(r"(?<!\\)\\s\*")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SLUG = re.compile(r"[^a-z0-9]+")

# The stdlib's regex parser, used only at load time for the dispatch hints. It is a
# private module, so every use is guarded: if it changes shape, formats lose their
# hints (and are tried for every number) instead of being skipped.
try:
    _sre: Any = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - Python < 3.11 or a future reorganisation
    _sre = None


def to_python_regex(pattern: str | Sequence[str]) -> str:
    """Join a published pattern (a string or a list of pieces) and convert it to Python.

    >>> to_python_regex([r"\\s*1\\s*Z\\s*(?<SerialNumber>", r"[0-9]{15})"])
    '\\\\s*1\\\\s*Z\\\\s*(?P<SerialNumber>[0-9]{15})'
    """
    text = pattern if isinstance(pattern, str) else "".join(pattern)
    return _RUBY_NAMED_GROUP.sub("(?P<", text)


def compact_regex(pattern: str) -> str:
    """The pattern for normalised numbers: no ``\\s*``, unnamed groups non-capturing.

    Normalised numbers hold no white space, so the ``\\s*`` between characters can
    go; and a capturing group inside a repeat (``([0-9]\\s*){14}``) makes the regex
    engine record every repetition, while ``(?:[0-9]){14}`` runs as one fast
    loop: together about twice as fast, with the same named groups.

    >>> compact_regex(r"\\s*1\\s*Z\\s*(?P<SerialNumber>([A-Z0-9]\\s*){15})[0-9\\s]")
    '1Z(?P<SerialNumber>(?:[A-Z0-9]){15})[0-9\\\\s]'
    """
    text = _OPTIONAL_SPACE.sub("", pattern)
    out: list[str] = []
    i, in_class = 0, False
    while i < len(text):
        char = text[i]
        if char == "\\":
            out.append(text[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # "[]..." and "[^]...": the first "]" is a literal, not the end.
            end = i + 2 if text.startswith("[^", i) else i + 1
            if text.startswith("]", end):
                out.append(text[i : end + 1])
                i = end + 1
                continue
        elif char == "(" and not text.startswith("(?", i):
            out.append("(?:")
            i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


def snake(name: str) -> str:
    """``ShipperId`` -> ``shipper_id``, ``Service Type`` -> ``service_type``.

    >>> [snake(n) for n in ("DestinationZipPlus4", "SCNC", "GSN", "Container Type")]
    ['destination_zip_plus4', 'scnc', 'gsn', 'container_type']
    """
    return "_".join(_CAMEL.sub(" ", name).lower().split())


def _slug(name: str) -> str:
    return _SLUG.sub("-", name.lower()).strip("-")


@dataclass(frozen=True, slots=True)
class GlossaryEntry:
    """What a regex group means: a short label and a sentence."""

    label: str
    description: str


@dataclass(frozen=True, slots=True)
class LookupEntry:
    """One row of an ``additional`` lookup: how it matches and what it says."""

    matches: str | None
    matches_regex: re.Pattern[str] | None
    values: Mapping[str, Any]

    def accepts(self, value: str) -> bool:
        """Whether ``value`` (the group's text) selects this row."""
        if self.matches is not None:
            return value == self.matches
        return self.matches_regex is not None and self.matches_regex.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Additional:
    """An ``additional`` lookup: a regex group's value looked up in a table."""

    name: str
    group: str
    exact: Mapping[str, LookupEntry]
    by_regex: tuple[LookupEntry, ...]

    def find(self, value: str | None) -> LookupEntry | None:
        """The row ``value`` selects (exact matches first, as the data lists them)."""
        if not value:
            return None
        entry = self.exact.get(value)
        if entry is not None:
            return entry
        for candidate in self.by_regex:
            if candidate.accepts(value):
                return candidate
        return None


@dataclass(frozen=True, slots=True)
class Partner:
    """A ``partners`` entry: another format that carries or issues this one's parcels."""

    partner_type: str
    partner_id: str
    description: str | None
    matches_regex: re.Pattern[str] | None

    def applies(self, number: str) -> bool:
        """Whether this partnership applies to ``number`` (no condition: always)."""
        return self.matches_regex is None or self.matches_regex.search(number) is not None


@dataclass(frozen=True, slots=True)
class Checksum:
    """A format's check-digit rule, bound to its parameters."""

    name: str
    compute: Callable[[str], str]
    #: ``serial_number_format.prepend_if``: (pattern searched in the serial, prefix).
    prepend_if: tuple[re.Pattern[str], str] | None
    #: The data's ``validation.checksum`` object (multipliers, weights, moduli), for
    #: engines that compute the check their own way (the column kernels).
    spec: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class Format:
    """One tracking-number format of one courier, compiled.

    ``key`` is unique: the data's ``id``, or ``courier:slug-of-name`` for the few
    formats the data gives no id. ``id`` stays ``None`` for those.
    """

    order: int
    key: str
    courier: str
    courier_name: str
    id: str | None
    name: str
    description: str | None
    source: str
    regex: str
    pattern: re.Pattern[str]
    checksum: Checksum | None
    additional: tuple[Additional, ...]
    required: tuple[Additional, ...]
    tracking_url_template: str | None
    partners: tuple[Partner, ...]
    glossary: Mapping[str, GlossaryEntry]
    groups: tuple[str, ...]
    hints: Hints
    #: A pattern-only format admitting ten or more lengths (DHL E-Commerce's 10-39
    #: free characters): it fits too much to outweigh another format's failed check.
    catch_all: bool
    #: The rank of every match when nothing is checked (no check digit, no lookup).
    static_rank: int
    #: For formats that check something: match -> rank (``RANK_*``).
    evaluate: Callable[[re.Match[str]], int] | None
    #: Sort key among candidates of the same rank: fewer admitted lengths (more
    #: specific) first, then data order.
    tiebreak: int

    @property
    def kept_punctuation(self) -> frozenset[str]:
        """Punctuation the pattern itself contains (normalisation must keep it)."""
        return self.hints.kept_punctuation

    def admits_length(self, length: int) -> bool:
        """Whether a normalised number of this length can possibly match."""
        h = self.hints
        if h.lengths is not None:
            return length in h.lengths
        return h.min_length <= length and (h.max_length is None or length <= h.max_length)

    def admits(self, length: int, prefix: str) -> bool:
        """Whether a normalised number of this length and prefix can possibly match."""
        h = self.hints
        if not self.admits_length(length) or (h.digits_only and not prefix.isdigit()):
            return False
        if h.shapes is not None:
            return (prefix[:_PREFIX], length) in h.shapes
        return h.prefixes is None or prefix[:_PREFIX] in h.prefixes

    def expected_check(self, match: re.Match[str]) -> str | None:
        """The check character this format computes for a match (None: no check, or
        the serial has characters its algorithm cannot read)."""
        rule = self.checksum
        if rule is None:
            return None
        serial = match.group("SerialNumber")
        if rule.prepend_if is not None and rule.prepend_if[0].search(serial):
            serial = rule.prepend_if[1] + serial
        try:
            return rule.compute(serial)
        except ValueError:
            return None

    def tracking_url(self, number: str) -> str | None:
        """The courier's tracking page for ``number`` (``%s`` in the template)."""
        if not self.tracking_url_template:
            return None
        return self.tracking_url_template.replace("%s", number)


#: What the hot loop needs of a format, unpacked once: (fullmatch, evaluate, the
#: rank when nothing is evaluated, the format).
Entry = tuple[
    Callable[[str], "re.Match[str] | None"],
    Callable[["re.Match[str]"], int] | None,
    int,
    "Format",
]


@dataclass(eq=False)
class Registry:
    """Every format, in data order, dispatched by length and two-character prefix.

    ``table[length][prefix]`` holds the entries (see ``Entry``) of the formats worth
    running on a normalised number; it is filled on first sight of each (length,
    prefix), so the hot path is a list index and a dict look-up.
    """

    formats: tuple[Format, ...]
    couriers: Mapping[str, str]
    glossary: Mapping[str, GlossaryEntry]
    max_length: int
    dash_formats: tuple[Format, ...] = field(init=False, repr=False)
    by_key: Mapping[str, Format] = field(init=False, repr=False)
    table: list[dict[str, tuple[Entry, ...]]] = field(init=False, repr=False)
    _by_length: list[tuple[Format, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.dash_formats = tuple(f for f in self.formats if "-" in f.kept_punctuation)
        self.by_key = {f.key: f for f in self.formats}
        self._by_length = [
            tuple(f for f in self.formats if f.admits_length(length))
            for length in range(self.max_length + 1)
        ]
        self.table = [{} for _ in range(self.max_length + 1)]
        self.table[0][""] = ()

    def entries_for(self, number: str) -> tuple[Entry, ...]:
        """The entries of the formats whose length and two-character prefix admit
        ``number`` (normalised), remembered per (length, prefix)."""
        length = len(number)
        if length > self.max_length:
            return ()
        prefix = number[:_PREFIX]
        by_prefix = self.table[length]
        found = by_prefix.get(prefix)
        if found is None:
            found = tuple(
                (f.pattern.fullmatch, f.evaluate, f.static_rank, f)
                for f in self.admitting(length, prefix)
            )
            # Random garbage can produce many prefixes: stop remembering past a bound.
            if len(by_prefix) < _MAX_PREFIXES:
                by_prefix[prefix] = found
        return found

    def admitting(self, length: int, prefix: str) -> tuple[Format, ...]:
        """The formats whose hints admit a normalised number of this length that starts
        with ``prefix`` (its first two characters, fewer when it is shorter).

        >>> [f.key for f in registry().admitting(13, "RB")]
        ['s10', 'yanwen_yp']
        """
        if length > self.max_length:
            return ()
        return tuple(f for f in self._by_length[length] if f.admits(length, prefix[:_PREFIX]))

    def formats_for(self, number: str) -> tuple[Format, ...]:
        """The formats worth running on ``number`` (normalised): those whose length and
        two-character prefix admit it."""
        return tuple(entry[3] for entry in self.entries_for(number))

    def keeps_dashes(self, number: str) -> bool:
        """Whether ``number`` (dashes in place) is a format whose pattern has a dash."""
        return any(f.pattern.fullmatch(number) for f in self.dash_formats)

    def __iter__(self) -> Iterator[Format]:
        return iter(self.formats)


# --- reading the regex parse (dispatch hints) ------------------------------------

_T = TypeVar("_T")
_ANY = None  # "could be anything": the analysis gives up and the format is always tried
_PREFIX = 2  # dispatch on the first two characters
_MAX_PREFIXES = 2048
_CATCH_ALL_WIDTH = 10
_MAX_SET = 4096  # larger prefix or length sets are not worth keeping


def _class_chars(items: Sequence[tuple[Any, Any]]) -> frozenset[str] | None:
    """The characters of a ``[...]`` class within ALPHABET, None if it reaches beyond."""
    c = _sre
    chars: set[str] = set()
    for op, av in items:
        if op is c.LITERAL:
            chars.add(chr(av))
        elif op is c.RANGE:
            lo, hi = av
            if hi - lo > 64:
                return _ANY
            chars.update(chr(i) for i in range(lo, hi + 1))
        elif op is c.CATEGORY and av is c.CATEGORY_DIGIT:
            chars.update(string.digits)
        elif op is c.CATEGORY and av is c.CATEGORY_SPACE:
            continue  # normalised numbers hold no whitespace
        else:
            return _ANY
    if not chars <= ALPHABET:
        return _ANY
    return frozenset(chars)


def _is_repeat(op: Any) -> bool:
    c = _sre
    return op is c.MAX_REPEAT or op is c.MIN_REPEAT or op is getattr(c, "POSSESSIVE_REPEAT", 0)


def _is_zero_width(op: Any) -> bool:
    # Ignoring a look-ahead or an anchor only ever admits more, never fewer, numbers.
    c = _sre
    return op is c.AT or op is c.ASSERT or op is c.ASSERT_NOT


def _join(left: frozenset[str], right: frozenset[str]) -> frozenset[str] | None:
    """Prefixes of a sequence: each left prefix continued by the right ones, cut at 2."""
    out = {a if len(a) >= _PREFIX else (a + b)[:_PREFIX] for a in left for b in right}
    return frozenset(out) if len(out) <= _MAX_SET else _ANY


def _sum(left: frozenset[int], right: frozenset[int]) -> frozenset[int] | None:
    """Lengths of a sequence: every left length plus every right one."""
    out = {a + b for a in left for b in right}
    return frozenset(out) if len(out) <= _MAX_SET and max(out) < 1000 else _ANY


@dataclass(frozen=True)
class _Analysis(Generic[_T]):
    """A set-valued property of the strings a regex matches, built up node by node.

    ``unit`` is what the empty string contributes, ``atom`` one character (a literal
    or a class), ``then`` a sequence of two parts, ``repeats`` how many repetitions
    of a ``{low,high}`` body can still change the result (None: give up), ``settled``
    whether the rest of a sequence no longer matters in full, and ``finish`` what it
    still adds then (the result itself when it adds nothing): reading the rest in
    full would only multiply work. Any ``None`` means "could be anything".
    """

    unit: frozenset[_T]
    atom: Callable[[Any, Any], frozenset[_T] | None]
    then: Callable[[frozenset[_T], frozenset[_T]], frozenset[_T] | None]
    repeats: Callable[[int, int], int | None]
    settled: Callable[[frozenset[_T]], bool]
    finish: Callable[[frozenset[_T], Sequence[tuple[Any, Any]]], frozenset[_T] | None]

    def of(self, items: Sequence[tuple[Any, Any]]) -> frozenset[_T] | None:
        """The property of a sequence of parsed nodes."""
        result: frozenset[_T] | None = self.unit
        for index, (op, av) in enumerate(items):
            if result is _ANY:
                return _ANY
            if self.settled(result):
                return self.finish(result, items[index:])
            part = self.node(op, av)
            if part is _ANY:
                return _ANY
            result = self.then(result, part)
        return result

    def node(self, op: Any, av: Any) -> frozenset[_T] | None:
        """The property of one parsed node."""
        c = _sre
        if op is c.LITERAL or op is c.IN:
            return self.atom(op, av)
        if op is c.SUBPATTERN:
            return self.of(av[-1])
        if op is c.BRANCH:
            union: set[_T] = set()
            for branch in av[1]:
                part = self.of(branch)
                if part is _ANY:
                    return _ANY
                union |= part
            return frozenset(union)
        if _is_repeat(op):
            low, high, body = av
            once = self.of(body)
            count = self.repeats(low, high)
            if once is _ANY or count is None:
                return _ANY
            power: frozenset[_T] | None = self.unit
            result = set(self.unit) if low == 0 else set()
            for done in range(1, count + 1):
                power = self.then(power, once) if power is not _ANY else _ANY
                if power is _ANY:
                    return _ANY
                if done >= low:
                    result |= power
                    if len(result) > _MAX_SET:
                        return _ANY
            return frozenset(result)
        if _is_zero_width(op):
            return self.unit
        if op is getattr(c, "ATOMIC_GROUP", None):
            return self.of(av)
        return _ANY


def _char_atom(op: Any, av: Any) -> frozenset[str] | None:
    return frozenset(chr(av)) if op is _sre.LITERAL else _class_chars(av)


#: The strings of up to two characters a match can start with (shorter: it ends).
#: Beyond two repetitions of a body the cut prefixes stop changing.
_PREFIXES = _Analysis(
    unit=frozenset({""}),
    atom=_char_atom,
    then=_join,
    repeats=lambda low, high: min(high, max(low, _PREFIX + 1)),
    settled=lambda found: all(len(p) >= _PREFIX for p in found),
    finish=lambda found, rest: found,
)
#: Every length a match can have (look-aheads ignored, so a superset).
_LENGTHS = _Analysis(
    unit=frozenset({0}),
    atom=lambda op, av: frozenset({1}),
    then=_sum,
    repeats=lambda low, high: high if high <= 100 else None,
    settled=lambda found: False,
    finish=lambda found, rest: found,
)


def _by_prefix(pairs: frozenset[tuple[str, int]]) -> dict[str, set[int]]:
    grouped: dict[str, set[int]] = {}
    for prefix, length in pairs:
        grouped.setdefault(prefix, set()).add(length)
    return grouped


def _then_shape(
    left: frozenset[tuple[str, int]], right: frozenset[tuple[str, int]]
) -> frozenset[tuple[str, int]] | None:
    """(prefix, length) pairs of a sequence: prefixes continued and lengths added."""
    right_grouped = _by_prefix(right)
    right_lengths = {n for lengths in right_grouped.values() for n in lengths}
    out: set[tuple[str, int]] = set()
    for prefix, lengths in _by_prefix(left).items():
        if len(prefix) >= _PREFIX:  # complete: only the lengths are extended
            out.update((prefix, m + n) for m in lengths for n in right_lengths)
        else:  # short (the match may end here): continued by the right's prefixes
            for following, ns in right_grouped.items():
                joined = (prefix + following)[:_PREFIX]
                out.update((joined, m + n) for m in lengths for n in ns)
        if len(out) > _MAX_SET:
            return _ANY
    return frozenset(out)


#: Which prefixes go with which lengths, together (USPS Legacy is 22 digits only
#: with its "91", 28 only with "420"): finer than the two sets apart, and given up
#: (None) where it would grow too large, e.g. free alphanumeric runs.
_SHAPES = _Analysis(
    unit=frozenset({("", 0)}),
    atom=lambda op, av: (
        _ANY if (chars := _char_atom(op, av)) is _ANY else frozenset((c, 1) for c in chars)
    ),
    then=_then_shape,
    repeats=lambda low, high: high if high <= 100 else None,
    # Once every prefix is complete, the rest only adds its lengths.
    settled=lambda found: all(len(p) >= _PREFIX for p, _ in found),
    finish=lambda found, rest: _extend_lengths(found, _LENGTHS.of(rest)),
)


def _extend_lengths(
    found: frozenset[tuple[str, int]], lengths: frozenset[int] | None
) -> frozenset[tuple[str, int]] | None:
    if lengths is _ANY:
        return _ANY
    out = {(prefix, m + n) for prefix, m in found for n in lengths}
    return frozenset(out) if len(out) <= _MAX_SET else _ANY


def _consumed(items: Sequence[tuple[Any, Any]], digits: list[bool], punct: set[str]) -> None:
    """Walk the characters a match consumes: are they all digits, which punctuation."""
    c = _sre
    for op, av in items:
        if op is c.LITERAL:
            char = chr(av)
            if char not in _DIGITS:
                digits[0] = False
            if not char.isalnum():
                punct.add(char)
        elif op is c.IN:
            chars = _class_chars(av)
            if chars is _ANY or not chars <= _DIGITS:
                digits[0] = False
        elif op is c.SUBPATTERN:
            _consumed(av[-1], digits, punct)
        elif op is c.BRANCH:
            for branch in av[1]:
                _consumed(branch, digits, punct)
        elif _is_repeat(op):
            _consumed(av[2], digits, punct)
        elif _is_zero_width(op):
            continue
        elif op is getattr(c, "ATOMIC_GROUP", None):
            _consumed(av, digits, punct)
        else:
            digits[0] = False


@dataclass(frozen=True, slots=True)
class Hints:
    """What a format's regex admits, read from its parse (each a superset)."""

    min_length: int
    max_length: int | None
    lengths: frozenset[int] | None
    prefixes: frozenset[str] | None
    digits_only: bool
    kept_punctuation: frozenset[str]
    #: (two-character prefix, length) pairs, where that finer view is small enough.
    shapes: frozenset[tuple[str, int]] | None = None


#: The hints of a pattern the analysis cannot read: try it on every number.
NO_HINTS = Hints(0, None, None, None, False, frozenset("-"))


def hints(pattern: str) -> Hints:
    """Dispatch hints for a compact pattern (lengths, 2-character prefixes, digits).

    >>> h = hints(r"1Z(?P<SerialNumber>[A-Z0-9]{15})(?P<CheckDigit>[0-9])")
    >>> sorted(h.lengths), sorted(h.prefixes), h.digits_only
    ([18], ['1Z'], False)
    """
    try:
        tree = _sre.parse(pattern)
        low, high = tree.getwidth()
        parsed = list(tree)
        digits = [True]
        punct: set[str] = set()
        _consumed(parsed, digits, punct)
        return Hints(
            low,
            high if high < 10_000 else None,
            _LENGTHS.of(parsed),
            _PREFIXES.of(parsed),
            digits[0],
            frozenset(punct),
            _SHAPES.of(parsed),
        )
    except Exception:  # the private parser changed shape: no hints, always try
        return NO_HINTS


# --- loading ----------------------------------------------------------------------


def load_sources() -> list[tuple[str, dict[str, Any]]]:
    """Every courier file of the package data as ``(source, parsed json)``, in order.

    >>> [doc["courier_code"] for source, doc in load_sources() if source == "parcelproof"]
    ['cainiao', '4px', 'sf_express', 'yanwen']
    """
    root = resources.files("collector.numbers")
    documents: list[tuple[str, dict[str, Any]]] = []
    for source, folder in SOURCES:
        couriers: Traversable = root.joinpath(folder).joinpath("couriers")
        for item in sorted(couriers.iterdir(), key=lambda t: t.name):
            if item.name.endswith(".json"):
                documents.append((source, json.loads(item.read_text(encoding="utf-8"))))
    return documents


def _load_glossary() -> dict[str, GlossaryEntry]:
    root = resources.files("collector.numbers").joinpath("data/tracking_number_data")
    raw = json.loads(root.joinpath("glossary.json").read_text(encoding="utf-8"))
    return {k: GlossaryEntry(v["label"], v.get("description", "")) for k, v in raw.items()}


def _lookup(spec: Mapping[str, Any], where: str) -> Additional:
    exact: dict[str, LookupEntry] = {}
    by_regex: list[LookupEntry] = []
    for row in spec["lookup"]:
        values = {k: v for k, v in row.items() if k not in ("matches", "matches_regex")}
        if "matches" in row:
            exact.setdefault(str(row["matches"]), LookupEntry(str(row["matches"]), None, values))
        elif "matches_regex" in row:
            regex = re.compile(to_python_regex(row["matches_regex"]))
            by_regex.append(LookupEntry(None, regex, values))
        else:
            raise ValueError(f"{where}: lookup row without matches/matches_regex: {row}")
    return Additional(spec["name"], spec["regex_group_name"], exact, tuple(by_regex))


def _format(
    order: int,
    source: str,
    courier: Mapping[str, Any],
    spec: Mapping[str, Any],
    glossary: Mapping[str, GlossaryEntry],
) -> Format:
    code = str(courier["courier_code"])
    name = str(spec["name"])
    where = f"{code}/{spec.get('id') or name}"
    regex = to_python_regex(spec["regex"])
    compact = compact_regex(regex)
    pattern = re.compile(compact)
    groups = tuple(sorted(pattern.groupindex, key=pattern.groupindex.__getitem__))
    validation: Mapping[str, Any] = spec.get("validation") or {}

    checksum = None
    if validation.get("checksum"):
        if not {"SerialNumber", "CheckDigit"} <= set(groups):
            raise ValueError(f"{where}: a checksum needs SerialNumber and CheckDigit groups")
        prepend = None
        prepend_spec = (validation.get("serial_number_format") or {}).get("prepend_if")
        if prepend_spec:
            prepend = (
                re.compile(_OPTIONAL_SPACE.sub("", to_python_regex(prepend_spec["matches_regex"]))),
                str(prepend_spec["content"]),
            )
        spec_checksum = validation["checksum"]
        checksum = Checksum(
            str(spec_checksum["name"]), make_check(spec_checksum), prepend, dict(spec_checksum)
        )

    additional_spec = spec.get("additional")
    # Old files had one object here instead of a list; accept both.
    if isinstance(additional_spec, Mapping):
        additional_spec = [additional_spec]
    additional = tuple(_lookup(a, where) for a in additional_spec or ())
    for item in additional:
        if item.group not in groups:
            raise ValueError(f"{where}: lookup {item.name!r} names unknown group {item.group}")
    required_names = ((validation.get("additional") or {}).get("exists")) or []
    by_name = {a.name: a for a in additional}
    try:
        required = tuple(by_name[n] for n in required_names)
    except KeyError as exc:
        raise ValueError(f"{where}: 'exists' names no lookup {exc}") from None

    partners = tuple(
        Partner(
            str(p.get("partner_type", "")),
            str(p.get("partner_id", "")),
            p.get("description"),
            re.compile(to_python_regex(p["validation"]["matches_regex"]))
            if (p.get("validation") or {}).get("matches_regex")
            else None,
        )
        for p in spec.get("partners") or ()
    )
    local_glossary = dict(glossary)
    for group, override in (spec.get("glossary") or {}).items():
        base = glossary.get(group, GlossaryEntry(_CAMEL.sub(" ", group), ""))
        local_glossary[group] = GlossaryEntry(
            override.get("label", base.label), override.get("description", base.description)
        )
    format_id = spec.get("id")
    format_hints = hints(compact)
    # How far apart its shortest and longest numbers are: fewer lengths, more specific.
    spread = (
        999
        if format_hints.max_length is None
        else min(format_hints.max_length - format_hints.min_length, 999)
    )
    catch_all = checksum is None and spread >= _CATCH_ALL_WIDTH
    return Format(
        order=order,
        key=str(format_id) if format_id else f"{code}:{_slug(name)}",
        courier=code,
        courier_name=str(courier["name"]),
        id=str(format_id) if format_id else None,
        name=name,
        description=spec.get("description"),
        source=source,
        regex=regex,
        pattern=pattern,
        checksum=checksum,
        additional=additional,
        required=required,
        tracking_url_template=spec.get("tracking_url") or None,
        partners=partners,
        glossary=local_glossary,
        groups=groups,
        hints=format_hints,
        catch_all=catch_all,
        static_rank=RANK_CATCH_ALL if catch_all else RANK_NO_CHECK,
        evaluate=_evaluator(pattern, checksum, required),
        tiebreak=spread * 1000 + order,
    )


def _evaluator(
    pattern: re.Pattern[str], checksum: Checksum | None, required: tuple[Additional, ...]
) -> Callable[[re.Match[str]], int] | None:
    """The function that ranks one match of a format (None: nothing to check).

    Built once per format with its parts bound, in the simplest shape the format
    allows, because it runs for every match of every number. It returns the rank
    only: the check values behind it are worked out again on demand
    (:meth:`Format.expected_check`), since most numbers never need them.
    """
    if checksum is None and not required:
        return None
    # Each required lookup as (group index, exact values, regex rows).
    lookups = tuple(
        (
            pattern.groupindex[a.group],
            frozenset(a.exact),
            tuple(e.matches_regex for e in a.by_regex if e.matches_regex is not None),
        )
        for a in required
    )

    def lookups_found(match: re.Match[str]) -> bool:
        for group, exact, patterns in lookups:
            value = match.group(group)
            if value in exact:
                continue
            if not patterns or not any(p.fullmatch(value or "") for p in patterns):
                return False
        return True

    if checksum is None:
        return lambda match: RANK_NO_CHECK if lookups_found(match) else RANK_LOOKUP_FAILED
    serial_at = pattern.groupindex["SerialNumber"]
    check_at = pattern.groupindex["CheckDigit"]
    compute, prepend = checksum.compute, checksum.prepend_if

    if prepend is None and not lookups:

        def evaluate_check(match: re.Match[str]) -> int:
            try:
                passed = compute(match.group(serial_at)) == match.group(check_at)
            except ValueError:  # characters the algorithm cannot read: a failed check
                return RANK_CHECK_FAILED
            return RANK_PASS if passed else RANK_CHECK_FAILED

        return evaluate_check

    def evaluate(match: re.Match[str]) -> int:
        serial = match.group(serial_at)
        if prepend is not None and prepend[0].search(serial):
            serial = prepend[1] + serial
        try:
            if compute(serial) != match.group(check_at):
                return RANK_CHECK_FAILED
        except ValueError:
            return RANK_CHECK_FAILED
        return RANK_PASS if lookups_found(match) else RANK_LOOKUP_FAILED

    return evaluate


def build_registry(documents: Sequence[tuple[str, Mapping[str, Any]]]) -> Registry:
    """Compile courier documents (as :func:`load_sources` returns them) into a registry.

    Raises ``ValueError`` when a file is inconsistent (a checksum without its groups,
    a lookup on a missing group, a duplicate format key).

    >>> doc = {"name": "Acme", "courier_code": "acme", "tracking_numbers": [
    ...     {"name": "Acme", "id": "acme", "regex": "A(?<SerialNumber>[0-9]{9})"}]}
    >>> [f.key for f in build_registry([("mine", doc)]).formats_for("A123456789")]
    ['acme']
    """
    glossary = _load_glossary()
    formats: list[Format] = []
    couriers: dict[str, str] = {}
    for source, document in documents:
        couriers[str(document["courier_code"])] = str(document["name"])
        for spec in document["tracking_numbers"]:
            formats.append(_format(len(formats), source, document, spec, glossary))
    keys = [f.key for f in formats]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"duplicate format keys: {', '.join(duplicates)}")
    longest = max((f.hints.max_length or 100) for f in formats) if formats else 0
    return Registry(tuple(formats), couriers, glossary, longest)


@functools.cache
def registry() -> Registry:
    """The registry of the packaged data, loaded on first use and kept.

    >>> reg = registry()
    >>> len(reg.formats), reg.by_key["s10"].courier_name
    (44, 'S10 International Standard')
    """
    return build_registry(load_sources())
