"""Geometry of the timeline chart: events against the promised window and the end of
buyer protection.

This module only computes positions and labels; the template draws them as inline
SVG (so the carrier's text in tooltips is escaped like everything else). The chart
is a fixed 1000-unit wide viewBox that scales to the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from analysis.reports import fmt
from analysis.reports.facts import PackFacts

WIDTH = 760
LEFT = 16
RIGHT = WIDTH - 16
LABEL_ROW_HEIGHT = 16
TRACK_GAP = 34
# Average advance of an 11-unit DejaVu Sans glyph (bold is wider), for overlap checks.
CHAR_WIDTH = {False: 6.9, True: 7.7}
BOLD_KINDS = frozenset({"promised", "protection", "now"})


@dataclass(frozen=True)
class Marker:
    """A vertical line at an instant, with a label above the track."""

    x: float
    label: str
    kind: str  # order | shipped | promised | protection | now
    label_y: float
    anchor: str  # start | end
    #: The label's estimated box (a white backing keeps other lines off the text).
    box_x: float = 0.0
    box_width: float = 0.0


@dataclass(frozen=True)
class Band:
    """A span on the track (the promised window, a silence)."""

    x1: float
    x2: float
    kind: str  # promised | gap
    label: str


@dataclass(frozen=True)
class Dot:
    """One tracking event."""

    x: float
    tone: str  # neutral | transit | good | bad | warn
    title: str


@dataclass(frozen=True)
class Request:
    """One poll of a source about this shipment, as a small tick above the axis."""

    x: float
    tone: str  # ok | bad | warn
    title: str


@dataclass(frozen=True)
class Tick:
    """An axis tick under the track."""

    x: float
    label: str


@dataclass
class Chart:
    """Everything the template needs to draw the chart."""

    width: int
    height: int
    left: int
    right: int
    track_y: float
    axis_y: float
    markers: list[Marker] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    description: str = ""


TONES = {
    "info_received": "neutral",
    "in_transit": "transit",
    "out_for_delivery": "transit",
    "available_for_pickup": "warn",
    "delivery_failed": "bad",
    "exception": "bad",
    "returning": "bad",
    "returned": "bad",
    "delivered": "good",
    "not_found": "neutral",
    "expired": "neutral",
    "unknown": "neutral",
}


def build_chart(facts: PackFacts) -> Chart | None:
    """The chart of one pack, or None when there is no instant to draw at all."""
    s = facts.shipment
    c = s.destination_country
    instants = [
        t
        for t in (
            s.ordered_at,
            s.shipped_at,
            s.promised_from,
            s.promised_to,
            s.protection_ends_at,
            facts.now,
            *(e.occurred_at for e in facts.events),
            *(p.requested_at for p in facts.polls),
        )
        if t is not None
    ]
    start, end = min(instants), max(instants)
    span = max(end - start, timedelta(days=7))
    start -= span * 0.03
    end = start + span * 1.06

    def x(t: datetime) -> float:
        return round(LEFT + (t - start) / (end - start) * (RIGHT - LEFT), 1)

    points: list[tuple[datetime, str, str]] = []
    if s.ordered_at:
        points.append((s.ordered_at, f"Ordered {fmt.day(s.ordered_at, c)}", "order"))
    if s.shipped_at:
        points.append((s.shipped_at, f"Shipped {fmt.day(s.shipped_at, c)}", "shipped"))
    if s.promised_to:
        points.append((s.promised_to, f"Promised by {fmt.day(s.promised_to, c)}", "promised"))
    if s.protection_ends_at:
        points.append(
            (
                s.protection_ends_at,
                f"Protection ends {fmt.day(s.protection_ends_at, c)}",
                "protection",
            )
        )
    points.append((facts.now, f"Now {fmt.day(facts.now, c)}", "now"))
    placed = _place_labels([(x(t), label, kind) for t, label, kind in sorted(points)])
    rows = max((row for *_, row in placed), default=0) + 1
    track_y = rows * LABEL_ROW_HEIGHT + TRACK_GAP
    chart = Chart(
        width=WIDTH,
        height=int(track_y + 68),
        left=LEFT,
        right=RIGHT,
        track_y=track_y,
        axis_y=track_y + 48,
    )
    for px, label, kind, anchor, row in placed:
        width = _label_width(label, kind)
        chart.markers.append(
            Marker(
                px,
                label,
                kind,
                label_y=(row + 1) * LABEL_ROW_HEIGHT - 4,
                anchor=anchor,
                box_x=px + 2 if anchor == "start" else px - 2 - width,
                box_width=width,
            )
        )
    if s.promised_from and s.promised_to:
        chart.bands.append(
            Band(x(s.promised_from), x(s.promised_to), "promised", "Promised delivery window")
        )
    for gap in facts.gaps:
        chart.bands.append(
            Band(x(gap.start), x(gap.end), "gap", f"{int(gap.days)} days without an update")
        )
    for e in facts.events:
        if e.occurred_at is None:
            continue
        what = e.description or e.raw_status or fmt.status(e.status)
        where = f" - {e.place}" if e.place else ""
        chart.dots.append(
            Dot(
                x(e.occurred_at),
                TONES.get(e.status, "neutral"),
                f"{fmt.utc(e.occurred_at)}: {fmt.status(e.status)}: {what}{where}",
            )
        )
    for p in facts.polls:
        tone = {"ok": "ok", "not_found": "bad", "invalid": "bad"}.get(p.outcome, "warn")
        chart.requests.append(
            Request(x(p.requested_at), tone, f"{fmt.utc(p.requested_at)}: {p.source}: {p.outcome}")
        )
    # Thousands of events would draw thousands of overlapping dots (megabytes of SVG):
    # one dot per pixel and tone is all the eye can see.
    chart.dots = _one_per_pixel(chart.dots, "event")
    chart.requests = _one_per_pixel(chart.requests, "request")
    # A tick label centred too close to an edge would be cut off.
    chart.ticks = [t for t in _ticks(start, end, x) if LEFT + 18 <= t.x <= RIGHT - 18]
    chart.description = _describe(facts)
    return chart


_Mark = TypeVar("_Mark", Dot, Request)


def _one_per_pixel(marks: list[_Mark], word: str) -> list[_Mark]:
    """The first mark of each (pixel, tone), its title counting the others."""
    if len(marks) <= 2 * (RIGHT - LEFT):
        return marks
    groups: dict[tuple[int, str], list[_Mark]] = {}
    for mark in marks:
        groups.setdefault((round(mark.x), mark.tone), []).append(mark)
    out = []
    for group in groups.values():
        first = group[0]
        more = f" (and {len(group) - 1} more {word}s here)" if len(group) > 1 else ""
        out.append(replace(first, title=first.title + more))
    return out


def _place_labels(
    points: list[tuple[float, str, str]],
) -> list[tuple[float, str, str, str, int]]:
    """Give each label a row so that no two labels on a row overlap.

    Labels are drawn to the right of their line, or to the left near the right edge.
    """
    taken: list[list[tuple[float, float]]] = []
    out = []
    for px, label, kind in points:
        width = _label_width(label, kind) + 6
        anchor = "start" if px + width <= WIDTH - 2 else "end"
        lo, hi = (px, px + width) if anchor == "start" else (px - width, px)
        free = [i for i, spans in enumerate(taken) if all(hi < a or lo > b for a, b in spans)]
        if free:
            row = free[0]
        else:
            taken.append([])
            row = len(taken) - 1
        taken[row].append((lo, hi))
        out.append((px, label, kind, anchor, row))
    return out


def _label_width(label: str, kind: str) -> float:
    return round(len(label) * CHAR_WIDTH[kind in BOLD_KINDS] + 4, 1)


def _ticks(start: datetime, end: datetime, x: Callable[[datetime], float]) -> list[Tick]:
    span_days = (end - start) / timedelta(days=1)
    ticks = []
    if span_days <= 50:
        # Weekly ticks on Mondays.
        t = datetime(start.year, start.month, start.day, tzinfo=UTC)
        t += timedelta(days=(7 - t.weekday()) % 7)
        while t <= end:
            ticks.append(Tick(x(t), f"{t:%d %b}".lstrip("0")))
            t += timedelta(days=7)
        return ticks
    step = 1 if span_days <= 240 else 3
    year, month = start.year, start.month
    while True:
        month += 1
        if month > 12:
            year, month = year + 1, 1
        t = datetime(year, month, 1, tzinfo=UTC)
        if t > end:
            break
        if (month - 1) % step == 0:
            label = f"{t:%b %Y}" if month == 1 or not ticks else f"{t:%b}"
            ticks.append(Tick(x(t), label))
    return ticks


def _describe(facts: PackFacts) -> str:
    # The chart's text alternative (screen readers, and the PDF's text layer).
    s = facts.shipment
    c = s.destination_country
    dated = [e for e in facts.events if e.occurred_at is not None]
    parts = [f"{fmt.plural(len(dated), 'tracking event')}"]
    if dated:
        parts.append(f"from {fmt.day(dated[0].occurred_at)} to {fmt.day(dated[-1].occurred_at)}")
    if s.promised_to:
        parts.append(f"promised by {fmt.day(s.promised_to, c)}")
    if s.protection_ends_at:
        parts.append(f"protection ends {fmt.day(s.protection_ends_at, c)}")
    return "Timeline: " + ", ".join(parts) + "."
