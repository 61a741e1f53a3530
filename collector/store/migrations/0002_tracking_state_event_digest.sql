-- parcelproof schema, version 2: tracking_state keeps a copy of the fields of the two
-- events that flag rules describe, so that evaluating flags reads one narrow row per
-- shipment instead of the wide text columns of every event (docs/perf-flags.md).
-- Derived data only: raw_documents, polls and events are not touched.
--
-- "Latest" orders events by (occurred_at IS NOT NULL, occurred_at, event_key): an
-- event without a time is older than any timed one, equal instants are settled by
-- the key. The collector maintains these columns with the same definition
-- (collector/store/state.py::event_digest_sql).

-- The latest event (last_event_key names it).
ALTER TABLE tracking_state ADD COLUMN last_event_poll_id BIGINT;
ALTER TABLE tracking_state ADD COLUMN last_event_utc_offset INTEGER;
ALTER TABLE tracking_state ADD COLUMN last_event_status VARCHAR;
ALTER TABLE tracking_state ADD COLUMN last_event_description VARCHAR;
ALTER TABLE tracking_state ADD COLUMN last_event_raw_status VARCHAR;
ALTER TABLE tracking_state ADD COLUMN last_event_city VARCHAR;
ALTER TABLE tracking_state ADD COLUMN last_event_location VARCHAR;
-- The latest delivery scan (an event with status 'delivered'), whatever the status now.
ALTER TABLE tracking_state ADD COLUMN delivery_event_key VARCHAR;
ALTER TABLE tracking_state ADD COLUMN delivery_event_poll_id BIGINT;
ALTER TABLE tracking_state ADD COLUMN delivery_event_at TIMESTAMPTZ;
ALTER TABLE tracking_state ADD COLUMN delivery_utc_offset INTEGER;
ALTER TABLE tracking_state ADD COLUMN delivery_city VARCHAR;
ALTER TABLE tracking_state ADD COLUMN delivery_state VARCHAR;
ALTER TABLE tracking_state ADD COLUMN delivery_postcode VARCHAR;
ALTER TABLE tracking_state ADD COLUMN delivery_country VARCHAR;
ALTER TABLE tracking_state ADD COLUMN delivery_location VARCHAR;

-- Backfill from the stored events (last_event_key too, with the order above).
UPDATE tracking_state SET
    last_event_key = d.last.k,
    last_event_poll_id = d.last.poll,
    last_event_utc_offset = d.last.utc_offset,
    last_event_status = d.last.status,
    last_event_description = d.last.description,
    last_event_raw_status = d.last.raw_status,
    last_event_city = d.last.city,
    last_event_location = d.last.location,
    delivery_event_key = d.delivery.k,
    delivery_event_poll_id = d.delivery.poll,
    delivery_event_at = d.delivery.at,
    delivery_utc_offset = d.delivery.utc_offset,
    delivery_city = d.delivery.city,
    delivery_state = d.delivery.state,
    delivery_postcode = d.delivery.postcode,
    delivery_country = d.delivery.country,
    delivery_location = d.delivery.location
FROM (
    SELECT e.shipment_id,
           arg_max(struct_pack(k := e.event_key, poll := e.first_poll_id,
                               utc_offset := e.utc_offset_minutes, status := e.status,
                               description := e.description, raw_status := e.raw_status,
                               city := e.city, location := e.location),
                   (e.occurred_at IS NOT NULL, e.occurred_at, e.event_key)) AS last,
           arg_max(struct_pack(k := e.event_key, poll := e.first_poll_id, at := e.occurred_at,
                               utc_offset := e.utc_offset_minutes, city := e.city,
                               state := e.state, postcode := e.postcode, country := e.country,
                               location := e.location),
                   (e.occurred_at IS NOT NULL, e.occurred_at, e.event_key))
               FILTER (WHERE e.status = 'delivered') AS delivery
    FROM events e
    GROUP BY e.shipment_id
) d
WHERE tracking_state.shipment_id = d.shipment_id;
