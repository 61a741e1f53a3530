"""Recording what the buyer did about an order: ``parcelproof dispute ORDER STEP``.

The dispute log (``dispute_steps``, migration 0006) is append-only like the evidence:
nothing is edited in place; a correction is a new step with ``corrects=STEP_ID``,
which replaces the named one from then on. Every refusal is a
:class:`~collector.errors.DisputeStepError` naming the bad input::

    >>> record_step(store, StepInput("8101203344552", "opened", ask="refund"),
    ...             now=clock.now(), settings=settings)              # doctest: +SKIP
    Recorded(step_id=3, order_id='8101203344552', ...)

Steps (:data:`STEPS`) and what each takes:

- ``contacted_seller``; ``opened`` with ``ask`` (:data:`ASKS`); ``seller_replied``;
  ``seller_offer`` (the amount offered); ``escalated``; ``evidence_requested``
  (``due``: the deadline the request states, if any); ``evidence_sent``;
  ``resolved`` with ``outcome`` (:data:`OUTCOMES`) and the amount recovered (a
  refund without an amount recovers the order's amount), and for ``resent`` or
  ``replaced`` optionally the new ``tracking`` number, which becomes a shipment of
  the same order, tracked like any other and watched by the case; ``feedback_left``.
- Any step: ``on`` (a date or date-time; a bare date is the start of that day in the
  destination's zone; default "now"), ``amount``/``currency`` (default: the order's
  currency), ``note``, ``attach`` (an evidence pack folder: the SHA-256 of its
  ``manifest.json`` is recorded, after checking that the pack is this order's and
  that its files still match the manifest).

The order of steps is checked against the log (a step is placed by its date):
``seller_replied``/``seller_offer`` follow ``contacted_seller`` or ``opened``;
``escalated`` and ``evidence_requested`` follow ``opened``; ``evidence_sent``
follows ``evidence_requested``; ``opened``, ``escalated`` and ``resolved`` happen
once (correct them with ``corrects``); after ``resolved`` only ``feedback_left``.
No step may be dated after "now" or before the order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collector import clock
from collector.config import Settings
from collector.errors import DisputeStepError, NotFoundError

if TYPE_CHECKING:
    from collector.store import Store

STEPS = (
    "contacted_seller",
    "opened",
    "seller_replied",
    "seller_offer",
    "escalated",
    "evidence_requested",
    "evidence_sent",
    "resolved",
    "feedback_left",
)
ASKS = ("refund", "replacement", "resend", "partial_refund")
OUTCOMES = ("refunded", "partially_refunded", "replaced", "resent", "rejected", "withdrawn")
#: Outcomes that send a new parcel (which may carry a new tracking number).
NEW_PARCEL = ("resent", "replaced")
#: Steps that happen once in a case (a second one is a correction: ``corrects``).
ONCE = ("opened", "escalated", "resolved")
#: What each step needs before it in the log (any one of them).
NEEDS = {
    "seller_replied": ("contacted_seller", "opened"),
    "seller_offer": ("contacted_seller", "opened"),
    "escalated": ("opened",),
    "evidence_requested": ("opened",),
    "evidence_sent": ("evidence_requested",),
}


@dataclass(frozen=True)
class StepInput:
    """One step as the user gave it (text, as typed)."""

    order: str
    step: str
    on: str | None = None
    amount: str | None = None
    currency: str | None = None
    note: str | None = None
    attach: Path | None = None
    ask: str | None = None
    outcome: str | None = None
    tracking: str | None = None
    carrier: str | None = None
    due: str | None = None
    corrects: int | None = None


@dataclass(frozen=True)
class Recorded:
    """A step as stored."""

    step_id: int
    order_id: str
    step: str
    occurred_at: datetime
    country: str | None = None
    pack_manifest_sha256: str | None = None
    linked_shipment_id: int | None = None
    linked_tracking_number: str | None = None


@dataclass(frozen=True)
class Order:
    """What the log needs of an order: its shipments' shared facts."""

    order_id: str
    ordered_at: datetime | None
    country: str | None
    amount: Decimal | None
    currency: str | None
    first: dict[str, Any]


def find_order(store: Store, given: str) -> Order:
    """The order ``given`` names: an order id, else a tracking number of one order.

    :class:`~collector.errors.NotFoundError` names the input when nothing matches
    or when a number is on several orders.
    """
    text = given.strip()
    rows = store.frame(
        "SELECT * FROM shipments WHERE order_id = $o ORDER BY shipment_id", {"o": text}
    ).to_dicts()
    if not rows and text:
        from collector.resolve import resolve_shipments

        try:
            found = resolve_shipments(store, [text])
        except NotFoundError:
            found = None
        orders = sorted({m.order_id for m in found.matches}) if found else []
        if len(orders) > 1:
            raise NotFoundError(
                f"{given!r} is a tracking number of {len(orders)} orders "
                f"({', '.join(orders)}): give the order id"
            )
        if orders:
            rows = store.frame(
                "SELECT * FROM shipments WHERE order_id = $o ORDER BY shipment_id",
                {"o": orders[0]},
            ).to_dicts()
    if not rows:
        raise NotFoundError(f"no order {given!r}: import it first (dispute takes an order id)")
    first = rows[0]
    amounts = [r["amount"] for r in rows if r["amount"] is not None]
    ordered = [
        r["ordered_at"] or r["shipped_at"] for r in rows if r["ordered_at"] or r["shipped_at"]
    ]
    return Order(
        order_id=str(first["order_id"]),
        ordered_at=min(ordered) if ordered else None,
        country=first["destination_country"],
        amount=max(amounts) if amounts else None,
        currency=first["currency"],
        first=first,
    )


def order_steps(store: Store, order_id: str) -> list[dict[str, Any]]:
    """Every stored step of an order, in log order (``step_id``)."""
    return store.frame(
        "SELECT * FROM dispute_steps WHERE order_id = $o ORDER BY step_id", {"o": order_id}
    ).to_dicts()


def effective(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps no later step corrects, in case order (date, then log order)."""
    corrected = {s["corrects"] for s in steps if s["corrects"] is not None}
    kept = [s for s in steps if s["step_id"] not in corrected]
    return sorted(kept, key=lambda s: (s["occurred_at"], s["step_id"]))


def record_step(store: Store, given: StepInput, *, now: datetime, settings: Settings) -> Recorded:
    """Validate ``given`` against the order and its log, then append it.

    For ``resolved --outcome resent|replaced`` with ``tracking``, the new parcel is
    first imported as a shipment of the same order (through the import's own path).
    """
    from collector.store.dispute_writes import StepRow, append_step

    del settings  # the clocks apply when the case is read, not when a step is written
    order = find_order(store, given.order)
    step = _choice(given.step, STEPS, "step")
    _check_options(given, step)
    occurred = _instant(given.on, "--on", order.country) if given.on else now
    if occurred > now:
        raise DisputeStepError(
            f"--on {given.on} is after now ({now:%Y-%m-%d %H:%M} UTC): record a step once "
            "it has happened (--now moves 'now')"
        )
    if order.ordered_at is not None and occurred < order.ordered_at:
        raise DisputeStepError(
            f"--on {given.on} is before the order was placed "
            f"({local_day(order.ordered_at, order.country)})"
        )
    due = _instant(given.due, "--due", order.country, end_of_day=True) if given.due else None
    if due is not None and due < occurred:
        raise DisputeStepError(
            f"--due {given.due} is before the step itself ({local_day(occurred, order.country)})"
        )
    amount, currency = _money(given, step, order)
    existing = order_steps(store, order.order_id)
    if given.corrects is not None and not any(s["step_id"] == given.corrects for s in existing):
        raise DisputeStepError(
            f"--corrects {given.corrects}: order {order.order_id} has no step {given.corrects}"
            + (
                f" (its steps: {', '.join(str(s['step_id']) for s in existing)})"
                if existing
                else ""
            )
        )
    candidate = {
        "step_id": max((s["step_id"] for s in existing), default=0) + 1,
        "step": step,
        "occurred_at": occurred,
        "corrects": given.corrects,
    }
    check_sequence(effective([*existing, candidate]), order.order_id, order.country)
    sha = _pack_sha256(given.attach, order.order_id) if given.attach else None
    linked_id = linked_number = None
    if given.tracking:
        linked_id, linked_number = _new_parcel(store, order, given, occurred)
    step_id = append_step(
        store,
        StepRow(
            order_id=order.order_id,
            step=step,
            occurred_at=occurred,
            recorded_at=clock.wall(),
            ask=given.ask and _choice(given.ask, ASKS, "--ask"),
            outcome=given.outcome and _choice(given.outcome, OUTCOMES, "--outcome"),
            amount=amount,
            currency=currency,
            due_at=due,
            note=given.note,
            pack_dir=str(given.attach.resolve()) if given.attach else None,
            pack_manifest_sha256=sha,
            new_tracking_number=linked_number,
            linked_shipment_id=linked_id,
            corrects=given.corrects,
        ),
    )
    return Recorded(
        step_id, order.order_id, step, occurred, order.country, sha, linked_id, linked_number
    )


def local_day(value: datetime, country: str | None) -> str:
    """The date of ``value`` in the destination's zone (as the buyer wrote it)."""
    from collector.countries import zone_for

    return value.astimezone(zone_for(country)).strftime("%Y-%m-%d")


def check_sequence(steps: list[dict[str, Any]], order_id: str, country: str | None = None) -> None:
    """Raise :class:`DisputeStepError` when ``steps`` (case order) cannot have happened."""

    def day(value: datetime) -> str:
        return local_day(value, country)

    seen: dict[str, dict[str, Any]] = {}
    resolved: dict[str, Any] | None = None
    for s in steps:
        kind = str(s["step"])
        when = day(s["occurred_at"])
        if resolved is not None and kind != "feedback_left":
            raise DisputeStepError(
                f"{kind} on {when}: the case of order {order_id} was resolved on "
                f"{day(resolved['occurred_at'])} (step {resolved['step_id']}); only "
                "feedback_left may follow (or correct a step with --corrects)"
            )
        if kind in ONCE and kind in seen:
            first = seen[kind]
            raise DisputeStepError(
                f"{kind}: order {order_id} already has it on "
                f"{day(first['occurred_at'])} (step {first['step_id']}); to change it, "
                f"record {kind} --corrects {first['step_id']}"
            )
        needs = NEEDS.get(kind)
        if needs and not any(n in seen for n in needs):
            raise DisputeStepError(
                f"{kind} on {when}: order {order_id} has no earlier " + " or ".join(needs) + " step"
            )
        seen.setdefault(kind, s)
        if kind == "resolved":
            resolved = s


def _check_options(given: StepInput, step: str) -> None:
    if step == "opened" and not given.ask:
        raise DisputeStepError("opened needs --ask " + "|".join(ASKS))
    if given.ask and step != "opened":
        raise DisputeStepError(f"--ask is for the opened step, not {step}")
    if step == "resolved" and not given.outcome:
        raise DisputeStepError("resolved needs --outcome " + "|".join(OUTCOMES))
    if given.outcome and step != "resolved":
        raise DisputeStepError(f"--outcome is for the resolved step, not {step}")
    if given.tracking is not None:
        outcome = (given.outcome or "").strip().lower()
        if step != "resolved" or outcome not in NEW_PARCEL:
            raise DisputeStepError(
                "--tracking is for resolved --outcome resent or replaced (the new parcel's number)"
            )
        if not given.tracking.strip():
            raise DisputeStepError("--tracking is empty")
    if given.carrier and given.tracking is None:
        raise DisputeStepError("--carrier goes with --tracking (the new parcel's carrier)")
    if given.due and step != "evidence_requested":
        raise DisputeStepError(f"--due is for the evidence_requested step, not {step}")
    if given.currency and not given.amount:
        raise DisputeStepError("--currency goes with --amount")
    if given.note is not None and len(given.note) > 2000:
        raise DisputeStepError(f"--note is {len(given.note)} characters; at most 2000")


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    text = value.strip().lower().replace("-", "_")
    if text not in allowed:
        raise DisputeStepError(f"{what} {value!r} is not one of: {', '.join(allowed)}")
    return text


def _instant(text: str, option: str, country: str | None, *, end_of_day: bool = False) -> datetime:
    from collector.importer import parse_import_date
    from collector.plausible import plausible

    try:
        value = parse_import_date(text, country, end_of_day=end_of_day)
    except (ValueError, OverflowError):
        raise DisputeStepError(
            f"{option} {text!r} is not an ISO 8601 date or date-time (e.g. 2026-11-20)"
        ) from None
    if not plausible(value):
        raise DisputeStepError(f"{option} {text!r} is not a plausible date")
    return value


def _money(given: StepInput, step: str, order: Order) -> tuple[Decimal | None, str | None]:
    amount: Decimal | None = None
    if given.amount:
        try:
            amount = Decimal(given.amount.replace(" ", "").replace(",", "."))
        except InvalidOperation:
            raise DisputeStepError(f"--amount {given.amount!r} is not a number") from None
        if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
            raise DisputeStepError(f"--amount {given.amount!r} is not a plausible amount")
        if amount.quantize(Decimal("0.01")) != amount:
            raise DisputeStepError(f"--amount {given.amount!r} has more than two decimal places")
    outcome = (given.outcome or "").strip().lower()
    if step == "resolved" and outcome == "partially_refunded" and amount is None:
        raise DisputeStepError("resolved --outcome partially_refunded needs --amount (recovered)")
    if step == "resolved" and outcome == "refunded" and amount is None:
        if order.amount is None:
            raise DisputeStepError(
                f"resolved --outcome refunded needs --amount: order {order.order_id} has no amount"
            )
        amount = order.amount
    if step == "seller_offer" and amount is None and not given.note:
        raise DisputeStepError("seller_offer needs --amount (what was offered) or --note")
    currency = (given.currency or "").strip().upper() or None
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise DisputeStepError(f"--currency {given.currency!r} is not an ISO 4217 code")
    if amount is not None and currency is None:
        currency = order.currency
    return amount, currency


def _pack_sha256(folder: Path, order_id: str) -> str:
    """The SHA-256 of the pack's manifest, after checking the pack is whole and this order's."""
    manifest = folder / "manifest.json"
    try:
        raw = manifest.read_bytes()
    except OSError as exc:
        raise DisputeStepError(
            f"--attach {folder}: no readable manifest.json ({exc.strerror or exc}); "
            "give the pack folder written by `parcelproof report`"
        ) from None
    try:
        data = json.loads(raw)
        named = str(data["shipment"]["order_id"])
        files = list(data.get("files") or [])
    except (ValueError, KeyError, TypeError):
        raise DisputeStepError(f"--attach {folder}: manifest.json is not a pack manifest") from None
    if named != order_id:
        raise DisputeStepError(f"--attach {folder}: the pack is for order {named}, not {order_id}")
    for item in files:
        path = folder / str(item.get("name", ""))
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            raise DisputeStepError(f"--attach {folder}: {path.name} is missing") from None
        if digest != item.get("sha256"):
            raise DisputeStepError(
                f"--attach {folder}: {path.name} does not match its manifest (changed after "
                "the pack was written)"
            )
    return hashlib.sha256(raw).hexdigest()


def _new_parcel(
    store: Store, order: Order, given: StepInput, occurred: datetime
) -> tuple[int, str]:
    """Import the resent/replacement parcel as a shipment of the same order."""
    from collector.importer import import_rows
    from collector.numbers import normalise

    assert given.tracking is not None
    first = order.first
    row: dict[str, Any] = {
        "order_id": order.order_id,
        "marketplace": first["marketplace"],
        "store": first["store"] or "",
        "tracking_number": given.tracking.strip(),
        "carrier": given.carrier or "",
        "ordered_at": first["ordered_at"].isoformat() if first["ordered_at"] else "",
        "shipped_at": occurred.isoformat(),
        "destination_country": first["destination_country"] or "",
        "destination_postcode": first["destination_postcode"] or "",
        "destination_city": first["destination_city"] or "",
        "item": first["item"] or "",
    }
    number = normalise(row["tracking_number"])
    known = store.query(
        "SELECT shipment_id, tracking_number FROM shipments WHERE order_id = ? "
        "AND (tracking_number = ? OR tracking_number_raw = ?)",
        [order.order_id, number, row["tracking_number"]],
    )
    if known:
        return int(known[0][0]), str(known[0][1])
    result = import_rows(store, list(row), [(1, row)], name="dispute --tracking")
    if result.rejected:
        raise DisputeStepError(f"--tracking {given.tracking!r}: {result.rejected[0]}")
    found = store.query(
        "SELECT shipment_id, tracking_number FROM shipments WHERE order_id = ? "
        "AND (tracking_number = ? OR tracking_number_raw = ?)",
        [order.order_id, number, row["tracking_number"]],
    )
    if not found:  # pragma: no cover - import_rows stored it or said why
        raise DisputeStepError(f"--tracking {given.tracking!r}: the new parcel was not stored")
    return int(found[0][0]), str(found[0][1])
