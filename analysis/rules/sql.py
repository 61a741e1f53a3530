"""SQL building blocks shared by the flag rules and the dispute windows.

Every helper returns SQL text for DuckDB. Instants are compared and shifted as epoch
microseconds: arithmetic on TIMESTAMPTZ goes through the ICU calendar and costs
about 500x more per row (docs/perf-flags.md).

    >>> sql_str("O'Brien")
    "'O''Brien'"
    >>> sql_list(["delivered", "returned"])
    "'delivered', 'returned'"
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from collector.countries import zone_names


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: Iterable[str]) -> str:
    """The items of a SQL ``IN (...)`` list of string literals, in the given order."""
    return ", ".join(sql_str(v) for v in values)


def sql_values(pairs: dict[str, str]) -> str:
    """``VALUES`` rows ``('key', 'value'), ...`` sorted by key."""
    return ", ".join(f"({sql_str(k)}, {sql_str(v)})" for k, v in sorted(pairs.items()))


def us(value: timedelta) -> int:
    """A duration in microseconds (the unit instants are compared in)."""
    return value // timedelta(microseconds=1)


def local_time_sql(expr: str, country: str) -> str:
    """SQL for the wall-clock time of instant ``expr`` in ``country``'s zone (UTC if none).

    One CASE branch per zone, each with a constant zone: DuckDB's timezone() with a
    zone that varies per row is about ten times slower.
    """
    by_zone: dict[str, list[str]] = {}
    for code, zone in sorted(zone_names().items()):
        by_zone.setdefault(zone, []).append(sql_str(code))
    branches = " ".join(
        f"WHEN {country} IN ({', '.join(codes)}) THEN timezone({sql_str(zone)}, {expr})"
        for zone, codes in sorted(by_zone.items())
    )
    return f"CASE {branches} ELSE timezone('UTC', {expr}) END"


def local_date_sql(expr: str, country: str) -> str:
    """A shipment instant as a ``YYYY-MM-DD`` date in ``country``'s zone."""
    return f"strftime({local_time_sql(expr, country)}, '%Y-%m-%d')"


def offset_date_sql(at: str, utc_offset: str) -> str:
    """An event instant as a ``YYYY-MM-DD`` date at the event's own UTC offset (minutes)."""
    return (
        f"strftime(make_timestamp(epoch_us({at}) + coalesce({utc_offset}, 0)::BIGINT "
        "* 60000000), '%Y-%m-%d')"
    )


def event_text(what: str, place: str, at: str, utc_offset: str) -> str:
    """SQL describing an event once: 'Departed from sorting center', Guangzhou,
    2026-10-24 (the date at the event's own offset)."""
    return f"concat_ws(', ', '''' || {what} || '''', {place}, {offset_date_sql(at, utc_offset)})"


def days_since(expr: str) -> str:
    """Whole days from instant ``expr`` to ``$now``."""
    return f"CAST(floor((epoch_us($now) - epoch_us({expr})) / 86400e6) AS BIGINT)"


def days_until(expr: str) -> str:
    """Whole days from ``$now`` to instant ``expr``."""
    return f"CAST(floor((epoch_us({expr}) - epoch_us($now)) / 86400e6) AS BIGINT)"


def days_text(expr: str) -> str:
    """'27 days' / '1 day' / 'less than a day' for a non-negative day count."""
    return (
        f"CASE WHEN ({expr}) <= 0 THEN 'less than a day' WHEN ({expr}) = 1 THEN '1 day' "
        f"ELSE ({expr})::VARCHAR || ' days' END"
    )


#: Where a flag's detail says how long ago (or until) something is: the day count
#: is put in when the flag is read (:func:`rendered_detail`), so that the stored
#: text of a flag does not change as days pass. The unit separator (U+001F) is
#: never part of a carrier's or an order's text.
AGE = "chr(31)"


def rendered_detail(template: str, age_from: str, age_kind: str, at: str = "$now") -> str:
    """SQL for a flag's text at ``at`` (an instant, ``$now`` by default): ``template``
    with its :data:`AGE` marker replaced by the whole days since (``age_kind =
    'since'``) or until (``'until'``) the instant ``age_from``; ``template`` itself
    without an age."""
    return (
        f"CASE {age_kind} "
        f"WHEN 'since' THEN replace({template}, chr(31), {days_text(days_since(age_from))}) "
        f"WHEN 'until' THEN replace({template}, chr(31), {days_text(days_until(age_from))}) "
        f"ELSE {template} END"
    ).replace("$now", at)


def history_detail(flags: str = "f") -> str:
    """SQL for the text of a ``flags`` history row (alias ``flags``) as of its last
    confirmation (``confirmed_at``): what the row said when an evaluation last saw
    the flag hold, the way ``detail`` read before texts were stored as templates
    (migration 0008; rows from before have no template and keep their ``detail``)."""
    return rendered_detail(
        f"coalesce({flags}.template, {flags}.detail)",
        f"{flags}.age_from",
        f"{flags}.age_kind",
        at=f"{flags}.confirmed_at",
    )


def evidence(keys: str, polls: str, extra: str = "") -> str:
    """The flag's evidence as JSON: ``{"event_keys": [...], "poll_ids": [...]}``."""
    return (
        "to_json(struct_pack("
        f"event_keys := list_filter(CAST({keys} AS VARCHAR[]), x -> x IS NOT NULL), "
        f"poll_ids := list_distinct(list_filter(CAST({polls} AS BIGINT[]), x -> x IS NOT NULL))"
        f"{extra}))"
    )


def any_of(predicates: Iterable[str]) -> str:
    """The disjunction of SQL predicates (``false`` for none), each parenthesised."""
    parts = [f"({p.strip()})" for p in predicates]
    return " OR ".join(parts) if parts else "false"
