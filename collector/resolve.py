"""Which shipments a user means: an order id, a tracking number or a shipment id.

Every command that takes ids from the user (``poll --shipment``, ``report ID...``)
resolves them here, the same way::

    >>> found = resolve_shipments(store, ["8101203344552", "lp 0012 3456 7890 12"])
    ... # doctest: +SKIP
    >>> found.shipment_ids, found.notes                                  # doctest: +SKIP
    ([3, 7], [])

An id is matched, in one query for all of them, as

- an **order id** (exactly, spaces around it ignored): every shipment of the order
  (an order with two tracking numbers gives both, and a note says so);
- a **tracking number**, normalised as imports store it
  (:func:`collector.numbers.normalise`: spaces, dots, dashes and case do not
  matter), or as it was imported: every order that carries it;
- a **shipment id** (``shipment:12``, ``#12``, or plain digits when nothing else
  matches: shipment ids are internal and rarely typed).

An id that is an order id of one shipment *and* the tracking number of another is
ambiguous: :class:`AmbiguousId` names both and how to choose (``order:ID`` or
``number:ID``). An id that matches nothing is a :class:`NotFoundError`; every bad
id is named at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from collector.errors import NotFoundError
from collector.numbers import normalise
from collector.store import Store
from collector.terminal import plural

KINDS = ("order", "number", "shipment")
_PREFIXES = {"order:": "order", "number:": "number", "shipment:": "shipment", "#": "shipment"}


class AmbiguousId(NotFoundError):
    """A user-given id names different shipments as an order id and as a number."""


@dataclass(frozen=True)
class Match:
    """One shipment an id resolved to, and how."""

    given: str
    kind: str
    shipment_id: int
    order_id: str
    tracking_number: str


@dataclass(frozen=True)
class Resolution:
    """The shipments the ids name, in the order given (each once)."""

    matches: list[Match]
    #: Things worth telling the user (an order with several numbers, ...).
    notes: list[str] = field(default_factory=list)

    @property
    def shipment_ids(self) -> list[int]:
        """Shipment ids in the order the ids were given, without repeats."""
        return list(dict.fromkeys(m.shipment_id for m in self.matches))


_SQL = """
SELECT c.given, c.kind, s.shipment_id, s.order_id, s.tracking_number
FROM (SELECT unnest($givens::VARCHAR[]) AS given, unnest($kinds::VARCHAR[]) AS kind,
             unnest($forms::VARCHAR[]) AS form) c
JOIN shipments s
  ON (c.kind = 'order' AND s.order_id = c.form)
  OR (c.kind = 'number' AND (s.tracking_number = c.form OR s.tracking_number_raw = c.form))
  OR (c.kind = 'shipment' AND CAST(s.shipment_id AS VARCHAR) = c.form)
ORDER BY s.order_id, s.tracking_number, s.shipment_id
"""


def resolve_shipments(store: Store, ids: Sequence[str]) -> Resolution:
    """Resolve user-given ids (see the module docstring); raises
    :class:`NotFoundError` or :class:`AmbiguousId` naming every id at fault."""
    wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    givens: list[str] = []
    kinds: list[str] = []
    forms: list[str] = []
    for given in wanted:
        for kind, form in _candidates(given):
            givens.append(given)
            kinds.append(kind)
            forms.append(form)
    rows = store.query(_SQL, {"givens": givens, "kinds": kinds, "forms": forms}) if givens else []
    by_given: dict[str, dict[str, list[Match]]] = {}
    for given, kind, sid, order_id, number in rows:
        bucket = by_given.setdefault(str(given), {}).setdefault(str(kind), [])
        if all(m.shipment_id != int(sid) for m in bucket):
            bucket.append(Match(str(given), str(kind), int(sid), str(order_id), str(number)))
    matches: list[Match] = []
    notes: list[str] = []
    missing: list[str] = []
    ambiguous: list[str] = []
    for given in wanted:
        found = by_given.get(given, {})
        order_ids = {m.shipment_id for m in found.get("order", [])}
        number_ids = {m.shipment_id for m in found.get("number", [])}
        if order_ids and number_ids and order_ids != number_ids:
            ambiguous.append(_ambiguity(given, found["order"], found["number"]))
            continue
        chosen = found.get("order") or found.get("number") or found.get("shipment") or []
        if not chosen:
            missing.append(given)
            continue
        if chosen[0].kind == "order" and len(chosen) > 1:
            numbers = ", ".join(m.tracking_number for m in chosen)
            notes.append(
                f"order {given} has {plural(len(chosen), 'tracking number')} ({numbers}): all used"
            )
        elif chosen[0].kind == "number" and len({m.order_id for m in chosen}) > 1:
            orders = ", ".join(m.order_id for m in chosen)
            notes.append(
                f"tracking number {given} is on {plural(len(chosen), 'order')} ({orders}): all used"
            )
        matches.extend(chosen)
    problems = []
    if missing:
        problems.append(
            "no shipment has the order id, tracking number or shipment id "
            + ", ".join(repr(m) for m in missing)
        )
    problems.extend(ambiguous)
    if problems:
        error = AmbiguousId if ambiguous and not missing else NotFoundError
        raise error("; ".join(problems))
    return Resolution(matches, notes)


def _candidates(given: str) -> list[tuple[str, str]]:
    """(kind, form) pairs to look ``given`` up as."""
    for prefix, kind in _PREFIXES.items():
        if given.lower().startswith(prefix):
            rest = given[len(prefix) :].strip()
            if kind == "number":
                return [("number", normalise(rest)), ("number", rest)]
            return [(kind, rest)]
    out = [("order", given), ("number", normalise(given)), ("number", given)]
    if given.isdigit():
        out.append(("shipment", str(int(given))))
    return out


def _ambiguity(given: str, orders: list[Match], numbers: list[Match]) -> str:
    as_order = ", ".join(f"{m.order_id}/{m.tracking_number}" for m in orders)
    as_number = ", ".join(f"{m.order_id}/{m.tracking_number}" for m in numbers)
    return (
        f"{given!r} is ambiguous: the order id of {as_order} and the tracking number of "
        f"{as_number}; write order:{given} or number:{given}"
    )
