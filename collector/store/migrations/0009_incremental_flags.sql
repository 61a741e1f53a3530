-- parcelproof schema, version 9: incremental flag evaluation (docs/perf-flags.md,
-- docs/architecture.md change 34). No stored row is rewritten: the flag history gains
-- columns (NULL in the rows written before), and two tables hold derived data only.
--
-- A flag's detail may say how long ago something was ("no movement for 12 days"):
-- `template` is the detail with that day count left as a marker (U+001F), counted
-- from `age_from` ('since' or 'until' it, `age_kind`) when the flag is read, so that a
-- day passing rewrites nothing; `detail` is the text as of the row's last write.
-- `began_at` is when the condition began (what readers show as "since").
ALTER TABLE flags ADD COLUMN template VARCHAR;
ALTER TABLE flags ADD COLUMN age_from TIMESTAMPTZ;
ALTER TABLE flags ADD COLUMN age_kind VARCHAR;
ALTER TABLE flags ADD COLUMN began_at TIMESTAMPTZ;

-- Every write of a shipments or tracking_state row takes a new `input_version` from
-- one sequence (collector/store writes it; inserts get it by default): what changed
-- since an evaluation is the rows with a later version, found without reading the
-- others. Rows written before this version have 0.
CREATE SEQUENCE input_version_seq START 1;
ALTER TABLE shipments ADD COLUMN input_version BIGINT DEFAULT 0;
ALTER TABLE shipments ALTER COLUMN input_version SET DEFAULT nextval('input_version_seq');
ALTER TABLE tracking_state ADD COLUMN input_version BIGINT DEFAULT 0;
ALTER TABLE tracking_state ALTER COLUMN input_version SET DEFAULT nextval('input_version_seq');

-- What the latest recorded evaluation read of each shipment: the versions of its
-- `shipments` and `tracking_state` rows (NULL: no state), its number (orders sharing
-- a number affect each other), and the next instant at which a rule's outcome could
-- change by time alone (NULL: none). A later evaluation recomputes only the shipments
-- written since, whose next instant has come, that got a new poll answer, or that
-- share a number with a shipment whose row changed.
CREATE TABLE flag_inputs (
    shipment_id       BIGINT NOT NULL,
    tracking_number   VARCHAR NOT NULL,
    shipment_version  BIGINT NOT NULL,
    state_version     BIGINT,
    next_at           TIMESTAMPTZ
);

-- At most one row: the evaluation `flag_inputs` describes. Another evaluation is
-- incremental only when it comes at or after `evaluated_at`, with the same rules and
-- thresholds (`rules_digest`), no row deleted since (`shipments`, `states`: the counts
-- then), and the flag history as that evaluation left it (`flags_watermark`,
-- `open_flags`). `version_watermark` and `poll_watermark`: the latest input version
-- and poll answer it could read.
CREATE TABLE flag_evaluation (
    evaluated_at       TIMESTAMPTZ NOT NULL,
    rules_digest       VARCHAR NOT NULL,
    version_watermark  BIGINT NOT NULL,
    poll_watermark     BIGINT NOT NULL,
    shipments          BIGINT NOT NULL,
    states             BIGINT NOT NULL,
    flags_watermark    BIGINT NOT NULL,
    open_flags         BIGINT NOT NULL
);

-- shipment_current (migration 0007) joins both tables with `*`: with an input_version
-- in each it would read two (the second renamed input_version_1). The same view,
-- the state's version named apart.
CREATE OR REPLACE VIEW shipment_current AS
SELECT s.*,
       coalesce(t.status, 'unknown') AS status,
       t.* EXCLUDE (shipment_id, status, updated_at, input_version),
       t.updated_at AS state_updated_at,
       t.input_version AS state_input_version,
       t.last_poll_at IS NOT NULL AS polled,
       coalesce(t.status = 'delivered', false) AS delivered
FROM shipments s
LEFT JOIN tracking_state t USING (shipment_id);
