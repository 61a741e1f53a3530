"""``parcelproof run``: the cron one-liner (read mail, poll, evaluate flags, write packs).

One run first reads new shipping e-mails from the ``[mail]`` sources
(:func:`collector.intake.mail.import_mail`, when any is configured), then polls the
due shipments (:func:`collector.poll.poll_store`), evaluates every flag rule at "now",
writes evidence packs for the shipments that gained a flag since the last run and
are worth a pack (:meth:`analysis.assess.Assessment.pack_ids`), records itself in
``runs`` and says what changed since the previous ``run``: flags raised and cleared
(also by a ``flags``/``status``/``report`` in between), so that a cron mail is short
and useful. All of it happens under one poll lock on one open store::

    result = run_once(Path("data/parcelproof.duckdb"), load_settings(), now=None)
    print("\\n".join(result.lines(quiet=True)))
    sys.exit(result.exit_code)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from analysis.assess import Assessment, assess
from analysis.flags import SEVERITY_RANK, Evaluation
from analysis.rules.sql import history_detail
from collector import clock
from collector.config import Settings
from collector.errors import ConfigError, NothingToTrack
from collector.http import Transport
from collector.paths import config_candidates
from collector.poll import PollReport, poll_store
from collector.poll_lock import PollLock
from collector.store import Store
from collector.store.flag_writes import RunRecord, record_run
from collector.terminal import plural

if TYPE_CHECKING:
    from collector.intake.mail import MailImportResult

_CHANGES_SQL = f"""
SELECT f.flag_id, f.shipment_id, s.order_id, s.tracking_number, s.archived, f.code,
       f.severity, f.raised_at, f.cleared_at, {history_detail()} AS detail,
       CASE WHEN f.cleared_at IS NOT NULL
                 AND f.cleared_at > coalesce($since::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ)
                 AND f.cleared_at <= $now THEN 'cleared' ELSE 'raised' END AS change
FROM flags f JOIN shipments s USING (shipment_id)
WHERE (f.raised_at > coalesce($since::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ)
       AND f.raised_at <= $now)
   OR (f.cleared_at > coalesce($since::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ)
       AND f.cleared_at <= $now)
ORDER BY s.order_id, s.tracking_number, f.flag_id
"""


@dataclass
class RunResult:
    """What one ``run`` did and found."""

    run_id: str
    poll: PollReport
    evaluation: Evaluation
    #: When the previous ``run`` evaluated (None for the first run).
    since: datetime | None
    #: Flag rows raised or cleared since then (``change`` is "raised" or "cleared").
    changes: pl.DataFrame
    #: Folders of the packs written for shipments newly flagged.
    packs: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: What the ``[mail]`` sources gave (None when none is configured).
    mail: MailImportResult | None = None
    #: Packs that could not be written, each named with its reason.
    pack_failures: list[str] = field(default_factory=list)
    #: Whether an alert was due (``[alerts]``), and the deliveries that failed.
    alerted: bool = False
    alert_failures: list[str] = field(default_factory=list)
    #: Every open case deadline that is close (:func:`analysis.cases.due_soon`).
    case_deadlines: list[str] = field(default_factory=list)
    #: Those of them that a previous run has not told today (printed by ``--quiet``).
    case_reminders: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The poll's exit code (0 ok, 1 some source or a mail source failed, or a pack)."""
        mail_failed = self.mail is not None and self.mail.exit_code != 0
        failed = mail_failed or self.pack_failures or self.alert_failures
        return max(self.poll.exit_code, 1 if failed else 0)

    @property
    def raised(self) -> pl.DataFrame:
        """Flags raised since the previous run (and still shown: open or cleared since)."""
        return self.changes.filter(pl.col("change") == "raised")

    @property
    def cleared(self) -> pl.DataFrame:
        """Flags cleared since the previous run."""
        return self.changes.filter(pl.col("change") == "cleared")

    def lines(self, *, quiet: bool = False) -> list[str]:
        """The text a cron mail carries; ``quiet`` keeps only the changes (maybe none)."""
        out: list[str] = []
        if not quiet and self.mail is not None:
            out.append(f"mail: {self.mail.summary()}")
        if not quiet:
            out += [f"poll: {line}" for line in self.poll.summary_lines()]
            since = f"since the last run ({self.since:%Y-%m-%d %H:%M} UTC)" if self.since else ""
            out.append(
                f"flags: {self.raised.height} raised, {self.cleared.height} cleared "
                f"{since or 'in this first run'}; "
                f"{self.evaluation.open_flags} open on "
                f"{plural(self.evaluation.open_shipments, 'shipment')}"
            )
        out += self.case_deadlines if not quiet else self.case_reminders
        for row in self.changes.iter_rows(named=True):
            sign = "+" if row["change"] == "raised" else "-"
            what = row["change"] if row["change"] == "cleared" else row["severity"]
            out.append(
                f"{sign} {row['order_id']} {row['tracking_number']} {row['code']} ({what}): "
                f"{row['detail']}"
            )
        if not quiet:
            out += [f"pack: {path}" for path in self.packs]
            if self.packs or self.pack_failures:
                failed = f", {len(self.pack_failures)} not written" if self.pack_failures else ""
                out.append(f"packs: {plural(len(self.packs), 'evidence pack')} written{failed}")
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"error: {f}" for f in self.pack_failures]
        out += [f"error: {f}" for f in self.alert_failures]
        return out

    def summary(self) -> dict[str, Any]:
        """What is stored in ``runs.summary``."""
        return {
            "evaluated_at": self.evaluation.now.isoformat(),
            "poll": self.poll.as_dict() | {"run_id": self.poll.run_id},
            "raised": self.raised.height,
            "cleared": self.cleared.height,
            "open": self.evaluation.open_flags,
            "packs": [str(p) for p in self.packs],
            "warnings": self.warnings,
            "pack_failures": self.pack_failures,
            "alerted": self.alerted,
            "alert_failures": self.alert_failures,
            "case_deadlines": self.case_deadlines,
        } | ({"mail": self.mail.summary()} if self.mail is not None else {})


def run_once(  # noqa: PLR0913 - keyword options of one command
    db_path: Path | str,
    settings: Settings,
    *,
    now: datetime | None = None,
    progress: bool | None = None,
    transports: Mapping[str, Transport] | None = None,
    write_packs: bool = True,
    all_shipments: bool = False,
) -> RunResult:
    """Read mail, poll, evaluate the flags at ``now``, write packs, record the run.

    One pipeline under one poll lock and one open store, so no other poll or run
    writes between the poll and the assessment of what it fetched. ``now`` is the
    evaluation instant (``--now``); None takes the wall clock once the poll has
    finished, so that a run evaluates what it has just fetched.

    First :func:`check_ready` refuses a run that can do nothing (no source: exit 2;
    no database or shipment: exit 1), creating nothing. Raises LockHeld (exit 75)
    when another poll or run holds the lock, and what
    :func:`~collector.poll.poll_store` raises (ConfigError), before anything is
    evaluated. Packs (unless ``write_packs`` is false) are written for non-archived shipments
    with an open flag of warning or critical severity raised since the previous
    run, or whose pack for the open flags is missing; a pack that cannot be written
    is named with its reason in ``pack_failures`` (exit code 1), the others are
    still written.
    """
    started = now if now is not None else clock.wall()
    run_id = f"run-{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    # Refused before anything is created or locked: nothing to poll, nothing to track.
    check_ready(db_path, settings)
    with (
        PollLock(Path(db_path), command="run"),
        Store.open(db_path, busy_timeout=settings.poll.database_busy_timeout_seconds) as store,
    ):
        mail = _read_mail(store, settings)
        report = poll_store(
            store,
            settings,
            all_shipments=all_shipments,
            progress=progress,
            transports=transports,
        )
        at = now if now is not None else clock.wall()
        since = previous_run(store)
        assessment = assess(store, at, settings)
        assert assessment.evaluation is not None  # recorded
        changes = store.frame(_CHANGES_SQL, {"since": since, "now": at})
        result = RunResult(run_id, report, assessment.evaluation, since, changes, mail=mail)
        _case_deadlines(store, result, assessment, settings)
        if mail is not None:
            result.warnings += [f"mail: {failure}" for failure in mail.failed_sources]
            result.warnings += [f"mail: {m.line()}" for m in mail.unreadable]
        if write_packs:
            _write_packs(store, result, settings, assessment, progress=progress)
        if settings.alerts.enabled:
            _send_alerts(result, assessment, settings)
        with store.transaction():
            record_run(store, RunRecord(run_id, "run", started, at, result.summary()))
    return result


def check_ready(db_path: Path | str, settings: Settings) -> None:
    """Refuse a run that cannot do anything, before it creates or touches anything.

    No tracking source and no mail source configured: :class:`ConfigError` (exit
    2), naming where a configuration file was looked for. No ``[mail]`` sources and
    no shipment to track (no database, or none but archived ones):
    :class:`NothingToTrack` (exit 1). A cron line on a fresh or misplaced install
    thus mails the reason instead of succeeding quietly on an empty database.
    """
    from collector.poll import configured_sources

    sources, warnings = configured_sources(settings)
    if not sources and not settings.mail.sources:
        if settings.path is not None:
            where = f"in {settings.path}"
        else:
            looked = " or ".join(str(p) for p in config_candidates())
            where = f"(no configuration file: none at {looked}, no --config)"
        raise ConfigError(
            f"nothing to poll: no tracking source is configured {where}; add a "
            "[sources.17track] table with api_key_env, or [sources.cainiao] "
            "(`parcelproof doctor` checks the set-up)" + "".join(f"; {w}" for w in warnings)
        )
    if settings.mail.sources:
        return  # shipments may arrive by mail
    path = Path(db_path)
    if not path.exists():
        raise NothingToTrack(
            f"no database at {path}: nothing to track; import your orders first "
            "(`parcelproof import FILE`), or point --db / PARCELPROOF_DB at the database"
        )
    with Store.open(
        path, read_only=True, busy_timeout=settings.poll.database_busy_timeout_seconds
    ) as store:
        row = store.conn.execute("SELECT count(*) FROM shipments WHERE NOT archived").fetchone()
    if not row or not row[0]:
        raise NothingToTrack(
            f"no shipments to track in {path}: import your orders (`parcelproof import FILE`)"
        )


def _send_alerts(result: RunResult, assessment: Assessment, settings: Settings) -> None:
    from analysis.alerts import collect, send

    alert = collect(
        result.changes,
        assessment.disputes,
        now=assessment.now,
        since=result.since,
        config=settings.alerts,
    )
    result.alerted = not alert.empty
    result.alert_failures += send(alert, settings.alerts)


def _case_deadlines(
    store: Store, result: RunResult, assessment: Assessment, settings: Settings
) -> None:
    """The close case deadlines, and which of them to remind of in a quiet run.

    A quiet run (cron every half hour) reminds of a deadline once a day: when the
    previous run did not list the same line, or listed it on an earlier UTC day.
    """
    from analysis.cases import due_soon

    result.case_deadlines = due_soon(assessment.cases, assessment.now, settings)
    row = store.conn.execute(
        "SELECT summary FROM runs WHERE command = 'run' AND finished_at IS NOT NULL "
        "ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    told: set[str] = set()
    if row is not None and row[0]:
        try:
            previous = json.loads(row[0])
            same_day = str(previous.get("evaluated_at", ""))[:10] == f"{assessment.now:%Y-%m-%d}"
            told = set(previous.get("case_deadlines", [])) if same_day else set()
        except (ValueError, AttributeError):
            told = set()
    result.case_reminders = [line for line in result.case_deadlines if line not in told]


def _read_mail(store: Store, settings: Settings) -> MailImportResult | None:
    """New shipping e-mails first, so that their parcels are polled in this run."""
    if not settings.mail.sources:
        return None
    from collector.intake.mail import import_mail

    return import_mail(store, settings.mail.sources, settings.mail)


def previous_run(store: Store) -> datetime | None:
    """When the latest ``run`` evaluated the flags (None if there was none)."""
    row = store.conn.execute(
        "SELECT max(finished_at) FROM runs WHERE command = 'run' AND finished_at IS NOT NULL"
    ).fetchone()
    return row[0] if row and row[0] is not None else None


_OPEN_SQL = """
SELECT s.shipment_id, s.order_id, s.tracking_number,
       list(f.code ORDER BY f.code) AS codes,
       max(CASE f.severity WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END) AS rank
FROM flags f JOIN shipments s USING (shipment_id)
WHERE f.cleared_at IS NULL AND NOT s.archived
GROUP BY ALL
ORDER BY s.shipment_id
"""


def _write_packs(
    store: Store,
    result: RunResult,
    settings: Settings,
    assessment: Assessment,
    *,
    progress: bool | None = None,
) -> None:
    """Packs for shipments newly flagged, and for flagged ones whose pack is missing.

    A pack only where the assessment finds one worth writing (a flag that is a
    reason to dispute, or advice to act): a reused number on a parcel delivered
    home raises a flag, and no pack. A pack is missing when its folder has no
    manifest naming the shipment's open flags (a failed or interrupted earlier
    write, a deleted folder): so the next ``run`` writes what an earlier one could
    not.
    """
    from analysis.reports.packs import PackFailure, pack_folder_name

    worth = set(assessment.pack_ids())
    raised = result.raised.filter(
        ~pl.col("archived")
        & pl.col("cleared_at").is_null()
        & (pl.col("severity").replace_strict(SEVERITY_RANK, default=0) >= SEVERITY_RANK["warning"])
        & pl.col("shipment_id").is_in(sorted(worth))
    )
    wanted = set(raised["shipment_id"].to_list())
    out_dir = settings.reports_dir(store.path)
    with_manifest = "json" in settings.reports.formats
    for sid, order, number, codes, rank in store.query(_OPEN_SQL):
        if rank < SEVERITY_RANK["warning"] or sid in wanted or sid not in worth:
            continue
        folder = out_dir / pack_folder_name(str(order), str(number))
        if not _pack_is_current(folder, codes, with_manifest=with_manifest):
            wanted.add(sid)
    ids = sorted(wanted)
    if not ids:
        return
    failures: list[PackFailure] = []
    try:
        from analysis.reports import write_packs

        packs = write_packs(
            store,
            ids,
            now=assessment.now,
            settings=settings,
            assessment=assessment,
            failures=failures,
            progress=progress,
        )
    except Exception as exc:  # a pack problem must not hide the changes
        result.pack_failures.append(f"evidence packs not written: {type(exc).__name__}: {exc}")
        return
    result.packs = [pack.folder for pack in packs]
    result.pack_failures += [f"pack not written for {f}" for f in failures]


def _pack_is_current(folder: Path, codes: list[str], *, with_manifest: bool) -> bool:
    """Whether ``folder`` holds a whole pack stating these open flags (by code)."""
    if not with_manifest:
        return folder.is_dir()
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        stated = sorted(str(f["code"]) for f in manifest["flags"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return stated == sorted(codes)
