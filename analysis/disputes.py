"""Dispute windows per marketplace, and what to do about each shipment today.

For every shipment this computes, in one SQL statement over all shipments, the
earliest instant a non-delivery dispute may be opened (``opens_at``), the last one
(``deadline``) and today's recommended action:

=============  =====================================================================
``none``       delivered and nothing contradicts the delivery
``wait``       nothing is wrong yet, or the window is not open: wait until a date;
               also every shipment never polled ("not polled yet": nothing is known)
``ask_seller`` contact the seller now (a problem before the window opens; Amazon's
               48 h; on AliExpress, ask to extend buyer protection before it ends)
``open_dispute`` the window is open and there is a reason: open it now
``escalate``   the marketplace's window has closed; a card chargeback is still possible
``too_late``   every window has closed
=============  =====================================================================

Rules (every number is a ``[disputes]`` setting; the README gives their sources):

- ``aliexpress``: opens ``aliexpress_open_after_days`` after shipping when a flag
  shows a problem, otherwise once the promised delivery time has passed; the
  deadline is the end of buyer protection (``protection_ends_at``, else shipping +
  60/90/120 days); for ``aliexpress_grace_days`` after it a refund request is still
  possible.
- ``ebay``: opens at the estimated delivery date (``promised_to``), deadline 30 days
  after it.
- ``amazon``: opens 3 days after the latest estimated delivery date (contact the
  seller first), deadline 90 days after it.
- ``paypal``: from payment, deadline 180 days after payment.
- ``visa`` (13.1): opens at the expected date (or 15 days after the transaction),
  deadline 120 days after the later of transaction and expected date, at most 540
  days after the transaction.
- ``mastercard`` (4855): opens at the expected date (or 30 days after the
  transaction), deadline 120 days after it.
- ``other``, ``temu``, ``shein`` (no published rule found): opens at the promised
  date, deadline ``protection_ends_at`` or 30 days after the promised date.

A flag is a reason to dispute only as :func:`reason_to_dispute_sql` says (never an
``info`` flag, never on a parcel delivered at its address unless
``delivered_elsewhere``, never before a first poll); a delivery doubted by
``scan_before_order`` or ``invalid_number`` asks the seller, never claims
non-receipt. ``last_day`` is the real last day to act: the deadline, plus
``aliexpress_grace_days`` on AliExpress.

A ``protection_ends_at`` given in the import is the marketplace's own deadline and
wins over the computed one. Where no promised date is known, shipping +
``fallback_expected_days`` stands in for it.

    >>> windows = dispute_windows(store, clock.now(), settings)   # doctest: +SKIP
    >>> windows.columns[:6]                                        # doctest: +SKIP
    ['shipment_id', 'marketplace', 'opens_at', 'deadline', 'action', 'action_detail']
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl

from analysis.rules.catalogue import DisputeRole, codes_with
from analysis.rules.sql import local_time_sql, sql_str, sql_values
from collector.config import DisputesConfig, Settings
from collector.store import Store

ACTIONS = ("none", "wait", "ask_seller", "open_dispute", "escalate", "too_late")
#: Higher is more urgent (for sorting). ``send_evidence``, ``answer_offer`` and
#: ``follow_up`` come from a dispute case (:mod:`analysis.cases`).
ACTION_RANK = {
    "send_evidence": 7,
    "answer_offer": 6,
    "follow_up": 3,
    "open_dispute": 5,
    "ask_seller": 4,
    "escalate": 3,
    "wait": 2,
    "too_late": 1,
    "none": 0,
}
#: The rule applied to each marketplace value of the import.
MARKETPLACE_RULES = {
    "aliexpress": "aliexpress",
    "ebay": "ebay",
    "amazon": "amazon",
    "paypal": "paypal",
    "visa": "visa",
    "mastercard": "mastercard",
    "temu": "other",
    "shein": "other",
    "other": "other",
}
DISPUTE_NAMES = {
    "aliexpress": "AliExpress dispute",
    "ebay": "eBay item-not-received request",
    "amazon": "Amazon A-to-z claim",
    "paypal": "PayPal dispute",
    "visa": "Visa chargeback (13.1)",
    "mastercard": "Mastercard chargeback (4855)",
    "other": "dispute",
}
# The flags' dispute roles, declared in the rule catalogue (analysis/rules).
# No reason to dispute on their own.
_NOT_PROBLEMS = codes_with(DisputeRole.NONE)
# Worth a question to the seller, not a dispute by themselves (the parcel may well
# be moving under another carrier's label).
_SOFT = codes_with(DisputeRole.ASK_SELLER)
# The only flags that make a delivered parcel a non-delivery: the carrier says where
# it was left, and it is not the buyer's address.
_DELIVERY_CONTRADICTED = codes_with(DisputeRole.CONTRADICTS_DELIVERY)
# Flags that cast doubt on a delivery without saying it went elsewhere: ask the
# seller, never claim non-receipt (the buyer may well have the parcel). A reused
# number on a delivered parcel is no doubt at all: several orders often travel in
# one parcel.
_DELIVERY_DOUBTED = codes_with(DisputeRole.DOUBTS_DELIVERY)


#: Each shipment's state as the advice reads it (alias ``st``): ``awaiting`` is an
#: order stored before its tracking number came. Nothing is known of a shipment
#: never polled, but an order with no number yet is known to have none:
#: :data:`KNOWN` is when a flag may be a reason to dispute.
STATE_SQL = (
    "SELECT shipment_id, delivered, polled, tracking_number = '' AS awaiting FROM shipment_current"
)
KNOWN = "(st.polled OR st.awaiting)"


def reason_to_dispute_sql(code: str, severity: str, delivered: str, polled: str) -> str:
    """SQL: whether one flag is a reason to open a non-delivery dispute.

    Never for an ``info`` flag, a flag that is no problem by itself
    (``protection_expiring``, ``carrier_mismatch``), a shipment never polled (nothing
    is known of it), or a delivered parcel unless the delivery was elsewhere. The
    dispute windows and every reader of :func:`analysis.assess.assess` use this one
    definition.
    """
    not_problems = ", ".join(sql_str(c) for c in (*_NOT_PROBLEMS, *_SOFT))
    contradicted = ", ".join(sql_str(c) for c in _DELIVERY_CONTRADICTED)
    return (
        f"({severity} <> 'info' AND {code} NOT IN ({not_problems}) AND {polled} "
        f"AND (NOT {delivered} OR {code} IN ({contradicted})))"
    )


COLUMNS = (
    "shipment_id",
    "marketplace",
    "opens_at",
    "deadline",
    "action",
    "action_detail",
    "rule",
    "order_id",
    "tracking_number",
    "archived",
    "opens_date",
    "deadline_date",
    "status",
    "polled",
    "last_day",
    "last_day_date",
)


def dispute_windows(
    store: Store,
    now: datetime,
    settings: Settings,
    *,
    flags: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per shipment: ``shipment_id, marketplace, opens_at, deadline, action,
    action_detail, rule, order_id, tracking_number, archived, opens_date,
    deadline_date`` (the two dates as text, in the destination's zone).

    ``flags`` is the current flag set (``shipment_id, code, severity``, e.g.
    ``evaluate_flags(...).current``); without it the open rows of the ``flags``
    table are used, so evaluate first (:func:`analysis.flags.evaluate_flags`).
    """
    conn = store.conn
    if flags is None:
        flag_source = "SELECT shipment_id, code, severity FROM flags WHERE cleared_at IS NULL"
    else:
        conn.register("dispute_flags", flags.select("shipment_id", "code", "severity").to_arrow())
        flag_source = "SELECT shipment_id, code, severity FROM dispute_flags"
    try:
        return windows_frame(store, disputes_sql(flag_source), now, settings)
    finally:
        if flags is not None:
            conn.unregister("dispute_flags")


def windows_frame(store: Store, sql: str, now: datetime, settings: Settings) -> pl.DataFrame:
    """Run :func:`disputes_sql` text at ``now``: the frame of :func:`dispute_windows`."""
    frame: pl.DataFrame = store.conn.execute(sql, _params(now, settings.disputes)).pl()
    return frame.sort("shipment_id")


def _params(now: datetime, d: DisputesConfig) -> dict[str, Any]:
    def days(value: float) -> timedelta:
        return timedelta(days=value)

    def us(value: float) -> int:
        # Instants are shifted as epoch microseconds: TIMESTAMPTZ + INTERVAL goes
        # through the ICU calendar and costs far more per row.
        return days(value) // timedelta(microseconds=1)

    return {
        "now": now,
        "ae_open_us": us(d.aliexpress_open_after_days),
        "ae_grace_us": us(d.aliexpress_grace_days),
        "ae_protection_us": us(d.aliexpress_default_protection_days),
        "ae_protection_ru_us": us(d.aliexpress_protection_days_ru),
        "ae_protection_br_us": us(d.aliexpress_protection_days_br),
        "ebay_window_us": us(d.ebay_window_days),
        "amazon_wait_us": us(d.amazon_wait_days),
        "amazon_window_us": us(d.amazon_window_days),
        "amazon_seller_hours": f"{d.amazon_seller_wait_hours:g}",
        "paypal_window_us": us(d.paypal_window_days),
        "paypal_escalate": f"{d.paypal_escalate_days:g}",
        "visa_window_us": us(d.visa_window_days),
        "visa_wait_us": us(d.visa_wait_days),
        "mc_window_us": us(d.mastercard_window_days),
        "mc_wait_us": us(d.mastercard_wait_days),
        "card_cap_us": us(d.card_cap_days),
        "ask_before": days(d.ask_seller_before_days),
        "ask_before_us": us(d.ask_seller_before_days),
        "fallback_us": us(d.fallback_expected_days),
        "other_window_us": us(d.other_window_days),
        "to_card": d.escalate_to_card,
        "ae_grace_days": f"{d.aliexpress_grace_days:g}",
    }


# A parcel on its way with the window open: wait for the expected date, at most until
# shortly before the deadline.
_WAIT_UNTIL = (
    "CASE WHEN $now < w.expected "
    "THEN least(w.expected, make_timestamptz(epoch_us(w.deadline) - $ask_before_us)) "
    "ELSE make_timestamptz(epoch_us(w.deadline) - $ask_before_us) END"
)


def _add(expr: str, param: str) -> str:
    """``expr`` shifted by the microseconds parameter ``param`` ("-name" subtracts)."""
    sign = "-" if param.startswith("-") else "+"
    return f"make_timestamptz(epoch_us({expr}) {sign} ${param.lstrip('-')}_us)"


def _date(expr: str) -> str:
    return f"strftime({local_time_sql(expr, 'w.destination_country')}, '%Y-%m-%d')"


def disputes_sql(flag_source: str) -> str:
    """The whole computation as one SQL statement over ``flag_source``'s flags."""
    soft = ", ".join(sql_str(c) for c in _SOFT)
    doubted = ", ".join(sql_str(c) for c in _DELIVERY_DOUBTED)
    reason = reason_to_dispute_sql("f.code", "f.severity", "st.delivered", KNOWN)
    return f"""
WITH
rules(marketplace, rule) AS (VALUES {sql_values(MARKETPLACE_RULES)}),
names(rule, dispute) AS (VALUES {sql_values(DISPUTE_NAMES)}),
st AS ({STATE_SQL}),
fl AS (
    SELECT f.shipment_id,
           list(DISTINCT replace(f.code, '_', ' ') ORDER BY replace(f.code, '_', ' '))
               FILTER (WHERE {reason}) AS problems,
           list(DISTINCT replace(f.code, '_', ' ') ORDER BY replace(f.code, '_', ' '))
               FILTER (WHERE st.delivered AND st.polled AND f.code IN ({doubted})
                       AND f.severity <> 'info') AS doubts,
           list(DISTINCT replace(f.code, '_', ' ') ORDER BY replace(f.code, '_', ' '))
               FILTER (WHERE f.code IN ({soft}) AND st.polled) AS soft
    FROM ({flag_source}) f JOIN st USING (shipment_id) GROUP BY f.shipment_id
),
base AS (
    SELECT s.shipment_id, s.order_id, s.tracking_number, s.archived, s.marketplace,
           coalesce(r.rule, 'other') AS rule,
           coalesce(s.ordered_at, s.shipped_at) AS paid_at,
           coalesce(s.shipped_at, s.ordered_at) AS shipped_ref,
           s.promised_to, s.protection_ends_at, s.destination_country,
           s.status, s.polled, s.delivered, s.tracking_number = '' AS awaiting,
           coalesce(s.delivered_at, s.last_event_at) AS delivered_at,
           coalesce(fl.problems, []) AS problems, coalesce(fl.doubts, []) AS doubts,
           coalesce(fl.soft, []) AS soft
    FROM shipment_current s
    LEFT JOIN fl USING (shipment_id)
    LEFT JOIN rules r ON r.marketplace = s.marketplace
),
dates AS (
    SELECT b.*,
           coalesce(b.promised_to, {_add("b.shipped_ref", "fallback")}) AS expected,
           coalesce(b.protection_ends_at, make_timestamptz(epoch_us(b.shipped_ref)
               + CASE b.destination_country WHEN 'RU' THEN $ae_protection_ru_us
                 WHEN 'BR' THEN $ae_protection_br_us ELSE $ae_protection_us END))
               AS ae_protection_end,
           len(b.problems) > 0 AS has_problem,
           b.delivered AND len(b.problems) = 0 AND len(b.doubts) = 0 AS settled,
           b.delivered AND len(b.problems) = 0 AND len(b.doubts) > 0 AS doubted
    FROM base b
),
windows AS (
    SELECT d.*,
           CASE d.rule
               WHEN 'aliexpress' THEN CASE
                    WHEN d.has_problem THEN {_add("d.shipped_ref", "ae_open")}
                    ELSE greatest({_add("d.shipped_ref", "ae_open")},
                                  least(coalesce(d.promised_to, d.ae_protection_end),
                                        d.ae_protection_end)) END
               WHEN 'ebay' THEN d.expected
               WHEN 'amazon' THEN {_add("d.expected", "amazon_wait")}
               WHEN 'paypal' THEN d.paid_at
               WHEN 'visa' THEN coalesce(d.promised_to, {_add("d.paid_at", "visa_wait")})
               WHEN 'mastercard' THEN coalesce(d.promised_to, {_add("d.paid_at", "mc_wait")})
               ELSE d.expected END AS opens_at,
           CASE d.rule
               WHEN 'aliexpress' THEN d.ae_protection_end
               WHEN 'ebay'
                   THEN coalesce(d.protection_ends_at, {_add("d.expected", "ebay_window")})
               WHEN 'amazon'
                   THEN coalesce(d.protection_ends_at, {_add("d.expected", "amazon_window")})
               WHEN 'paypal'
                   THEN coalesce(d.protection_ends_at, {_add("d.paid_at", "paypal_window")})
               WHEN 'visa' THEN least(
                   {_add("greatest(d.paid_at, coalesce(d.promised_to, d.paid_at))", "visa_window")},
                   {_add("d.paid_at", "card_cap")})
               WHEN 'mastercard' THEN least(
                   {_add("coalesce(d.promised_to, d.paid_at)", "mc_window")},
                   {_add("d.paid_at", "card_cap")})
               ELSE coalesce(d.protection_ends_at, {_add("d.expected", "other_window")})
           END AS deadline,
           CASE WHEN d.rule = 'aliexpress' THEN {_add("d.ae_protection_end", "ae_grace")} END
               AS grace_until,
           CASE WHEN $to_card AND d.rule NOT IN ('visa', 'mastercard')
                THEN least({_add("greatest(d.paid_at, d.expected)", "visa_window")},
                           {_add("d.paid_at", "card_cap")}) END AS card_deadline
    FROM dates d
),
decided AS (
    SELECT w.*, n.dispute,
           CASE
               -- Nothing is known of a parcel never polled: advise nothing on it. An
               -- order still awaiting its number waits too, until it is overdue.
               WHEN NOT w.polled AND NOT w.awaiting THEN 'wait'
               WHEN w.awaiting AND NOT w.has_problem THEN 'wait'
               WHEN w.settled THEN 'none'
               WHEN w.doubted THEN 'ask_seller'
               WHEN w.shipped_ref IS NULL OR w.deadline IS NULL THEN 'wait'
               WHEN $now > w.deadline AND w.grace_until IS NOT NULL AND $now <= w.grace_until
                   THEN 'open_dispute'
               WHEN $now > w.deadline AND w.card_deadline IS NOT NULL
                    AND $now <= w.card_deadline THEN 'escalate'
               WHEN $now > w.deadline THEN 'too_late'
               WHEN NOT w.has_problem AND len(w.soft) > 0 AND w.deadline > $now + $ask_before
                   THEN 'ask_seller'
               WHEN $now < w.opens_at AND w.has_problem THEN 'ask_seller'
               WHEN $now < w.opens_at AND w.rule = 'amazon' AND $now >= w.expected
                   THEN 'ask_seller'
               WHEN $now < w.opens_at AND w.rule = 'aliexpress'
                    AND w.deadline <= $now + $ask_before THEN 'ask_seller'
               WHEN $now < w.opens_at THEN 'wait'
               WHEN w.has_problem THEN 'open_dispute'
               WHEN w.deadline <= $now + $ask_before AND w.rule = 'aliexpress'
                   THEN 'ask_seller'
               WHEN w.deadline <= $now + $ask_before THEN 'open_dispute'
               ELSE 'wait'
           END AS action
    FROM windows w LEFT JOIN names n USING (rule)
)
SELECT w.shipment_id, w.marketplace, w.opens_at, w.deadline, w.action,
       CASE w.action
           WHEN 'none' THEN 'delivered' || coalesce(' on ' || {_date("w.delivered_at")}, '')
                || '; nothing to do'
           WHEN 'too_late' THEN 'the last day for a ' || w.dispute || ' was '
                || {_date("coalesce(w.grace_until, w.deadline)")}
           WHEN 'escalate' THEN 'the ' || w.dispute || ' window closed on '
                || {_date("coalesce(w.grace_until, w.deadline)")}
                || '; if you paid by card, ask your card issuer for a chargeback '
                || '(Visa 13.1 / Mastercard 4855) by ' || {_date("w.card_deadline")}
           WHEN 'ask_seller' THEN CASE
                WHEN w.doubted
                    THEN 'the carrier reports it delivered'
                         || coalesce(' on ' || {_date("w.delivered_at")}, '') || ', but: '
                         || array_to_string(w.doubts, ', ')
                         || '; if the parcel you received is not this order, ask the seller '
                         || 'for its real tracking number'
                WHEN NOT w.has_problem AND len(w.soft) > 0 AND w.deadline > $now + $ask_before
                    THEN 'ask the seller about: ' || array_to_string(w.soft, ', ')
                         || ' (which carrier has the parcel?); the ' || w.dispute
                         || ' can be opened from ' || {_date("w.opens_at")} || ' until '
                         || {_date("w.deadline")}
                WHEN w.has_problem AND $now < w.opens_at
                    THEN 'contact the seller now about: ' || array_to_string(w.problems, ', ')
                         || '; the ' || w.dispute || ' can be opened from '
                         || {_date("w.opens_at")} || ' until ' || {_date("w.deadline")}
                WHEN w.rule = 'amazon'
                    THEN 'contact the seller now: Amazon expects ' || $amazon_seller_hours
                         || ' h for an answer before an A-to-z claim, possible from '
                         || {_date("w.opens_at")} || ' until ' || {_date("w.deadline")}
                ELSE 'buyer protection ends ' || {_date("w.deadline")}
                     || ' and the parcel is not delivered: ask the seller to extend it; '
                     || 'if they refuse, open the dispute before then' END
           WHEN 'open_dispute' THEN CASE
                WHEN $now > w.deadline
                    THEN 'buyer protection ended ' || {_date("w.deadline")}
                         || '; AliExpress allows a refund request up to ' || $ae_grace_days
                         || ' days after the order closes (until '
                         || {_date("w.grace_until")} || '): open it today'
                ELSE 'open the ' || w.dispute || ' now'
                     || coalesce(' (' || nullif(array_to_string(w.problems, ', '), '') || ')',
                                 '')
                     || '; last day ' || {_date("w.deadline")}
                     || CASE w.rule
                            WHEN 'ebay' THEN '; the seller has 3 business days, then ask '
                                 || 'eBay to step in'
                            WHEN 'paypal' THEN '; escalate it to a claim within '
                                 || $paypal_escalate || ' days'
                            WHEN 'aliexpress' THEN '; the seller has 5 days to respond'
                            ELSE '' END END
           ELSE CASE
                WHEN w.awaiting
                    THEN 'awaiting a tracking number: import it when the seller sends one'
                         || coalesce('; promised by ' || {_date("w.promised_to")}, '')
                WHEN NOT w.polled
                    THEN 'not polled yet: run parcelproof poll to fetch its tracking'
                WHEN w.shipped_ref IS NULL OR w.deadline IS NULL
                    THEN 'no shipping date: the window cannot be computed'
                WHEN $now < w.opens_at
                    THEN 'wait until ' || {_date("w.opens_at")} || ': the ' || w.dispute
                         || ' window opens then (last day ' || {_date("w.deadline")} || ')'
                ELSE 'on its way and nothing is wrong; the ' || w.dispute
                     || ' window is open until ' || {_date("w.deadline")}
                     || ': wait until ' || {_date(_WAIT_UNTIL)} END
       END AS action_detail,
       w.rule, w.order_id, w.tracking_number, w.archived,
       {_date("w.opens_at")} AS opens_date, {_date("w.deadline")} AS deadline_date,
       w.status, w.polled,
       -- The real last day to act: AliExpress still takes a refund request in its
       -- grace days after the protection timer.
       coalesce(w.grace_until, w.deadline) AS last_day,
       {_date("coalesce(w.grace_until, w.deadline)")} AS last_day_date
FROM decided w
"""
