"""The part of ``tracking_state`` that is derived from a shipment's events alone.

Besides the instants and counts (``first_event_at``, ``last_event_at``,
``event_count`` ...), ``tracking_state`` keeps a copy of the fields of two events
that flag rules describe (migration 0002): the *latest* event (``last_event_*``: what
it said, where, its poll and UTC offset) and the latest *delivery* scan
(``delivery_*``: its instant and place). The rules then read one narrow row per
shipment instead of the wide text columns of every event.

"Latest" orders events by ``(occurred_at IS NOT NULL, occurred_at, event_key)``: an
event without a time counts as older than any timed one, and equal instants are
settled by the key, so the pick is the same whichever order events were stored in.
The delivery scan prefers the delivering carrier's own record (:data:`DELIVERY_ORDER`):
events from every source share one timeline, and the carrier's scan carries the
place an aggregator's copy often lacks.

:func:`event_digest_sql` is the one definition, used by the collector's recompute
(:mod:`collector.store.evidence`), by :func:`refresh_event_digest` and by the
synthetic benchmark database::

    >>> with Store.open(":memory:") as store:                       # doctest: +SKIP
    ...     refresh_event_digest(store.conn, "shipment_id = $sid", {"sid": 7})
"""

from __future__ import annotations

from typing import Any

import duckdb

#: Event order for "latest" (see the module docstring); ``e`` is the events alias.
LATEST_ORDER = "(e.occurred_at IS NOT NULL, e.occurred_at, e.event_key)"


def _own_sources() -> str:
    """The built-in sources that are a carrier's own record, as an SQL list."""
    from collector.sources.registry import BUILTIN

    names = sorted(name for name, cls in BUILTIN.items() if cls.carrier_own)
    return "(" + ", ".join("'" + name.replace("'", "''") + "'" for name in names) + ")"


#: Order of delivery scans: the delivering carrier's own record first (a USPS
#: delivery scan with its ZIP settles "delivered" and "delivered elsewhere" over an
#: aggregator's copy of the same scan without a place), then as :data:`LATEST_ORDER`.
DELIVERY_ORDER = (
    f"(e.source IN {_own_sources()}, e.occurred_at IS NOT NULL, e.occurred_at, e.event_key)"
)

#: tracking_state columns copied from the latest event, with the events column of each.
LAST_EVENT_FIELDS = {
    "last_event_key": "event_key",
    "last_event_poll_id": "first_poll_id",
    "last_event_utc_offset": "utc_offset_minutes",
    "last_event_status": "status",
    "last_event_description": "description",
    "last_event_raw_status": "raw_status",
    "last_event_city": "city",
    "last_event_location": "location",
}

#: tracking_state columns copied from the latest delivery scan (status 'delivered').
DELIVERY_FIELDS = {
    "delivery_event_key": "event_key",
    "delivery_event_poll_id": "first_poll_id",
    "delivery_event_at": "occurred_at",
    "delivery_utc_offset": "utc_offset_minutes",
    "delivery_city": "city",
    "delivery_state": "state",
    "delivery_postcode": "postcode",
    "delivery_country": "country",
    "delivery_location": "location",
}

#: Every tracking_state column :func:`event_digest_sql` derives, in its order.
DIGEST_COLUMNS = (
    "first_event_at",
    "last_event_at",
    "event_count",
    *LAST_EVENT_FIELDS,
    *DELIVERY_FIELDS,
)


def _pick(fields: dict[str, str], order: str = LATEST_ORDER) -> str:
    packed = ", ".join(f"{column} := e.{source}" for column, source in fields.items())
    return f"arg_max(struct_pack({packed}), {order})"


def event_digest_sql(where: str = "true") -> str:
    """A SELECT of one row per shipment that has events matching ``where`` (over
    ``events e``): ``shipment_id``, the :data:`DIGEST_COLUMNS`, and
    ``last_event_sub_status``, ``first_delivered_at`` and ``own_delivered`` (a
    carrier's own source has a delivery scan), which the collector's status
    derivation uses.

    The latest event is picked once as a struct (one aggregate, not one per field),
    so every ``last_event_*`` column describes the same event, NULLs included.
    """
    last = ", ".join(f"d.last.{c} AS {c}" for c in LAST_EVENT_FIELDS)
    delivery = ", ".join(f"d.delivery.{c} AS {c}" for c in DELIVERY_FIELDS)
    return f"""
    SELECT d.shipment_id, d.first_event_at, d.last_event_at, d.event_count, {last},
           d.last.sub_status AS last_event_sub_status, {delivery}, d.first_delivered_at,
           d.own_delivered
    FROM (
        SELECT e.shipment_id,
               min(e.occurred_at) AS first_event_at,
               max(e.occurred_at) AS last_event_at,
               count(*) AS event_count,
               {_pick({**LAST_EVENT_FIELDS, "sub_status": "sub_status"})} AS last,
               {_pick(DELIVERY_FIELDS, DELIVERY_ORDER)}
                   FILTER (WHERE e.status = 'delivered') AS delivery,
               min(e.occurred_at) FILTER (WHERE e.status = 'delivered') AS first_delivered_at,
               bool_or(e.status = 'delivered' AND e.source IN {_own_sources()})
                   AS own_delivered
        FROM events e
        WHERE ({where}) AND NOT coalesce(e.implausible, false)
        GROUP BY e.shipment_id
    ) d
"""


def refresh_event_digest(
    conn: duckdb.DuckDBPyConnection, where: str = "true", params: dict[str, Any] | None = None
) -> None:
    """Recompute the :data:`DIGEST_COLUMNS` of the ``tracking_state`` rows that match
    ``where`` (over ``tracking_state``, with ``params``) from their events; a row
    without events gets NULLs and a count of 0.

    The collector does this in its own recompute; this is for rows written another
    way (test fixtures, repairs).
    """
    sets = ", ".join(
        f"{c} = coalesce(d.{c}, 0)" if c == "event_count" else f"{c} = d.{c}"
        for c in DIGEST_COLUMNS
    )
    picked = f"SELECT shipment_id FROM tracking_state WHERE {where}"
    conn.execute(
        f"""
        UPDATE tracking_state SET {sets}, input_version = nextval('input_version_seq')
        FROM (SELECT p.shipment_id, g.* EXCLUDE (shipment_id)
              FROM ({picked}) p
              LEFT JOIN ({event_digest_sql(f"e.shipment_id IN ({picked})")}) g USING (shipment_id)
        ) d
        WHERE tracking_state.shipment_id = d.shipment_id
        """,
        params or {},
    )
