"""Writing evidence packs: one folder per shipment, files named for what they are.

A pack for order 8101203344552 / LP00123456789012 is the folder
``8101203344552-LP00123456789012/`` holding ``evidence-LP00123456789012.html``, the
same as ``.pdf``, one ``evidence-LP00123456789012-page-N.png`` per PDF page, and
``manifest.json`` (the facts in machine form plus the SHA-256 of every other file).

Folder names are unique per shipment: when an order id or number had to be changed
to make a safe file name (``EB-23/09876``, ``..``, a leading ``-``, 300 characters),
a short hash of the original pair is appended, so ``EB-23/09876`` and
``EB-23_09876`` never share a folder. A pack is written into a temporary folder
beside its final one and then renamed into place, so a killed ``report`` leaves the
old pack whole, never new files beside an old ``manifest.json``. A pack that cannot
be written is a :class:`PackFailure` naming its reason; the others are still written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from analysis.assess import Assessment
from analysis.flags import Evaluation
from analysis.reports import adapters, fmt, wording
from analysis.reports.case_pack import load_cases
from analysis.reports.facts import Event, Flag, PackFacts, Poll, load_facts
from analysis.reports.mail_notices import MailNoticeFact, load_mail_notices, mail_notices_json
from analysis.reports.render import PackView, Renderer
from collector.config import Settings
from collector.console import counting_progress
from collector.errors import ConfigError
from collector.resolve import resolve_shipments
from collector.sources.registry import is_carrier_own
from collector.store import Store

FORMATS = ("html", "pdf", "png", "json")
MANIFEST_NAME = "manifest.json"
INDEX_NAME = "index.html"
MANIFEST_SCHEMA = "parcelproof.evidence-pack/1"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Longest part (order id or number) kept in a file name; longer ones are cut and hashed.
_MAX_PART = 60

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackFailure:
    """A pack that could not be written: for which shipment, and why."""

    shipment_id: int
    order_id: str
    tracking_number: str
    reason: str

    def __str__(self) -> str:
        return f"order {self.order_id} number {self.tracking_number}: {self.reason}"


@dataclass(frozen=True)
class PackResult:
    """What :func:`write_packs` wrote for one shipment."""

    shipment_id: int
    order_id: str
    tracking_number: str
    marketplace: str
    folder: Path
    #: Every file of the pack, the manifest last (when written).
    files: tuple[Path, ...]
    flags: tuple[str, ...]
    #: The severity of each flag in ``flags`` (same order, most severe first).
    severities: tuple[str, ...]
    severity: str
    deadline: datetime | None
    status: str
    #: ``deadline`` as the destination's date, as the pack shows it (``15 Nov 2026``).
    deadline_day: str = "-"
    #: The recommended action in words ("Open the AliExpress dispute now"), if known.
    action: str | None = None

    def file(self, suffix: str) -> Path | None:
        """The first file whose name ends with ``suffix`` (``.html``, ``.pdf``...)."""
        return next((p for p in self.files if p.name.endswith(suffix)), None)

    def moved_to(self, folder: Path) -> PackResult:
        """The same pack, its files in ``folder`` (after the rename into place)."""
        return replace(self, folder=folder, files=tuple(folder / p.name for p in self.files))


@dataclass(frozen=True)
class ReportResult:
    """What :func:`make_report` did: the packs, and the index for ``--flagged``."""

    packs: list[PackResult]
    index: Path | None
    out_dir: Path
    #: The flag evaluation the packs rest on (what it raised and cleared).
    evaluation: Evaluation
    #: Lines worth telling the user (flags raised or cleared by this evaluation).
    notes: list[str] = field(default_factory=list)
    #: Packs that could not be written, each with its reason.
    failures: list[PackFailure] = field(default_factory=list)


def parse_formats(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"html,pdf"`` or ``["html", "pdf"]`` -> ``("html", "pdf")``, in canonical order.

    >>> parse_formats("png, html")
    ('html', 'png')
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    wanted = {item.strip().lower() for item in items if item.strip()}
    unknown = sorted(wanted - set(FORMATS))
    if unknown:
        raise ConfigError(
            f"unknown report format {', '.join(unknown)} (choose from {', '.join(FORMATS)})"
        )
    if not wanted:
        raise ConfigError(f"no report format given (choose from {', '.join(FORMATS)})")
    return tuple(f for f in FORMATS if f in wanted)


def resolve_ids(store: Store, ids: Sequence[str]) -> list[int]:
    """Shipment ids for order ids, tracking numbers or shipment ids (in the order
    given), by :func:`collector.resolve.resolve_shipments`.

    An order id with several numbers, or a number on several orders, gives all of
    them. Raises :class:`NotFoundError` naming every id that matches nothing, and
    :class:`collector.resolve.AmbiguousId` for an id that is one shipment's order id
    and another's tracking number.
    """
    return resolve_shipments(store, ids).shipment_ids


def flagged_ids(store: Store) -> list[int]:
    """Non-archived shipments with at least one open flag in the stored history."""
    rows = store.query(
        """
        SELECT DISTINCT s.shipment_id FROM shipments s JOIN flags f USING (shipment_id)
        WHERE f.cleared_at IS NULL AND NOT s.archived ORDER BY s.shipment_id
        """
    )
    return [int(r[0]) for r in rows]


def make_report(  # noqa: PLR0913 - keyword options of one command
    store: Store,
    ids: Sequence[str] = (),
    *,
    flagged: bool = False,
    now: datetime,
    settings: Settings,
    formats: Sequence[str] | None = None,
    out_dir: Path | None = None,
    progress: bool | None = None,
) -> ReportResult:
    """``parcelproof report``: assess at ``now`` (recorded), then write the packs.

    ``ids`` are order ids, tracking numbers or shipment ids
    (:func:`collector.resolve.resolve_shipments`); ``flagged`` adds every flagged
    parcel worth a pack (:meth:`analysis.assess.Assessment.pack_ids`) and writes
    ``index.html`` (sorted by deadline) next to the pack folders. Every pack lists
    the flags of the one assessment at ``now`` and the advice drawn from them.
    ``progress``: a bar counting the packs on stderr (None: when it is a terminal).
    """
    # Resolve before evaluating, so that a typo fails fast and writes nothing.
    resolution = resolve_shipments(store, ids) if ids else None
    shipment_ids = resolution.shipment_ids if resolution else []
    assessment = adapters.assess(store, now, settings)
    evaluation = assessment.evaluation
    assert evaluation is not None  # recorded
    notes = list(resolution.notes) if resolution else []
    if evaluation.changed:
        notes.append(
            f"flags at {fmt.utc(now)}: {evaluation.raised_count} raised, "
            f"{evaluation.cleared.height} cleared"
        )
    if not evaluation.written:
        notes.append(
            "'now' is before the latest flag evaluation: the flag history is unchanged; "
            "the packs show the flags that hold at 'now'"
        )
    if flagged:
        shipment_ids = list(dict.fromkeys([*shipment_ids, *assessment.pack_ids()]))
    target = Path(out_dir) if out_dir else settings.reports_dir(store.path)
    renderer = Renderer()
    failures: list[PackFailure] = []
    packs = write_packs(
        store,
        shipment_ids,
        now=now,
        settings=settings,
        formats=formats,
        out_dir=target,
        renderer=renderer,
        assessment=assessment,
        failures=failures,
        progress=progress,
    )
    index = write_index(packs, now=now, out_dir=target, renderer=renderer) if flagged else None
    return ReportResult(
        packs=packs,
        index=index,
        out_dir=target,
        evaluation=evaluation,
        notes=notes,
        failures=failures,
    )


def write_packs(  # noqa: PLR0913 - the documented library signature
    store: Store,
    shipment_ids: Sequence[int],
    *,
    now: datetime,
    settings: Settings,
    formats: Sequence[str] | None = None,
    out_dir: Path | str | None = None,
    renderer: Renderer | None = None,
    assessment: Assessment | None = None,
    failures: list[PackFailure] | None = None,
    progress: bool | None = False,
) -> list[PackResult]:
    """Write one evidence pack per shipment, from ``assessment`` (the flags at ``now``
    and the advice from them, :func:`analysis.assess.assess`); without one, the flag
    history as recorded at ``now`` (:func:`analysis.assess.assess_recorded`).

    With ``failures`` given, a pack that cannot be written (its facts cannot be read
    or rendered, or the disk refuses it) is appended there with its reason and the
    other packs are still written; without it the first failure is raised.
    ``progress``: a bar counting the packs on stderr (None: when it is a terminal).

    ``formats`` defaults to ``settings.reports.formats``, ``out_dir`` to
    :meth:`Settings.reports_dir` (``[reports] out_dir``, else beside the database).
    All shipments are read with one query per table, and rendered with one template environment::

        >>> write_packs(store, [3, 7], now=clock.now(), settings=settings,
        ...             formats=("html", "json"), out_dir="data/reports")  # doctest: +SKIP
        [PackResult(order_id='8101203344553', ...), PackResult(...)]
    """
    chosen = parse_formats(formats if formats is not None else settings.reports.formats)
    target = Path(out_dir) if out_dir else settings.reports_dir(store.path)
    if assessment is None:
        assessment = adapters.assess_recorded(store, now, settings, shipment_ids)
    renderer = renderer or Renderer()
    notices = load_mail_notices(store, shipment_ids)
    cases = load_cases(store, assessment, shipment_ids)
    try:
        all_facts = _facts(store, shipment_ids, now, settings, assessment)
    except Exception:
        if failures is None:
            raise
        # One shipment's values broke the batch: read them one by one to name it.
        all_facts = []
        for sid in shipment_ids:
            try:
                all_facts += _facts(store, [sid], now, settings, assessment)
            except Exception as exc:  # reported per pack, the rest go on
                failures.append(_failure(store, sid, exc))
    packs: list[PackResult] = []
    with counting_progress("evidence packs", len(all_facts), show=progress) as step:
        for facts in all_facts:
            facts.case = cases.get(facts.shipment.shipment_id)
            try:
                mail = notices.get(facts.shipment.shipment_id, [])
                packs.append(_write_one(facts, renderer, chosen, target, mail))
            except Exception as exc:
                if failures is None:
                    raise
                s = facts.shipment
                failures.append(
                    PackFailure(s.shipment_id, s.order_id, s.tracking_number, _reason(exc))
                )
            step()
    return packs


def _facts(
    store: Store,
    ids: Sequence[int],
    now: datetime,
    settings: Settings,
    assessment: Assessment,
) -> list[PackFacts]:
    disputes = adapters.dispute_windows(assessment, ids)
    return load_facts(
        store, ids, now=now, settings=settings, disputes=disputes, assessment=assessment
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"cannot write the pack: {exc.strerror}{where}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _failure(store: Store, sid: int, exc: BaseException) -> PackFailure:
    log.debug("pack of shipment %s failed", sid, exc_info=exc)
    row = store.query(
        "SELECT order_id, tracking_number FROM shipments WHERE shipment_id = ?", [sid]
    )
    order, number = (str(row[0][0]), str(row[0][1])) if row else ("?", "?")
    return PackFailure(sid, order, number, _reason(exc))


def pack_folder_name(order_id: str, tracking_number: str) -> str:
    """``<order_id>-<tracking_number>``, safe as a file name and unique per shipment.

    Anything unsafe is replaced, each part is cut to a bounded length, and a leading
    ``-`` or ``.`` is dropped; whenever that changed the name, a short hash of the
    original pair is appended so that two shipments never share a folder:

    >>> pack_folder_name("8101203344552", "LP00123456789012")
    '8101203344552-LP00123456789012'
    >>> pack_folder_name("EB-23/09876", "1Z 99")
    'EB-23_09876-1Z_99-c6d47c3dbf'
    """
    name = f"{_safe(order_id)}-{_safe(tracking_number)}"
    if name == f"{order_id}-{tracking_number}":
        return name
    return f"{name}-{_digest(order_id, tracking_number)}"


def _file_stem(tracking_number: str) -> str:
    safe = _safe(tracking_number)
    suffix = "" if safe == tracking_number else f"-{_digest(tracking_number)}"
    return f"evidence-{safe}{suffix}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:10]


def _write_one(
    facts: PackFacts,
    renderer: Renderer,
    formats: tuple[str, ...],
    out_dir: Path,
    mail_notices: list[MailNoticeFact] | None = None,
) -> PackResult:
    s = facts.shipment
    final = out_dir / pack_folder_name(s.order_id, s.tracking_number)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Everything is written into a hidden folder beside the final one, then renamed
    # into place: an interrupted write leaves the old pack whole.
    folder = out_dir / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    try:
        result = _render_into(facts, renderer, formats, folder, mail_notices)
        _swap_into_place(folder, final)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return result.moved_to(final)


def _swap_into_place(folder: Path, final: Path) -> None:
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    try:
        os.replace(folder, final)
    except BaseException:
        if old is not None:
            os.replace(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _render_into(
    facts: PackFacts,
    renderer: Renderer,
    formats: tuple[str, ...],
    folder: Path,
    mail_notices: list[MailNoticeFact] | None = None,
) -> PackResult:
    s = facts.shipment
    stem = _file_stem(s.tracking_number)
    names = {"html": f"{stem}.html", "pdf": f"{stem}.pdf"}
    view = PackView(facts=facts, version=renderer.version, generated_at=facts.now)
    view.mail_notices = mail_notices or []
    view.file_names = {k: v for k, v in names.items() if k in formats}
    html = renderer.html(view)
    written: list[Path] = []
    if "html" in formats:
        written.append(_write(folder / names["html"], html.encode("utf-8")))
    if "pdf" in formats or "png" in formats:
        pdf = renderer.pdf(html)
        if "pdf" in formats:
            written.append(_write(folder / names["pdf"], pdf))
        if "png" in formats:
            for number, png in enumerate(renderer.pngs(pdf), start=1):
                written.append(_write(folder / f"{stem}-page-{number}.png", png))
    if "json" in formats:
        manifest = build_manifest(view, written)
        data = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        written.append(_write(folder / MANIFEST_NAME, data))
    return PackResult(
        shipment_id=s.shipment_id,
        order_id=s.order_id,
        tracking_number=s.tracking_number,
        marketplace=s.marketplace,
        folder=folder,
        files=tuple(written),
        flags=tuple(facts.open_codes),
        severities=tuple(f.severity for f in facts.flags),
        severity=view.severity,
        deadline=view.deadline,
        deadline_day=view.deadline_day,
        status=s.status,
        action=wording.action_title(facts.dispute) if facts.dispute else None,
    )


def build_manifest(view: PackView, files: Sequence[Path]) -> dict[str, Any]:
    """The pack's facts in machine form, plus the SHA-256 of each file in ``files``."""
    facts = view.facts
    s = facts.shipment
    d = facts.dispute
    return {
        "schema": MANIFEST_SCHEMA,
        "tool": {"name": "parcelproof", "version": view.version},
        "generated_at": fmt.iso(view.generated_at),
        # The two clocks: the instant the facts are assessed at (--now), and the real
        # times of the requests the evidence came from (polls.requested_at).
        "assessed_at": fmt.iso(facts.now),
        "evidence_fetched_from": fmt.iso(facts.fetched_from),
        "evidence_fetched_to": fmt.iso(facts.fetched_to),
        "evaluated_at": fmt.iso(facts.now),
        "shipment": {
            "shipment_id": s.shipment_id,
            "order_id": s.order_id,
            "tracking_number": s.tracking_number,
            "tracking_number_raw": s.tracking_number_raw,
            "marketplace": s.marketplace,
            "store": s.store,
            "carrier": s.carrier,
            "courier": s.courier,
            "number_format": s.number_format,
            "number_verdict": s.number_verdict,
            "item": s.item,
            "amount": str(s.amount) if s.amount is not None else None,
            "currency": s.currency,
            "ordered_at": fmt.iso(s.ordered_at),
            "shipped_at": fmt.iso(s.shipped_at),
            "promised_from": fmt.iso(s.promised_from),
            "promised_to": fmt.iso(s.promised_to),
            "protection_ends_at": fmt.iso(s.protection_ends_at),
            "destination": {
                "country": s.destination_country,
                "postcode": s.destination_postcode,
                "city": s.destination_city,
            },
        },
        "tracking": {
            "status": s.status,
            "sub_status": s.sub_status,
            "source": s.state_source,
            "first_event_at": fmt.iso(s.first_event_at),
            "last_event_at": fmt.iso(s.last_event_at),
            "delivered_at": fmt.iso(s.delivered_at),
            "last_poll_at": fmt.iso(s.last_poll_at),
            "last_mile_number": s.last_mile_number,
            "last_mile_carrier": s.last_mile_carrier,
        },
        "headline": view.headline,
        "verdict": view.verdict,
        "flags": [_flag_json(f, view.findings.get(f.flag_id)) for f in facts.flags],
        "cleared_flags": [_flag_json(f, None) for f in facts.cleared_flags],
        "dispute": None
        if d is None
        else {
            "marketplace": d.marketplace,
            "opens_at": fmt.iso(d.opens_at),
            "deadline": fmt.iso(d.deadline),
            "last_day": fmt.iso(d.last_day),
            "opens_date": d.opens_date,
            "deadline_date": d.deadline_date,
            "last_day_date": d.last_day_date,
            "action": d.action,
            "action_detail": d.action_detail,
        },
        "deadline": fmt.iso(view.deadline),
        "events": [_event_json(e) for e in facts.events],
        "gaps": [
            {
                "start": fmt.iso(g.start),
                "end": fmt.iso(g.end),
                "days": round(g.days, 2),
                "open_ended": g.open_ended,
            }
            for g in facts.gaps
        ],
        "stalled_days": facts.stalled_days,
        "polls": [_poll_json(p) for p in facts.polls],
        "chain_head": None
        if facts.chain_head is None
        else {
            "poll_id": facts.chain_head.poll_id,
            "chain_hash": facts.chain_head.chain_hash,
            "requested_at": fmt.iso(facts.chain_head.requested_at),
            "polls_total": facts.chain_head.polls_total,
        },
        "other_orders": [
            {
                "order_id": o.order_id,
                "marketplace": o.marketplace,
                "store": o.store,
                "ordered_at": fmt.iso(o.ordered_at),
            }
            for o in facts.other_orders
        ],
        "mail_notices": mail_notices_json(view.mail_notices),
        "case": facts.case.json() if facts.case is not None else None,
        "dispute_message": view.message,
        "verify": "parcelproof --db <database> verify",
        "files": [{"name": p.name, "sha256": _sha256(p), "bytes": p.stat().st_size} for p in files],
    }


def write_index(
    packs: Sequence[PackResult],
    *,
    now: datetime,
    out_dir: Path,
    renderer: Renderer | None = None,
) -> Path:
    """``index.html``: every pack, soonest deadline first (no deadline last)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    renderer = renderer or Renderer()
    ordered = sorted(
        packs,
        key=lambda p: (p.deadline is None, p.deadline or now, p.order_id, p.tracking_number),
    )
    rows = []
    for pack in ordered:
        main = pack.file(".html") or pack.file(".pdf") or pack.file(MANIFEST_NAME)
        rows.append(
            {
                "pack": pack,
                "link": main.relative_to(out_dir).as_posix() if main else None,
                "days_left": None
                if pack.deadline is None
                else int((pack.deadline - now).total_seconds() // 86400),
                "findings": [
                    (wording.rule_for(code).title, severity)
                    for code, severity in zip(pack.flags, pack.severities, strict=True)
                ],
            }
        )
    return _write(out_dir / INDEX_NAME, renderer.index(rows, now=now).encode("utf-8"))


def _flag_json(flag: Flag, finding: str | None) -> dict[str, Any]:
    rule = wording.rule_for(flag.code)
    return {
        "code": flag.code,
        "severity": flag.severity,
        "title": rule.title,
        "since": fmt.iso(flag.since or flag.raised_at),
        "first_seen": fmt.iso(flag.raised_at),
        "confirmed_at": fmt.iso(flag.confirmed_at),
        "cleared_at": fmt.iso(flag.cleared_at),
        "threshold": flag.threshold,
        "detail": flag.detail,
        "finding": finding,
        "reason_to_dispute": flag.reason_to_dispute,
        "rule": rule.rule,
        "basis": rule.basis,
        "evidence": dict(flag.evidence),
    }


def _event_json(e: Event) -> dict[str, Any]:
    return {
        "event_key": e.event_key,
        "occurred_at": fmt.iso(e.occurred_at),
        "local_time": e.local_time,
        "utc_offset_minutes": e.utc_offset_minutes,
        "tz_known": e.tz_known,
        "status": e.status,
        "sub_status": e.sub_status,
        "raw_code": e.raw_code,
        "raw_status": e.raw_status,
        "description": e.description,
        "description_translation": e.description_translation,
        "location": e.place or None,
        "country": e.country,
        "postcode": e.postcode,
        "source": e.source,
        "carrier_own": is_carrier_own(e.source),
        "provider": e.provider,
        "first_poll_id": e.first_poll_id,
    }


def _poll_json(p: Poll) -> dict[str, Any]:
    return {
        "poll_id": p.poll_id,
        "requested_at": fmt.iso(p.requested_at),
        "source": p.source,
        "carrier_own": is_carrier_own(p.source),
        "operation": p.operation,
        "method": p.method,
        "url": p.url,
        "http_status": p.http_status,
        "outcome": p.outcome,
        "code": p.code,
        "message": p.message,
        "body_sha256": p.body_sha256,
        "body_bytes": p.body_bytes,
        "chain_hash": p.chain_hash,
    }


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text)[:_MAX_PART].strip("._-") or "unnamed"


def _write(path: Path, data: bytes) -> Path:
    # Write then rename, so a reader (or an upload) never sees half a file.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
