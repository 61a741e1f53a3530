-- parcelproof schema, version 7: the current state of each shipment, defined once. The shipment
-- row, its tracking state and the latest event's digest (which tracking_state keeps,
-- migration 0002) side by side; a shipment never polled reads status 'unknown',
-- polled false, delivered false. Analysis queries read this view instead of writing
-- the same LEFT JOIN again. A view stores no data: nothing is copied or rewritten,
-- and DuckDB binds it when it is read, so later columns of either table appear in it.
CREATE VIEW shipment_current AS
SELECT s.*,
       coalesce(t.status, 'unknown') AS status,
       t.* EXCLUDE (shipment_id, status, updated_at),
       t.updated_at AS state_updated_at,
       t.last_poll_at IS NOT NULL AS polled,
       coalesce(t.status = 'delivered', false) AS delivered
FROM shipments s
LEFT JOIN tracking_state t USING (shipment_id);
