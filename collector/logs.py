"""Logging for the command line: quiet by default, ``-v`` for every request.

Cron mails should carry only what matters, so without ``-v`` only warnings reach
stderr (retries, dropped bodies), through Python's last-resort handler. ``-v`` adds
one line per answered request and ``-vv`` the HTTP library's own debug lines. The
handler installed here carries the redacting filter, so keys and tokens are masked
in every record whichever logger wrote it::

    >>> configure_logging(0) is None
    True
"""

from __future__ import annotations

import logging
import sys

#: The handler ``configure_logging`` installed, so that a second call replaces it.
_installed: logging.Handler | None = None


def configure_logging(verbosity: int) -> logging.Handler | None:
    """Send log records to stderr at the level ``verbosity`` asks for (0, 1 or 2+).

    Returns the handler installed, or ``None`` at verbosity 0 (warnings still reach
    stderr through the last-resort handler, already redacted by the source clients).
    """
    global _installed
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
        _installed = None
    if verbosity <= 0:
        return None
    from collector.http import RedactingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
    quiet_below = logging.DEBUG if verbosity >= 2 else logging.WARNING
    for name in ("httpx", "httpcore", "asyncio", "tenacity"):
        logging.getLogger(name).setLevel(quiet_below)
    _installed = handler
    return handler
