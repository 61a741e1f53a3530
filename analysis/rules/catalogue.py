"""The flag rule catalogue: one declared entry per rule.

A :class:`Rule` says everything about one flag: its code, its severity (and when it
escalates), its thresholds (``[rules]`` settings, whose defaults live in
:class:`collector.config.RulesConfig` and whose sources are cited here), the SQL that
selects what it flags, its title and plain-language wording for packs, the rows of
the README's flag table, and its role for disputes. Adding a rule is adding one
entry to :data:`RULES` (and, when it has a threshold, a field of ``RulesConfig``);
the stage tables it reads are filtered to what the rules declare
(:mod:`analysis.rules.stages`).

SQL of a rule is written over the stage it ``reads`` under the alias ``b`` (``p``
for ``place``, ``u`` for ``reused``); ``l.ev`` is the latest event (``key, poll,
text``) for rules with ``last_event``. Parameters: ``$now``, and per threshold
``$<name>`` (an interval for day thresholds) and ``$<name>_us`` (microseconds).

    >>> [r.code for r in RULES][:3]
    ['invalid_number', 'carrier_mismatch', 'not_found']
    >>> rule("stalled").thresholds[0].name
    'stalled_days'
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from analysis.rules.sql import (
    AGE,
    event_text,
    evidence,
    local_date_sql,
    offset_date_sql,
)
from collector.config import RulesConfig
from collector.model import STALL_EXEMPT, Status, status_in

SEVERITIES = ("critical", "warning", "info")
#: Higher is more urgent (for sorting).
SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1}


class DisputeRole(StrEnum):
    """What a flag means for a non-delivery dispute (:mod:`analysis.disputes`)."""

    #: A reason to dispute while the parcel is not delivered.
    PROBLEM = "problem"
    #: A reason while not delivered; on a delivered parcel it casts doubt on the
    #: delivery (ask the seller, never claim non-receipt).
    DOUBTS_DELIVERY = "doubts_delivery"
    #: A reason even when delivered: the carrier says it was left elsewhere.
    CONTRADICTS_DELIVERY = "contradicts_delivery"
    #: Worth a question to the seller, never a dispute by itself.
    ASK_SELLER = "ask_seller"
    #: No reason to dispute on its own (a reminder).
    NONE = "none"


@dataclass(frozen=True)
class Threshold:
    """A ``[rules]`` setting a rule reads; ``unit`` is ``days``, ``hours`` or ``bool``."""

    name: str
    unit: str = "days"

    @property
    def default(self) -> float | bool:
        """The default, as :class:`collector.config.RulesConfig` declares it."""
        value = getattr(RulesConfig(), self.name)
        assert isinstance(value, float | bool), self.name
        return value

    def text(self, value: float | bool) -> str:
        """``name=value`` as the ``threshold`` column records it (``stalled_days=10``)."""
        shown = str(value).lower() if isinstance(value, bool) else f"{value:g}"
        return f"{self.name}={shown}"


@dataclass(frozen=True)
class Readme:
    """The rule's row in the README's flag table (tested against the README)."""

    when: str
    severity: str
    source: str


@dataclass(frozen=True)
class Rule:
    """One flag rule. See the module docstring for the SQL conventions."""

    code: str
    #: Pack wording: a short title, the rule in plain words, and its basis.
    title: str
    explanation: str
    basis: str
    readme: Readme
    dispute: DisputeRole
    #: SQL for the severity of each flagged row (a constant or a CASE).
    severity: str
    detail: str
    evidence: str
    #: When the condition began (NULL where it has no instant of its own).
    began_at: str
    #: The stage selected from: base, unfound, place, early or reused.
    reads: str = "base"
    #: The WHERE clause over the stage.
    where: str = "true"
    #: Which ``_pf_base`` rows (alias ``b``) it may flag: the stage tables keep the
    #: union of these and nothing else. Defaults to ``where`` (rules reading
    #: ``base``); None for a rule that does not read ``_pf_base``.
    candidates: str | None = None
    #: Joins the latest event as ``l.ev`` (key, poll, text).
    last_event: bool = False
    thresholds: tuple[Threshold, ...] = ()
    #: A FROM clause replacing the default one for ``reads``.
    from_sql: str | None = None
    #: Codes that say the same thing more exactly: while one of them holds on a
    #: shipment, this rule raises nothing there (one cause, one flag: a number that
    #: is no tracking number is invalid, not also "not found" and "wrong carrier").
    yields_to: tuple[str, ...] = ()
    #: Whether it may flag a shipment stored before its tracking number came (an
    #: empty number cell): only what the order's dates say holds of one.
    awaiting: bool = False
    #: The day count the detail's :data:`~analysis.rules.sql.AGE` marker stands
    #: for: ``("since", instant)`` or ``("until", instant)``, SQL over ``b``. It is
    #: rendered when the flag is read, so a day passing rewrites nothing.
    age: tuple[str, str] | None = None
    #: The instants (epoch microseconds, SQL over the unfiltered ``_pf_base`` row
    #: ``b``; NULL where none applies) at which this rule's outcome for a shipment
    #: could change by time alone: at ``now`` >= such an instant the shipment is
    #: evaluated again even if none of its inputs changed. Every rule whose
    #: ``where``, ``severity``, ``candidates`` or ``from_sql`` reads ``$now`` needs
    #: them (tests/flags/test_incremental.py checks it).
    changes_at: tuple[str, ...] = ()

    @property
    def scope(self) -> str | None:
        """The ``_pf_base`` rows this rule may flag (see ``candidates``)."""
        if self.candidates is not None:
            return self.candidates
        return self.where if self.reads == "base" else None

    @property
    def threshold_param(self) -> str | None:
        """The parameter holding this rule's ``threshold`` text, if it has one."""
        return f"t_{self.code}" if self.thresholds else None


def _date(expr: str) -> str:
    return local_date_sql(expr, "b.dest_country")


def _at(guard: str, instant: str, *spans_us: str) -> tuple[str, ...]:
    """The instants ``instant + span`` (``$<threshold>_us`` parameters or
    constants, in microseconds) while ``guard`` holds, as epoch microseconds."""
    return tuple(f"CASE WHEN {guard} THEN epoch_us({instant}) + {span} END" for span in spans_us)


_LAST_EVIDENCE = evidence("[l.ev.key]", "[l.ev.poll, b.last_poll_id]")
_NOT_DELIVERED = "NOT b.delivered"
_RAW_TEXT = event_text("x.r.what", "x.r.place", "x.r.at", "x.r.utc_offset")
_RETURN_STATES = (Status.RETURNING, Status.RETURNED)
_STATUS_TEXT = (
    "CASE WHEN b.awaiting THEN 'no tracking number yet' "
    "ELSE 'status ' || replace(b.status, '_', ' ') END"
)

RULES: tuple[Rule, ...] = (
    Rule(
        code="invalid_number",
        title="Invalid tracking number",
        explanation="The number fails its format's check digit or country/service lookup, is "
        "not a plausible tracking number at all, or a tracking source answered that it is "
        "invalid.",
        basis="UPU S10 check digit and courier number formats; AliExpress seller rules treat "
        "an invalid number as a false shipment.",
        readme=Readme(
            "the number fails its format's check digit or lookup (`number_verdict = invalid`);"
            " or it matches no known format and is not plausible (not 8-40 letters, digits or "
            "dashes, or no digit); or it matches no format and a source answered invalid, or "
            '"not found" once `not_found_days` have passed; or a source\'s latest answer is '
            '"invalid" and no source has an event. A format without a published check digit '
            "(many China-origin formats, verdict `weak`) is never invalid on format grounds "
            "alone",
            "critical (warning when a source has events for it)",
            'UPU S10 check digit (Wikipedia "S10 (UPU standard)"); 17TRACK `NotFound_InvalidCode`',
        ),
        dispute=DisputeRole.DOUBTS_DELIVERY,
        severity="CASE WHEN b.never_found THEN 'critical' ELSE 'warning' END",
        detail=f"""concat_ws('; ',
           CASE WHEN b.number_verdict = 'invalid' THEN b.tracking_number
                || ' fails the check of its format' || coalesce(' ' || b.number_format, '')
                || coalesce(' (' || b.number_reason || ')', '') END,
           CASE WHEN x.implausible THEN b.tracking_number
                || ' is not a plausible tracking number'
                || CASE WHEN starts_with(b.number_reason, 'scientific notation')
                        THEN ' (' || b.number_reason || ')' ELSE '' END END,
           CASE WHEN b.no_format AND NOT x.implausible AND x.source_denies THEN b.tracking_number
                || ' matches no known tracking-number format' END,
           CASE WHEN x.source_invalid THEN list_aggr(b.invalid_sources, 'string_agg', ', ')
                || ' answered that the number is invalid' END,
           CASE WHEN b.never_found AND b.last_outcome = 'not_found' THEN b.last_source
                || ' answered ''not found'' on ' || {_date("b.last_answered_at")} END,
           CASE WHEN NOT b.never_found THEN 'although a source has tracking events for it' END
       )""",
        evidence=evidence("[]", "b.invalid_polls || [b.last_answer_poll]"),
        began_at="NULL::TIMESTAMPTZ",
        reads="unfound",
        from_sql="""FROM _pf_unfound b, LATERAL (SELECT
        (b.no_format AND (NOT regexp_full_match(b.tracking_number, '[A-Z0-9-]{8,40}')
                          OR NOT regexp_matches(b.tracking_number, '[0-9]'))) AS implausible,
        (b.never_found AND (b.last_outcome = 'invalid' OR (b.last_outcome = 'not_found'
             AND b.shipped_ref <= $now - $not_found_days))) AS source_denies,
        (b.never_found AND len(b.invalid_polls) > 0) AS source_invalid) x""",
        where="b.number_verdict = 'invalid' OR x.implausible OR (b.no_format AND x.source_denies)"
        " OR x.source_invalid",
        candidates="b.number_verdict = 'invalid' OR b.no_format OR b.never_found",
        changes_at=_at("b.never_found", "b.shipped_ref", "$not_found_days_us"),
    ),
    Rule(
        code="carrier_mismatch",
        title="Carrier cannot issue this number",
        explanation="The carrier the seller declared does not issue tracking numbers of this "
        "format.",
        basis="Courier number-format data; AliExpress false-shipment rules.",
        readme=Readme(
            "the declared carrier cannot issue a number of this format (number engine)",
            "warning",
            'AliExpress false-shipment rule: a number "obviously irrelevant" to the order '
            "(seller rules, ssopdot.com)",
        ),
        dispute=DisputeRole.ASK_SELLER,
        severity="'warning'",
        detail="""'declared carrier ' || coalesce('''' || b.carrier || '''', '(none)')
       || ' cannot issue this number'
       || coalesce(': it is a ' || CASE
              WHEN b.number_format = 's10'
                  THEN 'UPU S10 postal number from ' || right(b.tracking_number, 2)
              WHEN b.number_format IS NULL OR b.number_format = b.courier
                  THEN b.courier || ' number'
              ELSE b.courier || ' (' || b.number_format || ') number' END, '')""",
        evidence=evidence("[]", "[]"),
        began_at="NULL::TIMESTAMPTZ",
        reads="unfound",
        where="b.carrier_mismatch",
        candidates="b.carrier_mismatch",
        yields_to=("invalid_number",),
    ),
    Rule(
        code="not_found",
        title="No carrier has any record",
        explanation="A tracking source answered 'not found' and the allowed time after "
        "shipping has passed.",
        basis="AliExpress help: carriers need 3-7 days to show a parcel; seller rules: no "
        "logistics information within 5 working days of shipping is a false shipment.",
        readme=Readme(
            "the latest definitive answer (ok / not found / invalid) of any source says not "
            "found (one answer is enough), no source has an event, not delivered, and "
            "`not_found_days` have passed since shipping (the order date when there is none)",
            "warning; critical after `not_found_critical_days`",
            "carriers need 3-7 days to show a parcel (AliExpress help); no logistics info "
            "within 5 working days = false shipment (AliExpress seller rules); untrackable "
            "after 2-3 weeks = not sent (help-en.megabonus.com, 3rd party)",
        ),
        dispute=DisputeRole.PROBLEM,
        severity="CASE WHEN b.shipped_ref <= $now - $not_found_critical_days THEN 'critical' "
        "ELSE 'warning' END",
        detail=f"""'no source has found it: '
       || coalesce(nullif(list_aggr(b.nf_sources, 'string_agg', ', '), '') || ' answered '
                   || '''not found'' (latest ' || {_date("b.last_answered_at")} || ')',
                   'status not found')
       || '; shipped ' || {_date("b.shipped_ref")} || ', '
       || {AGE} || ' ago'""",
        age=("since", "b.shipped_ref"),
        evidence=evidence("[]", "b.nf_polls"),
        began_at="b.shipped_ref",
        reads="unfound",
        where=f"""{_NOT_DELIVERED} AND b.never_found AND b.shipped_ref IS NOT NULL
  AND (b.last_outcome = 'not_found' OR (b.last_outcome IS NULL AND b.status = 'not_found'))
  AND b.shipped_ref <= $now - $not_found_days""",
        candidates=f"{_NOT_DELIVERED} AND b.never_found AND b.shipped_ref IS NOT NULL",
        thresholds=(Threshold("not_found_days"), Threshold("not_found_critical_days")),
        yields_to=("invalid_number",),
        changes_at=_at(
            f"{_NOT_DELIVERED} AND b.never_found",
            "b.shipped_ref",
            "$not_found_days_us",
            "$not_found_critical_days_us",
        ),
    ),
    Rule(
        code="label_only",
        title="Label created, never handed over",
        explanation="Only an electronic shipping notice (label) exists, the allowed time "
        "after shipping.",
        basis="AliExpress seller rules: no collection scan within 5 working days of the "
        "shipment notice is a false shipment.",
        readme=Readme(
            "the current status is `info_received` (label / pre-advice only) "
            "`label_only_days` after shipping",
            "warning",
            "AliExpress false shipment: no collection scan within 5 working days of the "
            "shipment notice (degcc.com, ssopdot.com)",
        ),
        dispute=DisputeRole.PROBLEM,
        severity="'warning'",
        detail=f"""'only pre-shipment information' || coalesce(' (' || l.ev.text || ')', '')
       || ' ' || {AGE} || ' after shipping on '
       || {_date("b.shipped_ref")} || ': never handed to the carrier'""",
        age=("since", "b.shipped_ref"),
        evidence=_LAST_EVIDENCE,
        began_at="b.shipped_ref",
        last_event=True,
        where=f"""{_NOT_DELIVERED} AND b.status = '{Status.INFO_RECEIVED}'
  AND b.shipped_ref IS NOT NULL AND b.shipped_ref <= $now - $label_only_days""",
        thresholds=(Threshold("label_only_days"),),
        changes_at=_at(
            f"{_NOT_DELIVERED} AND b.status = '{Status.INFO_RECEIVED}'",
            "b.shipped_ref",
            "$label_only_days_us",
        ),
    ),
    Rule(
        code="stalled",
        title="Tracking stalled",
        explanation="The last tracking event is older than the threshold and the parcel is "
        "neither delivered nor returned.",
        basis="No platform sets a threshold; tracking guides act after 5-10 days without an "
        "update, aggregators stop tracking after 30-60 days.",
        readme=Readme(
            "the last event is `stalled_days` old or older and the status is not delivered, "
            "returned, returning, expired or info_received (a parcel at a pickup point can "
            'stall: its text says "waiting for pickup")',
            "warning; critical after `stalled_critical_days`",
            "no platform publishes one; 5-10 days without an update warrants action, act at "
            "21 days internationally (post-tracker.info, shipsmarter.site, 3rd party)",
        ),
        dispute=DisputeRole.PROBLEM,
        severity="CASE WHEN b.last_event_at <= $now - $stalled_critical_days THEN 'critical' "
        "ELSE 'warning' END",
        detail=f"""CASE WHEN b.status = '{Status.AVAILABLE_FOR_PICKUP}'
            THEN 'waiting for pickup, no movement for ' ELSE 'no movement for ' END
       || {AGE} || ' since '
       || coalesce(l.ev.text, {_date("b.last_event_at")})""",
        age=("since", "b.last_event_at"),
        evidence=_LAST_EVIDENCE,
        began_at="b.last_event_at",
        last_event=True,
        where=f"""{_NOT_DELIVERED} AND b.last_event_at IS NOT NULL
  AND {status_in("b.status", STALL_EXEMPT, negate=True)}
  AND b.last_event_at <= $now - $stalled_days""",
        thresholds=(Threshold("stalled_days"), Threshold("stalled_critical_days")),
        changes_at=_at(
            f"{_NOT_DELIVERED} AND {status_in('b.status', STALL_EXEMPT, negate=True)}",
            "b.last_event_at",
            "$stalled_days_us",
            "$stalled_critical_days_us",
        ),
    ),
    Rule(
        code="overdue",
        title="Promised delivery date passed",
        explanation="Now is past the end of the promised delivery window and the parcel is "
        "not delivered.",
        basis="eBay opens item-not-received requests at the estimated delivery date, Amazon 3 "
        "days after it, card schemes at the expected date.",
        readme=Readme(
            "now is after `promised_to` + `overdue_grace_days` and the parcel is not delivered",
            "warning",
            "eBay opens a case at the estimated delivery date, Visa at the expected date",
        ),
        dispute=DisputeRole.PROBLEM,
        severity="'warning'",
        detail=f"""'not delivered by the promised date ' || {_date("b.promised_to")} || ' ('
       || {AGE} || ' ago); '
       || {_STATUS_TEXT}""",
        age=("since", "b.promised_to"),
        evidence=evidence("[]", "[b.last_poll_id]"),
        began_at="b.promised_to",
        where=f"{_NOT_DELIVERED} AND b.promised_to < $now - $overdue_grace_days",
        thresholds=(Threshold("overdue_grace_days"),),
        awaiting=True,
        # Strictly after the grace: the first instant it holds is one microsecond on.
        changes_at=_at(_NOT_DELIVERED, "b.promised_to", "$overdue_grace_days_us + 1"),
    ),
    Rule(
        code="protection_expiring",
        title="Buyer protection ends soon",
        explanation="Buyer protection ends within the warning period and the parcel is not "
        "delivered.",
        basis="AliExpress: the order closes and the seller is paid when the protection timer "
        "runs out; act (dispute or ask for an extension) 5-7 days before.",
        readme=Readme(
            "buyer protection ends within `protection_warning_days` (and has not ended) and "
            "the parcel is not delivered",
            "critical",
            "warn at 7 days, ask the seller to extend 5-7 days before expiry (sovetclub.ru, "
            "3rd party)",
        ),
        dispute=DisputeRole.NONE,
        severity="'critical'",
        detail=f"""'buyer protection ends ' || {_date("b.protection_ends_at")} || ' (in '
       || {AGE}
       || '); not delivered, ' || {_STATUS_TEXT}""",
        age=("until", "b.protection_ends_at"),
        evidence=evidence("[]", "[b.last_poll_id]"),
        began_at="make_timestamptz(epoch_us(b.protection_ends_at) - $protection_warning_days_us)",
        where=f"""{_NOT_DELIVERED} AND b.protection_ends_at IS NOT NULL
  AND b.protection_ends_at <= $now + $protection_warning_days AND b.protection_ends_at >= $now""",
        thresholds=(Threshold("protection_warning_days"),),
        awaiting=True,
        # Raised from the warning on, cleared one microsecond after the end.
        changes_at=_at(
            _NOT_DELIVERED, "b.protection_ends_at", "- $protection_warning_days_us", "1"
        ),
    ),
    Rule(
        code="delivered_elsewhere",
        title="Delivered to a different place",
        explanation="The delivery event's country, postcode or city contradicts the order's "
        "destination.",
        basis="AliExpress false-shipment rules; eBay and PayPal item-not-received cases turn "
        "on the address in the delivery scan.",
        readme=Readme(
            "the latest delivery scan's country, postcode or city contradicts the destination "
            "(below)",
            "critical",
            "AliExpress false shipment: another country or city; same-ZIP fraud on eBay "
            "(valueaddedresource.net)",
        ),
        dispute=DisputeRole.CONTRADICTS_DELIVERY,
        severity="'critical'",
        detail=f"""'delivered ' || {offset_date_sql("p.ev_at", "p.ev_offset")}
       || ' in '
       || coalesce(nullif(concat_ws(' ', p.ev_city, p.ev_state, p.ev_postcode,
                                    '(' || p.ev_country || ')'), ''), '?')
       || ', not at the destination '
       || concat_ws(' ', p.dest_city, p.dest_postcode, '(' || p.dest_country || ')')
       || ': ' || concat_ws(', ', CASE WHEN p.country_diff THEN 'country' END,
                            CASE WHEN p.pc_diff THEN 'postcode' END,
                            CASE WHEN p.city_differs AND NOT (p.pc_known AND NOT p.pc_diff)
                                 THEN 'city' END) || ' differ'""",
        evidence=evidence("[p.ev_key]", "[p.ev_poll]"),
        began_at="p.ev_at",
        reads="place",
        where="p.country_diff OR p.pc_diff OR (p.city_differs AND NOT (p.pc_known AND NOT "
        "p.pc_diff))",
        candidates="b.place_suspect",
        thresholds=(Threshold("delivered_elsewhere_city", "bool"),),
    ),
    Rule(
        code="scan_before_order",
        title="Scanned before the order was placed",
        explanation="The first tracking event is earlier than the order: the number belonged "
        "to an earlier parcel (recycled number).",
        basis="AliExpress: a first scan before the order time is a false shipment; UPU S10 "
        "numbers must not be reused within 12 months.",
        readme=Readme(
            "an event precedes `ordered_at` by more than `scan_before_order_hours` (an event "
            "whose zone the source did not give is allowed 14 h, the widest UTC offset)",
            "critical",
            "AliExpress false shipment: first scan before the order time",
        ),
        dispute=DisputeRole.DOUBTS_DELIVERY,
        severity="'critical'",
        detail=f"""'first scan ' || {_RAW_TEXT} || ' is '
       || CASE WHEN epoch_us(b.ordered_at) - epoch_us(x.r.at) < 172800e6
               THEN CAST(floor((epoch_us(b.ordered_at) - epoch_us(x.r.at)) / 3600e6)
                         AS BIGINT)::VARCHAR
                    || ' hours'
               ELSE CAST(floor((epoch_us(b.ordered_at) - epoch_us(x.r.at)) / 86400e6)
                         AS BIGINT)::VARCHAR
                    || ' days' END
       || ' before the order (' || {_date("b.ordered_at")}
       || '): the number was used for an earlier parcel'""",
        evidence=evidence("x.keys", "x.polls"),
        began_at="x.r.at",
        reads="early",
        candidates="b.ordered_at IS NOT NULL AND (epoch_us(b.first_event_at) < "
        "epoch_us(b.ordered_at) - $scan_before_order_hours_us OR NOT b.has_state)",
        thresholds=(Threshold("scan_before_order_hours", "hours"),),
    ),
    Rule(
        code="number_reused",
        title="Tracking number used on another order",
        explanation="The same tracking number is attached to another order.",
        basis="UPU S10: numbers must not be reused within 12 months; AliExpress "
        "false-shipment rules.",
        readme=Readme(
            "the same number is on another non-archived order placed within `number_reused_days`",
            "warning; info when the other order has the same store and destination (possibly "
            "one parcel for several orders)",
            "S10 numbers must not be reused within 12 months (UPU S10)",
        ),
        dispute=DisputeRole.PROBLEM,
        severity="CASE WHEN u.same_parcel THEN 'info' ELSE 'warning' END",
        detail="""'the same number is on ' || CASE WHEN len(u.others) = 1 THEN 'order '
                                        ELSE len(u.others)::VARCHAR || ' other orders: ' END
       || list_aggr(u.others, 'string_agg', ', ')
       || CASE WHEN u.same_parcel
               THEN ' (same store and destination: possibly one parcel for several orders)'
               ELSE '' END""",
        evidence=evidence("[]", "[]", ", shipment_ids := u.other_ids"),
        began_at="u.began_at",
        reads="reused",
        thresholds=(Threshold("number_reused_days"),),
    ),
    Rule(
        code="returned",
        title="Returned to sender",
        explanation="The parcel is being returned, or was returned, to the sender.",
        basis="Carrier status; a parcel returned to the seller was not delivered to the buyer.",
        readme=Readme(
            "the current status is returning or returned (or exception with that sub-status)",
            "critical",
            "-",
        ),
        dispute=DisputeRole.PROBLEM,
        severity="'critical'",
        detail=f"""CASE WHEN b.status = '{Status.RETURNED}' OR b.sub_status = '{Status.RETURNED}'
            THEN 'returned to sender' ELSE 'being returned to sender' END
       || coalesce(': ' || l.ev.text, '')""",
        evidence=_LAST_EVIDENCE,
        began_at="b.last_event_at",
        last_event=True,
        where=f"""{status_in("b.status", _RETURN_STATES)}
   OR (b.status = '{Status.EXCEPTION}' AND {status_in("b.sub_status", _RETURN_STATES)})""",
    ),
    Rule(
        code="exception",
        title="Carrier reports a problem",
        explanation="The shipment's current status is exception or delivery failed.",
        basis="Carrier status (customs hold, failed delivery, damage, loss ...).",
        readme=Readme(
            "the current status (the source's latest status, else the last event's) is "
            "exception or delivery_failed",
            "warning",
            "-",
        ),
        dispute=DisputeRole.PROBLEM,
        severity="'warning'",
        detail=f"""CASE WHEN b.status = '{Status.DELIVERY_FAILED}' THEN 'delivery failed'
            ELSE 'exception' END
       || coalesce(' (' || replace(b.sub_status, '_', ' ') || ')', '')
       || coalesce(': ' || l.ev.text, ': ' || b.source_status_raw, '')""",
        evidence=_LAST_EVIDENCE,
        began_at="b.last_event_at",
        last_event=True,
        where=f"""{status_in("b.status", (Status.EXCEPTION, Status.DELIVERY_FAILED))}
  AND {status_in("coalesce(b.sub_status, '')", _RETURN_STATES, negate=True)}""",
    ),
    Rule(
        code="expired",
        title="Tracking expired without delivery",
        explanation="The tracking source stopped tracking the parcel and it was never delivered.",
        basis="Aggregators expire parcels after 30 days (express) or 60 days (postal) without "
        "news.",
        readme=Readme(
            "the source stopped tracking it (status expired) without a delivery",
            "warning",
            '17TRACK / AfterShip "Expired"',
        ),
        dispute=DisputeRole.PROBLEM,
        severity="'warning'",
        detail="""coalesce(b.state_source, 'the source')
       || ' stopped tracking it without a delivery'
       || coalesce('; last event ' || l.ev.text, '')""",
        evidence=_LAST_EVIDENCE,
        began_at="b.last_event_at",
        last_event=True,
        where=f"b.status = '{Status.EXPIRED}'",
    ),
)

#: Every flag code, in catalogue order.
FLAG_CODES = tuple(r.code for r in RULES)
_BY_CODE = {r.code: r for r in RULES}


def rule(code: str) -> Rule:
    """The catalogue entry of ``code`` (KeyError naming it when there is none)."""
    return _BY_CODE[code]


def codes_with(*roles: DisputeRole) -> tuple[str, ...]:
    """The codes whose dispute role is one of ``roles``, in catalogue order."""
    return tuple(r.code for r in RULES if r.dispute in roles)


def thresholds() -> tuple[Threshold, ...]:
    """Every threshold of the catalogue, once, in catalogue order."""
    seen: dict[str, Threshold] = {}
    for r in RULES:
        for t in r.thresholds:
            seen.setdefault(t.name, t)
    return tuple(seen.values())
