"""Rendering: one Jinja environment for every pack, then HTML -> PDF -> PNG pages.

The HTML is a single self-contained file (inline CSS and SVG, no script, no fetch:
a Content-Security-Policy forbids both); autoescaping is on, so any text a carrier
sends shows as text. The PDF is WeasyPrint's rendering of the same HTML with the
print stylesheet, and the PNGs are pypdfium2's renderings of the PDF's pages.
WeasyPrint and pypdfium2 are imported only when a PDF or PNG is asked for.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from itertools import islice
from typing import Any

import jinja2

from analysis.reports import fmt, wording
from analysis.reports.chart import Chart, build_chart
from analysis.reports.facts import Event, Flag, Gap, PackFacts, Poll
from analysis.reports.mail_notices import MailNoticeFact
from analysis.reports.wording import Rule
from collector.sources.registry import is_carrier_own

#: Page images: wide enough to read on a marketplace's viewer, small enough to upload.
PNG_WIDTH = 1400
PNG_MAX_BYTES = 2_000_000


def tool_version() -> str:
    """The installed parcelproof version (``0+unknown`` from a bare source tree)."""
    try:
        return version("parcelproof")
    except PackageNotFoundError:  # pragma: no cover - only outside an install
        return "0+unknown"


@dataclass(frozen=True)
class FlagView:
    """A flag with its explanation."""

    flag: Flag
    rule: Rule

    @property
    def severity_label(self) -> str:
        return wording.SEVERITY_LABELS.get(self.flag.severity, self.flag.severity.title())


@dataclass(frozen=True)
class TimelineRow:
    """A row of the timeline table: an event, or a silence between two events."""

    event: Event | None = None
    gap: Gap | None = None
    cited: bool = False
    gap_label: str = ""
    #: A row standing for this many events left out of a very long history.
    omitted: int = 0


#: A history longer than this is summarised: the first and last events, every
#: event next to a silence and every cited one in full, the rest counted (the
#: manifest and the database keep them all). Bounds the PDF to tens of pages.
TIMELINE_FULL = 300
TIMELINE_EDGE = 100
#: The provenance table shows this many requests at each end of a longer list.
POLLS_EDGE = 100
#: At most this many PNG page images per pack (the PDF has every page).
MAX_PNG_PAGES = 40
#: The latest events the reviewer's page quotes (the full timeline follows later).
REVIEWER_EVENTS = 3
#: Poll outcomes that are no answer about the parcel: the request failed.
FAILED_OUTCOMES = frozenset({"error", "rate_limited"})


def failed(poll: Poll) -> bool:
    """Whether a request got no usable answer (labelled "failed" in the provenance)."""
    return poll.outcome in FAILED_OUTCOMES


@dataclass
class PackView:
    """What the pack template reads: the facts plus their wording, computed once."""

    facts: PackFacts
    version: str
    generated_at: datetime
    file_names: dict[str, str] = field(default_factory=dict)
    #: The shipping e-mails linked to the shipment (analysis/reports/mail_notices.py).
    mail_notices: list[MailNoticeFact] = field(default_factory=list)

    @property
    def s(self) -> Any:
        return self.facts.shipment

    @cached_property
    def flags(self) -> list[FlagView]:
        return [FlagView(f, wording.rule_for(f.code)) for f in self.facts.flags]

    @cached_property
    def cleared(self) -> list[FlagView]:
        return [FlagView(f, wording.rule_for(f.code)) for f in self.facts.cleared_flags]

    @property
    def severity(self) -> str:
        """The worst open severity, or ``ok``."""
        return self.facts.flags[0].severity if self.facts.flags else "ok"

    @cached_property
    def headline(self) -> str:
        return wording.headline(self.facts)

    @cached_property
    def verdict(self) -> str:
        return wording.verdict(self.facts)

    @cached_property
    def findings(self) -> dict[int, str]:
        return {f.flag_id: wording.finding(self.facts, f) for f in self.facts.flags}

    @cached_property
    def message(self) -> str | None:
        if self.facts.case is not None:
            from analysis.reports.case_pack import case_message

            return case_message(self.facts, self.facts.case)
        return wording.dispute_message(self.facts)

    @cached_property
    def no_message_reason(self) -> str | None:
        if self.facts.case is not None and self.message is None:
            d = self.facts.dispute
            return "the case needs no message now: " + wording.sentence(
                (d.action_detail if d else None) or "nothing to do."
            )
        return wording.no_message_reason(self.facts)

    @cached_property
    def chart(self) -> Chart | None:
        return build_chart(self.facts)

    @cached_property
    def cited_events(self) -> set[str]:
        return {str(k) for f in self.facts.flags for k in f.evidence.get("event_keys", []) or []}

    @cached_property
    def cited_polls(self) -> set[int]:
        out = set()
        for f in self.facts.flags:
            for p in f.evidence.get("poll_ids", []) or []:
                try:
                    out.add(int(p))
                except (TypeError, ValueError):
                    continue
        return out

    @cached_property
    def timeline(self) -> list[TimelineRow]:
        """Events oldest first, with each long silence after the event that began it."""
        gaps = {g.start: g for g in self.facts.gaps}
        events = self.facts.events
        shown = _kept_events(events, set(gaps), self.cited_events)
        rows: list[TimelineRow] = []
        left_out = 0
        for index, event in enumerate(events):
            if shown is not None and index not in shown:
                left_out += 1
                continue
            if left_out:
                rows.append(TimelineRow(omitted=left_out))
                left_out = 0
            rows.append(TimelineRow(event=event, cited=event.event_key in self.cited_events))
            gap = gaps.pop(event.occurred_at, None) if event.occurred_at else None
            if gap is not None:
                rows.append(
                    TimelineRow(gap=gap, gap_label=wording.gap_text(gap.days, gap.open_ended))
                )
        return rows

    @cached_property
    def poll_rows(self) -> list[Poll | int]:
        """The provenance table: every request, or both ends and a count between."""
        polls = self.facts.polls
        if len(polls) <= 3 * POLLS_EDGE:
            return list(polls)
        middle = len(polls) - 2 * POLLS_EDGE
        return [*polls[:POLLS_EDGE], middle, *polls[-POLLS_EDGE:]]

    @property
    def last_event(self) -> Event | None:
        """The latest dated event (its local date is the one the carrier printed)."""
        dated = [e for e in self.facts.events if e.occurred_at is not None]
        return dated[-1] if dated else None

    @property
    def deadline(self) -> datetime | None:
        """The dispute deadline, else the end of buyer protection."""
        d = self.facts.dispute
        if d is not None and d.deadline is not None:
            return d.deadline
        return self.facts.shipment.protection_ends_at

    @property
    def deadline_day(self) -> str:
        """:attr:`deadline` as the destination's date (``15 Nov 2026``): the window's
        own ``deadline_date``, else the protection end in the destination's zone."""
        d = self.facts.dispute
        if d is not None and d.deadline is not None:
            country = self.facts.shipment.destination_country
            return (
                fmt.local_date(d.deadline_date) if d.deadline_date else fmt.day(d.deadline, country)
            )
        return fmt.day(
            self.facts.shipment.protection_ends_at, self.facts.shipment.destination_country
        )

    @property
    def days_left(self) -> int | None:
        if self.deadline is None:
            return None
        return int((self.deadline - self.facts.now).total_seconds() // 86400)

    @property
    def sources(self) -> list[str]:
        """Every source asked, the carriers' own records marked as such."""
        return [
            f"{name} (the carrier's own record)" if is_carrier_own(name) else name
            for name in sorted({p.source for p in self.facts.polls})
        ]

    @property
    def destination(self) -> str:
        return wording.destination(self.facts.shipment)

    @property
    def carrier(self) -> str:
        return wording.carrier_name(self.facts.shipment)

    def poll_cited(self, poll: Poll) -> bool:
        return poll.poll_id in self.cited_polls

    # -- the first part, for the marketplace's reviewer ------------------------------

    @cached_property
    def reviewer_statement(self) -> list[str]:
        """The buyer's statement (:func:`wording.reviewer_statement`)."""
        return wording.reviewer_statement(self.facts)

    @cached_property
    def claims(self) -> bool:
        """Whether the pack claims non-receipt (nothing stands against a claim)."""
        return wording.no_message_reason(self.facts) is None

    @cached_property
    def reviewer_facts(self) -> list[str]:
        """What the tracking shows, in plain sentences (no rule names, no advice)."""
        return wording.claim_facts(self.facts)

    @cached_property
    def tracking_links(self) -> list[tuple[str, str, str]]:
        """``(number, who, url)``: the public page of each number a reviewer can check
        (the tracking number, and the last-mile number a source handed over)."""
        from collector.numbers.detect import public_tracking_page

        s = self.facts.shipment
        numbers = [n for n in (s.tracking_number, s.last_mile_number) if n]
        return [(n, *public_tracking_page(n)) for n in dict.fromkeys(numbers)]

    @property
    def latest_events(self) -> list[Event]:
        """The last few dated events, newest first, for the reviewer's page."""
        dated = [e for e in self.facts.events if e.occurred_at is not None]
        return dated[: -REVIEWER_EVENTS - 1 : -1]

    @cached_property
    def failed_polls(self) -> int:
        """Requests that got no usable answer (an error or rate limit), kept as made."""
        return sum(1 for p in self.facts.polls if failed(p))


def _kept_events(
    events: Sequence[Event], gap_starts: set[datetime], cited: set[str]
) -> set[int] | None:
    """Indexes of the events a long timeline shows in full (None: show them all)."""
    if len(events) <= TIMELINE_FULL:
        return None
    keep = set(range(TIMELINE_EDGE)) | set(range(len(events) - TIMELINE_EDGE, len(events)))
    for index, event in enumerate(events):
        if event.event_key in cited or (event.occurred_at and event.occurred_at in gap_starts):
            keep.update((index, index + 1))  # a silence: the events either side of it
    return {i for i in keep if i < len(events)}


def make_environment() -> jinja2.Environment:
    """The one Jinja environment (templates from the package, autoescape always on)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("analysis.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        day=fmt.day,
        local_date=fmt.local_date,
        when=fmt.when,
        utc=fmt.utc,
        iso=fmt.iso,
        status=fmt.status,
        money=fmt.money,
        marketplace=fmt.marketplace,
        plural=fmt.plural,
        short_hash=fmt.short_hash,
        event_local=lambda e: fmt.event_local(e.occurred_at, e.utc_offset_minutes, e.local_time),
        event_day=lambda e: fmt.event_day(e.occurred_at, e.utc_offset_minutes),
        age=lambda then, now: wording.age(now, then),
        failed=failed,
        sentence=wording.sentence,
        action_title=wording.action_title,
        # The delivering carrier's own record (USPS's API), not an aggregator's copy.
        carrier_own=is_carrier_own,
    )
    return env


class Renderer:
    """Renders packs with one Jinja environment (and one WeasyPrint font set)."""

    def __init__(self) -> None:
        self.env = make_environment()
        self._pack = self.env.get_template("pack.html.j2")
        self._index = self.env.get_template("index.html.j2")
        self.version = tool_version()
        self._font_config: Any = None

    def html(self, view: PackView) -> str:
        """The pack as one self-contained HTML document."""
        return self._pack.render(p=view, s=view.facts.shipment, f=view.facts)

    def index(self, rows: Sequence[dict[str, Any]], *, now: datetime) -> str:
        """The summary page of flagged parcels (``rows`` sorted by deadline)."""
        return self._index.render(rows=rows, now=now, version=self.version)

    def pdf(self, html: str) -> bytes:
        """The same HTML, printed to PDF by WeasyPrint (no network access at all)."""
        import weasyprint
        from weasyprint.text.fonts import FontConfiguration

        if self._font_config is None:
            self._font_config = FontConfiguration()
        # data: only: a pack never loads anything from outside itself.
        fetcher = weasyprint.urls.URLFetcher(allowed_protocols=("data",))
        document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url="about:blank")
        pdf: bytes = document.write_pdf(font_config=self._font_config)
        return pdf

    def pngs(
        self, pdf: bytes, *, width: int = PNG_WIDTH, max_pages: int = MAX_PNG_PAGES
    ) -> list[bytes]:
        """Each page of the PDF (the first ``max_pages``) as a PNG ``width`` pixels
        wide, each under 2 MB; the PDF itself keeps every page."""
        return list(islice(render_pages(pdf, width=width), max_pages))


def render_pages(pdf: bytes, *, width: int = PNG_WIDTH) -> Iterable[bytes]:
    """PNG images of a PDF's pages (palette-reduced when a page would exceed 2 MB)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        for index in range(len(document)):
            page = document[index]
            try:
                scale = width / page.get_width()
                image = page.render(scale=scale, may_draw_forms=False).to_pil()
            finally:
                page.close()
            data = _png(image)
            if len(data) > PNG_MAX_BYTES:
                # A page dense with colour (a long chart) can exceed the limit; 256
                # colours are plenty for text and flat fills.
                data = _png(image.convert("RGB").quantize(colors=256))
            yield data
    finally:
        document.close()


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    # optimize=True makes files ~2% smaller at 4x the time: not worth it per page.
    image.save(buffer, format="PNG")
    return buffer.getvalue()
