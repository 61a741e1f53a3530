"""Find every tracking number in free text (an email body, a chat message, a PDF's text).

::

    >>> body = '''Your order 8101203344551 (US $23.80) has shipped!
    ... Tracking number: RB 123 456 785 GB via Royal Mail, and the second parcel
    ... 1Z5R89390357567127. Questions? Call +1 (555) 123-4567 before 28.11.2026.'''
    >>> [(m.number, m.detection.courier) for m in search(body)]
    [('RB123456785GB', 's10'), ('1Z5R89390357567127', 'ups')]

Text is cut into alphanumeric tokens; tokens separated by exactly one space, dash,
dot or no-break space may belong to one number written in groups ("9400 1112 0620
...", "RB 123 456 785 GB"). Every run of such tokens is tried as every sub-span,
and the best non-overlapping set of matches is kept (the most characters covered
by valid numbers, then by weak ones, then fewer and longer numbers).

False hits are the danger, so the rules are stricter than :func:`detect`'s:

- a token with lower-case letters is never glued to another ("in 1234567890" is
  not the DHL e-commerce number ``IN1234567890``);
- a number of digits only needs a passing check digit, and even then it is taken
  only when it is one unbroken token of 12 or more digits, or longer than 15 digits
  (phone numbers have at most 15), unless a tracking word ("tracking", "parcel",
  "AWB" ...) comes shortly before it on the same line; an order, phone or price word
  there, or a leading ``+`` or ``(``, rules it out;
- numbers that fail their check are left out unless ``include_invalid`` is set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collector.numbers.detect import Detection, match_formats
from collector.numbers.formats import registry

__all__ = ["Match", "search"]

_TOKEN = re.compile(r"[0-9A-Za-z]+")
_JOINERS = frozenset(" -.\u00a0")
_MAX_TOKENS = 12  # "9 4 0 0 ..." one digit per group is not a thing; 12 groups is plenty
_MIN_LENGTH = 8  # the shortest format in the data is 10 characters long
_CONTEXT = 48  # characters before a number that may hold a word about it
_TRACKING_WORDS = re.compile(
    r"track|trace|shipment|shipping|shipped|parcel|package|waybill|\bawb\b|consignment|"
    r"sendung|colis|suivi|env[ií]o|seguimiento|rastreo|spedizione|przesy|"
    r"运单|单号|快递|物流",
    re.IGNORECASE,
)
_OTHER_WORDS = re.compile(
    r"order|invoice|phone|\btel\b|call|fax|mobile|whatsapp|account|iban|\bref|card|"
    r"\bsku\b|\bitem\b|price|total|amount|\bzip\b|postcode|customer|transaction|payment",
    re.IGNORECASE,
)
_WEIGHT = {"valid": 3, "weak": 2, "invalid": 1}


@dataclass(frozen=True)
class Match:
    """One tracking number found in text: where, as written, and what it is."""

    start: int
    end: int
    text: str
    detection: Detection

    @property
    def number(self) -> str:
        """The normalised number."""
        return self.detection.number

    @property
    def verdict(self) -> str:
        """``valid`` or ``weak`` (``invalid`` only with ``include_invalid``)."""
        return self.detection.verdict


def _context(text: str, start: int) -> str | None:
    """``tracking``/``other``: the nearest telling word before ``start`` on its line."""
    window = text[max(0, start - _CONTEXT) : start]
    window = window[window.rfind("\n") + 1 :]
    best: tuple[int, str] | None = None
    for kind, pattern in (("tracking", _TRACKING_WORDS), ("other", _OTHER_WORDS)):
        for found in pattern.finditer(window):
            if best is None or found.end() > best[0]:
                best = (found.end(), kind)
    return best[1] if best else None


def _acceptable(
    text: str, start: int, detection: Detection, tokens: int, include_invalid: bool
) -> bool:
    verdict = detection.verdict
    if verdict == "unknown" or (verdict == "invalid" and not include_invalid):
        return False
    number = detection.number
    if not number.isdigit():
        return True
    before = text[:start].rstrip(" \u00a0")
    if before.endswith(("+", "(")):
        return False
    context = _context(text, start)
    if context is not None:
        return context == "tracking"
    if verdict != "valid":
        return False
    return len(number) >= 12 if tokens == 1 else len(number) > 15


def _glueable(token: str) -> bool:
    # Groups of a written-out number: digits, or a short upper-case prefix/suffix.
    return not any(ch.islower() for ch in token) and (
        any(ch.isdigit() for ch in token) or len(token) <= 4
    )


def search(text: str, *, include_invalid: bool = False) -> list[Match]:
    """Every tracking number in ``text``, in order of appearance.

    ``include_invalid`` also returns numbers whose check digit fails (a typo in a
    number is worth showing when reviewing a seller's message).

    >>> [m.number for m in search("Call 0044 20 7946 0958 or see 2026-11-28, 1,299.00")]
    []
    """
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    matches: list[Match] = []
    run: list[tuple[int, int, str]] = []
    for token in tokens:
        if run and not (token[0] == run[-1][1] + 1 and text[run[-1][1]] in _JOINERS):
            matches.extend(_search_run(text, run, include_invalid))
            run = []
        run.append(token)
    if run:
        matches.extend(_search_run(text, run, include_invalid))
    return matches


def _search_run(text: str, run: list[tuple[int, int, str]], include_invalid: bool) -> list[Match]:
    longest = registry().max_length
    size = len(run)
    found: dict[tuple[int, int], Detection] = {}
    for i in range(size):
        length = 0
        for j in range(i, min(size, i + _MAX_TOKENS)):
            piece = run[j][2]
            if j > i and not (_glueable(piece) and _glueable(run[i][2])):
                break
            length += len(piece)
            if length > longest:
                break
            if length < _MIN_LENGTH:
                continue
            number = "".join(t[2] for t in run[i : j + 1]).upper()
            candidates = match_formats(number)
            if not candidates:
                continue
            raw = text[run[i][0] : run[j][1]]
            detection = Detection(raw, number, candidates)
            if _acceptable(text, run[i][0], detection, j - i + 1, include_invalid):
                found[(i, j)] = detection

    # Best non-overlapping choice from the right: most characters weighted by
    # verdict, then fewer numbers (a grouped number beats its groups read apart).
    best: list[tuple[tuple[int, int], list[tuple[int, int]]]] = [((0, 0), [])] * (size + 1)
    for i in range(size - 1, -1, -1):
        choice = best[i + 1]
        for (start, end), detection in found.items():
            if start != i:
                continue
            rest_score, rest = best[end + 1]
            score = (
                rest_score[0] + _WEIGHT[detection.verdict] * len(detection.number),
                rest_score[1] - 1,
            )
            if score > choice[0]:
                choice = (score, [(start, end), *rest])
        best[i] = choice
    return [
        Match(run[i][0], run[j][1], text[run[i][0] : run[j][1]], found[(i, j)])
        for i, j in best[0][1]
    ]
