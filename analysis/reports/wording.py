"""The words of a pack: flag titles, the rule behind each flag, the verdict and the
suggested dispute message, all built from the facts (plain text; the template escapes).

The flags themselves come from :mod:`analysis.flags`; this module only *explains*
them to a person who has never seen the tool, citing the facts the pack shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from analysis.reports import fmt
from analysis.reports.facts import Dispute, Event, Flag, PackFacts, Shipment
from analysis.rules import RULES as CATALOGUE


@dataclass(frozen=True)
class Rule:
    """How a flag is raised, in words, and where its default threshold comes from."""

    title: str
    rule: str
    basis: str


#: Each flag's title, rule and basis, from the rule catalogue (analysis/rules).
RULES: dict[str, Rule] = {r.code: Rule(r.title, r.explanation, r.basis) for r in CATALOGUE}

SEVERITY_LABELS = {"critical": "Critical", "warning": "Warning", "info": "Info"}


ACTION_TITLES = {
    "none": "Nothing to do: delivered",
    "wait": "Wait: nothing to dispute yet",
    "ask_seller": "Contact the seller now",
    "open_dispute": "Open the {name} now",
    "escalate": "Escalate: ask your card issuer for a chargeback",
    "too_late": "Every dispute window has closed",
}


def action_title(d: Dispute | None) -> str:
    """The recommended action as a short imperative line."""
    if d is None or not d.action:
        return "Dispute window not computed"
    text = ACTION_TITLES.get(d.action, d.action.replace("_", " ").capitalize())
    return text.format(name=d.name)


def rule_for(code: str) -> Rule:
    """The explanation of a flag code (a generic one for codes added later)."""
    return RULES.get(
        code,
        Rule(code.replace("_", " ").capitalize(), "See the flag's detail.", "parcelproof rule"),
    )


def headline(facts: PackFacts) -> str:
    """One line for the top of the pack: the most severe finding, or all clear."""
    if not facts.flags:
        return f"No problem found: {fmt.status(facts.shipment.status).lower()}"
    titles = [rule_for(f.code).title for f in facts.flags]
    if len(titles) <= 2:
        return "; ".join([titles[0], *(t[0].lower() + t[1:] for t in titles[1:])])
    return f"{titles[0]} (+{fmt.plural(len(titles) - 1, 'more finding')})"


def verdict(facts: PackFacts) -> str:
    """The pack's opening paragraph: what is wrong, since when, what was promised."""
    s = facts.shipment
    c = s.destination_country
    subject = (
        f"Order {s.order_id}"
        + (f" ({s.item})" if s.item else "")
        + (f" from {s.store}" if s.store else "")
        + f" on {fmt.marketplace(s.marketplace)}, tracking number {s.tracking_number}"
        + (f" ({carrier_name(s)})" if carrier_name(s) else "")
    )
    codes = set(facts.open_codes)
    if facts.flags:
        # Findings in a row: an event quoted once is referred to, not quoted again.
        quoted: set[str] = set()
        findings = [finding(facts, f, quoted) for f in facts.flags]
        since = min(f.raised_at for f in facts.flags)
        parts = [f"{subject}: {_lower_first(findings[0])}", *findings[1:]]
        told = promise(
            s,
            facts.now,
            skip_window="overdue" in codes,
            skip_protection="protection_expiring" in codes,
        )
        if told:
            parts.append(told)
        parts.append(f"First flagged by parcelproof on {fmt.day(since, c)}.")
        return " ".join(parts)
    opening = f"{subject}: no problem found as of {fmt.day(facts.now, c)}."
    dated = [e for e in facts.events if e.occurred_at is not None]
    opening += f" Current status: {fmt.status(s.status).lower()}" + (
        f", last update {fmt.event_day(dated[-1].occurred_at, dated[-1].utc_offset_minutes)}."
        if dated
        else "."
    )
    return f"{opening} {promise(s, facts.now)}".strip()


def promise(
    s: Shipment, now: datetime, *, skip_window: bool = False, skip_protection: bool = False
) -> str:
    """What the buyer was promised: the delivery window and the end of protection.

    ``skip_window``/``skip_protection`` leave out what a finding already said.
    """
    c = s.destination_country
    parts = []
    if skip_window:
        pass
    elif s.promised_from and s.promised_to:
        parts.append(
            f"The seller promised delivery between {fmt.day(s.promised_from, c)} and "
            f"{fmt.day(s.promised_to, c)}"
        )
    elif s.promised_to:
        parts.append(f"The seller promised delivery by {fmt.day(s.promised_to, c)}")
    if s.protection_ends_at and not skip_protection:
        verb = "ends" if s.protection_ends_at >= now else "ended"
        left = fmt.days(s.protection_ends_at - now)
        tail = f" ({fmt.plural(left, 'day')} from now)" if verb == "ends" else ""
        parts.append(f"buyer protection {verb} on {fmt.day(s.protection_ends_at, c)}{tail}")
    if not parts:
        if skip_window or skip_protection:
            return ""
        return "No promised delivery date or protection end was recorded for this order."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def finding(facts: PackFacts, flag: Flag, quoted: set[str] | None = None) -> str:
    """One sentence stating what a flag found, with the facts behind it.

    ``quoted`` collects the keys of events already quoted in the same paragraph; an
    event in it is referred to ("since then") instead of being quoted again.
    """
    quoted = set() if quoted is None else quoted
    s = facts.shipment
    c = s.destination_country
    now = facts.now
    events = [e for e in facts.events if e.occurred_at is not None]
    last = events[-1] if events else None
    code = flag.code

    def quote(e: Event) -> str:
        quoted.add(e.event_key)
        return _event_phrase(e)

    if code == "invalid_number":
        invalid = [p for p in facts.polls if p.outcome == "invalid"]
        reason = s.number_reason or (
            f"{invalid[0].source} answered that it is invalid on {fmt.day(invalid[0].requested_at)}"
            if invalid
            else flag.detail
        )
        return f"The tracking number {s.tracking_number} is not valid: {_lower_first(reason)}."
    if code == "carrier_mismatch":
        fmt_name = s.number_format or "this format"
        return (
            f"The seller declared the carrier as {s.carrier or 'unknown'}, which does not issue "
            f"numbers of the format {fmt_name}"
            + (f" (detected courier: {s.courier})." if s.courier else ".")
        )
    if code == "not_found":
        answers = [p for p in facts.polls if p.outcome == "not_found"]
        if answers:
            sources = ", ".join(sorted({p.source for p in answers}))
            when = _span(answers[0].requested_at, answers[-1].requested_at)
            return (
                f"No tracking source has any record of the number: "
                f"{fmt.plural(len(answers), 'request')} to {sources} {when} "
                f"answered 'not found'."
            )
        return f"No tracking source has any record of the number ({flag.detail})."
    if code == "label_only":
        first = events[0] if events else None
        shipped = s.shipped_at
        text = "The carrier only ever received an electronic shipping notice"
        if first:
            text += f" ({fmt.event_day(first.occurred_at, first.utc_offset_minutes)})"
        text += "; it never reported receiving the parcel"
        if shipped:
            text += (
                f", {fmt.plural(fmt.days(now - shipped), 'day')} after the seller marked it "
                f"shipped on {fmt.day(shipped, c)}"
            )
        return text + "."
    if code == "stalled" and last is not None and last.occurred_at is not None:
        quiet = fmt.plural(fmt.days(now - last.occurred_at), "day")
        if last.event_key in quoted:
            return f"Tracking has not moved since then ({quiet})."
        return f"Tracking has not moved for {quiet}: the last event was {quote(last)}."
    if code == "overdue" and s.promised_to:
        late = fmt.plural(fmt.days(now - s.promised_to), "day")
        promised = (
            f"between {fmt.day(s.promised_from, c)} and {fmt.day(s.promised_to, c)}"
            if s.promised_from
            else f"by {fmt.day(s.promised_to, c)}"
        )
        return (
            f"The seller promised delivery {promised}; that date passed {late} ago and the "
            f"parcel has not been delivered."
        )
    if code == "protection_expiring" and s.protection_ends_at:
        left = fmt.plural(fmt.days(s.protection_ends_at - now), "day")
        return f"Buyer protection ends on {fmt.day(s.protection_ends_at, c)}, in {left}."
    if code == "delivered_elsewhere":
        delivered = [e for e in events if e.status == "delivered"]
        if delivered:
            d = delivered[-1]
            quoted.add(d.event_key)
            return (
                f"The carrier reports the parcel delivered on "
                f"{fmt.event_day(d.occurred_at, d.utc_offset_minutes)} in "
                f"{d.place or 'an unnamed place'}, but the order's destination is "
                f"{destination(s)}."
            )
    if code == "scan_before_order" and events and s.ordered_at:
        first = events[0]
        assert first.occurred_at is not None
        before = fmt.days(s.ordered_at - first.occurred_at)
        return (
            f"The first scan ({fmt.event_day(first.occurred_at, first.utc_offset_minutes)}) is "
            f"{fmt.plural(before, 'day')} before the order was placed "
            f"({fmt.day(s.ordered_at, c)}): the number belonged to an earlier parcel."
        )
    if code == "number_reused" and facts.other_orders:
        orders = ", ".join(o.order_id for o in facts.other_orders)
        return f"The same tracking number is also attached to order {orders}."
    if code == "returned":
        back = [e for e in events if e.status in ("returning", "returned")]
        if back:
            e = back[-1]
            quoted.add(e.event_key)
            verb = "was returned" if e.status == "returned" else "is being returned"
            return (
                f"The parcel {verb} to the sender "
                f"({fmt.event_day(e.occurred_at, e.utc_offset_minutes)}: "
                f"{_quote(e.description or e.raw_status or fmt.status(e.status))})."
            )
    if code == "exception":
        bad = [e for e in events if e.status in ("exception", "delivery_failed")]
        if bad:
            return f"The carrier reports a problem: {quote(bad[-1])}."
    if code == "expired":
        text = "The tracking source stopped tracking the parcel without any delivery"
        if last is not None and last.event_key not in quoted:
            text += f"; the last event was {quote(last)}"
        return text + "."
    # A flag kind added after this module, or one whose facts are missing: the rule's
    # own detail is the most precise statement available.
    return _sentence(flag.detail)


def no_message_reason(facts: PackFacts) -> str | None:
    """Why the pack offers no dispute message (None: it offers one).

    A non-receipt message is never suggested where it could be false or premature:
    a parcel the carrier delivered to the buyer's own address (only a delivery
    elsewhere contradicts it), one never polled, or one with nothing to claim.
    """
    s = facts.shipment
    d = facts.dispute
    if (d is not None and not d.polled) or (d is None and not facts.polls):
        return "the parcel has not been polled yet, so nothing is known of its tracking."
    if s.status == "delivered" and "delivered_elsewhere" not in facts.open_codes:
        return (
            "the carrier reports the parcel delivered at your address; "
            "a claim that it was not received could be false."
        )
    if d is not None and d.action in ("none", "wait"):
        return "nothing to claim yet: " + sentence(d.action_detail or "no problem found.")
    if d is None and not any(f.reason_to_dispute for f in facts.flags):
        return "no flag is a reason to dispute."
    return None


def dispute_message(facts: PackFacts) -> str | None:
    """A message the buyer can paste into the dispute form, citing the pack's facts
    (None where :func:`no_message_reason` gives a reason not to suggest one)."""
    if no_message_reason(facts) is not None:
        return None
    s = facts.shipment
    c = s.destination_country
    lines = ["Hello,", ""]
    what = f"order {s.order_id}" + (
        f" ({s.item}, {fmt.money(s.amount, s.currency)})" if s.item else ""
    )
    bought = f" from {s.store}" if s.store else ""
    on = f" on {fmt.day(s.ordered_at, c)}" if s.ordered_at else ""
    who = "My customer has" if facts.dropshipper else "I have"
    lines.append(
        f"{who} not received {what}, bought{bought}{on}. The tracking number the seller gave "
        f"is {s.tracking_number}" + (f" ({carrier_name(s)})." if carrier_name(s) else ".")
    )
    lines.append("")
    facts_lines = claim_facts(facts)
    lines.append("The facts:")
    lines.extend(f"- {line}" for line in facts_lines)
    lines.append("")
    if facts.polls:
        sources = ", ".join(sorted({p.source for p in facts.polls}))
        lines.append(
            f"I checked the tracking independently: {fmt.plural(len(facts.polls), 'request')} "
            f"to {sources} {_span(facts.polls[0].requested_at, facts.polls[-1].requested_at)}, "
            f"every response kept with its SHA-256 hash. The attached evidence pack has the "
            f"full tracking record."
        )
    else:
        lines.append("The attached evidence pack has the order details and the tracking facts.")
    lines.append("")
    lines.append(_request(s.marketplace, s))
    lines.append("")
    lines.append("Thank you.")
    return "\n".join(lines)


def claim_facts(facts: PackFacts) -> list[str]:
    """The facts a claim states, one sentence each: what each flag found (not the
    reminder that protection ends), else the tracking status; the promised date; a
    delivery elsewhere. No rule name, no advice: the dispute message and the
    statement for the reviewer both cite these."""
    s = facts.shipment
    c = s.destination_country
    lines = [finding(facts, f) for f in facts.flags if f.code != "protection_expiring"]
    if not lines:
        dated = [e for e in facts.events if e.occurred_at is not None]
        last = (
            f" (last update {fmt.event_day(dated[-1].occurred_at, dated[-1].utc_offset_minutes)})"
            if dated
            else ""
        )
        lines = [f"The current tracking status is {fmt.status(s.status).lower()}{last}."]
    if s.promised_to and "overdue" not in facts.open_codes and s.status != "delivered":
        tense = "was" if s.promised_to < facts.now else "is"
        lines.append(f"The promised delivery date {tense} {fmt.day(s.promised_to, c)}.")
    if "delivered_elsewhere" in facts.open_codes:
        whose = "my customer's" if facts.dropshipper else "my"
        lines.append(f"Nothing was delivered to {whose} address.")
    return lines


def reviewer_statement(facts: PackFacts) -> list[str]:
    """The first part of the pack, for the marketplace's reviewer: paragraphs written
    from the buyer's side (a dropshipper's customer where ``facts.dropshipper``).

    It states the order and, where a claim is possible (:func:`no_message_reason`
    gives none), that it was not received and what the buyer asks; otherwise only
    the tracking facts. No rule names and no advice: those are for the buyer, in
    the pages after it.
    """
    s = facts.shipment
    c = s.destination_country
    customer = facts.dropshipper
    what = f"order {s.order_id}" + (f" ({s.item})" if s.item else "")
    bought = f" from {s.store}" if s.store else ""
    on = f" on {fmt.day(s.ordered_at, c)}" if s.ordered_at else ""
    paid = f" for {fmt.money(s.amount, s.currency)}" if s.amount is not None else ""
    to = f", to be delivered to {destination(s)}" if s.destination_country else ""
    mine = " for my customer" if customer else ""
    numbers = f"tracking number {s.tracking_number}" + (
        f" ({carrier_name(s)})" if carrier_name(s) else ""
    )
    gave = f"gave {numbers}" if s.tracking_number else "has given no tracking number"
    paragraphs = [f"I bought {what}{bought}{on}{paid}{mine}{to}. The seller {gave}."]
    claim = no_message_reason(facts) is None
    if claim:
        who = "My customer has" if customer else "I have"
        paragraphs.append(f"{who} not received it.")
    if facts.polls:
        sources = ", ".join(sorted({p.source for p in facts.polls}))
        paragraphs.append(
            f"The tracking was checked independently: {fmt.plural(len(facts.polls), 'request')} "
            f"to {sources} {_span(facts.polls[0].requested_at, facts.polls[-1].requested_at)}, "
            "each response kept exactly as received with its SHA-256 hash (part 3 of this "
            "document lists them all and says how to verify them)."
        )
    if claim:
        paragraphs.append(_request(s.marketplace, s))
    return paragraphs


def _request(market: str, s: Shipment) -> str:
    amount = fmt.money(s.amount, s.currency)
    full = f"a full refund of {amount}" if s.amount is not None else "a full refund"
    return {
        "aliexpress": f"Under AliExpress Buyer Protection, I ask for {full}.",
        "ebay": f"Under the eBay Money Back Guarantee, I ask for {full}.",
        "amazon": f"Under the Amazon A-to-z Guarantee, I ask for {full}.",
        "paypal": f"Under PayPal Purchase Protection, I ask for {full}.",
        "visa": (
            "I dispute this transaction as merchandise not received (Visa 13.1) "
            f"and ask for {full}."
        ),
        "mastercard": (
            "I dispute this transaction as goods not provided (Mastercard 4855) "
            f"and ask for {full}."
        ),
    }.get(market, f"I ask for {full}.")


def carrier_name(s: Shipment) -> str:
    """The carrier as the seller declared it, else the detected courier."""
    return s.carrier or s.courier or ""


def destination(s: Shipment) -> str:
    """The order's destination as one line: ``San Francisco 94107, US``."""
    city = " ".join(p for p in (s.destination_city, s.destination_postcode) if p)
    return ", ".join(p for p in (city, s.destination_country) if p) or "not recorded"


def gap_text(days: float, open_ended: bool) -> str:
    """The label of a silence in the timeline."""
    whole = int(days)
    if open_ended:
        return f"No tracking update for {fmt.plural(whole, 'day')}, up to now"
    return f"No tracking update for {fmt.plural(whole, 'day')}"


def age(now: datetime, then: datetime | None) -> str:
    """``35 days ago`` (or ``today``)."""
    if then is None:
        return "-"
    whole = fmt.days(now - then)
    if now - then < timedelta(days=1):
        return "today"
    return f"{fmt.plural(whole, 'day')} ago"


def _span(first: datetime, last: datetime) -> str:
    """``on 28 Nov 2026`` or ``between 13 Oct 2026 and 23 Oct 2026`` (UTC dates)."""
    start, end = fmt.day(first), fmt.day(last)
    return f"on {start}" if start == end else f"between {start} and {end}"


def _event_phrase(e: Event) -> str:
    text = _quote(e.description or e.raw_status or fmt.status(e.status))
    if e.place:
        text += f" in {e.place}"
    return f"{text} on {fmt.event_day(e.occurred_at, e.utc_offset_minutes)}"


def _quote(text: str) -> str:
    return f"\u201c{text.strip()}\u201d"


def _lower_first(text: str) -> str:
    # Keep acronyms and numbers ("UPS", "LP00...") as they are.
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def sentence(text: str | None) -> str:
    """``"open the dispute now"`` -> ``"Open the dispute now."``"""
    return _sentence(text or "")


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
