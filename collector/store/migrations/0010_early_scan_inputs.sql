-- parcelproof schema, version 10: what `scan_before_order` read, kept for the next
-- evaluation (docs/perf-flags.md; docs/architecture.md change 47). Derived data only:
-- no stored row is rewritten.
--
-- The rule lists every scan before the order, so it read `events` (a scan of the
-- whole table, for the ~50 shipments of a cron run). An evaluation now keeps the
-- early scans it found, and the next one reads only the events that arrived since
-- (a later poll's, found by `first_poll_id` without reading the others) of a
-- shipment whose row did not change and whose event count adds up; any other
-- shipment's events are read again.

-- tracking_state.event_count when the evaluation read the shipment (NULL: no state).
ALTER TABLE flag_inputs ADD COLUMN state_events BIGINT;

-- The plausible events before the order (`scan_before_order_hours`, the unknown-zone
-- slack) of the shipments the latest evaluation evaluated, as `events` held them.
CREATE TABLE flag_early_events (
    shipment_id         BIGINT NOT NULL,
    event_key           VARCHAR NOT NULL,
    first_poll_id       BIGINT NOT NULL,
    occurred_at         TIMESTAMPTZ NOT NULL,
    utc_offset_minutes  INTEGER,
    tz_known            BOOLEAN NOT NULL,
    description         VARCHAR,
    raw_status          VARCHAR,
    status              VARCHAR NOT NULL,
    city                VARCHAR,
    location            VARCHAR
);
