-- parcelproof schema, version 1. Released migrations are never edited: add a new file.
-- All instants are TIMESTAMPTZ stored in UTC (the connection's TimeZone is UTC).

CREATE SEQUENCE shipment_id_seq START 1;
CREATE SEQUENCE poll_id_seq START 1;
CREATE SEQUENCE flag_id_seq START 1;

-- One row per (order_id, tracking_number).
CREATE TABLE shipments (
    shipment_id          BIGINT PRIMARY KEY DEFAULT nextval('shipment_id_seq'),
    order_id             VARCHAR NOT NULL,
    tracking_number      VARCHAR NOT NULL,      -- normalised
    tracking_number_raw  VARCHAR,               -- as imported
    marketplace          VARCHAR NOT NULL DEFAULT 'aliexpress',
    store                VARCHAR,
    carrier              VARCHAR,               -- declared by the seller
    courier              VARCHAR,               -- detected courier_code
    number_format        VARCHAR,               -- detected format id (or name)
    number_verdict       VARCHAR,               -- valid | weak | invalid | unknown
    number_reason        VARCHAR,
    carrier_mismatch     BOOLEAN,               -- declared carrier cannot issue this format
    ordered_at           TIMESTAMPTZ,
    shipped_at           TIMESTAMPTZ,
    promised_from        TIMESTAMPTZ,
    promised_to          TIMESTAMPTZ,
    protection_ends_at   TIMESTAMPTZ,
    destination_country  VARCHAR,
    destination_postcode VARCHAR,
    destination_city     VARCHAR,
    item                 VARCHAR,
    amount               DECIMAL(14, 2),
    currency             VARCHAR,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    archived             BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (order_id, tracking_number)
);

-- Earlier versions of a shipment row, kept when a re-import changes it.
CREATE TABLE shipment_history (
    shipment_id  BIGINT NOT NULL,
    replaced_at  TIMESTAMPTZ NOT NULL,
    previous     JSON NOT NULL
);

-- Content-addressed evidence: every response body as received, stored once.
CREATE TABLE raw_documents (
    sha256         VARCHAR PRIMARY KEY,   -- of the body as received
    content_type   VARCHAR,
    byte_length    BIGINT NOT NULL,       -- of the body as received
    compression    VARCHAR NOT NULL,      -- zlib | none
    stored_sha256  VARCHAR NOT NULL,      -- of `body` as stored (detects any byte change)
    body           BLOB NOT NULL,
    first_seen_at  TIMESTAMPTZ NOT NULL
);

-- One row per request to a source, hash-chained in poll_id order.
CREATE TABLE polls (
    poll_id        BIGINT PRIMARY KEY,
    run_id         VARCHAR NOT NULL,
    requested_at   TIMESTAMPTZ NOT NULL,
    source         VARCHAR NOT NULL,
    operation      VARCHAR NOT NULL,      -- e.g. register, gettrackinfo, detail
    method         VARCHAR NOT NULL,
    url            VARCHAR NOT NULL,      -- redacted
    request_sha256 VARCHAR,               -- of the request body sent
    numbers        VARCHAR[] NOT NULL,    -- tracking numbers asked for
    http_status    INTEGER,
    duration_ms    DOUBLE,
    outcome        VARCHAR NOT NULL,      -- ok | not_found | invalid | rate_limited | error
    error          VARCHAR,
    body_sha256    VARCHAR,               -- raw_documents.sha256, null when no body
    chain_hash     VARCHAR NOT NULL       -- sha256(previous chain_hash + canonical row)
);

-- What one poll said about one shipment.
CREATE TABLE poll_results (
    poll_id          BIGINT NOT NULL,
    shipment_id      BIGINT NOT NULL,
    tracking_number  VARCHAR NOT NULL,
    outcome          VARCHAR NOT NULL,    -- ok | not_found | invalid | rate_limited | error
    code             VARCHAR,             -- the source's own code (e.g. -18019902)
    message          VARCHAR
);

-- Which numbers a source has registered (17TRACK needs /register before polling).
CREATE TABLE source_registrations (
    source           VARCHAR NOT NULL,
    tracking_number  VARCHAR NOT NULL,
    registered_at    TIMESTAMPTZ NOT NULL,
    poll_id          BIGINT,
    PRIMARY KEY (source, tracking_number)
);

-- Normalised tracking events, de-duplicated on (shipment_id, event_key).
CREATE TABLE events (
    shipment_id      BIGINT NOT NULL,
    event_key        VARCHAR NOT NULL,    -- hash of instant, normalised description, location
    occurred_at      TIMESTAMPTZ,         -- UTC instant
    local_time       VARCHAR,             -- the source's local time text
    utc_offset_minutes INTEGER,           -- offset of local_time, when known
    tz_known         BOOLEAN NOT NULL,
    status           VARCHAR NOT NULL,    -- canonical status
    sub_status       VARCHAR,
    raw_code         VARCHAR,
    raw_status       VARCHAR,
    description      VARCHAR,
    location         VARCHAR,
    city             VARCHAR,
    state            VARCHAR,
    postcode         VARCHAR,
    country          VARCHAR,             -- ISO 3166 alpha-2 when known
    source           VARCHAR NOT NULL,
    provider         VARCHAR,             -- carrier named by an aggregator
    first_poll_id    BIGINT NOT NULL,
    recorded_at      TIMESTAMPTZ NOT NULL
);

-- Derived after each poll: the current picture of one shipment.
CREATE TABLE tracking_state (
    shipment_id            BIGINT PRIMARY KEY,
    status                 VARCHAR NOT NULL,
    sub_status             VARCHAR,
    source                 VARCHAR,
    source_status_raw      VARCHAR,
    first_event_at         TIMESTAMPTZ,
    last_event_at          TIMESTAMPTZ,
    last_event_key         VARCHAR,
    delivered_at           TIMESTAMPTZ,
    event_count            INTEGER NOT NULL DEFAULT 0,
    last_poll_at           TIMESTAMPTZ,
    last_poll_id           BIGINT,
    last_outcome           VARCHAR,
    next_poll_at           TIMESTAMPTZ,
    consecutive_not_found  INTEGER NOT NULL DEFAULT 0,
    ever_found             BOOLEAN NOT NULL DEFAULT false,
    last_mile_number       VARCHAR,
    last_mile_carrier      VARCHAR,
    estimated_from         TIMESTAMPTZ,
    estimated_to           TIMESTAMPTZ,
    updated_at             TIMESTAMPTZ NOT NULL
);

-- Flag history: a cleared flag is kept with cleared_at.
CREATE TABLE flags (
    flag_id       BIGINT PRIMARY KEY DEFAULT nextval('flag_id_seq'),
    shipment_id   BIGINT NOT NULL,
    code          VARCHAR NOT NULL,
    severity      VARCHAR NOT NULL,       -- info | warning | critical
    raised_at     TIMESTAMPTZ NOT NULL,
    confirmed_at  TIMESTAMPTZ NOT NULL,
    cleared_at    TIMESTAMPTZ,
    threshold     VARCHAR,                -- the rule's parameter, e.g. "stalled_days=10"
    detail        VARCHAR NOT NULL,
    evidence      JSON                    -- {"event_keys": [...], "poll_ids": [...]}
);

-- Bookkeeping of runs (for `run` to report what changed since the last one).
CREATE TABLE runs (
    run_id       VARCHAR PRIMARY KEY,
    command      VARCHAR NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    summary      JSON
);
