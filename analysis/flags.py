"""Flag rules over the store, and the flag history they keep.

Every rule of the catalogue (ARCHITECTURE.md, "Flags") is one set-oriented SQL
query over *all* shipments: the rules read ``shipments``, ``tracking_state`` (the
collector's current picture of each shipment, with the fields of its latest event
and latest delivery scan), ``poll_results`` (what each source answered) and
``events`` only for ``scan_before_order`` (every scan before the order is
evidence), of the few shipments whose first event precedes the order. Thresholds
come from ``[rules]`` (:class:`collector.config.RulesConfig`; the README names the
source of each default). A rule's "N days" are complete at the same clock time N
days later: at that instant the flag is raised (``>=``).

:func:`evaluate_flags` computes the set of flags that hold at "now" and records it
in the ``flags`` history (raised, confirmed, cleared; see
:mod:`collector.store.flag_writes`)::

    with Store.open(path) as store:
        evaluation = evaluate_flags(store, clock.now(), settings)
        for row in evaluation.raised.iter_rows(named=True):
            print(row["order_id"], row["code"], row["detail"])

``flags``, ``status``, ``report`` and ``run`` read flags through
:func:`analysis.assess.assess`, which runs these rules and records them, so that
their output never depends on another command having run first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from collector.config import RulesConfig, Settings
from collector.countries import zone_names
from collector.store import Store
from collector.store.flag_writes import apply_flag_evaluation

if TYPE_CHECKING:
    from analysis.assess import Assessment

#: Every flag code, in catalogue order.
FLAG_CODES = (
    "invalid_number",
    "carrier_mismatch",
    "not_found",
    "label_only",
    "stalled",
    "overdue",
    "protection_expiring",
    "delivered_elsewhere",
    "scan_before_order",
    "number_reused",
    "returned",
    "exception",
    "expired",
)
SEVERITIES = ("critical", "warning", "info")
#: Higher is more urgent (for sorting).
SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1}

# UTC offsets run from -12:00 to +14:00: an event whose zone the source did not give
# may be off by up to this much, so "before the order" allows for it.
UNKNOWN_ZONE_SLACK = timedelta(hours=14)

# English and transliterated names of cities that carriers spell differently from
# buyers; keys and values are city keys (lower case, no accents, letters/digits).
CITY_EXONYMS = {
    "warsaw": "warszawa",
    "milan": "milano",
    "lisbon": "lisboa",
    "munich": "munchen",
    "muenchen": "munchen",
    "rome": "roma",
    "prague": "praha",
    "vienna": "wien",
    "cologne": "koln",
    "koeln": "koln",
    "moscow": "moskva",
    "kiev": "kyiv",
    "brussels": "bruxelles",
    "brussel": "bruxelles",
    "thehague": "denhaag",
    "sgravenhage": "denhaag",
    "gothenburg": "goteborg",
    "goeteborg": "goteborg",
    "copenhagen": "kobenhavn",
    "turin": "torino",
    "naples": "napoli",
    "florence": "firenze",
    "venice": "venezia",
    "genoa": "genova",
    "seville": "sevilla",
    "athens": "athina",
    "bucharest": "bucuresti",
    "belgrade": "beograd",
    "cracow": "krakow",
    "antwerp": "antwerpen",
    "geneva": "geneve",
    "zuerich": "zurich",
    "nuremberg": "nurnberg",
    "nuernberg": "nurnberg",
    "hanover": "hannover",
    "oporto": "porto",
    "mexicocity": "ciudaddemexico",
    "peking": "beijing",
    "canton": "guangzhou",
    "lyons": "lyon",
    "marseilles": "marseille",
    "basle": "basel",
    "berne": "bern",
    "lucerne": "luzern",
    "odessa": "odesa",
    "kharkov": "kharkiv",
    "lvov": "lviv",
    "salonica": "thessaloniki",
}


@dataclass(frozen=True)
class Evaluation:
    """The result of one flag evaluation at ``now``.

    ``current`` is the set of flags that hold (``shipment_id, code, severity,
    threshold, detail, evidence``); ``raised`` and ``cleared`` are the history rows
    this evaluation added or closed, with ``order_id`` and ``tracking_number``;
    ``written`` is False when ``now`` was earlier than the latest recorded
    evaluation (nothing was stored, the frames say what would change).
    """

    now: datetime
    current: pl.DataFrame
    raised: pl.DataFrame
    cleared: pl.DataFrame
    confirmed: int
    written: bool

    @property
    def changed(self) -> bool:
        """Whether any flag was raised or cleared."""
        return bool(self.raised.height or self.cleared.height)


def evaluate_flags(store: Store, now: datetime, settings: Settings) -> Evaluation:
    """Compute every flag at ``now`` and record the result in the flag history.

    Re-evaluating without new data raises and clears nothing (only
    ``confirmed_at`` moves to ``now``). The flag set is staged in a temporary
    table that the history writes read directly (no row goes through Python).
    """
    with _staged_flags(store, now, settings.rules) as table:
        changes = apply_flag_evaluation(store, table, now)
        current = _fetch(store, table)
    return Evaluation(
        now=now,
        current=current,
        raised=changes.raised,
        cleared=changes.cleared,
        confirmed=changes.confirmed,
        written=changes.written,
    )


def compute_flags(store: Store, now: datetime, rules: RulesConfig) -> pl.DataFrame:
    """The flags that hold at ``now``: one row per (shipment, code), nothing stored.

    Columns: ``shipment_id, code, severity, threshold, detail, evidence`` (evidence is
    JSON text ``{"event_keys": [...], "poll_ids": [...]}``, plus ``shipment_ids``
    for ``number_reused``), sorted by shipment and code.
    """
    with _staged_flags(store, now, rules) as table:
        return _fetch(store, table)


@contextmanager
def _staged_flags(store: Store, now: datetime, rules: RulesConfig) -> Iterator[str]:
    """Run :func:`flags_statements` into temporary tables; yields the name of the
    one that holds the flag set (dropped, with the stages, on exit)."""
    conn = store.conn
    params = _params(now, rules)
    made: list[str] = []
    try:
        for table, sql in flags_statements():
            used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
            made.append(table or "_pf_flags")
            conn.execute(f"CREATE OR REPLACE TEMP TABLE {made[-1]} AS {sql}", used)
        # The stages are not needed any more: free their memory first.
        while len(made) > 1:
            conn.execute(f"DROP TABLE IF EXISTS temp.{made.pop(0)}")
        yield made[0]
    finally:
        # Temporary tables end with the connection anyway: a failed drop (e.g. in a
        # transaction a failure aborted) must not hide the error that got us here.
        with suppress(duckdb.Error):
            for table in made:
                conn.execute(f"DROP TABLE IF EXISTS temp.{table}")


def fetch_flags(store: Store, table: str) -> pl.DataFrame:
    """The staged flag set ``table`` as a frame, sorted by shipment and code."""
    return _fetch(store, table)


#: The flag rules staged into temporary tables, for readers that join more to them
#: (:func:`analysis.assess.assess`): a context manager yielding the table's name.
staged_flags = _staged_flags


def _fetch(store: Store, table: str) -> pl.DataFrame:
    frame: pl.DataFrame = store.conn.execute(
        f"SELECT * FROM {table} ORDER BY shipment_id, code"
    ).pl()
    return frame


def _days(value: float) -> timedelta:
    return timedelta(days=value)


def _us(value: timedelta) -> int:
    # Instants are compared as epoch microseconds: arithmetic on TIMESTAMPTZ goes
    # through the ICU calendar and costs about 500x more per row.
    return value // timedelta(microseconds=1)


def _num(value: float) -> str:
    return f"{value:g}"


def _params(now: datetime, rules: RulesConfig) -> dict[str, Any]:
    return {
        "now": now,
        "not_found": _days(rules.not_found_days),
        "not_found_critical": _days(rules.not_found_critical_days),
        "label_only": _days(rules.label_only_days),
        "stalled": _days(rules.stalled_days),
        "stalled_critical": _days(rules.stalled_critical_days),
        "overdue_grace": _days(rules.overdue_grace_days),
        "protection_warning": _days(rules.protection_warning_days),
        "protection_warning_us": _us(_days(rules.protection_warning_days)),
        "reuse_window_us": _us(_days(rules.number_reused_days)),
        "scan_tolerance_us": _us(timedelta(hours=rules.scan_before_order_hours)),
        "city_rule": rules.delivered_elsewhere_city,
        "zone_slack_us": _us(UNKNOWN_ZONE_SLACK),
        "t_not_found": f"not_found_days={_num(rules.not_found_days)}",
        "t_label_only": f"label_only_days={_num(rules.label_only_days)}",
        "t_stalled": f"stalled_days={_num(rules.stalled_days)}",
        "t_overdue": f"overdue_grace_days={_num(rules.overdue_grace_days)}",
        "t_protection": f"protection_warning_days={_num(rules.protection_warning_days)}",
        "t_elsewhere": f"delivered_elsewhere_city={str(rules.delivered_elsewhere_city).lower()}",
        "t_scan": f"scan_before_order_hours={_num(rules.scan_before_order_hours)}",
        "t_reuse": f"number_reused_days={_num(rules.number_reused_days)}",
    }


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- SQL building blocks ---------------------------------------------------------
#
# Performance (docs/perf-flags.md): the rules read tracking_state (one row per
# shipment) both to decide and to describe, with the latest event's and the latest
# delivery scan's fields that the collector keeps there; events are read only for
# scan_before_order, behind a ``shipment_id IN (...)`` filter on the few shipments
# whose first event precedes their order; text is formatted once per flag.

# An event's raw fields, picked by an aggregate; described once afterwards as
# 'Departed from sorting center', Guangzhou, 2026-10-24 (its local date).
EVENT_RAW = (
    "struct_pack(key := e.event_key, poll := e.first_poll_id, at := e.occurred_at, "
    "utc_offset := e.utc_offset_minutes, what := coalesce(e.description, e.raw_status, "
    "e.status), place := coalesce(e.city, e.location))"
)


def _event_text(what: str, place: str, at: str, utc_offset: str) -> str:
    """SQL describing an event once: 'Departed from sorting center', Guangzhou,
    2026-10-24 (the date at the event's own offset)."""
    return (
        f"concat_ws(', ', '''' || {what} || '''', {place}, "
        f"strftime(make_timestamp(epoch_us({at}) + coalesce({utc_offset}, 0)::BIGINT "
        "* 60000000), '%Y-%m-%d'))"
    )


RAW_TEXT = _event_text("r.what", "r.place", "r.at", "r.utc_offset")
# The latest event, as tracking_state (``t``) keeps it.
LAST_TEXT = _event_text(
    "coalesce(t.last_event_description, t.last_event_raw_status, t.last_event_status)",
    "coalesce(t.last_event_city, t.last_event_location)",
    "t.last_event_at",
    "t.last_event_utc_offset",
)
EVENT_ORDER = "struct_pack(at := e.occurred_at, k := e.event_key)"


def _date(expr: str, country: str = "b.dest_country") -> str:
    """A shipment instant as a date in the destination's zone.

    One CASE branch per zone, each with a constant zone: DuckDB's timezone() with a
    zone that varies per row is about ten times slower.
    """
    return f"strftime({local_time_sql(expr, country)}, '%Y-%m-%d')"


def local_time_sql(expr: str, country: str) -> str:
    """SQL for the wall-clock time of instant ``expr`` in ``country``'s zone (UTC if none)."""
    by_zone: dict[str, list[str]] = {}
    for code, zone in sorted(zone_names().items()):
        by_zone.setdefault(zone, []).append(_sql_str(code))
    branches = " ".join(
        f"WHEN {country} IN ({', '.join(codes)}) THEN timezone({_sql_str(zone)}, {expr})"
        for zone, codes in sorted(by_zone.items())
    )
    return f"CASE {branches} ELSE timezone('UTC', {expr}) END"


def _days_since(expr: str) -> str:
    return f"CAST(floor((epoch_us($now) - epoch_us({expr})) / 86400e6) AS BIGINT)"


def _days_until(expr: str) -> str:
    return f"CAST(floor((epoch_us({expr}) - epoch_us($now)) / 86400e6) AS BIGINT)"


def _days_text(expr: str) -> str:
    """'27 days' / '1 day' / 'less than a day' for a non-negative day count."""
    return (
        f"CASE WHEN ({expr}) <= 0 THEN 'less than a day' WHEN ({expr}) = 1 THEN '1 day' "
        f"ELSE ({expr})::VARCHAR || ' days' END"
    )


def _evidence(keys: str, polls: str, extra: str = "") -> str:
    return (
        "to_json(struct_pack("
        f"event_keys := list_filter(CAST({keys} AS VARCHAR[]), x -> x IS NOT NULL), "
        f"poll_ids := list_distinct(list_filter(CAST({polls} AS BIGINT[]), x -> x IS NOT NULL))"
        f"{extra}))"
    )


def _postcode_key(pc: str, country: str) -> str:
    """A postcode reduced to what can be compared, per country where that is simple.

    US: ZIP5; GB: outward code; CA: forward sortation area; NL: the 4 digits;
    IE: routing key; elsewhere: letters and digits only.
    """
    clean = f"regexp_replace(upper({pc}), '[^A-Z0-9]', '', 'g')"
    return (
        f"CASE WHEN {pc} IS NULL THEN NULL "
        f"WHEN {country} = 'US' THEN left(regexp_replace({pc}, '[^0-9]', '', 'g'), 5) "
        f"WHEN {country} = 'GB' THEN regexp_replace({clean}, '[0-9][A-Z][A-Z]$', '') "
        f"WHEN {country} IN ('CA', 'IE') THEN left({clean}, 3) "
        f"WHEN {country} = 'NL' THEN regexp_extract({clean}, '^[0-9]{{4}}') "
        f"ELSE {clean} END"
    )


def _city_key(city: str, german: bool) -> str:
    """A city reduced for comparison: no case, accents or punctuation (exonyms later)."""
    text = f"lower({city})"
    if german:
        # Transliterations like Muenchen for München, beside the plain accent strip.
        for src, dst in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
            text = f"replace({text}, '{src}', '{dst}')"
    text = f"regexp_replace(strip_accents({text}), '\\b(saint|sankt|ste|st)\\b', 'st', 'g')"
    return f"regexp_replace({text}, '[^a-z0-9]', '', 'g')"


def _country_key(expr: str) -> str:
    upper = f"upper(trim({expr}))"
    return f"CASE WHEN {upper} = 'UK' THEN 'GB' WHEN length({upper}) = 2 THEN {upper} END"


def _exonyms_values() -> str:
    return ", ".join(f"({_sql_str(k)}, {_sql_str(v)})" for k, v in CITY_EXONYMS.items())


def flags_statements() -> list[tuple[str | None, str]]:
    """The evaluation as statements: ``(temp table, select)`` stages, then the final
    select (table None). Parameters: see ``_params``.

    The stages are materialised as temporary tables (allowed on read-only
    connections too): each is computed once, and the plans stay simple (DuckDB
    1.5 could stall on the equivalent single statement with its many CTEs on
    machines with few threads).
    """
    # A ZIP in free text such as "AUSTIN, TX 73301" when the source gave no postcode.
    ev_postcode = (
        "coalesce(nullif(trim(q.raw_postcode), ''), "
        "CASE WHEN q.dest_country = 'US' THEN nullif(regexp_extract(q.raw_location, "
        "'\\b[A-Z]{2}\\s+([0-9]{5})(-[0-9]{4})?\\b', 1), '') END)"
    )
    ev_city = "nullif(trim(coalesce(q.raw_city, split_part(q.raw_location, ',', 1))), '')"
    canon = "coalesce((SELECT x.canon FROM exonyms x WHERE x.alias = {k}), {k})"
    city_match = (
        "(p.ev_ck1 = p.dest_ck1 OR p.ev_ck2 = p.dest_ck2 OR p.ev_ck1 = p.dest_ck2 "
        "OR p.ev_ck2 = p.dest_ck1 "
        "OR (least(length(p.ev_ck1), length(p.dest_ck1)) >= 4 "
        "AND (contains(p.ev_ck1, p.dest_ck1) OR contains(p.dest_ck1, p.ev_ck1))))"
    )
    stages = [
        (
            "_pf_base",
            """
    -- Narrow on purpose (text is fetched only for flagged shipments), and only the
    -- shipments a rule below may flag: a delivered parcel is flagged only for its
    -- number (verdict, sources' answers), an early first scan, its delivery place
    -- or a reused number (_pf_reused, from shipments alone).
    SELECT * FROM (
        SELECT s.shipment_id, s.number_verdict,
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
        FROM shipments s
        LEFT JOIN tracking_state t USING (shipment_id)
    )
    WHERE NOT delivered OR never_found OR number_verdict = 'invalid' OR no_format
       OR carrier_mismatch OR NOT has_state OR place_suspect
       OR epoch_us(first_event_at) < epoch_us(ordered_at) - $scan_tolerance_us
""",
        ),
        (
            "_pf_unfound",
            """
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
    FROM (SELECT * FROM _pf_base
          WHERE never_found OR number_verdict = 'invalid' OR no_format OR carrier_mismatch) b
    JOIN shipments s USING (shipment_id)
    LEFT JOIN answers a USING (shipment_id)
""",
        ),
        (
            # The latest event of the shipments whose flag text needs it, as the
            # collector copied it into tracking_state (no event is read).
            "_pf_last",
            f"""
    SELECT t.shipment_id,
           struct_pack(key := t.last_event_key, poll := t.last_event_poll_id,
                       text := {LAST_TEXT}) AS ev
    FROM tracking_state t
    WHERE t.last_event_at IS NOT NULL AND t.shipment_id IN (
        SELECT shipment_id FROM _pf_base
        WHERE NOT delivered AND last_event_at IS NOT NULL
          AND (status IN ('info_received', 'exception', 'delivery_failed', 'returning',
                          'returned', 'expired')
               OR last_event_at <= $now - $stalled))
""",
        ),
        (
            # Events before the order (tracking_state.first_event_at narrows the search).
            "_pf_early_cand",
            """
    SELECT shipment_id, epoch_us(ordered_at) - $scan_tolerance_us AS before_us
    FROM _pf_base
    WHERE ordered_at IS NOT NULL
      AND (epoch_us(first_event_at) < epoch_us(ordered_at) - $scan_tolerance_us
           OR NOT has_state)
""",
        ),
        (
            # Read apart: joined directly, every event row would be read whole.
            "_pf_early_ev",
            """
    SELECT shipment_id, event_key, first_poll_id, occurred_at, utc_offset_minutes, tz_known,
           description, raw_status, status, city, location
    FROM events WHERE shipment_id IN (SELECT shipment_id FROM _pf_early_cand)
      AND NOT coalesce(implausible, false)
""",
        ),
        (
            "_pf_early",
            f"""
    SELECT e.shipment_id,
           arg_min({EVENT_RAW}, {EVENT_ORDER}) AS r,
           list(e.event_key ORDER BY e.occurred_at, e.event_key) AS keys,
           list(DISTINCT e.first_poll_id ORDER BY e.first_poll_id) AS polls
    FROM _pf_early_ev e JOIN _pf_early_cand c USING (shipment_id)
    WHERE e.occurred_at IS NOT NULL
      AND epoch_us(e.occurred_at) + CASE WHEN e.tz_known THEN 0 ELSE $zone_slack_us END
          < c.before_us
    GROUP BY e.shipment_id
""",
        ),
        (
            "_pf_place",
            f"""
WITH
exonyms(alias, canon) AS (VALUES {_exonyms_values()}),
-- The latest delivery scan (tracking_state keeps its fields) of the shipments
-- delivered now whose scan does not name the destination exactly (_pf_base).
suspects AS (SELECT shipment_id FROM _pf_base WHERE place_suspect),
quick AS MATERIALIZED (
    SELECT t.shipment_id, t.delivery_event_key AS ev_key, t.delivery_event_poll_id AS ev_poll,
           t.delivery_event_at AS ev_at, t.delivery_utc_offset AS ev_offset,
           t.delivery_country AS raw_country, t.delivery_postcode AS raw_postcode,
           t.delivery_city AS raw_city, t.delivery_state AS raw_state,
           t.delivery_location AS raw_location, s.destination_country AS dest_country,
           nullif(trim(s.destination_postcode), '') AS dest_postcode,
           nullif(trim(s.destination_city), '') AS dest_city
    FROM (SELECT * FROM tracking_state WHERE shipment_id IN (FROM suspects)) t
    JOIN (SELECT * FROM shipments WHERE shipment_id IN (FROM suspects)) s USING (shipment_id)
),
place_raw AS (
    SELECT q.shipment_id, q.dest_country, q.dest_postcode, q.dest_city, q.ev_key, q.ev_poll,
           q.ev_at, q.ev_offset, {_country_key("q.raw_country")} AS ev_country,
           {ev_postcode} AS ev_postcode, {ev_city} AS ev_city,
           nullif(trim(q.raw_state), '') AS ev_state
    FROM quick q
),
place_keys AS (
    SELECT q.*,
           {_postcode_key("q.ev_postcode", "coalesce(q.ev_country, q.dest_country)")} AS ev_pc,
           {_postcode_key("q.dest_postcode", "q.dest_country")} AS dest_pc,
           {_city_key("q.ev_city", False)} AS ev_k1, {_city_key("q.ev_city", True)} AS ev_k2,
           {_city_key("q.dest_city", False)} AS dest_k1,
           {_city_key("q.dest_city", True)} AS dest_k2
    FROM place_raw q
),
place AS (
    SELECT q.*,
           {canon.format(k="q.ev_k1")} AS ev_ck1, {canon.format(k="q.ev_k2")} AS ev_ck2,
           {canon.format(k="q.dest_k1")} AS dest_ck1, {canon.format(k="q.dest_k2")} AS dest_ck2
    FROM place_keys q
)
    SELECT p.*,
           (p.ev_country IS NOT NULL AND p.dest_country IS NOT NULL
            AND p.ev_country <> p.dest_country) AS country_diff,
           (coalesce(p.ev_pc, '') <> '' AND coalesce(p.dest_pc, '') <> '') AS pc_known,
           (coalesce(p.ev_pc, '') <> '' AND coalesce(p.dest_pc, '') <> ''
            AND NOT starts_with(p.ev_pc, p.dest_pc) AND NOT starts_with(p.dest_pc, p.ev_pc))
               AS pc_diff,
           ($city_rule AND coalesce(p.ev_ck1, '') <> '' AND coalesce(p.dest_ck1, '') <> ''
            AND NOT {city_match}) AS city_differs
    FROM place p
""",
        ),
        (
            "_pf_dups",
            """
    SELECT tracking_number FROM shipments GROUP BY tracking_number HAVING count(*) > 1
""",
        ),
        (
            "_pf_reused",
            """
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
    FROM (SELECT * FROM shipments WHERE tracking_number IN (SELECT * FROM _pf_dups)) a
    JOIN (SELECT * FROM shipments WHERE tracking_number IN (SELECT * FROM _pf_dups)
          AND NOT archived) o
      ON o.tracking_number = a.tracking_number AND o.order_id <> a.order_id
    WHERE abs(epoch_us(coalesce(a.ordered_at, a.shipped_at))
              - epoch_us(coalesce(o.ordered_at, o.shipped_at))) <= $reuse_window_us
    GROUP BY a.shipment_id
""",
        ),
        (
            None,
            f"""
SELECT b.shipment_id, 'invalid_number' AS code,
       CASE WHEN b.never_found THEN 'critical' ELSE 'warning' END AS severity,
       NULL::VARCHAR AS threshold,
       concat_ws('; ',
           CASE WHEN b.number_verdict = 'invalid' THEN b.tracking_number
                || ' fails the check of its format' || coalesce(' ' || b.number_format, '')
                || coalesce(' (' || b.number_reason || ')', '') END,
           CASE WHEN x.implausible THEN b.tracking_number
                || ' is not a plausible tracking number' END,
           CASE WHEN b.no_format AND NOT x.implausible AND x.source_denies THEN b.tracking_number
                || ' matches no known tracking-number format' END,
           CASE WHEN x.source_invalid THEN list_aggr(b.invalid_sources, 'string_agg', ', ')
                || ' answered that the number is invalid' END,
           CASE WHEN b.never_found AND b.last_outcome = 'not_found' THEN b.last_source
                || ' answered ''not found'' on ' || {_date("b.last_answered_at")} END,
           CASE WHEN NOT b.never_found THEN 'although a source has tracking events for it' END
       ) AS detail,
       {_evidence("[]", "b.invalid_polls || [b.last_answer_poll]")} AS evidence,
       -- When the condition began (None: a property of the number, no instant).
       NULL::TIMESTAMPTZ AS began_at
FROM _pf_unfound b, LATERAL (SELECT
        (b.no_format AND (NOT regexp_full_match(b.tracking_number, '[A-Z0-9-]{{8,40}}')
                          OR NOT regexp_matches(b.tracking_number, '[0-9]'))) AS implausible,
        (b.never_found AND (b.last_outcome = 'invalid' OR (b.last_outcome = 'not_found'
             AND b.shipped_ref <= $now - $not_found))) AS source_denies,
        (b.never_found AND len(b.invalid_polls) > 0) AS source_invalid) x
WHERE b.number_verdict = 'invalid' OR x.implausible OR (b.no_format AND x.source_denies)
      OR x.source_invalid

UNION ALL
SELECT b.shipment_id, 'carrier_mismatch', 'warning', NULL,
       'declared carrier ' || coalesce('''' || b.carrier || '''', '(none)')
       || ' cannot issue this number'
       || coalesce(': it is a ' || CASE
              WHEN b.number_format = 's10'
                  THEN 'UPU S10 postal number from ' || right(b.tracking_number, 2)
              WHEN b.number_format IS NULL OR b.number_format = b.courier
                  THEN b.courier || ' number'
              ELSE b.courier || ' (' || b.number_format || ') number' END, ''),
       {_evidence("[]", "[]")}, NULL::TIMESTAMPTZ
FROM _pf_unfound b WHERE b.carrier_mismatch

UNION ALL
SELECT b.shipment_id, 'not_found',
       CASE WHEN b.shipped_ref <= $now - $not_found_critical THEN 'critical' ELSE 'warning' END,
       $t_not_found,
       'no source has found it: '
       || coalesce(nullif(list_aggr(b.nf_sources, 'string_agg', ', '), '') || ' answered '
                   || '''not found'' (latest ' || {_date("b.last_answered_at")} || ')',
                   'status not found')
       || '; shipped ' || {_date("b.shipped_ref")} || ', '
       || {_days_text(_days_since("b.shipped_ref"))} || ' ago',
       {_evidence("[]", "b.nf_polls")}, b.shipped_ref
FROM _pf_unfound b
WHERE NOT b.delivered AND b.never_found AND b.shipped_ref IS NOT NULL
  AND (b.last_outcome = 'not_found' OR (b.last_outcome IS NULL AND b.status = 'not_found'))
  AND b.shipped_ref <= $now - $not_found

UNION ALL
SELECT b.shipment_id, 'label_only', 'warning', $t_label_only,
       'only pre-shipment information' || coalesce(' (' || l.ev.text || ')', '')
       || ' ' || {_days_text(_days_since("b.shipped_ref"))} || ' after shipping on '
       || {_date("b.shipped_ref")} || ': never handed to the carrier',
       {_evidence("[l.ev.key]", "[l.ev.poll, b.last_poll_id]")}, b.shipped_ref
FROM _pf_base b LEFT JOIN _pf_last l USING (shipment_id)
WHERE NOT b.delivered AND b.status = 'info_received' AND b.shipped_ref IS NOT NULL
  AND b.shipped_ref <= $now - $label_only

UNION ALL
SELECT b.shipment_id, 'stalled',
       CASE WHEN b.last_event_at <= $now - $stalled_critical THEN 'critical' ELSE 'warning' END,
       $t_stalled,
       CASE WHEN b.status = 'available_for_pickup' THEN 'waiting for pickup, no movement for '
            ELSE 'no movement for ' END
       || {_days_text(_days_since("b.last_event_at"))} || ' since '
       || coalesce(l.ev.text, {_date("b.last_event_at")}),
       {_evidence("[l.ev.key]", "[l.ev.poll, b.last_poll_id]")}, b.last_event_at
FROM _pf_base b LEFT JOIN _pf_last l USING (shipment_id)
WHERE NOT b.delivered AND b.last_event_at IS NOT NULL
  AND b.status NOT IN ('delivered', 'returned', 'returning', 'expired', 'info_received')
  AND b.last_event_at <= $now - $stalled

UNION ALL
SELECT b.shipment_id, 'overdue', 'warning', $t_overdue,
       'not delivered by the promised date ' || {_date("b.promised_to")} || ' ('
       || {_days_text(_days_since("b.promised_to"))} || ' ago); status '
       || replace(b.status, '_', ' '),
       {_evidence("[]", "[b.last_poll_id]")}, b.promised_to
FROM _pf_base b
WHERE NOT b.delivered AND b.promised_to < $now - $overdue_grace

UNION ALL
SELECT b.shipment_id, 'protection_expiring', 'critical', $t_protection,
       'buyer protection ends ' || {_date("b.protection_ends_at")} || ' (in '
       || {_days_text(_days_until("b.protection_ends_at"))}
       || '); not delivered, status ' || replace(b.status, '_', ' '),
       {_evidence("[]", "[b.last_poll_id]")},
       make_timestamptz(epoch_us(b.protection_ends_at) - $protection_warning_us)
FROM _pf_base b
WHERE NOT b.delivered AND b.protection_ends_at IS NOT NULL
  AND b.protection_ends_at <= $now + $protection_warning AND b.protection_ends_at >= $now

UNION ALL
SELECT p.shipment_id, 'delivered_elsewhere', 'critical', $t_elsewhere,
       'delivered '
       || strftime(make_timestamp(epoch_us(p.ev_at) + coalesce(p.ev_offset, 0)::BIGINT * 60000000),
                   '%Y-%m-%d')
       || ' in '
       || coalesce(nullif(concat_ws(' ', p.ev_city, p.ev_state, p.ev_postcode,
                                    '(' || p.ev_country || ')'), ''), '?')
       || ', not at the destination '
       || concat_ws(' ', p.dest_city, p.dest_postcode, '(' || p.dest_country || ')')
       || ': ' || concat_ws(', ', CASE WHEN p.country_diff THEN 'country' END,
                            CASE WHEN p.pc_diff THEN 'postcode' END,
                            CASE WHEN p.city_differs AND NOT (p.pc_known AND NOT p.pc_diff)
                                 THEN 'city' END) || ' differ',
       {_evidence("[p.ev_key]", "[p.ev_poll]")}, p.ev_at
FROM _pf_place p
WHERE p.country_diff OR p.pc_diff OR (p.city_differs AND NOT (p.pc_known AND NOT p.pc_diff))

UNION ALL
SELECT b.shipment_id, 'scan_before_order', 'critical', $t_scan,
       'first scan ' || {RAW_TEXT.replace("r.", "x.r.")} || ' is '
       || CASE WHEN epoch_us(b.ordered_at) - epoch_us(x.r.at) < 172800e6
               THEN CAST(floor((epoch_us(b.ordered_at) - epoch_us(x.r.at)) / 3600e6)
                         AS BIGINT)::VARCHAR
                    || ' hours'
               ELSE CAST(floor((epoch_us(b.ordered_at) - epoch_us(x.r.at)) / 86400e6)
                         AS BIGINT)::VARCHAR
                    || ' days' END
       || ' before the order (' || {_date("b.ordered_at")}
       || '): the number was used for an earlier parcel',
       {_evidence("x.keys", "x.polls")}, x.r.at
FROM _pf_base b JOIN _pf_early x USING (shipment_id)

UNION ALL
SELECT u.shipment_id, 'number_reused',
       CASE WHEN u.same_parcel THEN 'info' ELSE 'warning' END, $t_reuse,
       'the same number is on ' || CASE WHEN len(u.others) = 1 THEN 'order '
                                        ELSE len(u.others)::VARCHAR || ' other orders: ' END
       || list_aggr(u.others, 'string_agg', ', ')
       || CASE WHEN u.same_parcel
               THEN ' (same store and destination: possibly one parcel for several orders)'
               ELSE '' END,
       {_evidence("[]", "[]", ", shipment_ids := u.other_ids")}, u.began_at
FROM _pf_reused u

UNION ALL
SELECT b.shipment_id, 'returned', 'critical', NULL,
       CASE WHEN b.status = 'returned' OR b.sub_status = 'returned'
            THEN 'returned to sender' ELSE 'being returned to sender' END
       || coalesce(': ' || l.ev.text, ''),
       {_evidence("[l.ev.key]", "[l.ev.poll, b.last_poll_id]")}, b.last_event_at
FROM _pf_base b LEFT JOIN _pf_last l USING (shipment_id)
WHERE b.status IN ('returning', 'returned')
   OR (b.status = 'exception' AND b.sub_status IN ('returning', 'returned'))

UNION ALL
SELECT b.shipment_id, 'exception', 'warning', NULL,
       CASE WHEN b.status = 'delivery_failed' THEN 'delivery failed' ELSE 'exception' END
       || coalesce(' (' || replace(b.sub_status, '_', ' ') || ')', '')
       || coalesce(': ' || l.ev.text, ': ' || b.source_status_raw, ''),
       {_evidence("[l.ev.key]", "[l.ev.poll, b.last_poll_id]")}, b.last_event_at
FROM _pf_base b LEFT JOIN _pf_last l USING (shipment_id)
WHERE b.status IN ('exception', 'delivery_failed')
  AND coalesce(b.sub_status, '') NOT IN ('returning', 'returned')

UNION ALL
SELECT b.shipment_id, 'expired', 'warning', NULL,
       coalesce(b.state_source, 'the source') || ' stopped tracking it without a delivery'
       || coalesce('; last event ' || l.ev.text, ''),
       {_evidence("[l.ev.key]", "[l.ev.poll, b.last_poll_id]")}, b.last_event_at
FROM _pf_base b LEFT JOIN _pf_last l USING (shipment_id)
WHERE b.status = 'expired'
""",
        ),
    ]
    return stages


# --- reading the history ---------------------------------------------------------

_HISTORY_SQL = """
SELECT f.flag_id, f.shipment_id, s.order_id, s.tracking_number, f.code, f.severity,
       f.raised_at, f.confirmed_at, f.cleared_at, f.threshold, f.detail,
       f.evidence::VARCHAR AS evidence
FROM flags f JOIN shipments s USING (shipment_id)
WHERE ($cleared OR f.cleared_at IS NULL) AND ($archived OR NOT s.archived)
ORDER BY s.order_id, s.tracking_number, f.raised_at, f.flag_id
"""


def flag_history(
    store: Store, *, include_cleared: bool = False, include_archived: bool = False
) -> pl.DataFrame:
    """Flag rows with their order id and number (open ones only, by default).

    Columns: ``flag_id, shipment_id, order_id, tracking_number, code, severity,
    raised_at, confirmed_at, cleared_at, threshold, detail, evidence``.
    """
    return store.frame(_HISTORY_SQL, {"cleared": include_cleared, "archived": include_archived})


# --- listing ---------------------------------------------------------------------

_SHIPMENTS_SQL = """
SELECT s.shipment_id, s.order_id, s.tracking_number, coalesce(t.status, 'unknown') AS status,
       s.archived
FROM shipments s LEFT JOIN tracking_state t USING (shipment_id)
WHERE $all OR NOT s.archived
ORDER BY s.order_id, s.tracking_number, s.shipment_id
"""

_FLAG_ITEM = pl.Struct(
    {
        "code": pl.String,
        "severity": pl.String,
        "since": pl.Datetime("us", "UTC"),
        "first_seen": pl.Datetime("us", "UTC"),
        "detail": pl.String,
        "cleared_at": pl.Datetime("us", "UTC"),
    }
)


def flag_listing(
    store: Store, assessment: Assessment, *, include_all: bool = False
) -> pl.DataFrame:
    """One row per shipment with its flags at ``assessment.now``, for ``flags``.

    Columns: ``shipment_id, order_id, tracking_number, status, archived, flags`` where
    ``flags`` is a list of ``{code, severity, since, first_seen, detail, cleared_at}``
    (most severe first). Non-archived shipments and open flags only, unless
    ``include_all`` (archived shipments and cleared flags too). ``since`` is when the
    condition began, ``first_seen`` when parcelproof first saw it
    (:mod:`analysis.assess`); for a cleared flag both are its history row's
    ``raised_at``.
    """
    ships = store.frame(_SHIPMENTS_SQL, {"all": include_all})
    items = assessment.flags.select(
        "shipment_id",
        "code",
        "severity",
        "since",
        "first_seen",
        "detail",
        pl.lit(None, pl.Datetime("us", "UTC")).alias("cleared_at"),
    )
    if include_all:
        cleared = assessment.cleared.select(
            "shipment_id",
            "code",
            "severity",
            pl.col("raised_at").alias("since"),
            pl.col("raised_at").alias("first_seen"),
            "detail",
            "cleared_at",
        )
        items = pl.concat([items, cleared], how="vertical_relaxed")
    items = items.with_columns(
        pl.col("since").dt.convert_time_zone("UTC"),
        pl.col("first_seen").dt.convert_time_zone("UTC"),
        pl.col("cleared_at").dt.convert_time_zone("UTC"),
        pl.col("severity").replace_strict(SEVERITY_RANK, default=0).alias("_rank"),
    ).sort(
        ["shipment_id", "cleared_at", "_rank", "since", "code"],
        descending=[False, False, True, False, False],
        nulls_last=False,
    )
    grouped = items.group_by("shipment_id", maintain_order=True).agg(
        pl.struct("code", "severity", "since", "first_seen", "detail", "cleared_at").alias("flags")
    )
    out = ships.join(grouped, on="shipment_id", how="left", maintain_order="left")
    return out.with_columns(pl.col("flags").fill_null(pl.lit([], pl.List(_FLAG_ITEM))))


def list_flags(
    store: Store, now: datetime, settings: Settings, *, include_all: bool = False
) -> tuple[Assessment, pl.DataFrame]:
    """Assess (and record) at ``now``, then list every shipment's flags and advice.

    The listing is :func:`flag_listing`'s frame plus ``deadline``, ``deadline_date``,
    ``last_day``, ``last_day_date`` (the real last day to act), ``action``,
    ``action_detail`` (:mod:`analysis.disputes`, from the same assessment) and
    ``urgency`` (the rank of the most severe open flag, 0 with none).
    """
    from analysis.assess import assess

    assessment = assess(store, now, settings)
    listing = flag_listing(store, assessment, include_all=include_all)
    listing = listing.join(
        assessment.disputes.select(
            "shipment_id",
            "deadline",
            "deadline_date",
            "last_day",
            "last_day_date",
            "action",
            "action_detail",
        ),
        on="shipment_id",
        how="left",
        maintain_order="left",
    ).with_columns(
        pl.col("flags")
        .list.eval(
            pl.when(pl.element().struct.field("cleared_at").is_null())
            .then(pl.element().struct.field("severity").replace_strict(SEVERITY_RANK, default=0))
            .otherwise(0)
        )
        .list.max()
        .fill_null(0)
        .alias("urgency")
    )
    return assessment, listing


def listing_json_lines(listing: pl.DataFrame, *, include_all: bool = False) -> list[str]:
    """The ``flags --json`` lines of a :func:`flag_listing` frame.

    Each line is exactly ``{"order_id", "tracking_number", "status", "flags":
    [{"code", "severity", "since", "first_seen", "detail"}]}``: ``since`` is when
    the condition began (the last scan of a stalled parcel...), ``first_seen`` when
    parcelproof first saw it; with ``include_all`` every flag also has
    ``"cleared_at"`` (null while open).
    """
    lines = []
    for row in listing.iter_rows(named=True):
        flags = []
        for item in row["flags"]:
            flag: dict[str, Any] = {
                "code": item["code"],
                "severity": item["severity"],
                "since": _iso(item["since"]),
                "first_seen": _iso(item["first_seen"]),
                "detail": item["detail"],
            }
            if include_all:
                flag["cleared_at"] = _iso(item["cleared_at"])
            flags.append(flag)
        line = {
            "order_id": row["order_id"],
            "tracking_number": row["tracking_number"],
            "status": row["status"],
            "flags": flags,
        }
        lines.append(json.dumps(line, ensure_ascii=False))
    return lines


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
