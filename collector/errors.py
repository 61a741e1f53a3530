"""The one exception tree of parcelproof.

Every error the library raises on purpose derives from :class:`ParcelproofError`.
Commands turn these into a message and an exit code; retry code asks
``exc.transient`` instead of matching on types::

    ParcelproofError
    ├── ConfigError                 bad or unreadable parcelproof.toml (exit 2)
    ├── StoreError                  the DuckDB file cannot be used
    │   ├── SchemaTooNew            written by a newer parcelproof; refused
    │   ├── DatabaseBusy            another process holds the file (transient)
    │   ├── DatabaseDamaged         the file itself is corrupt (verify: exit 3)
    │   └── NoRoomForEvidence       too little free disk to store answers: not polled
    ├── LockHeld                    another `poll` holds the poll lock (exit 75)
    ├── ImportFileError             the import file as a whole is unusable (exit 2)
    ├── MailSourceError             a mail source cannot be opened or read (exit 2)
    ├── NotFoundError               an id or number names no shipment
    ├── NothingToTrack              `run` found no database or no shipment (exit 1)
    ├── DisputeStepError            a dispute step refused: bad option or order (exit 2)
    └── SourceError                 talking to a tracking source went wrong
        ├── SourceUnavailable       timeouts, connection errors, 5xx (transient)
        ├── RateLimited             HTTP 429 or a per-second limit (transient)
        ├── QuotaExhausted          daily/monthly quota used up: stop the source
        ├── SourceRejected          401/403, bad key, malformed answer (terminal)
        └── ResponseTooLarge        a body over max_body_bytes (this request only)

What a carrier *says* ("not found", "invalid number") is data, not an exception:
parsers return it as an outcome and it is stored as evidence.
"""

from __future__ import annotations


class ParcelproofError(Exception):
    """Base class of every error raised on purpose by parcelproof."""

    #: Whether retrying the same operation later may succeed.
    transient: bool = False
    #: Exit code a command should use when this error ends it.
    exit_code: int = 1


class ConfigError(ParcelproofError):
    """The configuration is unreadable or invalid; the message names the key."""

    exit_code = 2


class StoreError(ParcelproofError):
    """The database cannot be opened or used."""

    exit_code = 2


class NoRoomForEvidence(StoreError):
    """The disk under the database has too little room to keep what a poll fetches.

    Raised before any request is sent: an answer that cannot be stored is not asked
    for (it would spend a quota and be lost).
    """


class SchemaTooNew(StoreError):
    """The database was written by a newer parcelproof than this one."""


class DatabaseBusy(StoreError):
    """Another process holds the DuckDB file (DuckDB allows one writer process)."""

    transient = True
    exit_code = 75


class DatabaseDamaged(StoreError):
    """The database file itself cannot be read (a damaged block, not a DuckDB file).

    Not evidence tampering: the file is broken below the level ``verify`` checks.
    """

    exit_code = 3


class LockHeld(ParcelproofError):
    """Another ``poll`` holds the poll lock."""

    transient = True
    exit_code = 75


class ImportFileError(ParcelproofError):
    """An import file is unusable as a whole (not CSV/JSON, empty, missing columns)."""

    exit_code = 2


class MailSourceError(ParcelproofError):
    """A mail source (file, folder, mbox, Maildir, IMAP folder) cannot be read."""

    exit_code = 2


class NotFoundError(ParcelproofError):
    """An order id or tracking number names no shipment."""


class NothingToTrack(ParcelproofError):
    """``run`` has no shipment to track: no database yet, or none but archived ones."""


class DisputeStepError(ParcelproofError):
    """A dispute step cannot be recorded as given; the message names the bad input."""

    exit_code = 2


class SourceError(ParcelproofError):
    """A tracking source could not be used for a request."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source


class SourceUnavailable(SourceError):
    """Timeout, connection error or 5xx: worth retrying."""

    transient = True


class RateLimited(SourceError):
    """The source answered 429; ``retry_after`` is its hint in seconds, if any."""

    transient = True

    def __init__(self, source: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(source, message)
        self.retry_after = retry_after


class QuotaExhausted(SourceError):
    """The source's quota is used up; stop using it for this run."""


class SourceRejected(SourceError):
    """The source refused the request for good (bad key, forbidden, bad request)."""


class ResponseTooLarge(SourceError):
    """A response body went over ``max_body_bytes``; it was dropped, not stored."""
