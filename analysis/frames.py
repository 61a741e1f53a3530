"""polars DataFrames over the parcelproof database, for notebooks and ad-hoc analysis.

Every function takes the database as its first argument: a path (``None`` means
``PARCELPROOF_DB`` or ``data/parcelproof.duckdb``), an open DuckDB connection, or a
:class:`~collector.store.Store`; it returns a polars DataFrame. The work is done in
DuckDB SQL and handed over through Arrow, never row by row::

    >>> from analysis import frames
    >>> lanes = frames.lane_stats("data/parcelproof.duckdb")          # doctest: +SKIP
    >>> lanes.sort("transit_days_p50").head()                        # doctest: +SKIP

**Concurrency with cron.** Given a path, a function opens its own *read-only*
connection and closes it before returning, so a notebook holds the file only for
the length of one query and never blocks ``poll`` for long. While a writer
(``poll``, ``import``, ``run``) holds the file, the function retries for
``busy_timeout`` seconds (default :data:`BUSY_TIMEOUT`) and then raises
:class:`~collector.errors.DatabaseBusy`, naming the process that holds it. To run
several queries on one connection, use :func:`connect`; do not keep it open.

**Filters.** The shipment-level functions accept the same keyword filters
(:class:`Filters`); they select *shipments*, and every event, flag and statistic of
a selected shipment follows:

- ``since`` / ``until``: a date, datetime or ISO 8601 text, on ``date_field``
  (``"ordered_at"``, the default, or ``"shipped_at"``; each falls back to the other
  when empty). ``since`` is inclusive; ``until`` is exclusive for an instant and
  includes the whole day for a bare date. Naive values are UTC.
- ``store``: one store name or several.
- ``carrier``: one or several names, matched case-insensitively against the declared
  carrier and the detected courier code.
- ``include_archived``: archived shipments are left out unless this is true.

Functions that depend on the time (ages, stalls, deadlines) take ``now``, which
defaults to :func:`collector.clock.now` (so ``PARCELPROOF_NOW`` fixes it), and
those that apply thresholds take ``settings`` (default: ``parcelproof.toml`` when
present, else the built-in defaults). Flags are those the rules find at ``now``
(:func:`analysis.assess.assess`, nothing is written), so they agree with
``parcelproof flags``, ``status`` and ``report`` run at the same instant.

Tables: :func:`shipments`, :func:`events`, :func:`flags` (the stored history),
:func:`tracking_state`, :func:`polls`. Views: :func:`transit_times`,
:func:`last_activity`, :func:`lane_stats`, :func:`store_scorecard`,
:func:`number_quality`, :func:`current_flags`, :func:`dispute_deadlines`,
:func:`due_soon`. Dispute cases: :func:`cases`, :func:`case_stats`,
:func:`seller_scorecard`. For notebooks: :func:`notebook_now` (the instant the CLI
would use) and :func:`sample_size` (a group's size, small samples marked).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, TypeAlias, TypedDict, Unpack

import duckdb
import polars as pl

from analysis.assess import assess
from analysis.rules.sql import history_detail
from collector import clock
from collector.config import PollConfig, RulesConfig, Settings, find_config_path, load_settings
from collector.countries import zone_names
from collector.errors import StoreError
from collector.model import SETTLED_STATUSES, status_in
from collector.store import Store, default_db_path

#: What every function accepts as its database.
Source: TypeAlias = "str | os.PathLike[str] | duckdb.DuckDBPyConnection | Store | None"
DateLike: TypeAlias = "date | datetime | str"

#: Seconds a reader keeps retrying while a writer holds the file (the same default
#: as the writers' ``poll.database_busy_timeout_seconds``). Set it in a notebook to
#: change it for every call, or pass ``busy_timeout=`` to one call.
BUSY_TIMEOUT: float = PollConfig().database_busy_timeout_seconds

#: Statuses that are not a physical scan of the parcel (a label, or a source's verdict).
NOT_A_SCAN = ("info_received", "not_found", "expired")
#: After these, a parcel cannot stall.
SETTLED = tuple(sorted(SETTLED_STATUSES))
#: Words of an event saying the parcel reached the destination country, when the
#: event carries no country (aggregators often leave it out).
ARRIVAL_PATTERN = (
    r"destination country|arriv\w* (at|in) (the )?destination|import (customs|clearance|scan)"
    r"|received by local delivery|customs clearance (complete|completed|finished)"
)
#: Cainiao action codes of the destination side: import customs, local carrier.
ARRIVAL_CODE_PATTERN = r"^(CC_IM|GTMS_)"
#: Statuses that only happen in the destination country.
LAST_MILE = ("out_for_delivery", "available_for_pickup", "delivery_failed", "delivered")
#: Columns :func:`lane_stats` and :func:`number_quality` can group by.
GROUPABLE = ("carrier", "courier", "origin_country", "destination_country", "store", "marketplace")


class Filters(TypedDict, total=False):
    """Keyword filters every shipment-level function accepts (see the module doc)."""

    since: DateLike | None
    until: DateLike | None
    date_field: Literal["ordered_at", "shipped_at"]
    store: str | Sequence[str] | None
    carrier: str | Sequence[str] | None
    include_archived: bool


@contextmanager
def connect(
    source: Source = None, *, busy_timeout: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection for a few queries: read-only and closed on exit for a path.

    An open connection or :class:`Store` is used as it is and left open (its owner
    closes it). A path is opened read-only, retrying for ``busy_timeout`` seconds
    while a writer holds it, then :class:`~collector.errors.DatabaseBusy`::

        >>> with connect("data/parcelproof.duckdb") as conn:          # doctest: +SKIP
        ...     ships = shipments(conn, store="Yiwu Home Official")
        ...     evs = events(conn, store="Yiwu Home Official")
    """
    if isinstance(source, Store):
        yield source.conn
        return
    if isinstance(source, duckdb.DuckDBPyConnection):
        yield source
        return
    path = default_db_path(source)
    if not path.exists():
        raise StoreError(
            f"no database at {path}: run `parcelproof demo` or `parcelproof import` first, "
            "or set PARCELPROOF_DB"
        )
    timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout
    with Store.open(path, read_only=True, busy_timeout=timeout) as store:
        yield store.conn


# --------------------------------------------------------------------------- tables


def shipments(
    source: Source = None, *, busy_timeout: float | None = None, **filters: Unpack[Filters]
) -> pl.DataFrame:
    """The ``shipments`` table, one row per (order, tracking number).

    >>> shipments("data/parcelproof.duckdb", store="Yiwu Home Official").height  # doctest: +SKIP
    6
    """
    where, params = _where(filters)
    sql = f"SELECT s.* FROM shipments s WHERE {where} ORDER BY s.shipment_id"
    return _frame(source, sql, params, busy_timeout)


def events(
    source: Source = None,
    *,
    ordered: bool = False,
    busy_timeout: float | None = None,
    **filters: Unpack[Filters],
) -> pl.DataFrame:
    """Normalised tracking events of the selected shipments.

    Each row is an ``events`` row with the shipment's ``order_id``,
    ``tracking_number`` and ``store`` in front. Rows come in storage order;
    ``ordered=True`` sorts them by shipment and time (oldest first) in DuckDB, which
    for tens of millions of events needs several times the frame's memory, so
    filter first::

        >>> events(None, carrier="cainiao", ordered=True)              # doctest: +SKIP
    """
    where, params = _where(filters)
    sql = (
        "SELECT s.order_id, s.tracking_number, s.store, e.* "
        f"FROM events e JOIN shipments s USING (shipment_id) WHERE {where}"
    )
    if ordered:
        sql += " ORDER BY e.shipment_id, e.occurred_at NULLS FIRST, e.event_key"
    return _frame(source, sql, params, busy_timeout)


def flags(
    source: Source = None,
    *,
    open_only: bool = False,
    busy_timeout: float | None = None,
    **filters: Unpack[Filters],
) -> pl.DataFrame:
    """Flag history of the selected shipments (``open_only``: only flags not cleared).

    These are the flags as the last ``flags``/``run`` stored them (``detail`` as of
    each row's ``confirmed_at``); frames never write, so run ``parcelproof flags``
    first for flags as of now::

        >>> flags(None, open_only=True).group_by("code").len()      # doctest: +SKIP
    """
    where, params = _where(filters)
    if open_only:
        where += " AND f.cleared_at IS NULL"
    sql = (
        "SELECT s.order_id, s.tracking_number, s.store, "
        f"coalesce(s.carrier, s.courier) AS carrier, f.* REPLACE ({history_detail()} AS detail) "
        f"FROM flags f JOIN shipments s USING (shipment_id) WHERE {where} "
        "ORDER BY f.shipment_id, f.raised_at, f.flag_id"
    )
    return _frame(source, sql, params, busy_timeout)


def tracking_state(
    source: Source = None, *, busy_timeout: float | None = None, **filters: Unpack[Filters]
) -> pl.DataFrame:
    """The current picture of each selected shipment (``tracking_state``).

    >>> tracking_state(None).group_by("status").len()               # doctest: +SKIP
    """
    where, params = _where(filters)
    sql = (
        "SELECT s.order_id, s.tracking_number, t.* "
        f"FROM tracking_state t JOIN shipments s USING (shipment_id) WHERE {where} "
        "ORDER BY t.shipment_id"
    )
    return _frame(source, sql, params, busy_timeout)


def polls(
    source: Source = None,
    *,
    since: DateLike | None = None,
    until: DateLike | None = None,
    sources: str | Sequence[str] | None = None,
    busy_timeout: float | None = None,
) -> pl.DataFrame:
    """The request log (``polls``), optionally by ``requested_at`` range and source name.

    >>> polls(None, sources="17track").group_by("outcome").len()    # doctest: +SKIP
    """
    clauses = ["true"]
    params: dict[str, Any] = {}
    if since is not None:
        clauses.append("p.requested_at >= $since")
        params["since"] = _instant(since)
    if until is not None:
        clauses.append("p.requested_at < $until")
        params["until"] = _instant(until, end=True)
    if sources is not None:
        clauses.append("list_contains($sources, p.source)")
        params["sources"] = _names(sources, lower=False)
    sql = f"SELECT p.* FROM polls p WHERE {' AND '.join(clauses)} ORDER BY p.poll_id"
    return _frame(source, sql, params, busy_timeout)


# ------------------------------------------------------------------ derived views


def transit_times(
    source: Source = None,
    *,
    now: datetime | None = None,
    busy_timeout: float | None = None,
    **filters: Unpack[Filters],
) -> pl.DataFrame:
    """Per shipment: shipped -> first scan -> arrival in the destination country -> delivered.

    Instants: ``shipped_at``, ``first_scan_at`` (the first event that is a physical
    scan, not a label or a verdict), ``arrived_destination_at`` (the first event in
    the destination country, or, when an event has no country, one whose status or
    wording says so: out for delivery, "arrived at destination country", import
    customs...), ``delivered_at``. Legs in days: ``handover_days`` (shipped -> first
    scan), ``to_destination_days`` (first scan -> arrival), ``last_mile_days``
    (arrival -> delivered) and ``transit_days`` (shipped -> delivered); a leg is
    null until both ends happened. ``origin_country`` is the country of the first
    event that has one, else the suffix of a UPU S10 number (the issuing post).
    ``plausible`` is false for a recycled number (first event before the order, or
    delivered before shipping): :func:`lane_stats` leaves those out. ``on_time`` is
    true/false once decided against ``promised_date`` (see :func:`store_scorecard`)::

        >>> t = transit_times(None, carrier="china post")             # doctest: +SKIP
        >>> t.select("tracking_number", "transit_days").drop_nulls()  # doctest: +SKIP
    """
    sql = _facts_sql(filters) + (
        "SELECT shipment_id, order_id, tracking_number, marketplace, store, carrier, courier, "
        "origin_country, destination_country, status, ordered_at, shipped_at, first_scan_at, "
        "arrived_destination_at, delivered_at, promised_to, promised_date, "
        "delivered_local_date, on_time, "
        f"{_days('shipped_at', 'first_scan_at')} AS handover_days, "
        f"{_days('first_scan_at', 'arrived_destination_at')} AS to_destination_days, "
        f"{_days('arrived_destination_at', 'delivered_at')} AS last_mile_days, "
        f"{_days('shipped_at', 'delivered_at')} AS transit_days, "
        "plausible "
        "FROM facts ORDER BY shipment_id"
    )
    return _frame(source, sql, _params(filters, now=now), busy_timeout)


def last_activity(
    source: Source = None,
    *,
    now: datetime | None = None,
    stalled_days: float | None = None,
    settings: Settings | None = None,
    busy_timeout: float | None = None,
    **filters: Unpack[Filters],
) -> pl.DataFrame:
    """Per shipment: the last event, days since it, and whether the parcel is stalled.

    ``days_since_last_event`` is measured at ``now``; ``stalled`` is true when that is
    more than ``stalled_days`` (default: ``rules.stalled_days`` of ``settings``,
    which default to the configuration file's) and the parcel is
    neither delivered nor returned. ``max_gap_days`` is the longest quiet spell
    between scans, up to now while the parcel is still moving::

        >>> last_activity(None).filter("stalled").sort("days_since_last_event")  # doctest: +SKIP
    """
    sql = _facts_sql(filters, gaps=True) + (
        "SELECT shipment_id, order_id, tracking_number, store, carrier, status, "
        "event_count, last_event_at, last_event_description, last_event_location, "
        f"days_since_last_event, {_days('shipped_at', '$now::TIMESTAMPTZ')} AS days_since_shipped, "
        "max_gap_days, stalled_now AS stalled "
        "FROM facts ORDER BY days_since_last_event DESC NULLS LAST, shipment_id"
    )
    params = _params(filters, now=now, rules=_settings(settings).rules, stalled_days=stalled_days)
    return _frame(source, sql, params, busy_timeout)


def lane_stats(  # noqa: PLR0913 - keyword-only knobs for notebooks
    source: Source = None,
    *,
    by: str | Sequence[str] = ("carrier", "origin_country", "destination_country"),
    quantiles: Sequence[float] = (0.5, 0.8, 0.95),
    now: datetime | None = None,
    stalled_days: float | None = None,
    settings: Settings | None = None,
    busy_timeout: float | None = None,
    **filters: Unpack[Filters],
) -> pl.DataFrame:
    """Per carrier and lane: transit-time quantiles, delivered share and stall rate.

    One row per ``by`` group (default carrier, origin and destination country) with
    ``shipments``, ``delivered``, ``transit_days_pNN`` (one column per quantile, over
    delivered and plausible shipments), the same for ``handover_days``,
    ``stalled`` and ``stall_rate``: the share of shipments that went quiet for more
    than ``stalled_days`` between two scans, or are quiet that long now without
    being delivered or returned::

        >>> lane_stats(None, by="carrier", quantiles=[0.5, 0.9])     # doctest: +SKIP
    """
    groups = _group_columns(by)
    cols = ", ".join(groups)
    qs = []
    for q in quantiles:
        if not 0 <= q <= 1:
            raise ValueError(f"quantile {q} is not between 0 and 1")
        name = f"p{q * 100:g}".replace(".", "_")
        qs.append(
            f"quantile_cont(transit_days, {q!r}) FILTER (WHERE plausible) AS transit_days_{name}"
        )
        qs.append(
            f"quantile_cont(handover_days, {q!r}) FILTER (WHERE plausible) AS handover_days_{name}"
        )
    sql = _facts_sql(filters, gaps=True) + (
        f"SELECT {cols}, count(*) AS shipments, "
        "count(delivered_at) AS delivered, "
        "count(delivered_at) / count(*) AS delivered_share, "
        f"{', '.join(qs)}, "
        "avg(transit_days) FILTER (WHERE plausible) AS transit_days_mean, "
        "count(*) FILTER (WHERE stalled_ever) AS stalled, "
        "count(*) FILTER (WHERE stalled_ever) / count(*) AS stall_rate "
        f"FROM (SELECT *, {_days('shipped_at', 'delivered_at')} AS transit_days, "
        f"{_days('shipped_at', 'first_scan_at')} AS handover_days FROM facts) "
        f"GROUP BY ALL ORDER BY shipments DESC, {cols}"
    )
    params = _params(filters, now=now, rules=_settings(settings).rules, stalled_days=stalled_days)
    return _frame(source, sql, params, busy_timeout)


def store_scorecard(
    source: Source = None,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    busy_timeout: float | None = None,
    **filters: Unpack[Filters],
) -> pl.DataFrame:
    """Per store: on-time rate against the promised window, and how bad its numbers are.

    ``on_time``: delivered on or before the promised day (both as local dates: the
    delivery scan's own day, the promised date as imported); ``late``: delivered
    after it, or not delivered and the promised day is over at ``now``;
    ``pending``: not delivered, promised day still ahead; ``no_promise``: no
    promised date. A recycled number's "delivery" counts as not delivered.
    ``on_time_rate`` is on_time / (on_time + late). ``transit_days_p50`` is the
    median over delivered, plausible shipments. ``invalid``, ``not_found`` and
    ``label_only`` count numbers as :func:`number_quality` does and
    ``bad_number_share`` is their share; ``flagged`` counts shipments with any
    flag at ``now``::

        >>> store_scorecard(None).sort("on_time_rate")              # doctest: +SKIP
    """
    sql = _facts_sql(filters, quality=True) + (
        "SELECT store, count(*) AS shipments, "
        "count(delivered_at) FILTER (WHERE plausible) AS delivered, "
        "count(*) FILTER (WHERE on_time) AS on_time, "
        "count(*) FILTER (WHERE NOT on_time) AS late, "
        "count(*) FILTER (WHERE promised_to IS NOT NULL AND on_time IS NULL) AS pending, "
        "count(*) FILTER (WHERE promised_to IS NULL) AS no_promise, "
        "count(*) FILTER (WHERE on_time) / nullif(count(on_time), 0) AS on_time_rate, "
        f"quantile_cont({_days('shipped_at', 'delivered_at')}, 0.5) FILTER (WHERE plausible) "
        "  AS transit_days_p50, "
        "count(*) FILTER (WHERE number_problem = 'invalid') AS invalid, "
        "count(*) FILTER (WHERE number_problem = 'not_found') AS not_found, "
        "count(*) FILTER (WHERE number_problem = 'label_only') AS label_only, "
        "count(number_problem) / count(*) AS bad_number_share, "
        "count(*) FILTER (WHERE flag_count > 0) AS flagged "
        "FROM facts GROUP BY store ORDER BY shipments DESC, store"
    )
    return _flagged_frame(
        source, sql, filters, now=now, settings=settings, busy_timeout=busy_timeout
    )


def number_quality(
    source: Source = None,
    *,
    by: str | Sequence[str] = ("store", "carrier"),
    now: datetime | None = None,
    settings: Settings | None = None,
    busy_timeout: float | None = None,
    **filters: Unpack[Filters],
) -> pl.DataFrame:
    """Share of invalid, not-found and label-only numbers per ``by`` group.

    The verdicts are the flag rules' at ``now`` (:func:`current_flags`), so they
    agree with ``parcelproof flags``; each shipment counts once, in the first that
    applies: ``invalid`` (``invalid_number``), ``not_found``, ``label_only``::

        >>> number_quality(None, by="store").sort("bad_share", descending=True)  # doctest: +SKIP
    """
    groups = _group_columns(by)
    cols = ", ".join(groups)
    sql = _facts_sql(filters, quality=True) + (
        f"SELECT {cols}, count(*) AS shipments, "
        "count(*) FILTER (WHERE number_problem = 'invalid') AS invalid, "
        "count(*) FILTER (WHERE number_problem = 'not_found') AS not_found, "
        "count(*) FILTER (WHERE number_problem = 'label_only') AS label_only, "
        "invalid / count(*) AS invalid_share, "
        "not_found / count(*) AS not_found_share, "
        "label_only / count(*) AS label_only_share, "
        "count(number_problem) / count(*) AS bad_share "
        f"FROM facts GROUP BY ALL ORDER BY shipments DESC, {cols}"
    )
    return _flagged_frame(
        source, sql, filters, now=now, settings=settings, busy_timeout=busy_timeout
    )


def current_flags(
    source: Source = None,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    busy_timeout: float | None = None,
    **filters: Unpack[Filters],
) -> pl.DataFrame:
    """The flags that hold at ``now``, computed by the flag rules and stored nowhere.

    Unlike :func:`flags` (the history the last ``flags``/``run`` wrote), this is
    always as of ``now``, with the thresholds of ``settings`` (default: the
    configuration file, if any): :func:`analysis.assess.assess`'s ``flags``, so it
    agrees with ``status``, ``flags`` and ``report`` at the same instant, with
    ``since`` (when the condition began), ``first_seen`` and ``reason_to_dispute``.
    One row per shipment and code::

        >>> current_flags(None).group_by("code").len()               # doctest: +SKIP
    """
    where, params = _where(filters)
    sql = (
        "SELECT s.order_id, s.tracking_number, s.store, "
        "coalesce(s.carrier, s.courier) AS carrier, f.* "
        f"FROM current_flags f JOIN shipments s USING (shipment_id) WHERE {where} "
        "ORDER BY f.shipment_id, f.code"
    )
    return _flagged_frame(
        source, sql, filters, now=now, settings=settings, busy_timeout=busy_timeout, params=params
    )


def dispute_deadlines(
    source: Source = None,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    busy_timeout: float | None = None,
    **filters: Unpack[Filters],
) -> pl.DataFrame:
    """Per shipment: the dispute window, today's recommended action and the days left.

    The windows and actions are those of :func:`analysis.assess.assess` at ``now``
    (the same flags and advice as ``status``; ``action`` is one of ``open_dispute,
    ask_seller, escalate, wait, too_late, none``). Added here: ``store``, ``carrier``, ``status``,
    ``flags`` (the codes at ``now``), ``days_left`` (to the deadline; negative once
    it has passed), ``last_day``, ``last_day_date`` (the destination's date) and
    ``days_to_last_day`` (the real last day to act: on AliExpress the deadline plus
    its grace days, so a parcel in grace still has days left) and ``urgency``
    (higher is more urgent). Sorted for triage: most urgent action first, then the
    nearest deadline::

        >>> todo = dispute_deadlines(None).filter(pl.col("action") != "none")  # doctest: +SKIP
    """
    from analysis.disputes import ACTION_RANK

    at = evaluation_instant(now)
    config = _settings(settings)
    where, params = _where(filters)
    params["now"] = at
    sql = (
        "SELECT w.shipment_id, s.order_id, s.tracking_number, s.marketplace, s.store, "
        "coalesce(s.carrier, s.courier) AS carrier, s.status, "
        "coalesce(f.codes, []::VARCHAR[]) AS flags, w.action, w.action_detail, w.opens_at, "
        f"w.deadline, {_days('$now::TIMESTAMPTZ', 'w.deadline')} AS days_left, "
        f"w.last_day, w.last_day_date, {_days('$now::TIMESTAMPTZ', 'w.last_day')} "
        "AS days_to_last_day, w.urgency, w.rule "
        "FROM dispute_windows_now w JOIN shipment_current s USING (shipment_id) "
        "LEFT JOIN (SELECT shipment_id, list(code ORDER BY code) AS codes "
        "FROM current_flags GROUP BY shipment_id) f USING (shipment_id) "
        f"WHERE {where} ORDER BY urgency DESC, w.deadline NULLS LAST, s.order_id"
    )
    with connect(source, busy_timeout=busy_timeout) as conn:
        view = Store(conn, None)  # the same connection; closed by its owner, not here
        assessment = assess(view, at, config, record=False)
        windows = assessment.disputes.with_columns(
            urgency=pl.col("action").replace_strict(ACTION_RANK, return_dtype=pl.Int8)
        )
        with _registered(conn, current_flags=assessment.flags, dispute_windows_now=windows):
            return _query(conn, sql, params)


def due_soon(
    source: Source = None,
    *,
    within_days: float = 14,
    now: datetime | None = None,
    settings: Settings | None = None,
    busy_timeout: float | None = None,
    **filters: Unpack[Filters],
) -> pl.DataFrame:
    """The parcels whose last day to act is within ``within_days``, the nearest first.

    :func:`dispute_deadlines` rows with something to do (not ``none`` or
    ``too_late``) and ``days_to_last_day`` between 0 and ``within_days``: counted to
    the real last day, so a parcel whose AliExpress deadline passed but which is
    still in its grace days is here (``in_grace`` true), not dropped::

        >>> due_soon(None, within_days=7).select("order_id", "days_to_last_day")  # doctest: +SKIP
    """
    todo = dispute_deadlines(
        source, now=now, settings=settings, busy_timeout=busy_timeout, **filters
    )
    return (
        todo.filter(
            ~pl.col("action").is_in(["none", "too_late"])
            & pl.col("days_to_last_day").is_between(0, within_days)
        )
        .with_columns(in_grace=pl.col("days_left") < 0)
        .sort("days_to_last_day", "order_id")
    )


# ----------------------------------------------------------------------- helpers


def _frame(
    source: Source, sql: str, params: dict[str, Any], busy_timeout: float | None
) -> pl.DataFrame:
    with connect(source, busy_timeout=busy_timeout) as conn:
        return _query(conn, sql, params)


def _query(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pl.DataFrame:
    # DuckDB refuses unused named parameters; each view binds only what it uses.
    used = set(re.findall(r"\$(\w+)", sql))
    bound = {k: v for k, v in params.items() if k in used}
    # execute() rather than a relation (conn.sql): with parameters, measured about
    # twice as fast on large results (DuckDB 1.5).
    frame: pl.DataFrame = conn.execute(sql, bound or None).pl()
    return frame


def _flagged_frame(  # noqa: PLR0913 - internal: the shared tail of the flag-based views
    source: Source,
    sql: str,
    filters: Filters,
    *,
    now: datetime | None,
    settings: Settings | None,
    busy_timeout: float | None,
    params: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """Run ``sql`` with the flags at ``now`` available as the view ``current_flags``."""
    config = _settings(settings)
    bound = _params(filters, now=now, rules=config.rules) if params is None else params
    bound.setdefault("now", evaluation_instant(now))
    with connect(source, busy_timeout=busy_timeout) as conn:
        flagged = assess(Store(conn, None), bound["now"], config, record=False).flags
        with _registered(conn, current_flags=flagged):
            return _query(conn, sql, bound)


#: Fewer parcels than this in a group: a rate or a median of it is marked as a small
#: sample (:func:`sample_size`), not read as a trend.
SMALL_SAMPLE = 5


def sample_size(count: int, word: str = "parcel") -> str:
    """A group's size in words, marked when it is too small to mean much.

    >>> sample_size(1), sample_size(3, "case"), sample_size(12)
    ('1 parcel (small sample)', '3 cases (small sample)', '12 parcels')
    """
    text = f"{count} {word}" if count == 1 else f"{count} {word}s"
    return f"{text} (small sample)" if count < SMALL_SAMPLE else text


def notebook_now(source: Source = None, *, busy_timeout: float | None = None) -> datetime:
    """The instant a notebook reads the database at, taken where the CLI takes it.

    ``PARCELPROOF_NOW`` (or a fixed :func:`collector.clock.now`) when set; else the
    database's last evaluation (the latest instant in the flag history, which
    ``status``, ``flags``, ``report`` and ``run`` record), so a notebook opened on
    the demo database or after a cron run agrees with what those printed; else,
    on a database never evaluated, the clock::

        >>> NOW = notebook_now(DB)                                   # doctest: +SKIP
    """
    if clock.is_fixed():
        return clock.now()
    from collector.store.flag_writes import latest_evaluation

    with connect(source, busy_timeout=busy_timeout) as conn:
        latest = latest_evaluation(Store(conn, None))
    return latest.astimezone(UTC) if latest is not None else clock.now()


def evaluation_instant(now: datetime | None) -> datetime:
    """``now`` in UTC; None reads :func:`collector.clock.now` (``PARCELPROOF_NOW``).

    The one place frames read the clock: a notebook is its own command-line edge,
    and reads the instant once (``NOW = clock.now()``) and passes it to every call.
    """
    return (now if now is not None else clock.now()).astimezone(UTC)


@contextmanager
def _registered(conn: duckdb.DuckDBPyConnection, **frames: pl.DataFrame) -> Iterator[None]:
    """Make polars frames visible to SQL on ``conn`` by name, for one block."""
    for name, frame in frames.items():
        conn.register(name, frame.to_arrow())
    try:
        yield
    finally:
        for name in frames:
            conn.unregister(name)


def _settings(settings: Settings | None) -> Settings:
    """The given settings, else the configuration file's (if any), else the defaults."""
    if settings is not None:
        return settings
    path = find_config_path(None)
    return load_settings(path) if path else Settings()


def _days(start: str, end: str) -> str:
    """SQL for the days (fractional) from ``start`` to ``end``; null when either is."""
    return f"((epoch({end}) - epoch({start})) / 86400.0)"


def _instant(value: DateLike, *, end: bool = False) -> datetime:
    """A UTC instant; a bare date is its start, or (``end``) the start of the next day."""
    if isinstance(value, str):
        text = value.strip()
        value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(0), tzinfo=UTC)


def _names(value: str | Sequence[str], *, lower: bool = True) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    return [n.lower() for n in names] if lower else names


def _group_columns(by: str | Sequence[str]) -> list[str]:
    groups = _names(by, lower=False)
    unknown = [g for g in groups if g not in GROUPABLE]
    if unknown or not groups:
        raise ValueError(f"cannot group by {unknown or groups}; choose from {GROUPABLE}")
    return groups


def _where(filters: Filters) -> tuple[str, dict[str, Any]]:
    """SQL over the shipments alias ``s`` selecting the filtered shipments."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    field = filters.get("date_field", "ordered_at")
    if field not in ("ordered_at", "shipped_at"):
        raise ValueError(f"date_field must be ordered_at or shipped_at, not {field!r}")
    other = "shipped_at" if field == "ordered_at" else "ordered_at"
    day = f"coalesce(s.{field}, s.{other})"
    since, until = filters.get("since"), filters.get("until")
    if since is not None:
        clauses.append(f"{day} >= $since")
        params["since"] = _instant(since)
    if until is not None:
        clauses.append(f"{day} < $until")
        params["until"] = _instant(until, end=True)
    store = filters.get("store")
    if store is not None:
        clauses.append("list_contains($stores, s.store)")
        params["stores"] = _names(store, lower=False)
    carrier = filters.get("carrier")
    if carrier is not None:
        clauses.append(
            "(list_contains($carriers, lower(s.carrier)) "
            "OR list_contains($carriers, lower(s.courier)))"
        )
        params["carriers"] = _names(carrier)
    if not filters.get("include_archived", False):
        clauses.append("NOT s.archived")
    return " AND ".join(clauses) or "true", params


def _params(
    filters: Filters,
    *,
    now: datetime | None,
    rules: RulesConfig | None = None,
    stalled_days: float | None = None,
) -> dict[str, Any]:
    rules = rules or RulesConfig()
    _, params = _where(filters)
    params["now"] = evaluation_instant(now)
    params["stalled_days"] = rules.stalled_days if stalled_days is None else stalled_days
    zones = zone_names()
    params["zone_countries"] = list(zones)
    params["zone_names"] = list(zones.values())
    return params


def _facts_sql(filters: Filters, *, gaps: bool = False, quality: bool = False) -> str:
    """CTEs ending in ``facts``: one row per selected shipment with its derived instants.

    ``gaps`` adds the longest quiet spell (only the views that need it pay for
    it); ``quality`` adds the flags at now (the view
    ``current_flags`` must be registered). ``$now``, ``$stalled_days`` and the
    zone lists must be bound (see :func:`_params`).
    """
    where, _ = _where(filters)
    not_a_scan = ", ".join(f"'{s}'" for s in NOT_A_SCAN)
    last_mile = ", ".join(f"'{s}'" for s in LAST_MILE)
    # A scan (not a label or a verdict) in the destination country, or, without a
    # country, one whose status or wording says it is there.
    arrival = (
        f"e.status NOT IN ({not_a_scan}) AND (e.country = s.destination_country "
        "OR (e.country IS NULL AND ("
        f"e.status IN ({last_mile}) "
        f"OR regexp_matches(lower(concat_ws(' ', e.description, e.raw_status)), "
        f"'{ARRIVAL_PATTERN}') "
        f"OR regexp_matches(coalesce(e.raw_code, ''), '{ARRIVAL_CODE_PATTERN}'))))"
    )
    ctes = [
        f"s AS (SELECT * FROM shipments s WHERE {where})",
        "ev AS (SELECT e.shipment_id, count(*) AS event_count, "
        "min(e.occurred_at) AS first_event_at, max(e.occurred_at) AS last_event_at, "
        "arg_max(e.status, e.occurred_at) AS last_event_status, "
        "arg_max(e.description, e.occurred_at) AS last_event_description, "
        "arg_max(coalesce(e.location, nullif(concat_ws(', ', e.city, e.country), '')), "
        "e.occurred_at) AS last_event_location, "
        f"min(e.occurred_at) FILTER (WHERE e.status NOT IN ({not_a_scan})) AS first_scan_at, "
        "min(e.occurred_at) FILTER (WHERE e.status = 'delivered') AS delivered_event_at, "
        f"min(e.occurred_at) FILTER (WHERE {arrival}) AS arrived_destination_at, "
        "arg_min(e.country, e.occurred_at) FILTER (WHERE e.country IS NOT NULL) "
        "AS first_event_country, "
        "arg_min(e.utc_offset_minutes, e.occurred_at) FILTER (WHERE e.status = 'delivered' "
        "AND e.tz_known) AS delivered_offset_minutes"
        + (
            # The scans' instants in order, for the gaps between them: the wait before
            # the first scan is a label-only parcel's problem, not a stall. (A sorted
            # list per shipment is cheaper than a window over all events.)
            ", list_sort(list(epoch(e.occurred_at)) FILTER (WHERE e.occurred_at IS NOT NULL "
            f"AND e.status NOT IN ({not_a_scan}))) AS scan_epochs"
            if gaps
            else ""
        )
        + " FROM events e JOIN s USING (shipment_id) GROUP BY e.shipment_id)",
        # The zone a bare date of the destination was read in (as the importer does).
        "zones AS (SELECT unnest($zone_countries) AS destination_country, "
        "unnest($zone_names) AS zone)",
    ]
    extra_cols = ""
    extra_joins = ""
    if gaps:
        extra_cols += (
            ", list_max(list_transform(range(1, len(ev.scan_epochs)), "
            "i -> ev.scan_epochs[i + 1] - ev.scan_epochs[i])) / 86400.0 AS max_scan_gap_days"
        )
    if quality:
        # The flag rules' verdicts at $now (registered as `current_flags`).
        ctes.append(
            "cf AS (SELECT shipment_id, count(*) AS flag_count, "
            "bool_or(code = 'invalid_number') AS f_invalid, "
            "bool_or(code = 'not_found') AS f_not_found, "
            "bool_or(code = 'label_only') AS f_label_only "
            "FROM current_flags JOIN s USING (shipment_id) GROUP BY shipment_id)"
        )
        extra_cols += (
            ", coalesce(cf.flag_count, 0) AS flag_count, CASE WHEN cf.f_invalid THEN 'invalid' "
            "WHEN cf.f_not_found THEN 'not_found' WHEN cf.f_label_only THEN 'label_only' END "
            "AS number_problem"
        )
        extra_joins += " LEFT JOIN cf USING (shipment_id)"
    ctes.append(
        "base AS (SELECT s.shipment_id, s.order_id, s.tracking_number, s.marketplace, s.store, "
        "coalesce(s.carrier, s.courier) AS carrier, s.courier, "
        # Where the parcel was first seen; without events, the post that issued a
        # UPU S10 number (its last two letters), which is usually the origin too.
        "coalesce(ev.first_event_country, CASE WHEN regexp_full_match(s.tracking_number, "
        "'[A-Z]{2}[0-9]{9}[A-Z]{2}') THEN right(s.tracking_number, 2) END) AS origin_country, "
        "s.destination_country, "
        "coalesce(t.status, ev.last_event_status, 'unknown') AS status, "
        "s.ordered_at, coalesce(s.shipped_at, s.ordered_at) AS shipped_at, "
        "s.promised_to, s.protection_ends_at, "
        "CAST(timezone(coalesce(z.zone, 'UTC'), s.promised_to) AS DATE) AS promised_date, "
        "coalesce(ev.event_count, 0) AS event_count, ev.first_event_at, ev.first_scan_at, "
        "ev.arrived_destination_at, coalesce(t.delivered_at, ev.delivered_event_at) "
        "AS delivered_at, coalesce(ev.last_event_at, t.last_event_at) AS last_event_at, "
        # The day of delivery where it happened: the scan's own offset when known.
        "CAST(CASE WHEN ev.delivered_offset_minutes IS NOT NULL THEN "
        "timezone('UTC', coalesce(t.delivered_at, ev.delivered_event_at)) "
        "+ to_minutes(ev.delivered_offset_minutes) "
        "ELSE timezone(coalesce(z.zone, 'UTC'), coalesce(t.delivered_at, ev.delivered_event_at)) "
        "END AS DATE) AS delivered_local_date, "
        "ev.last_event_description, ev.last_event_location"
        f"{extra_cols} "
        "FROM s LEFT JOIN ev USING (shipment_id) LEFT JOIN tracking_state t "
        f"USING (shipment_id) LEFT JOIN zones z USING (destination_country){extra_joins})"
    )
    plausible = (
        "(ordered_at IS NULL OR first_event_at IS NULL OR first_event_at >= ordered_at) "
        "AND (delivered_at IS NULL OR delivered_at >= shipped_at)"
    )
    derived = [
        f"{plausible} AS plausible",
        f"{_days('last_event_at', '$now::TIMESTAMPTZ')} AS days_since_last_event",
        # Compared as local dates, so a parcel delivered at 23:30 on the promised day
        # is on time wherever that day falls in UTC. A recycled number's "delivery"
        # does not count.
        "CASE WHEN promised_to IS NULL THEN NULL "
        f"WHEN delivered_at IS NOT NULL AND {plausible} "
        "THEN delivered_local_date <= promised_date "
        "WHEN promised_to < $now::TIMESTAMPTZ THEN false END AS on_time",
    ]
    if gaps:
        quiet_now = (
            f"{status_in('status', SETTLED, negate=True)} AND first_scan_at IS NOT NULL "
            f"AND {_days('last_event_at', '$now::TIMESTAMPTZ')} > $stalled_days"
        )
        derived += [
            f"CASE WHEN {status_in('status', SETTLED)} OR first_scan_at IS NULL "
            "THEN max_scan_gap_days ELSE "
            f"greatest(max_scan_gap_days, {_days('last_event_at', '$now::TIMESTAMPTZ')}) END "
            "AS max_gap_days",
            f"coalesce({quiet_now}, false) AS stalled_now",
            f"coalesce(max_scan_gap_days > $stalled_days OR ({quiet_now}), false) AS stalled_ever",
        ]
    ctes.append(f"facts AS (SELECT *, {', '.join(derived)} FROM base)")
    return "WITH " + ",\n".join(ctes) + "\n"


__all__ = [
    "BUSY_TIMEOUT",
    "Filters",
    "Source",
    "connect",
    "current_flags",
    "dispute_deadlines",
    "events",
    "flags",
    "lane_stats",
    "last_activity",
    "number_quality",
    "polls",
    "shipments",
    "store_scorecard",
    "tracking_state",
    "transit_times",
]


# ------------------------------------------------------------------ dispute cases


def cases(
    source: Source = None,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    busy_timeout: float | None = None,
    open_only: bool = False,
) -> pl.DataFrame:
    """One row per dispute case at ``now`` (:data:`analysis.cases.COLUMNS`): state,
    next action and its deadline, what was asked, offered and recovered, ``lost``
    (the order's amount less what came back, once resolved), ``days_to_resolution``;
    the same cases and actions as ``parcelproof disputes`` at that instant. Adds
    ``month`` (of the first step) and ``resolved_month``::

        >>> cases(None, open_only=True).select("order_id", "action", "due_date")  # doctest: +SKIP
    """
    at = (now or clock.now()).astimezone(UTC)
    with connect(source, busy_timeout=busy_timeout) as conn:
        frame = assess(Store(conn, None), at, _settings(settings), record=False).cases
    if frame.height == 0 and "order_id" not in frame.columns:
        from analysis.cases import CASE_SCHEMA

        frame = pl.DataFrame(schema=CASE_SCHEMA)
    if open_only:
        frame = frame.filter(pl.col("open"))
    return frame.with_columns(
        pl.col("first_step_at").dt.strftime("%Y-%m").alias("month"),
        pl.col("resolved_at").dt.strftime("%Y-%m").alias("resolved_month"),
    )


#: What :func:`case_stats` groups by.
CASE_GROUPS = ("store", "marketplace", "carrier", "month", "resolved_month")


def case_stats(
    source: Source = None,
    *,
    by: str | Sequence[str] = "store",
    now: datetime | None = None,
    settings: Settings | None = None,
    busy_timeout: float | None = None,
) -> pl.DataFrame:
    """What the cases are worth per ``by`` group (and ``currency``: amounts in different
    currencies are never added up): ``cases``, ``open``, ``resolved``, ``won``
    (refunded, partly refunded, replaced, resent), ``lost_cases`` (rejected or
    withdrawn), ``win_rate`` (won / decided), ``at_risk`` (the amount of the open
    cases not yet resolved), ``recovered``, ``lost``, ``days_to_resolution_p50``::

        >>> case_stats(None, by=["marketplace", "month"])               # doctest: +SKIP
    """
    from analysis.cases import LOST, WON

    groups = [by] if isinstance(by, str) else list(by)
    unknown = [g for g in groups if g not in CASE_GROUPS]
    if unknown:
        raise ValueError(f"cannot group cases by {unknown[0]!r}; choose from {CASE_GROUPS}")
    frame = cases(source, now=now, settings=settings, busy_timeout=busy_timeout)
    keys = [*groups, "currency"]
    won = pl.col("outcome").is_in(list(WON))
    lost = pl.col("outcome").is_in(list(LOST))
    return (
        frame.group_by(keys)
        .agg(
            pl.len().alias("cases"),
            pl.col("open").sum().alias("open"),
            pl.col("resolved_at").is_not_null().sum().alias("resolved"),
            won.sum().alias("won"),
            lost.sum().alias("lost_cases"),
            pl.col("amount").filter(pl.col("resolved_at").is_null()).sum().alias("at_risk"),
            pl.col("recovered").sum().alias("recovered"),
            pl.col("lost").sum().alias("lost"),
            pl.col("days_to_resolution").median().alias("days_to_resolution_p50"),
        )
        .with_columns(
            (pl.col("won") / (pl.col("won") + pl.col("lost_cases")))
            .fill_nan(None)
            .alias("win_rate")
        )
        .sort(["cases", *keys], descending=[True, *[False] * len(keys)], nulls_last=True)
    )


def seller_scorecard(
    source: Source = None,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    busy_timeout: float | None = None,
) -> pl.DataFrame:
    """ "Check the seller" before the next order: per store, ``orders``, ``shipments``,
    ``flagged_share`` (shipments with a flag at ``now``), ``disputes`` (cases),
    ``disputes_opened`` (cases with an ``opened`` step), ``disputes_won`` and
    ``disputes_lost`` against it, ``win_rate``, ``transit_days_p50`` (delivered
    parcels), ``dead_numbers`` (invalid, never found, or label only: as
    :func:`number_quality`) and ``dead_share``::

        >>> seller_scorecard(None).sort("flagged_share", descending=True)  # doctest: +SKIP
    """
    from analysis.cases import LOST, WON

    at = (now or clock.now()).astimezone(UTC)
    with connect(source, busy_timeout=busy_timeout) as conn:
        card = store_scorecard(conn, now=at, settings=settings)
        orders = _query(
            conn,
            "SELECT store, count(DISTINCT order_id) AS orders FROM shipments "
            "WHERE NOT archived GROUP BY store",
            {},
        )
        found = cases(conn, now=at, settings=settings)
    per_store = found.group_by("store").agg(
        pl.len().alias("disputes"),
        pl.col("opened_at").is_not_null().sum().alias("disputes_opened"),
        pl.col("outcome").is_in(list(WON)).sum().alias("disputes_won"),
        pl.col("outcome").is_in(list(LOST)).sum().alias("disputes_lost"),
    )
    out = (
        card.select(
            "store",
            "shipments",
            "flagged",
            "transit_days_p50",
            (pl.col("invalid") + pl.col("not_found") + pl.col("label_only")).alias("dead_numbers"),
        )
        .join(orders, on="store", how="left", nulls_equal=True)
        .join(per_store, on="store", how="left", nulls_equal=True)
        .with_columns(
            pl.col("disputes", "disputes_opened", "disputes_won", "disputes_lost").fill_null(0)
        )
    )
    return out.select(
        "store",
        "orders",
        "shipments",
        (pl.col("flagged") / pl.col("shipments")).alias("flagged_share"),
        "disputes",
        "disputes_opened",
        "disputes_won",
        "disputes_lost",
        (pl.col("disputes_won") / (pl.col("disputes_won") + pl.col("disputes_lost")))
        .fill_nan(None)
        .alias("win_rate"),
        "transit_days_p50",
        "dead_numbers",
        (pl.col("dead_numbers") / pl.col("shipments")).alias("dead_share"),
    ).sort(["flagged_share", "store"], descending=[True, False], nulls_last=True)
