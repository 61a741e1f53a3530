-- parcelproof schema, version 3: an event keeps an English rendering of its text
-- beside the original (17TRACK's description_translation). Derived data only:
-- raw_documents and polls are not touched; `parcelproof rebuild` fills the column
-- for events stored before this version from their raw documents.
ALTER TABLE events ADD COLUMN description_translation VARCHAR;
