"""The two clocks: the evaluation instant and the wall clock.

:func:`now` is the instant rules are *evaluated* at: flags, dispute windows, packs and
the simulator's "as of". ``--now`` / ``PARCELPROOF_NOW`` fix it, so that an
assessment can be reproduced exactly::

    >>> set_now(parse_instant("2026-11-20T12:00:00Z"))
    >>> now().isoformat()
    '2026-11-20T12:00:00+00:00'

:func:`wall` is when something really happened: a request sent, a run started, a row
written. It is stored in the evidence (``polls.requested_at``, the hash chain, the
lock file) and ``--now`` never moves it, or a poll run with a fixed "now" would
record a fake fetch time. Tests inject a wall clock with :func:`set_wall`::

    >>> wall() > now()
    True
    >>> set_now(None)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

_override: datetime | None = None
_wall: Callable[[], datetime] | None = None


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant that carries a zone (``Z`` or an offset).

    A bare date or a local time without a zone is refused: "now" must be exact.
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 instant: {text!r}") from exc
    if value.tzinfo is None:
        raise ValueError(f"instant needs a zone (Z or +hh:mm): {text!r}")
    return value.astimezone(UTC)


def set_now(value: datetime | None) -> None:
    """Fix "now" for this process (``None`` returns to the real clock)."""
    global _override
    _override = value.astimezone(UTC) if value is not None else None


def is_fixed() -> bool:
    """Whether "now" is fixed (``--now``, ``PARCELPROOF_NOW`` or :func:`set_now`)."""
    return _override is not None or bool(os.environ.get("PARCELPROOF_NOW"))


def now() -> datetime:
    """The current instant in UTC, honouring ``--now`` and ``PARCELPROOF_NOW``."""
    if _override is not None:
        return _override
    env = os.environ.get("PARCELPROOF_NOW")
    if env:
        return parse_instant(env)
    return datetime.now(UTC)


def wall() -> datetime:
    """The real time in UTC: never ``--now``; a test may inject one (:func:`set_wall`)."""
    if _wall is not None:
        return _wall().astimezone(UTC)
    return datetime.now(UTC)


def set_wall(source: Callable[[], datetime] | None) -> None:
    """Inject a wall clock for tests (``None`` returns to the real one)."""
    global _wall
    _wall = source
