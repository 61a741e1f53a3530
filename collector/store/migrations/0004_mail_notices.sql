-- parcelproof schema, version 3: shipping e-mails as evidence (`import-mail`).
-- The whole RFC 822 message is a raw_documents row (content-addressed, covered by
-- `verify`); mail_notices says what it is and what it names; a notice is linked to
-- every shipment it names (by order and tracking number, or by number alone for a
-- carrier's notice). mail_imap_seen remembers the UIDs read per IMAP folder and
-- UIDVALIDITY, so a rerun fetches only new mail.

CREATE SEQUENCE mail_notice_id_seq START 1;

CREATE TABLE mail_notices (
    notice_id         BIGINT PRIMARY KEY DEFAULT nextval('mail_notice_id_seq'),
    sha256            VARCHAR NOT NULL UNIQUE,  -- raw_documents.sha256 of the message
    source            VARCHAR NOT NULL,         -- where it was first read (no password)
    message_id        VARCHAR,
    sender            VARCHAR,
    sender_name       VARCHAR,
    subject           VARCHAR,
    sent_at           TIMESTAMPTZ,
    kind              VARCHAR NOT NULL,         -- shipped | out_for_delivery | delivered | other
    marketplace       VARCHAR,                  -- as recognised (etsy, shopify ... too)
    store             VARCHAR,
    carrier           VARCHAR,
    order_id          VARCHAR,
    tracking_numbers  VARCHAR[] NOT NULL,
    shipped_on        DATE,
    promised_from     DATE,
    promised_to       DATE,
    forwarded_from    VARCHAR,                  -- the original sender of a forward
    read_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE mail_notice_shipments (
    notice_id    BIGINT NOT NULL,
    shipment_id  BIGINT NOT NULL,
    linked_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (notice_id, shipment_id)
);

CREATE TABLE mail_imap_seen (
    mailbox      VARCHAR NOT NULL,   -- imaps://user@host:port/FOLDER
    uidvalidity  BIGINT NOT NULL,
    uid          BIGINT NOT NULL,
    seen_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
