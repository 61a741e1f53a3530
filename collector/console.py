"""Consoles for terminals and for everything else (cron mail, pipes, test runners).

On a terminal, Rich lays tables and messages out to the window's width. Anywhere
else nothing may wrap or truncate, whatever ``COLUMNS`` says or how long a path is:
a line cut in two breaks ``grep``, and a folded number is a wrong number. So a
console whose output is not a terminal has no width limit::

    >>> import io
    >>> out = io.StringIO()
    >>> make_console(file=out).print("x" * 300)
    >>> len(out.getvalue().splitlines()[0])
    300
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, ConsoleDimensions

#: The width a console pretends to have when its output is not a terminal: wide
#: enough that no table or message is ever folded.
UNBOUNDED_WIDTH = 1_000_000


class _Console(Console):
    """A Rich console that never wraps when its output is not a terminal.

    The terminal check happens at each print, so a console made at import time
    still does the right thing when the output is redirected later (click's test
    runner swaps ``sys.stdout``).
    """

    @property
    def size(self) -> ConsoleDimensions:
        if not self.is_terminal:
            return ConsoleDimensions(UNBOUNDED_WIDTH, super().size.height)
        return super().size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        width, height = new_size
        self._width = width
        self._height = height


def make_console(*, stderr: bool = False, **options: Any) -> Console:
    """A console for stdout (or stderr) that wraps only on a terminal.

    ``highlight`` is off: Rich's highlighter would colour numbers inside tracking
    numbers and order ids as if they were code.
    """
    options.setdefault("highlight", False)
    return _Console(stderr=stderr, **options)


@contextmanager
def counting_progress(
    label: str, total: int, *, show: bool | None = None
) -> Iterator[Callable[[], None]]:
    """A bar on stderr counting ``total`` steps of long work; yields ``step()``.

    ``show`` None: only when stderr is a terminal (never in cron mail or a pipe),
    and only for more than one step::

        with counting_progress("evidence packs", len(ids)) as step:
            for i in ids:
                ...
                step()
    """
    visible = sys.stderr.isatty() if show is None else show
    if not visible or total < 1:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=make_console(stderr=True),
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)
