"""A format's regex as position masks: one fixed-length *path* per way it can match.

The column engine (:mod:`~collector.numbers.vector`) tests a million numbers
against 44 formats. Every format of the data is a sequence of single characters
drawn from a class (``[0-9]``, ``[A-Z]``, a literal ...), repeated a fixed or
bounded number of times, with alternatives, optional parts and a few look-aheads.
For one length of number, such a pattern is a short list of paths, each fixing
the class of every position and where every named group starts and ends::

    >>> [p.text() for p in paths_for(r"J(?:J)?D(?P<SerialNumber>[0-9]{2})", 4)]
    ['JD[0-9][0-9] SerialNumber=2:4']

A number matches the pattern when it satisfies one path; the regex engine picks
the *first* path in its backtracking order, which is the order they are listed,
so the groups of the first satisfied path are the groups ``re`` returns. A
look-ahead narrows the classes of the positions it reads (one path per way it can
match), a negative look-ahead (``(?![0-9])``) becomes a condition the number
must not meet, and ``\\b`` a pair of either/or conditions.

Only what the column engine can reach is kept: numbers of ``[0-9A-Z-]`` only
(:data:`UNIVERSE`); a path needing any other character is dropped. A pattern with
a feature this reading does not know (back-references, flags, look-behinds,
groups inside look-arounds, ...) raises :class:`Unsupported`, and the engine then
matches that format with ``re``.

``tests/numbers/test_positions.py`` checks every format's paths against ``re``
(whether it matches, and every group) on examples and random strings.
"""

from __future__ import annotations

import functools
import importlib
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["UNIVERSE", "Path", "Unsupported", "paths_for"]

_sre: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

#: The characters of the numbers the column engine matches (normalised).
UNIVERSE = frozenset((string.digits + string.ascii_uppercase + "-").encode())
_DIGITS = frozenset(string.digits.encode())
_WORD = frozenset((string.ascii_letters + string.digits + "_").encode())
_SPACE = frozenset(b" \t\n\r\f\v")
_ASCII = frozenset(range(128))
#: Paths of one (pattern, length) beyond this many: given up (never reached by the data).
_MAX_PATHS = 4096


class Unsupported(ValueError):
    """The pattern uses a feature the position reading does not know."""


Chars = frozenset[int]
#: A conjunction of position constraints: position -> the characters allowed there.
Conditions = Mapping[int, Chars]


@dataclass(frozen=True)
class Path:
    """One way a pattern matches numbers of ``len(classes)`` characters."""

    #: The characters allowed at each position (subsets of UNIVERSE, never empty).
    classes: tuple[Chars, ...]
    #: Conditions that must *not* all hold (a negative look-ahead), each non-empty.
    excluded: tuple[tuple[tuple[int, Chars], ...], ...]
    #: Named group -> (start, end) in the number (absent: the group did not take part).
    groups: Mapping[str, tuple[int, int]]

    def text(self) -> str:
        """A readable form (classes, then groups), for tests and errors."""
        out = "".join(_class_text(c) for c in self.classes)
        for conditions in self.excluded:
            out += " not(" + ",".join(f"{p}:{_class_text(c)}" for p, c in conditions) + ")"
        for name, (start, end) in sorted(self.groups.items(), key=lambda item: item[1]):
            out += f" {name}={start}:{end}"
        return out


def _class_text(chars: Chars) -> str:
    if len(chars) == 1:
        return chr(next(iter(chars)))
    text = "".join(chr(c) for c in sorted(chars))
    for run in (string.digits, string.ascii_uppercase):
        text = text.replace(run, f"{run[0]}-{run[-1]}")
    return f"[{text}]"


@dataclass(frozen=True)
class _State:
    pos: int
    #: Absolute position -> allowed characters (consumed or required by a look-ahead).
    need: Mapping[int, Chars]
    #: Conditions (sorted (position, characters) pairs) that must not all hold.
    excluded: tuple[tuple[tuple[int, Chars], ...], ...]
    groups: Mapping[str, tuple[int, int]]


def _in(items: Any) -> Chars:
    """The characters of a ``[...]`` class (ASCII only)."""
    chars: set[int] = set()
    negate = False
    for op, av in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            chars.add(av)
        elif op is _c.RANGE:
            chars.update(range(av[0], av[1] + 1))
        elif op is _c.CATEGORY:
            chars.update(_category(av))
        else:
            raise Unsupported(f"class item {op}")
    return frozenset(_ASCII - chars if negate else chars & _ASCII)


def _category(name: Any) -> Chars:
    table = {
        _c.CATEGORY_DIGIT: _DIGITS,
        _c.CATEGORY_NOT_DIGIT: _ASCII - _DIGITS,
        _c.CATEGORY_SPACE: _SPACE,
        _c.CATEGORY_NOT_SPACE: _ASCII - _SPACE,
        _c.CATEGORY_WORD: _WORD,
        _c.CATEGORY_NOT_WORD: _ASCII - _WORD,
    }
    if name not in table:
        raise Unsupported(f"category {name}")
    return table[name]


class _Expander:
    """Depth-first, in the regex engine's order, over the paths of one length."""

    def __init__(self, length: int) -> None:
        self.length = length

    def consume(self, state: _State, chars: Chars) -> Iterator[_State]:
        if state.pos >= self.length:
            return
        allowed = state.need.get(state.pos, UNIVERSE) & chars
        if allowed:
            yield _State(
                state.pos + 1, {**state.need, state.pos: allowed}, state.excluded, state.groups
            )

    def sequence(self, items: Any, index: int, state: _State) -> Iterator[_State]:
        if index == len(items):
            yield state
            return
        for after in self.item(items[index], state):
            yield from self.sequence(items, index + 1, after)

    def item(self, node: tuple[Any, Any], state: _State) -> Iterator[_State]:
        op, av = node
        if op is _c.LITERAL:
            yield from self.consume(state, frozenset({av}))
        elif op is _c.NOT_LITERAL:
            yield from self.consume(state, _ASCII - {av})
        elif op is _c.IN:
            yield from self.consume(state, _in(av))
        elif op is _c.ANY:
            yield from self.consume(state, _ASCII - {ord("\n")})
        elif op is _c.SUBPATTERN:
            group, add_flags, del_flags, body = av
            if add_flags or del_flags:
                raise Unsupported("inline flags")
            for after in self.sequence(list(body), 0, state):
                name = self.names.get(group) if group is not None else None
                if name is None:
                    yield after
                else:
                    yield _State(
                        after.pos,
                        after.need,
                        after.excluded,
                        {**after.groups, name: (state.pos, after.pos)},
                    )
        elif op is _c.BRANCH:
            for branch in av[1]:
                yield from self.sequence(list(branch), 0, state)
        elif op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:
            low, high, body = av
            yield from self.repeat(list(body), (low, high), 0, state, greedy=op is _c.MAX_REPEAT)
        elif op is _c.ASSERT or op is _c.ASSERT_NOT:
            yield from self.lookahead(op is _c.ASSERT, av, state)
        elif op is _c.AT:
            yield from self.anchor(av, state)
        else:
            raise Unsupported(f"regex node {op}")

    def repeat(
        self, body: Any, bounds: tuple[int, int], count: int, state: _State, *, greedy: bool
    ) -> Iterator[_State]:
        low, high = bounds

        def more() -> Iterator[_State]:
            if count < high and state.pos < self.length:
                for after in self.sequence(body, 0, state):
                    if after.pos > state.pos:  # a body matching nothing ends the loop
                        yield from self.repeat(body, bounds, count + 1, after, greedy=greedy)

        if greedy:
            yield from more()
        if count >= low:
            yield state
        if not greedy:
            yield from more()

    def lookahead(self, positive: bool, av: Any, state: _State) -> Iterator[_State]:
        direction, body = av
        if direction != 1:
            raise Unsupported("look-behind")
        inner = list(body)
        if _has_groups(inner):
            raise Unsupported("a group inside a look-around")
        if positive:
            # Each way the body can match narrows the positions it reads; the path
            # then goes on from where the look-ahead started.
            seen: set[tuple[Any, ...]] = set()
            for after in self.sequence(inner, 0, state):
                key = (tuple(sorted(after.need.items())), after.excluded)
                if key in seen:
                    continue
                seen.add(key)
                yield _State(state.pos, after.need, after.excluded, state.groups)
            return
        alternatives = []
        fresh = _State(state.pos, {}, (), {})
        for after in self.sequence(inner, 0, fresh):
            if after.excluded:
                raise Unsupported("a negative look-ahead inside a negative look-ahead")
            if not after.need:
                return  # the body matches the empty string: the assertion always fails
            alternatives.append(tuple(sorted(after.need.items())))
        yield _State(state.pos, state.need, (*state.excluded, *alternatives), state.groups)

    def anchor(self, where: Any, state: _State) -> Iterator[_State]:
        pos = state.pos
        if where in (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING):
            if pos == 0:
                yield state
        elif where in (_c.AT_END, _c.AT_END_STRING):
            if pos == self.length:
                yield state
        elif where is _c.AT_BOUNDARY:
            # A word character on exactly one side: either the previous one is a word
            # character and the next one is not (or the end), or the other way round.
            need = state.need
            if pos > 0:
                before = need.get(pos - 1, UNIVERSE)
                if before & _WORD:
                    yield _State(
                        pos,
                        {**need, pos - 1: before & _WORD},
                        (*state.excluded, ((pos, _WORD),)),
                        state.groups,
                    )
                if before - _WORD and pos < self.length:
                    after = need.get(pos, UNIVERSE) & _WORD
                    if after:
                        yield _State(
                            pos, {**need, pos - 1: before - _WORD, pos: after}, state.excluded,
                            state.groups,
                        )  # fmt: skip
            elif pos < self.length:
                after = need.get(pos, UNIVERSE) & _WORD
                if after:
                    yield _State(pos, {**need, pos: after}, state.excluded, state.groups)
        else:
            raise Unsupported(f"anchor {where}")

    names: Mapping[int, str] = {}


def _has_groups(items: Any) -> bool:
    for op, av in items:
        if op is _c.SUBPATTERN and (av[0] is not None or _has_groups(av[-1])):
            return True
        if op is _c.BRANCH and any(_has_groups(b) for b in av[1]):
            return True
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and _has_groups(av[2]):
            return True
        if op in (_c.ASSERT, _c.ASSERT_NOT) and _has_groups(av[1]):
            return True
    return False


def _finish(state: _State, length: int) -> Path | None:
    """The path a complete state stands for, or None when it can never be met."""
    if state.pos != length or any(p >= length for p in state.need):
        return None
    classes = tuple(state.need.get(p, UNIVERSE) for p in range(length))
    excluded: list[tuple[tuple[int, Chars], ...]] = []
    for conditions in state.excluded:
        kept: list[tuple[int, Chars]] = []
        possible = True
        for position, chars in conditions:
            if position >= length:
                possible = False  # it reads past the end: it can never hold
                break
            overlap = classes[position] & chars
            if not overlap:
                possible = False
                break
            if overlap != classes[position]:
                kept.append((position, overlap))
        if not possible:
            continue
        if not kept:
            return None  # it always holds: the path is never met
        excluded.append(tuple(kept))
    return Path(classes, tuple(dict.fromkeys(excluded)), dict(state.groups))


@functools.cache
def paths_for(pattern: str, length: int) -> tuple[Path, ...]:
    """The paths of ``pattern`` (a compact Python regex, matched in full) for numbers
    of ``length`` characters of :data:`UNIVERSE`, in the regex engine's order.

    >>> [p.text() for p in paths_for(r"(?P<A>[0-9]{1,2})(?P<B>[0-9])?", 2)]
    ['[0-9][0-9] A=0:2', '[0-9][0-9] A=0:1 B=1:2']
    >>> paths_for(r"94(?=[0-9]{2}(?![0-9]))[0-9]+", 4)[0].text()
    '94[0-9][0-9]'
    >>> paths_for(r"94(?=[0-9]{2}(?![0-9]))[0-9]+", 5)
    ()
    """
    parsed = _sre.parse(pattern)
    if parsed.state.flags & ~(_c.SRE_FLAG_UNICODE):
        raise Unsupported("flags")
    expander = _Expander(length)
    expander.names = {index: name for name, index in parsed.state.groupdict.items()}
    out: list[Path] = []
    for state in expander.sequence(list(parsed), 0, _State(0, {}, (), {})):
        path = _finish(state, length)
        if path is not None:
            out.append(path)
            if len(out) > _MAX_PATHS:
                raise Unsupported(f"more than {_MAX_PATHS} paths")
    return tuple(out)
