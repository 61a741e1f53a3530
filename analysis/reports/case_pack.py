"""The dispute case in a pack: its log, what was asked and offered, which packs were
submitted, and a message that fits the case's next step.

Kept apart from :mod:`analysis.reports.wording` (the flag findings and the plain
dispute text) so the case's wording does not depend on it beyond reusing the
dispute text::

    cases = load_cases(store, assessment, [3, 7])   # {shipment_id: CaseFact}
    case_message(facts, cases[3])                   # the text for the next step
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analysis.assess import Assessment
from analysis.reports import fmt, wording
from analysis.reports.facts import PackFacts
from collector.store import Store

#: What each step is called in a pack.
STEP_WORDS = {
    "contacted_seller": "Contacted the seller",
    "opened": "Opened the dispute",
    "seller_replied": "The seller replied",
    "seller_offer": "The seller made an offer",
    "escalated": "Escalated to the marketplace",
    "evidence_requested": "Evidence requested",
    "evidence_sent": "Evidence sent",
    "resolved": "Resolved",
    "feedback_left": "Feedback left",
}


@dataclass(frozen=True)
class CaseStep:
    """One step of the log as a pack shows it."""

    step_id: int
    step: str
    occurred_at: datetime
    ask: str | None
    outcome: str | None
    amount: Any
    currency: str | None
    due_at: datetime | None
    note: str | None
    pack_dir: str | None
    pack_manifest_sha256: str | None
    new_tracking_number: str | None
    corrects: int | None
    #: The step that replaced this one (None: it counts).
    corrected_by: int | None = None

    @property
    def words(self) -> str:
        """The step's name in words."""
        return STEP_WORDS.get(self.step, self.step.replace("_", " "))

    @property
    def details(self) -> str:
        """What was asked, offered, recovered, attached, in one line."""
        parts = []
        if self.ask:
            parts.append(f"asked for a {self.ask.replace('_', ' ')}")
        if self.outcome:
            parts.append(self.outcome.replace("_", " "))
        if self.amount is not None:
            parts.append(fmt.money(self.amount, self.currency))
        if self.new_tracking_number:
            parts.append(f"new parcel {self.new_tracking_number}")
        if self.corrects is not None:
            parts.append(f"corrects step {self.corrects}")
        if self.note:
            parts.append(f"note: {self.note}")
        return "; ".join(parts)


@dataclass(frozen=True)
class CaseFact:
    """An order's case at the pack's instant (:mod:`analysis.cases`) and its log."""

    row: dict[str, Any]
    steps: list[CaseStep] = field(default_factory=list)

    @property
    def counted(self) -> list[CaseStep]:
        """The steps that count (not corrected), in case order."""
        return sorted(
            (s for s in self.steps if s.corrected_by is None),
            key=lambda s: (s.occurred_at, s.step_id),
        )

    def first(self, kind: str) -> CaseStep | None:
        """The first counted step of a kind."""
        return next((s for s in self.counted if s.step == kind), None)

    def json(self) -> dict[str, Any]:
        """The case in ``manifest.json``."""
        r = self.row
        return {
            "state": r["state"],
            "open": r["open"],
            "action": r["action"],
            "action_detail": r["action_detail"],
            "due": fmt.iso(r["due_at"]),
            "ask": r["ask"],
            "offer_amount": r["offer_amount"],
            "outcome": r["outcome"],
            "recovered": r["recovered"],
            "log": [
                {
                    "step_id": s.step_id,
                    "step": s.step,
                    "occurred_at": fmt.iso(s.occurred_at),
                    "ask": s.ask,
                    "outcome": s.outcome,
                    "amount": str(s.amount) if s.amount is not None else None,
                    "currency": s.currency,
                    "due_at": fmt.iso(s.due_at),
                    "note": s.note,
                    "pack_dir": s.pack_dir,
                    "pack_manifest_sha256": s.pack_manifest_sha256,
                    "new_tracking_number": s.new_tracking_number,
                    "corrects": s.corrects,
                    "corrected_by": s.corrected_by,
                }
                for s in self.steps
            ],
        }


_STEPS_SQL = """
SELECT * FROM dispute_steps
WHERE order_id IN (SELECT unnest($orders::VARCHAR[])) AND occurred_at <= $now
ORDER BY order_id, step_id
"""


def load_cases(
    store: Store, assessment: Assessment, shipment_ids: Sequence[int]
) -> dict[int, CaseFact]:
    """The case of each shipment's order, as of the assessment's instant (one query)."""
    cases = assessment.cases
    if cases.height == 0 or "shipment_ids" not in cases.columns:
        return {}
    wanted = {int(i) for i in shipment_ids}
    rows = [
        r
        for r in cases.iter_rows(named=True)
        if wanted & set(r["shipment_ids"] or []) or r["linked_shipment_id"] in wanted
    ]
    if not rows:
        return {}
    orders = [str(r["order_id"]) for r in rows]
    stored = store.frame(_STEPS_SQL, {"orders": orders, "now": assessment.now}).to_dicts()
    by_order: dict[str, list[dict[str, Any]]] = {}
    for s in stored:
        by_order.setdefault(str(s["order_id"]), []).append(s)
    out: dict[int, CaseFact] = {}
    for r in rows:
        steps = by_order.get(str(r["order_id"]), [])
        fixed = {s["corrects"]: s["step_id"] for s in steps if s["corrects"] is not None}
        fact = CaseFact(
            row=r,
            steps=[
                CaseStep(
                    **{k: s[k] for k in CaseStep.__dataclass_fields__ if k in s},
                    corrected_by=fixed.get(s["step_id"]),
                )
                for s in steps
            ],
        )
        for sid in [*(r["shipment_ids"] or []), r["linked_shipment_id"]]:
            if sid is not None and int(sid) in wanted:
                out[int(sid)] = fact
    return out


def case_message(facts: PackFacts, case: CaseFact) -> str | None:
    """The text for the case's next step, or None when the step needs no message.

    ``ask_seller`` / a wait after contacting the seller: a message to the seller;
    ``open_dispute``: the dispute text (:func:`wording.dispute_message`) saying when
    the seller was contacted; ``escalate``: the escalation text citing the seller's
    silence (or unsettling reply) and the deadline; ``send_evidence``: the covering
    note naming the pack; ``answer_offer``: the answer to the seller's offer;
    ``follow_up``: asking the marketplace for its decision.
    """
    r = case.row
    action = str(r["action"])
    s = facts.shipment
    c = s.destination_country
    market = fmt.marketplace(s.marketplace)

    def day(value: datetime | None) -> str:
        return fmt.day(value, c) if value is not None else "-"

    opened = case.first("opened")
    contacted = case.first("contacted_seller")
    escalated = case.first("escalated")
    facts_lines = [
        wording.finding(facts, f) for f in facts.flags if f.code != "protection_expiring"
    ]
    what = f"order {s.order_id}" + (f" ({s.item})" if s.item else "")
    tracking = f"tracking number {s.tracking_number}"
    amount = fmt.money(s.amount, s.currency) if s.amount is not None else "the amount paid"
    if action == "open_dispute":
        text = wording.dispute_message(facts)
        if text is None or contacted is None:
            return text
        told = f"I contacted the seller on {day(contacted.occurred_at)}"
        replied = [x for x in case.counted if x.step == "seller_replied"]
        told += (
            f"; they answered on {day(replied[-1].occurred_at)} without settling."
            if replied
            else " and received no settlement."
        )
        head, _, tail = text.partition("\n\nThe facts:")
        return f"{head}\n\n{told}\n\nThe facts:{tail}" if tail else f"{text}\n\n{told}"
    if action == "escalate" and opened is not None:
        replied = [x for x in case.counted if x.step == "seller_replied"]
        silence = (
            f"The seller answered on {day(replied[-1].occurred_at)} but has not settled it."
            if replied
            else "The seller has not answered."
        )
        lines = [
            "Hello,",
            "",
            f"I opened a dispute for {what} on {day(opened.occurred_at)}, asking for a "
            f"{str(opened.ask).replace('_', ' ')}. {silence} I ask {market} to step in and "
            f"decide. The last day to escalate is {r['due_date']}.",
            "",
            "The facts:",
            *(f"- {line}" for line in facts_lines or [f"The {tracking} shows no delivery."]),
            "",
            _submitted(case),
            "",
            "Thank you.",
        ]
        return "\n".join(lines)
    if action == "send_evidence":
        asked = [x for x in case.counted if x.step == "evidence_requested"]
        when = day(asked[-1].occurred_at) if asked else "-"
        return "\n".join(
            [
                "Hello,",
                "",
                f"As requested on {when}, here is the evidence for {what} ({tracking}): "
                "the attached evidence pack has the full tracking record, every carrier "
                "response with its SHA-256 hash, and the findings below.",
                "",
                *(f"- {line}" for line in facts_lines),
                "",
                "Thank you.",
            ]
        )
    if action == "answer_offer":
        offers = [x for x in case.counted if x.step == "seller_offer"]
        offer = offers[-1] if offers else None
        offered = (
            fmt.money(offer.amount, offer.currency)
            if offer is not None and offer.amount is not None
            else "your offer"
        )
        deadline = f" by {r['due_date']}" if r["due_date"] else ""
        return "\n".join(
            [
                "Hello,",
                "",
                f"Thank you for offering {offered} for {what}. The parcel ({tracking}) has "
                f"not arrived, so I ask for {amount} in full. If we cannot settle it, I will "
                f"{'escalate the dispute' if opened else 'open a dispute'}{deadline}.",
                "",
                "Thank you.",
            ]
        )
    if action == "follow_up":
        since = escalated or opened
        return "\n".join(
            [
                "Hello,",
                "",
                f"The dispute for {what} ({tracking}) "
                + (f"was escalated on {day(since.occurred_at)}" if since else "is open")
                + " and I have had no decision. Please decide the case; the evidence "
                "pack submitted with it is listed below.",
                "",
                _submitted(case),
                "",
                "Thank you.",
            ]
        )
    if (action in ("wait", "ask_seller")) and opened is None and r["open"]:
        # A dropshipper writes for a customer (``[reports] dropshipper``).
        whose = "My customer's" if facts.dropshipper else "My"
        first_word = (
            f"I wrote to you on {day(contacted.occurred_at)} and have had no answer. "
            if contacted is not None and action == "wait"
            else ""
        )
        return "\n".join(
            [
                "Hello,",
                "",
                f"{first_word}{whose} {what} has not arrived. The {tracking} "
                + (f"shows: {'; '.join(facts_lines)}" if facts_lines else "shows no delivery")
                + ". Please tell me where the parcel is, or send a refund or a replacement.",
                "",
                "Thank you.",
            ]
        )
    return None


def _submitted(case: CaseFact) -> str:
    country = case.row.get("destination_country")
    packs = [s for s in case.counted if s.pack_manifest_sha256]
    if not packs:
        return "The attached evidence pack has the full tracking record."
    return (
        "Evidence submitted: "
        + "; ".join(
            f"the pack sent on {fmt.day(s.occurred_at, country)} "
            f"(manifest SHA-256 {s.pack_manifest_sha256})"
            for s in packs
        )
        + "."
    )
