-- parcelproof schema, version 3: a carrier event dated outside the plausible range
-- (collector/plausible.py: 2000-01-01 .. 2100-01-01 UTC; a source answering year 1 or
-- 9999) is kept as evidence but marked implausible, and the tracking state and the
-- flag rules ignore it. Derived data only: raw_documents and polls are not touched.
ALTER TABLE events ADD COLUMN implausible BOOLEAN DEFAULT false;
UPDATE events SET implausible = (occurred_at < TIMESTAMPTZ '2000-01-01 00:00:00+00'
                                 OR occurred_at >= TIMESTAMPTZ '2100-01-01 00:00:00+00')
WHERE occurred_at IS NOT NULL;
UPDATE events SET implausible = false WHERE implausible IS NULL;
