-- parcelproof schema, migration 0008: the last mile (issue 13.4). When a source hands a parcel over
-- (Cainiao's realMailNo/destCpInfo, 17TRACK's second provider), the last-mile
-- number and carrier are recorded here with the poll that said so, so that the
-- poller can ask the delivering carrier's own source about that number. One row per
-- (shipment, last-mile number), written once: a later answer naming another number
-- adds a row, it never rewrites one.
CREATE TABLE IF NOT EXISTS last_mile_handovers (
    shipment_id      BIGINT NOT NULL,
    last_mile_number VARCHAR NOT NULL,
    carrier_text     VARCHAR,              -- the carrier as the source named it ("USPS")
    courier          VARCHAR,              -- its courier code (usps), NULL when unknown
    source           VARCHAR NOT NULL,     -- the source that handed it over (cainiao)
    poll_id          BIGINT NOT NULL,      -- the evidence: the polls row of that answer
    seen_at          TIMESTAMPTZ NOT NULL, -- that poll's requested_at
    PRIMARY KEY (shipment_id, last_mile_number)
);
