"""Dispute cases: the state of each order's dispute log and what it needs next.

A case is an order with at least one step in ``dispute_steps`` (recorded with
``parcelproof dispute``, :mod:`analysis.case_log`). Read at an instant ``now``, only
the steps dated at or before ``now`` count (so ``--now`` replays a case as it stood),
less the steps a later step corrects. The recommended action then follows the
marketplace's clocks (``[cases]`` settings; sources in the README):

==================  ===========================================================
after               the action
==================  ===========================================================
contacted_seller    ``wait`` the seller's reply time (``*_reply_days``, and until
                    the dispute window opens), then ``open_dispute`` by the
                    window's last day; ``answer_offer`` after a seller_offer
opened              ``wait`` the seller's response time (``*_response_days``), then
                    ``escalate`` until ``*_escalate_by_days`` after opening (eBay:
                    business days). AliExpress escalates by itself after that
                    (older rules): ``wait`` for its decision. Amazon and card
                    chargebacks have no escalation step: ``wait`` the response
                    time plus the decision time, then ``follow_up``
escalated           ``wait`` for the decision (``*_decision_days``), then ``follow_up``
evidence_requested  ``send_evidence`` by ``--due`` (or ``evidence_answer_days``)
resolved            ``none``: the case is closed (flags stay, as history); with a
                    resent/replacement parcel the case watches it: ``wait`` while it
                    travels, ``ask_seller`` if it is flagged, closed once delivered
==================  ===========================================================

``due_at`` is the last instant for the action (``wait_until`` the end of a wait).
:func:`apply_cases` lays the case over the dispute windows of the order's own
shipments, so every reader of :func:`analysis.assess.assess` (``status``,
``flags``, ``report``, frames) gives the case's action::

    >>> cases = case_frame(store, clock.now(), settings, assessment.disputes)  # doctest: +SKIP
    >>> cases.select("order_id", "state", "action", "due_date")                # doctest: +SKIP

Cases are read in Python per case (a buyer's log: tens to thousands of cases, a
few steps each), the windows they rely on are the set-oriented ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

import polars as pl

from analysis.case_log import NEW_PARCEL, effective
from collector.config import CasesConfig, DisputesConfig, Settings
from collector.countries import zone_for
from collector.store import Store

#: Actions a case can give, with their urgency (higher first).
CASE_ACTION_RANK = {
    "send_evidence": 8,
    "escalate": 7,
    "answer_offer": 6,
    "open_dispute": 5,
    "ask_seller": 4,
    "follow_up": 3,
    "wait": 2,
    "too_late": 1,
    "none": 0,
}
#: Outcomes counted as won for the buyer.
WON = ("refunded", "partially_refunded", "replaced", "resent")
LOST = ("rejected", "withdrawn")
#: Where the marketplace is the one to escalate to, and what the buyer calls it.
MARKET_NAMES = {
    "aliexpress": "AliExpress",
    "ebay": "eBay",
    "amazon": "Amazon",
    "paypal": "PayPal",
    "visa": "the card issuer",
    "mastercard": "the card issuer",
    "other": "the marketplace",
}

CASE_SCHEMA: dict[str, Any] = {
    "order_id": pl.String,
    "marketplace": pl.String,
    "rule": pl.String,
    "store": pl.String,
    "carrier": pl.String,
    "destination_country": pl.String,
    "amount": pl.Float64,
    "currency": pl.String,
    "state": pl.String,
    "state_at": pl.Datetime("us", "UTC"),
    "steps": pl.Int64,
    "first_step_at": pl.Datetime("us", "UTC"),
    "contacted_at": pl.Datetime("us", "UTC"),
    "opened_at": pl.Datetime("us", "UTC"),
    "ask": pl.String,
    "asked_amount": pl.Float64,
    "offer_amount": pl.Float64,
    "seller_replied_at": pl.Datetime("us", "UTC"),
    "escalated_at": pl.Datetime("us", "UTC"),
    "evidence_due_at": pl.Datetime("us", "UTC"),
    "resolved_at": pl.Datetime("us", "UTC"),
    "outcome": pl.String,
    "recovered": pl.Float64,
    "lost": pl.Float64,
    "open": pl.Boolean,
    "action": pl.String,
    "action_detail": pl.String,
    "due_at": pl.Datetime("us", "UTC"),
    "due_date": pl.String,
    "wait_until": pl.Datetime("us", "UTC"),
    "wait_until_date": pl.String,
    "linked_shipment_id": pl.Int64,
    "linked_tracking_number": pl.String,
    "linked_status": pl.String,
    "packs": pl.List(pl.String),
    "days_to_resolution": pl.Float64,
    "shipment_ids": pl.List(pl.Int64),
}
COLUMNS = tuple(CASE_SCHEMA)


@dataclass(frozen=True)
class Clocks:
    """One marketplace's case clocks, in days (business days where ``business``)."""

    reply: float
    response: float
    escalate_by: float | None
    decision: float
    business: bool = False
    #: The marketplace escalates a dispute left open past ``escalate_by`` by itself.
    auto_escalates: bool = False


def clocks_for(rule: str, c: CasesConfig) -> Clocks:
    """The clocks of a dispute rule (:data:`analysis.disputes.MARKETPLACE_RULES`)."""
    if rule == "aliexpress":
        return Clocks(
            c.aliexpress_reply_days,
            c.aliexpress_response_days,
            c.aliexpress_escalate_by_days,
            c.aliexpress_decision_days,
            auto_escalates=True,
        )
    if rule == "ebay":
        return Clocks(
            c.ebay_reply_business_days,
            c.ebay_response_business_days,
            c.ebay_escalate_by_business_days,
            c.ebay_decision_days,
            business=True,
        )
    if rule == "amazon":
        return Clocks(c.amazon_reply_days, c.amazon_response_days, None, c.amazon_decision_days)
    if rule == "paypal":
        return Clocks(
            c.paypal_reply_days,
            c.paypal_response_days,
            c.paypal_escalate_by_days,
            c.paypal_decision_days,
        )
    if rule in ("visa", "mastercard"):
        response = c.visa_response_days if rule == "visa" else c.mastercard_response_days
        return Clocks(c.card_reply_days, response, None, 0.0)
    return Clocks(
        c.other_reply_days, c.other_response_days, c.other_escalate_by_days, c.other_decision_days
    )


def add_days(
    start: datetime, days: float, *, business: bool = False, zone: tzinfo | None = None
) -> datetime:
    """``start`` plus ``days``; with ``business``, whole weekdays (Monday to Friday) as
    the calendar of ``zone`` (the buyer's; UTC when not given) has them.

    >>> from datetime import UTC
    >>> add_days(datetime(2026, 11, 27, 10, tzinfo=UTC), 3, business=True).date()  # a Friday
    datetime.date(2026, 12, 2)
    """
    if not business:
        return start + timedelta(days=days)
    out, left = start.astimezone(zone or UTC), round(days)
    while left > 0:
        out += timedelta(days=1)
        if out.weekday() < 5:
            left -= 1
    return out.astimezone(UTC)


_STEPS_SQL = """
SELECT d.*, s.marketplace, s.store, coalesce(s.carrier, s.courier) AS carrier,
       s.destination_country, s.amount AS order_amount, s.currency AS order_currency
FROM dispute_steps d
JOIN (SELECT order_id, arg_min(marketplace, shipment_id) AS marketplace,
             arg_min(store, shipment_id) AS store, arg_min(carrier, shipment_id) AS carrier,
             arg_min(courier, shipment_id) AS courier,
             arg_min(destination_country, shipment_id) AS destination_country,
             max(amount) AS amount, arg_min(currency, shipment_id) AS currency
      FROM shipments WHERE order_id IN (SELECT order_id FROM dispute_steps)
      GROUP BY order_id) s USING (order_id)
WHERE d.occurred_at <= $now
ORDER BY d.order_id, d.step_id
"""

_SHIPS_SQL = """
SELECT s.shipment_id, s.order_id, s.tracking_number,
       CASE WHEN t.last_poll_at IS NULL THEN 'not polled yet'
            ELSE coalesce(t.status, 'unknown') END AS status,
       t.delivered_at
FROM shipments s LEFT JOIN tracking_state t USING (shipment_id)
WHERE s.order_id IN (SELECT DISTINCT order_id FROM dispute_steps)
"""


def case_frame(
    store: Store,
    now: datetime,
    settings: Settings,
    windows: pl.DataFrame,
    *,
    flags: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per case at ``now`` (:data:`COLUMNS`), the most urgent first.

    ``windows`` is the dispute-window frame of the same instant
    (:func:`analysis.disputes.dispute_windows`); ``flags`` the flags holding at
    ``now`` (``shipment_id, code, reason_to_dispute``), for a resent parcel's trouble.
    """
    if not _has_log(store):
        return pl.DataFrame(schema=CASE_SCHEMA)
    rows = store.frame(_STEPS_SQL, {"now": now}).to_dicts()
    if not rows:
        return pl.DataFrame(schema=CASE_SCHEMA)
    ships = store.frame(_SHIPS_SQL).to_dicts()
    by_order: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_order.setdefault(str(row["order_id"]), []).append(row)
    window_rows = {int(r["shipment_id"]): r for r in windows.to_dicts()}
    trouble: dict[int, list[str]] = {}
    if flags is not None and flags.height:
        for r in flags.filter(pl.col("reason_to_dispute")).iter_rows(named=True):
            trouble.setdefault(int(r["shipment_id"]), []).append(str(r["code"]))
    out = []
    for order_id, steps in by_order.items():
        order_ships = [s for s in ships if s["order_id"] == order_id]
        out.append(
            _case(
                order_id,
                steps,
                order_ships,
                window_rows,
                trouble,
                now,
                settings.cases,
                settings.disputes,
            )
        )
    frame = pl.DataFrame(out, schema=CASE_SCHEMA, orient="row")
    return (
        frame.with_columns(
            pl.col("action").replace_strict(CASE_ACTION_RANK, default=0).alias("_rank")
        )
        .sort(
            ["open", "due_at", "_rank", "order_id"],
            descending=[True, False, True, False],
            nulls_last=True,
        )
        .drop("_rank")
    )


def _has_log(store: Store) -> bool:
    """Whether the log exists (a database of this schema) and holds any step."""
    row = store.conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'dispute_steps'"
    ).fetchone()
    if not (row and row[0]):
        return False
    found = store.conn.execute("SELECT 1 FROM dispute_steps LIMIT 1").fetchone()
    return found is not None


def _case(  # noqa: PLR0913, PLR0917 - one case's whole reading, step by step
    order_id: str,
    stored: list[dict[str, Any]],
    ships: list[dict[str, Any]],
    windows: dict[int, dict[str, Any]],
    trouble: dict[int, list[str]],
    now: datetime,
    c: CasesConfig,
    d: DisputesConfig,
) -> tuple[Any, ...]:
    steps = effective(stored)
    first = stored[0]
    linked_ids = {int(s["linked_shipment_id"]) for s in stored if s["linked_shipment_id"]}
    own = [s for s in ships if int(s["shipment_id"]) not in linked_ids]
    window = _window(
        [windows[int(s["shipment_id"])] for s in own if int(s["shipment_id"]) in windows]
    )
    rule = str(window["rule"]) if window else "other"
    clocks = clocks_for(rule, c)
    market = MARKET_NAMES.get(rule, "the marketplace")
    dispute = _dispute_name(rule)
    zone = zone_for(first["destination_country"])

    def day(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d") if value is not None else "-"

    def last(kind: str, after: datetime | None = None) -> dict[str, Any] | None:
        found = [
            s for s in steps if s["step"] == kind and (after is None or s["occurred_at"] >= after)
        ]
        return found[-1] if found else None

    def first_of(kind: str) -> dict[str, Any] | None:
        return next((s for s in steps if s["step"] == kind), None)

    contacted = first_of("contacted_seller")
    opened = first_of("opened")
    escalated = first_of("escalated")
    resolved = first_of("resolved")
    since_open = opened["occurred_at"] if opened else None
    replied = last("seller_replied", since_open)
    offer = last("seller_offer", since_open)
    requested = last("evidence_requested")
    sent = last("evidence_sent", requested["occurred_at"]) if requested else None
    state = steps[-1] if steps else first
    amount = _float(first["order_amount"])
    action, detail = "none", ""
    due: datetime | None = None
    wait_until: datetime | None = None
    evidence_due = None
    if requested is not None:
        evidence_due = requested["due_at"] or add_days(
            requested["occurred_at"], c.evidence_answer_days
        )
    linked = next((s for s in reversed(steps) if s["linked_shipment_id"]), None)
    linked_ship = (
        next((s for s in ships if s["shipment_id"] == linked["linked_shipment_id"]), None)
        if linked
        else None
    )
    is_open = resolved is None
    if not steps:
        action, detail = "none", "every step is corrected away"
    elif resolved is not None:
        outcome = str(resolved["outcome"])
        got = _money(resolved["amount"], resolved["currency"])
        closed = f"case resolved on {day(resolved['occurred_at'])}: {outcome.replace('_', ' ')}"
        closed += f" ({got} recovered)" if got else ""
        if outcome in NEW_PARCEL and linked_ship is not None:
            number = linked_ship["tracking_number"]
            if linked_ship["status"] == "delivered":
                action = "none"
                detail = f"{closed}; the new parcel {number} was delivered" + (
                    f" on {day(linked_ship['delivered_at'])}" if linked_ship["delivered_at"] else ""
                )
            elif trouble.get(int(linked_ship["shipment_id"])):
                is_open = True
                action = "ask_seller"
                codes = ", ".join(
                    c.replace("_", " ") for c in sorted(trouble[int(linked_ship["shipment_id"])])
                )
                lw = windows.get(int(linked_ship["shipment_id"]))
                due = lw["last_day"] if lw else None
                detail = (
                    f"{closed}; the new parcel {number} has a problem ({codes}): contact the "
                    "seller about it"
                    + (f"; the {dispute} for it can be opened until {day(due)}" if due else "")
                )
            else:
                is_open = True
                action = "wait"
                detail = (
                    f"{closed}; watching the new parcel {number} "
                    f"({str(linked_ship['status']).replace('_', ' ')})"
                )
        else:
            detail = (
                closed
                + "; nothing more to do"
                + (
                    ""
                    if first_of("feedback_left") or outcome == "withdrawn"
                    else " (leave feedback on the seller if you wish)"
                )
            )
    elif requested is not None and sent is None:
        action = "send_evidence"
        due = evidence_due
        late = now > due if due else False
        detail = (
            f"{market} asked for evidence on {day(requested['occurred_at'])}: send it "
            + (f"now, the deadline {day(due)} has passed" if late else f"by {day(due)}")
            + " (attach the evidence pack, and record evidence_sent --attach PACK)"
        )
    elif escalated is not None:
        decided = add_days(escalated["occurred_at"], clocks.decision)
        if now < decided:
            action, wait_until = "wait", decided
            detail = (
                f"escalated to {market} on {day(escalated['occurred_at'])}; a decision usually "
                f"comes within {clocks.decision:g} days (by {day(decided)})"
            )
        else:
            action, due = "follow_up", now
            detail = (
                f"escalated to {market} on {day(escalated['occurred_at'])} and no decision "
                f"after {clocks.decision:g} days: ask {market} for the decision"
            )
    elif opened is not None:
        start = opened["occurred_at"]
        answer_by = add_days(start, clocks.response, business=clocks.business, zone=zone)
        unit = "business days" if clocks.business else "days"
        esc_by = (
            add_days(start, clocks.escalate_by, business=clocks.business, zone=zone)
            if clocks.escalate_by is not None
            else None
        )
        asked = str(opened["ask"]).replace("_", " ")
        if offer is not None and esc_by is not None and now <= esc_by:
            action, due = "answer_offer", esc_by
            detail = (
                f"the seller offered {_offer(offer)} on {day(offer['occurred_at'])} (you asked "
                f"for a {asked}): accept it (record resolved) or escalate to {market} by "
                f"{day(esc_by)}"
            )
        elif now < answer_by:
            action, wait_until = "wait", answer_by
            detail = (
                f"{dispute} opened on {day(start)} (asked for a {asked}); the seller has "
                f"{clocks.response:g} {unit} to answer, until {day(answer_by)}"
            )
            if esc_by is not None:
                detail += f"; escalate to {market} from then if not settled, by {day(esc_by)}"
            due = esc_by
        elif esc_by is not None and now <= esc_by:
            action, due = "escalate", esc_by
            silence = (
                f"the seller answered on {day(replied['occurred_at'])} but did not settle"
                if replied is not None
                else "the seller has not answered"
            )
            detail = (
                f"{silence} within {clocks.response:g} {unit} of the {dispute} opened on "
                f"{day(start)}: escalate to {market} by {day(esc_by)}"
            )
        elif esc_by is not None and clocks.auto_escalates:
            decided = add_days(esc_by, clocks.decision)
            if now < decided:
                action, wait_until = "wait", decided
                detail = (
                    f"not escalated by {day(esc_by)}: {market} escalates an open dispute by "
                    f"itself (older rules); its decision usually comes by {day(decided)}"
                )
            else:
                action, due = "follow_up", now
                detail = (
                    f"no decision since the {dispute} was opened on {day(start)}: ask {market} "
                    "for its decision"
                )
        elif esc_by is not None:
            action, due = "too_late", esc_by
            detail = (
                f"the last day to escalate the {dispute} opened on {day(start)} was "
                f"{day(esc_by)}; check whether {market} closed it"
            )
        else:
            decided = add_days(answer_by, clocks.decision)
            if now < decided:
                action, wait_until = "wait", decided
                detail = (
                    f"{dispute} opened on {day(start)}; the seller's {clocks.response:g} days "
                    f"to answer ended {day(answer_by)}; {market} decides, usually by "
                    f"{day(decided)}"
                )
            else:
                action, due = "follow_up", now
                detail = (
                    f"{dispute} opened on {day(start)} and no decision yet: ask {market} "
                    "for its decision"
                )
    elif contacted is not None:
        start = contacted["occurred_at"]
        reply_by = add_days(start, clocks.reply, business=clocks.business, zone=zone)
        opens = window["opens_at"] if window else None
        last_day = window["last_day"] if window else None
        open_from = max(x for x in (reply_by, opens) if x is not None)
        ask_before = timedelta(days=d.ask_seller_before_days)
        if last_day is not None and now > last_day:
            action = (
                str(window["action"]) if window and window["action"] == "escalate" else "too_late"
            )
            detail = (
                f"contacted the seller on {day(start)}; the last day for the {dispute} was "
                f"{day(last_day)}"
                + (f": {window['action_detail']}" if action == "escalate" and window else "")
            )
        elif offer is not None:
            action, due = "answer_offer", last_day
            detail = (
                f"the seller offered {_offer(offer)} on {day(offer['occurred_at'])}: accept it "
                f"(record resolved) or open the {dispute}"
                + (f" by {day(last_day)}" if last_day else "")
            )
        elif now < open_from and not (last_day is not None and now >= last_day - ask_before):
            action, wait_until, due = "wait", open_from, last_day
            why = (
                f"the seller has until {day(reply_by)} to reply"
                if opens is None or reply_by >= opens
                else f"the {dispute} window opens {day(opens)}"
            )
            detail = (
                f"contacted the seller on {day(start)}; {why}; if it is not settled, open the "
                f"{dispute} from {day(open_from)}"
                + (f" (last day {day(last_day)})" if last_day else "")
            )
        else:
            action, due = "open_dispute", last_day
            heard = (
                f"the seller answered on {day(replied['occurred_at'])} without settling"
                if replied is not None
                else "no settlement"
            )
            detail = (
                f"{heard} since you contacted the seller on {day(start)}: open the {dispute}"
                + (f" by {day(last_day)}" if last_day else " now")
            )
    else:
        action = "none"
        detail = f"{str(state['step']).replace('_', ' ')} on {day(state['occurred_at'])}"
    recovered: float | None = None
    lost: float | None = None
    if resolved is not None:
        outcome = str(resolved["outcome"])
        back = _float(resolved["amount"])
        if outcome in LOST:
            recovered, lost = 0.0, amount
        elif outcome in NEW_PARCEL and back is None:
            recovered = amount
            lost = 0.0 if amount is not None else None
        else:
            recovered = back
            lost = max(amount - back, 0.0) if amount is not None and back is not None else None
    begun = min(s["occurred_at"] for s in stored)
    days_to = (
        (resolved["occurred_at"] - begun).total_seconds() / 86400 if resolved is not None else None
    )
    return (
        order_id,
        first["marketplace"],
        rule,
        first["store"],
        first["carrier"],
        first["destination_country"],
        amount,
        first["order_currency"],
        state["step"] if steps else None,
        state["occurred_at"] if steps else None,
        len(steps),
        begun,
        contacted["occurred_at"] if contacted else None,
        since_open,
        opened["ask"] if opened else None,
        _float(opened["amount"]) if opened else None,
        _float(offer["amount"]) if offer else None,
        replied["occurred_at"] if replied else None,
        escalated["occurred_at"] if escalated else None,
        evidence_due if requested is not None and sent is None else None,
        resolved["occurred_at"] if resolved else None,
        resolved["outcome"] if resolved else None,
        recovered,
        lost,
        is_open,
        action,
        detail,
        due,
        day(due) if due is not None else None,
        wait_until,
        day(wait_until) if wait_until is not None else None,
        linked_ship["shipment_id"] if linked_ship else None,
        linked_ship["tracking_number"] if linked_ship else None,
        linked_ship["status"] if linked_ship else None,
        [str(s["pack_manifest_sha256"]) for s in steps if s["pack_manifest_sha256"]],
        days_to,
        sorted(int(s["shipment_id"]) for s in own),
    )


def _window(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The order's window: a shipment with something to do first, then the nearest day."""
    if not rows:
        return None
    far = datetime.max.replace(tzinfo=rows[0]["last_day"].tzinfo) if rows[0]["last_day"] else None

    def key(r: dict[str, Any]) -> tuple[int, Any]:
        return (0 if r["action"] != "none" else 1, r["last_day"] or far)

    try:
        return sorted(rows, key=key)[0]
    except TypeError:  # a missing last day beside a known one
        return rows[0]


def _dispute_name(rule: str) -> str:
    from analysis.disputes import DISPUTE_NAMES

    return DISPUTE_NAMES.get(rule, "dispute")


def _float(value: Decimal | float | None) -> float | None:
    return float(value) if value is not None else None


def _money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None:
        return ""
    return f"{amount:.2f} {currency}".strip() if currency else f"{amount:.2f}"


def _offer(step: dict[str, Any]) -> str:
    money = _money(step["amount"], step["currency"])
    return money or (str(step["note"]) if step["note"] else "a settlement")


def apply_cases(disputes: pl.DataFrame, cases: pl.DataFrame) -> pl.DataFrame:
    """The dispute windows with each case's action laid over its order's shipments.

    Adds ``case_state``, ``case_action``, ``case_due`` and ``case_wait_until`` (the
    end of the case's wait, when its action is ``wait``, with its local
    ``case_wait_until_date``; null without a case); on a
    case's own shipments (not the resent parcel, which keeps its window) ``action``
    and ``action_detail`` become the case's, and ``last_day`` its due date when it
    has one (so the nearest case deadline sorts first).
    """
    over = cases.select(
        pl.col("shipment_ids").alias("shipment_id"),
        pl.col("state").alias("case_state"),
        pl.col("action").alias("case_action"),
        pl.col("action_detail").alias("case_detail"),
        pl.col("due_at").alias("case_due"),
        pl.col("due_date").alias("case_due_date"),
        pl.col("wait_until").alias("case_wait_until"),
        pl.col("wait_until_date").alias("case_wait_until_date"),
    ).explode("shipment_id")
    joined = disputes.join(over, on="shipment_id", how="left", maintain_order="left")
    has = pl.col("case_action").is_not_null()
    due = has & pl.col("case_due").is_not_null()
    return joined.with_columns(
        pl.when(has).then(pl.col("case_action")).otherwise(pl.col("action")).alias("action"),
        pl.when(has)
        .then(pl.col("case_detail"))
        .otherwise(pl.col("action_detail"))
        .alias("action_detail"),
        pl.when(due).then(pl.col("case_due")).otherwise(pl.col("last_day")).alias("last_day"),
        pl.when(due)
        .then(pl.col("case_due_date"))
        .otherwise(pl.col("last_day_date"))
        .alias("last_day_date"),
    ).drop("case_detail", "case_due_date")


#: Verbs of the reminder lines, per action.
_REMINDER = {
    "send_evidence": "send the evidence asked for",
    "escalate": "escalate to {market}",
    "answer_offer": "answer the seller's offer",
    "open_dispute": "open the {dispute}",
    "ask_seller": "contact the seller about the new parcel",
    "follow_up": "ask {market} for its decision",
}


def due_soon(cases: pl.DataFrame, now: datetime, settings: Settings) -> list[str]:
    """Lines for the open cases whose deadline is within ``[cases] due_soon_days``
    (or passed), nearest first: ``case 8101...: escalate to AliExpress by 2026-12-05``."""
    if cases.height == 0:
        return []
    limit = now + timedelta(days=settings.cases.due_soon_days)
    soon = cases.filter(
        pl.col("open")
        & pl.col("action").is_in(list(_REMINDER))
        & pl.col("due_at").is_not_null()
        & (pl.col("due_at") <= limit)
    ).sort("due_at", "order_id")
    lines = []
    for row in soon.iter_rows(named=True):
        rule = str(row["rule"])
        verb = _REMINDER[str(row["action"])].format(
            market=MARKET_NAMES.get(rule, "the marketplace"), dispute=_dispute_name(rule)
        )
        when = (
            "now"
            if row["action"] == "follow_up"
            else (f"by {row['due_date']}" + (" (passed)" if row["due_at"] < now else ""))
        )
        lines.append(f"case {row['order_id']}: {verb} {when}")
    return lines
