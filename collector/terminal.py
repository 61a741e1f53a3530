"""Data printed on a terminal (or into a cron mail) is text, never instructions to it.

Order ids, tracking numbers, carrier descriptions and file names come from outside:
an ESC or OSC sequence in them could retitle the terminal, hide lines or plant a
link, and Rich would read ``[link=file:///etc/passwd]`` as markup. Every place the
command line prints data goes through :func:`visible` (plain output) or
:func:`markup_safe` (text inside Rich markup)::

    >>> visible("LP1\\x1b]8;;file:///etc/passwd\\x07x")
    'LP1\\\\x1b]8;;file:///etc/passwd\\\\x07x'
    >>> markup_safe("[link=file:///etc/passwd]CLICKME[/link]")
    '\\\\[link=file:///etc/passwd]CLICKME\\\\[/link]'
"""

from __future__ import annotations

import re

from rich.markup import escape

# C0 controls (newline and tab too: a cell or a line must not be split by data),
# DEL, C1 controls (0x9b is a one-byte CSI), and the bidirectional overrides and
# isolates that reorder what is shown ("Trojan Source").
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: object) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\u202e``)."""
    return _CONTROL.sub(_escape_char, str(text))


def markup_safe(text: object) -> str:
    """``text`` made visible (:func:`visible`) and escaped for Rich markup."""
    return escape(visible(text))


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 row``, ``2 rows``, ``0 rows`` (``many`` for irregular words).

    >>> plural(1, "row"), plural(2, "row"), plural(2, "entry", "entries")
    ('1 row', '2 rows', '2 entries')
    """
    return f"{count} {one if count == 1 else many or one + 's'}"
