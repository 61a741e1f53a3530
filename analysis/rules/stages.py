"""The evaluation as statements: shared stage tables, then one select per rule.

Stages are materialised as temporary tables (allowed on read-only connections
too): each is computed once, and the plans stay simple (DuckDB 1.5 could stall on
the equivalent single statement with its many CTEs on machines with few threads).
Each stage keeps only the rows some rule may flag: its filter is the union of the
``scope`` of the catalogue's rules that read it (:mod:`analysis.rules.catalogue`),
so a new rule about delivered parcels is never dropped by a filter written for the
others. Performance notes: docs/perf-flags.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from analysis.rules.catalogue import RULES, Rule
from analysis.rules.places import place_stage_sql
from analysis.rules.sql import any_of, event_text, rendered_detail, us
from collector.config import RulesConfig
from collector.store.flag_writes import EARLY_SCAN_COLUMNS, FLAG_INPUT_COLUMNS

# UTC offsets run from -12:00 to +14:00: an event whose zone the source did not give
# may be off by up to this much, so "before the order" allows for it.
UNKNOWN_ZONE_SLACK = timedelta(hours=14)

# An event's raw fields, picked by an aggregate; described once afterwards.
EVENT_RAW = (
    "struct_pack(key := e.event_key, poll := e.first_poll_id, at := e.occurred_at, "
    "utc_offset := e.utc_offset_minutes, what := coalesce(e.description, e.raw_status, "
    "e.status), place := coalesce(e.city, e.location))"
)
EVENT_ORDER = "struct_pack(at := e.occurred_at, k := e.event_key)"
# The latest event, as tracking_state (``t``) keeps it.
LAST_TEXT = event_text(
    "coalesce(t.last_event_description, t.last_event_raw_status, t.last_event_status)",
    "coalesce(t.last_event_city, t.last_event_location)",
    "t.last_event_at",
    "t.last_event_utc_offset",
)

# The default FROM of a rule, by the stage it reads.
_FROM = {
    "base": "FROM _pf_base b",
    "unfound": "FROM _pf_unfound b",
    "place": "FROM _pf_place p",
    "early": "FROM _pf_base b JOIN _pf_early x USING (shipment_id)",
    "reused": "FROM _pf_reused u",
}
_KEY = {"place": "p", "reused": "u"}


def params(now: datetime, rules: RulesConfig) -> dict[str, Any]:
    """Every parameter the statements may use: ``$now``, per threshold ``$<name>``
    (days as an interval) and ``$<name>_us``, and ``$t_<code>`` (threshold text)."""
    out: dict[str, Any] = {"now": now, "zone_slack_us": us(UNKNOWN_ZONE_SLACK)}
    for r in RULES:
        for t in r.thresholds:
            value = getattr(rules, t.name)
            if t.unit == "bool":
                out[t.name] = bool(value)
                continue
            span = timedelta(days=value) if t.unit == "days" else timedelta(hours=value)
            out[t.name] = span
            out[f"{t.name}_us"] = us(span)
        if r.threshold_param:
            first = r.thresholds[0]
            out[r.threshold_param] = first.text(getattr(rules, first.name))
    return out


def _scope(reads: tuple[str, ...]) -> str:
    """The union of the scopes of the rules reading one of ``reads``."""
    return any_of(r.scope for r in RULES if r.reads in reads and r.scope is not None)


def _last_scope() -> str:
    return any_of(r.where for r in RULES if r.last_event)


def rule_select(r: Rule) -> str:
    """One rule's select: ``shipment_id, code, severity, threshold, template,
    age_from, age_kind, evidence, began_at`` (``template`` is the detail with its
    age marker, see :func:`analysis.rules.sql.rendered_detail`)."""
    key = _KEY.get(r.reads, "b")
    threshold = f"${r.threshold_param}" if r.threshold_param else "NULL::VARCHAR"
    source = r.from_sql or _FROM[r.reads]
    if r.last_event:
        source += " LEFT JOIN _pf_last l USING (shipment_id)"
    kind, age_from = (f"'{r.age[0]}'", r.age[1]) if r.age else ("NULL::VARCHAR", "NULL")
    where = r.where
    if not r.awaiting and key == "b":
        # A shipment awaiting its number has no tracking to judge (Rule.awaiting).
        where = f"({where}) AND NOT b.awaiting"
    return (
        f"SELECT {key}.shipment_id, '{r.code}' AS code, {r.severity} AS severity, "
        f"{threshold} AS threshold, {r.detail} AS template, "
        f"CAST({age_from} AS TIMESTAMPTZ) AS age_from, "
        f"{kind} AS age_kind, "
        f"{r.evidence} AS evidence, {r.began_at} AS began_at\n{source}\nWHERE {where}"
    )


_BASE = """
    -- Narrow on purpose (text is fetched only for flagged shipments), and only the
    -- shipments a rule may flag (the union of the catalogue's scopes).
    SELECT * FROM ({rows}) b
    WHERE {scope}
"""

# One row per shipment evaluated ({only}): what every rule reads of it. {extra}
# adds columns (the inputs an evaluation records).
_ROWS = """
        SELECT {extra}s.shipment_id, s.number_verdict, s.tracking_number = '' AS awaiting,
               coalesce(s.carrier_mismatch, false) AS carrier_mismatch,
               s.ordered_at, coalesce(s.shipped_at, s.ordered_at) AS shipped_ref,
               s.promised_to, s.protection_ends_at, s.destination_country AS dest_country,
               coalesce(t.status, 'unknown') AS status, t.sub_status, t.source AS state_source,
               t.source_status_raw, t.first_event_at, t.last_event_at, t.last_poll_id,
               coalesce(t.status = 'delivered', false) AS delivered,
               t.shipment_id IS NOT NULL AS has_state,
               (coalesce(t.event_count, 0) = 0 AND NOT coalesce(t.ever_found, false)
                AND t.last_event_at IS NULL) AS never_found,
               (s.number_format IS NULL AND s.courier IS NULL
                AND coalesce(s.number_verdict, 'unknown') = 'unknown') AS no_format,
               -- The latest delivery scan does not name the destination exactly (most
               -- do: settled here by a plain comparison; _pf_place looks closer).
               (t.status = 'delivered' AND t.delivery_event_at IS NOT NULL
                AND NOT (coalesce(t.delivery_country = s.destination_country, true)
                         AND coalesce(t.delivery_postcode = s.destination_postcode,
                                      coalesce(t.delivery_city,
                                               split_part(t.delivery_location, ',', 1))
                                          = s.destination_city,
                                      true))) AS place_suspect
        FROM {shipments} s
        LEFT JOIN {states} t USING (shipment_id)
"""

_UNFOUND = """
WITH
-- What the sources answered matters only while no source has any event.
-- The latest definitive answer of each source. A "NotFound" that 17TRACK gives in
-- the run that registered the number is stored as ok/pending (so the poller asks
-- again soon); for these rules it is what it says: not found.
per_source AS (
    SELECT pr.shipment_id, p.source,
           arg_max(CASE WHEN pr.outcome = 'ok' AND pr.code ILIKE 'notfound%'
                        THEN 'not_found' ELSE pr.outcome END, pr.poll_id) AS outcome,
           max(pr.poll_id) AS poll_id,
           arg_max(p.requested_at, pr.poll_id) AS answered_at
    FROM poll_results pr JOIN polls p USING (poll_id)
    WHERE pr.outcome IN ('ok', 'not_found', 'invalid')
      AND pr.shipment_id IN (SELECT shipment_id FROM _pf_base WHERE never_found)
    GROUP BY pr.shipment_id, p.source
),
answers AS (
    SELECT shipment_id,
           arg_max(outcome, poll_id) AS last_outcome,
           arg_max(source, poll_id) AS last_source,
           arg_max(answered_at, poll_id) AS last_answered_at,
           max(poll_id) AS last_answer_poll,
           coalesce(list(poll_id ORDER BY poll_id) FILTER (WHERE outcome = 'invalid'), [])
               AS invalid_polls,
           coalesce(list(source ORDER BY source) FILTER (WHERE outcome = 'invalid'), [])
               AS invalid_sources,
           coalesce(list(poll_id ORDER BY poll_id) FILTER (WHERE outcome = 'not_found'), [])
               AS nf_polls,
           coalesce(list(source ORDER BY source) FILTER (WHERE outcome = 'not_found'), [])
               AS nf_sources
    FROM per_source GROUP BY shipment_id
)
    SELECT b.*, s.tracking_number, s.carrier, s.courier, s.number_format, s.number_reason,
           a.last_outcome, a.last_source, a.last_answered_at, a.last_answer_poll,
           coalesce(a.invalid_polls, []) AS invalid_polls,
           coalesce(a.invalid_sources, []) AS invalid_sources,
           coalesce(a.nf_polls, []) AS nf_polls, coalesce(a.nf_sources, []) AS nf_sources
    FROM (SELECT * FROM _pf_base b WHERE {scope}) b
    JOIN {shipments} s USING (shipment_id)
    LEFT JOIN answers a USING (shipment_id)
"""

# The latest event of the shipments whose flag text needs it, as the collector copied
# it into tracking_state (no event is read).
_LAST = f"""
    SELECT t.shipment_id,
           struct_pack(key := t.last_event_key, poll := t.last_event_poll_id,
                       text := {LAST_TEXT}) AS ev
    FROM tracking_state t
    WHERE t.last_event_at IS NOT NULL AND t.shipment_id IN (
        SELECT shipment_id FROM _pf_base b WHERE b.last_event_at IS NOT NULL AND ({{scope}}))
"""

# Events before the order (tracking_state.first_event_at narrows the search).
_EARLY_CAND = """
    SELECT shipment_id, epoch_us(ordered_at) - $scan_before_order_hours_us AS before_us
    FROM _pf_base b
    WHERE {scope}
"""

# Read apart: joined directly, every event row would be read whole.
_EARLY_EV = f"""
    SELECT {EARLY_SCAN_COLUMNS}
    FROM events WHERE shipment_id IN (SELECT shipment_id FROM _pf_early_cand)
      AND NOT coalesce(implausible, false)
"""

# An incremental evaluation ({rows}: the inputs staged for it) keeps the early scans
# the latest one found (flag_early_events) of a candidate whose shipments row did not
# change (same ordered_at) and that had a state then: its events then, plus those a
# later poll brought ($early_poll: the poll watermark of the latest evaluation).
_EARLY_CAND_KEPT = """
    SELECT b.shipment_id, epoch_us(b.ordered_at) - $scan_before_order_hours_us AS before_us,
           coalesce(i.shipment_version = r.shipment_version AND i.state_events IS NOT NULL
                    AND r.state_events IS NOT NULL, false) AS kept,
           i.state_events AS events_then, r.state_events AS events_now
    FROM _pf_base b JOIN {rows} r USING (shipment_id)
    LEFT JOIN flag_inputs i USING (shipment_id)
    WHERE {scope}
"""

# The events a later poll brought to the kept candidates: a constant filter on
# first_poll_id, so that only the newest row groups are read.
_EARLY_NEW = f"""
    SELECT {EARLY_SCAN_COLUMNS}
    FROM events WHERE first_poll_id > $early_poll
      AND shipment_id IN (SELECT shipment_id FROM _pf_early_cand WHERE kept)
      AND NOT coalesce(implausible, false)
"""

# A kept candidate's early scans are those kept plus the new events, when its events
# then and the new ones add up to its count now (else something else wrote its
# events: they are all read again, as are the other candidates').
_EARLY_EV_KEPT = f"""
    WITH counted AS (SELECT shipment_id, count(*) AS n FROM _pf_early_new GROUP BY 1),
    kept AS (
        SELECT c.shipment_id FROM _pf_early_cand c LEFT JOIN counted n USING (shipment_id)
        WHERE c.kept AND c.events_then + coalesce(n.n, 0) = c.events_now
    )
    SELECT {EARLY_SCAN_COLUMNS} FROM flag_early_events
    WHERE shipment_id IN (SELECT shipment_id FROM kept)
    UNION ALL
    SELECT {EARLY_SCAN_COLUMNS} FROM _pf_early_new
    WHERE shipment_id IN (SELECT shipment_id FROM kept)
    UNION ALL
    SELECT {EARLY_SCAN_COLUMNS} FROM events
    WHERE shipment_id IN (SELECT shipment_id FROM _pf_early_cand
                          WHERE shipment_id NOT IN (SELECT shipment_id FROM kept))
      AND NOT coalesce(implausible, false)
"""

# The early scans themselves (what the evaluation keeps in flag_early_events).
_EARLY_ROWS = """
    SELECT e.*
    FROM _pf_early_ev e JOIN _pf_early_cand c USING (shipment_id)
    WHERE e.occurred_at IS NOT NULL
      AND epoch_us(e.occurred_at) + CASE WHEN e.tz_known THEN 0 ELSE $zone_slack_us END
          < c.before_us
"""

_EARLY = f"""
    SELECT e.shipment_id,
           arg_min({EVENT_RAW}, {EVENT_ORDER}) AS r,
           list(e.event_key ORDER BY e.occurred_at, e.event_key) AS keys,
           list(DISTINCT e.first_poll_id ORDER BY e.first_poll_id) AS polls
    FROM _pf_early_rows e
    GROUP BY e.shipment_id
"""

_DUPS = """
    SELECT tracking_number FROM shipments WHERE tracking_number <> '' {only}
    GROUP BY tracking_number HAVING count(*) > 1
"""

_REUSED = """
    -- The orders of the shared numbers read once (one scan of shipments, not two).
    WITH shared AS MATERIALIZED (
        SELECT shipment_id, order_id, tracking_number, store, destination_city,
               destination_country, destination_postcode, ordered_at, shipped_at, archived
        FROM shipments WHERE tracking_number IN (SELECT * FROM _pf_dups)
    )
    SELECT a.shipment_id,
           list(o.order_id || coalesce(' (' || nullif(concat_ws(', ', o.destination_city,
                o.destination_country), '') || ')', '') ORDER BY o.order_id) AS others,
           list(o.shipment_id ORDER BY o.order_id) AS other_ids,
           bool_and(o.store IS NOT DISTINCT FROM a.store
                    AND o.destination_country IS NOT DISTINCT FROM a.destination_country
                    AND o.destination_postcode IS NOT DISTINCT FROM a.destination_postcode)
               AS same_parcel,
           -- Two orders share the number from the later one's date on.
           min(greatest(coalesce(a.ordered_at, a.shipped_at),
                        coalesce(o.ordered_at, o.shipped_at))) AS began_at
    FROM (SELECT * FROM shared WHERE true {only}) a
    JOIN (SELECT * FROM shared WHERE NOT archived) o
      ON o.tracking_number = a.tracking_number AND o.order_id <> a.order_id
    WHERE abs(epoch_us(coalesce(a.ordered_at, a.shipped_at))
              - epoch_us(coalesce(o.ordered_at, o.shipped_at))) <= $number_reused_days_us
    GROUP BY a.shipment_id
"""


def _rows(only: str | None, extra: str = "") -> str:
    if only is None:
        return _ROWS.format(shipments="shipments", states="tracking_state", extra=extra)
    # Both sides narrowed before the join: the join then builds and probes only the
    # shipments evaluated (about 3x faster than filtering after it at 1M shipments).
    ids = f"WHERE shipment_id IN (SELECT shipment_id FROM {only})"
    return _ROWS.format(
        shipments=f"(SELECT * FROM shipments {ids})",
        states=f"(SELECT * FROM tracking_state {ids})",
        extra=extra,
    )


#: The columns :func:`inputs_sql` adds to the rows every rule reads: what is
#: recorded in ``flag_inputs`` besides the id.
_INPUT_COLUMNS = tuple(c for c in FLAG_INPUT_COLUMNS if c != "shipment_id")

#: What ``_pf_unfound`` reads of ``shipments`` besides the rules' rows: staged with
#: them (``wide``), so that an incremental evaluation's ``_pf_unfound`` and
#: ``_pf_dups`` do not scan the 1M-row table again for a few thousand spread ids
#: (DuckDB has no index join: each such read scans the whole column). The last
#: event's texts of tracking_state (``_pf_last``) are not: reading them for every
#: shipment evaluated cost more than ``_pf_last`` reading them apart
#: (docs/perf-flags.md, fourth pass).
_WIDE_COLUMNS = (
    "s.carrier",
    "s.courier",
    "s.number_format",
    "s.number_reason",
)


def _wide_names() -> tuple[str, ...]:
    return tuple(c.split(".", 1)[1] for c in _WIDE_COLUMNS)


def _stages(only: str | None, rows: str | None) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(table, select, the rule stages that need it)``, in dependency order."""
    base_reads = ("base", "unfound", "place", "early")
    base = (
        _BASE.format(rows=_rows(only), scope=_scope(base_reads))
        if rows is None
        else f"SELECT * EXCLUDE ({', '.join(_INPUT_COLUMNS + _wide_names())}) FROM {rows} b "
        f"WHERE {_scope(base_reads)}"
    )
    ids = "" if only is None else f"SELECT shipment_id FROM {only}"
    # The numbers of the shipments evaluated (staged in ``rows`` when there are any).
    numbers = (
        f"SELECT tracking_number FROM shipments WHERE shipment_id IN ({ids})"
        if rows is None
        else f"SELECT tracking_number FROM {rows}"
    )
    dups = "" if only is None else f"AND tracking_number IN ({numbers})"
    early_scope = _scope(("early",))
    early: list[tuple[str, str, tuple[str, ...]]] = (
        [
            ("_pf_early_cand", _EARLY_CAND.format(scope=early_scope), ("early",)),
            ("_pf_early_ev", _EARLY_EV, ("early",)),
        ]
        if rows is None
        else [
            ("_pf_early_cand", _EARLY_CAND_KEPT.format(scope=early_scope, rows=rows), ("early",)),
            ("_pf_early_new", _EARLY_NEW, ("early",)),
            ("_pf_early_ev", _EARLY_EV_KEPT, ("early",)),
        ]
    )
    return [
        ("_pf_base", base, base_reads),
        (
            "_pf_unfound",
            _UNFOUND.format(scope=_scope(("unfound",)), shipments=rows or "shipments"),
            ("unfound",),
        ),
        ("_pf_last", _LAST.format(scope=_last_scope()), ("last",)),
        *early,
        ("_pf_early_rows", _EARLY_ROWS, ("early",)),
        ("_pf_early", _EARLY, ("early",)),
        (
            "_pf_place",
            place_stage_sql(f"SELECT shipment_id FROM _pf_base b WHERE {_scope(('place',))}"),
            ("place",),
        ),
        ("_pf_dups", _DUPS.format(only=dups), ("reused",)),
        (
            "_pf_reused",
            _REUSED.format(only="" if only is None else f"AND shipment_id IN ({ids})"),
            ("reused",),
        ),
    ]


#: Columns of the flag set the final statement yields (``detail`` rendered at ``$now``).
FLAG_COLUMNS = (
    "shipment_id, code, severity, threshold, detail, evidence, began_at, template, "
    "age_from, age_kind"
)


def flags_statements(
    only: str | None = None, rows: str | None = None
) -> list[tuple[str | None, str]]:
    """The evaluation as statements: ``(temp table, select)`` stages, then the final
    select (table None), a UNION ALL of the catalogue's rules, with the columns of
    :data:`FLAG_COLUMNS`. Parameters: :func:`params`. Only the stages some rule
    reads are built. ``only`` names a table of ``shipment_id`` to evaluate (the
    changed ones of an incremental evaluation); None evaluates every shipment.
    ``rows`` names a table :func:`inputs_sql` (``wide``) staged for them, read
    instead of joining ``shipments`` and ``tracking_state`` again."""
    needed = {r.reads for r in RULES} | ({"last"} if any(r.last_event for r in RULES) else set())
    stages: list[tuple[str | None, str]] = [
        (table, sql) for table, sql, wanted_by in _stages(only, rows) if needed & set(wanted_by)
    ]
    union = "\n\nUNION ALL\n".join(rule_select(r) for r in RULES)
    detail = rendered_detail("f.template", "f.age_from", "f.age_kind")
    stages.append(
        (
            None,
            f"WITH _pf_all AS ({union})\n"
            f"SELECT f.shipment_id, f.code, f.severity, f.threshold, {detail} AS detail, "
            f"f.evidence, f.began_at, f.template, f.age_from, f.age_kind\nFROM _pf_all f\n"
            f"WHERE NOT ({_yielded()})",
        )
    )
    return stages


def _yielded() -> str:
    """SQL over ``f`` (a row of ``_pf_all``, the rules' union): a rule's row that
    yields to another rule holding on the same shipment (``Rule.yields_to``): one
    cause, one flag."""
    drops = [
        f"(f.code = '{r.code}' AND f.shipment_id IN (SELECT shipment_id FROM _pf_all "
        f"WHERE code IN ({', '.join(repr(c) for c in r.yields_to)})))"
        for r in RULES
        if r.yields_to
    ]
    return " OR ".join(drops) or "false"


def next_change_sql() -> str:
    """SQL (over a ``_pf_base`` row ``b`` before its filter) for the next instant
    after ``$now`` at which a rule's outcome for the shipment could change by time
    alone (:attr:`Rule.changes_at`), NULL when none can."""
    edges = [edge for r in RULES for edge in r.changes_at]
    if not edges:
        return "NULL::TIMESTAMPTZ"
    later = ", ".join(f"CASE WHEN ({e}) > epoch_us($now) THEN ({e}) END" for e in edges)
    return f"make_timestamptz(least({later}))"


def inputs_sql(only: str | None = None, *, wide: bool = False) -> str:
    """What an evaluation records per shipment it evaluated (``only``, or all):
    ``shipment_id, tracking_number, shipment_version, state_version, state_events,
    next_at``: the ``input_version`` of its ``shipments`` row and of its
    ``tracking_state`` row and that row's ``event_count`` (NULL when it has none) and
    :func:`next_change_sql`. ``wide`` keeps every
    column the rules read as well (for ``flags_statements(rows=...)``: worth it
    for the few shipments of an incremental evaluation, not for all of them)."""
    extra = (
        "s.tracking_number, s.input_version AS shipment_version, "
        "t.input_version AS state_version, t.event_count AS state_events, "
    ) + ("".join(f"{c}, " for c in _WIDE_COLUMNS) if wide else "")
    recorded = ", ".join(f"b.{c}" for c in _INPUT_COLUMNS if c != "next_at")
    picked = "b.*" if wide else f"b.shipment_id, {recorded}"
    return f"SELECT {picked}, {next_change_sql()} AS next_at\nFROM ({_rows(only, extra)}) b"


__all__ = [
    "EVENT_ORDER",
    "EVENT_RAW",
    "FLAG_COLUMNS",
    "LAST_TEXT",
    "flags_statements",
    "inputs_sql",
    "next_change_sql",
    "params",
    "rule_select",
]
