"""Evidence packs: what a buyer attaches to an "item not received" dispute.

A pack states, for one shipment: a plain-language verdict, the order, the flags
with the rule behind each, the dispute deadline and recommended action, the full
tracking timeline (long silences marked) and a chart of it, every request made to a
tracking source with the SHA-256 of its answer and the head of the hash chain, and a
message the buyer can paste. It is written as one self-contained HTML file, a PDF
of the same page, PNG images of the PDF's pages, and a JSON manifest of the facts
and of every file's hash.

    >>> from analysis.reports import make_report, write_packs   # doctest: +SKIP

Only this package imports Jinja2, WeasyPrint and pypdfium2 (the last two only when
a PDF or PNG is asked for); the collector never loads them.
"""

from __future__ import annotations

from analysis.reports.packs import (
    FORMATS,
    PackResult,
    ReportResult,
    flagged_ids,
    make_report,
    parse_formats,
    resolve_ids,
    write_index,
    write_packs,
)

__all__ = [
    "FORMATS",
    "PackResult",
    "ReportResult",
    "flagged_ids",
    "make_report",
    "parse_formats",
    "resolve_ids",
    "write_index",
    "write_packs",
]
