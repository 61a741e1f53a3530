"""Output of ``parcelproof check``: JSON lines and a readable table.

Kept here, beside the engine, so that the command itself only parses arguments::

    >>> from collector.numbers import detect
    >>> print(json_line(detect("RB123456785GB"))[:60])
    {"input": "RB123456785GB", "number": "RB123456785GB", "valid
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from collector.numbers.detect import Detection
from collector.terminal import visible

__all__ = ["json_line", "read_numbers", "table"]

_STYLE = {"valid": "green", "weak": "yellow", "invalid": "bold red", "unknown": "red"}
# Decoded fields worth a column in the table, in this order, with their labels.
_DETAILS = (
    ("operator", "operator"),
    ("country", "country"),
    ("service_type_name", "service"),
    ("shipper_id", "shipper"),
    ("destination_zip", "to ZIP"),
    ("container_type_name", "container"),
    ("application_identifier_name", "label"),
)


def json_line(detection: Detection) -> str:
    """One ``check --json`` line (see ARCHITECTURE.md; extra keys after the contract's)."""
    return json.dumps(detection.to_json(), ensure_ascii=False)


def read_numbers(arguments: Sequence[str], stdin: TextIO) -> Iterator[str]:
    """The numbers to check, in order: each argument, and for ``-`` the lines of stdin.

    Blank lines are skipped; ``-`` given twice reads stdin once.

    >>> import io
    >>> list(read_numbers(["A1", "-", "B2"], io.StringIO("x\\n\\n y \\n")))
    ['A1', 'x', 'y', 'B2']
    """
    used_stdin = False
    for argument in arguments:
        if argument != "-":
            yield argument
        elif not used_stdin:
            used_stdin = True
            for line in stdin:
                if line.strip():
                    yield line.strip()


def _details(detection: Detection) -> Text:
    if detection.verdict == "valid":
        decoded = detection.decoded
        parts = [f"{label}: {decoded[key]}" for key, label in _DETAILS if decoded.get(key)]
        return Text(visible("; ".join(parts)))
    return Text(visible(detection.reason or ""), style=_STYLE[detection.verdict])


def table(detections: Iterable[Detection], console: Console | None = None) -> Table:
    """A rich table of detections (printed on ``console`` when one is given).

    One row per number: the number (and the input, where normalising changed it),
    the verdict, the courier code and format name, and the decoded details of a
    valid number or the reason for any other verdict.

    >>> from collector.numbers import detect
    >>> table([detect("RB123456785GB"), detect("nope")]).row_count
    2
    """
    grid = Table(header_style="bold", expand=False)
    grid.add_column("number", no_wrap=True)
    grid.add_column("verdict", no_wrap=True)
    grid.add_column("courier", no_wrap=True)
    grid.add_column("format")
    grid.add_column("details / reason", ratio=1)
    for d in detections:
        best = d.best
        number = Text(visible(d.number or "(empty)"))
        if d.input.strip() != d.number:
            number.append(f"\n{visible(d.input.strip())}", style="dim")
        grid.add_row(
            number,
            Text(d.verdict, style=_STYLE[d.verdict]),
            best.courier if best else "-",
            best.format_name if best else "-",
            _details(d),
        )
    if console is not None:
        console.print(grid)
    return grid
