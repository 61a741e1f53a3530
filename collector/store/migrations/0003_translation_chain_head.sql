-- parcelproof schema, version 3.
--
-- An event keeps an English rendering of its text beside the original (17TRACK's
-- description_translation). Derived data only: raw_documents and polls are not
-- touched; `parcelproof rebuild` fills the column for events stored before this
-- version from their raw documents.
ALTER TABLE events ADD COLUMN description_translation VARCHAR;

-- Each poll run records the head of the poll chain when it finished (the last
-- poll_id and its chain_hash), so that `verify` notices polls deleted from the end
-- of the log, which the chain alone cannot show. Runs before this version have none.
ALTER TABLE runs ADD COLUMN chain_poll_id BIGINT;
ALTER TABLE runs ADD COLUMN chain_hash VARCHAR;
