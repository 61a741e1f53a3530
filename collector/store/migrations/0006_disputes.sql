-- parcelproof schema, version 6: the dispute log. What the buyer did about an order
-- (contacted the seller, opened a dispute, escalated, ...), one row per step, append
-- only like the evidence: a step is never edited or deleted; a correction is a new
-- step whose `corrects` names the step it replaces.
CREATE SEQUENCE dispute_step_id_seq START 1;

CREATE TABLE dispute_steps (
    step_id               BIGINT PRIMARY KEY DEFAULT nextval('dispute_step_id_seq'),
    order_id              VARCHAR NOT NULL,
    step                  VARCHAR NOT NULL,   -- contacted_seller | opened | seller_replied | ...
    occurred_at           TIMESTAMPTZ NOT NULL, -- when it happened (--on; default: now)
    recorded_at           TIMESTAMPTZ NOT NULL, -- wall clock of the recording
    ask                   VARCHAR,            -- opened: refund | replacement | resend | partial_refund
    outcome               VARCHAR,            -- resolved: refunded | ... | withdrawn
    amount                DECIMAL(14, 2),     -- asked, offered or recovered
    currency              VARCHAR,
    due_at                TIMESTAMPTZ,        -- evidence_requested: the deadline it states
    note                  VARCHAR,
    pack_dir              VARCHAR,            -- --attach: the pack folder as given
    pack_manifest_sha256  VARCHAR,            -- sha256 of its manifest.json bytes
    new_tracking_number   VARCHAR,            -- resolved resent/replaced: the new parcel
    linked_shipment_id    BIGINT,             -- the shipment created for it
    corrects              BIGINT              -- the step this one replaces
);
