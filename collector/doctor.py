"""``parcelproof doctor``: is this set-up ready for cron, and if not, why not.

Each check is a line: the configuration found (and where it was looked for), the
sources and whether their keys are set, the mail sources, the database (which file
and why that one, its shipments), the last ``run``, the poll lock, where packs go
and the alerts. Nothing is written: the database is opened read-only and only when
it exists, the lock is probed only when its file exists. Secrets are never shown,
only the name of the variable that holds them::

    >>> Check("config", "ok", "none found").line()
    'ok    config: none found'
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from collector import clock
from collector.config import Settings, load_settings
from collector.errors import ConfigError, LockHeld, ParcelproofError
from collector.http import redact_url
from collector.paths import Located, config_candidates, locate_db
from collector.terminal import plural

Level = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """One finding: its topic, how bad it is and what it says."""

    topic: str
    level: Level
    text: str

    def line(self) -> str:
        """``ok    database: ...`` (the level padded so the topics line up)."""
        return f"{self.level:<5} {self.topic}: {self.text}"

    def as_json(self) -> str:
        """One JSON object: ``{"topic", "level", "text"}``."""
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass(frozen=True)
class Diagnosis:
    """Every check, in order; ``exit_code`` 1 when one failed."""

    checks: list[Check]

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (warnings allowed), 1 otherwise."""
        return 1 if any(c.level == "fail" for c in self.checks) else 0


def diagnose(db: Located, config_path: Path | None, config_why: str) -> Diagnosis:
    """Check the configuration at ``config_path`` and the database ``db``."""
    checks: list[Check] = []
    settings = _config(checks, config_path, config_why)
    if settings is not None:
        _sources(checks, settings)
        _mail(checks, settings)
    _database(checks, db, settings)
    if settings is not None:
        checks.append(Check("packs", "ok", f"written to {settings.reports_dir(db.path)}"))
        checks += alert_checks(settings)
    return Diagnosis(checks)


def config_origin(found: Path | None) -> str:
    """Why the configuration file ``found`` (not named by option or variable) is used."""
    if found is not None and found == config_candidates()[0]:
        return "parcelproof.toml in the working folder"
    return "the per-user configuration"


def _config(checks: list[Check], path: Path | None, why: str) -> Settings | None:
    if path is None:
        looked = ", ".join(str(p) for p in config_candidates())
        checks.append(Check("config", "warn", f"none found (looked for {looked}); defaults apply"))
        return Settings()
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        checks.append(Check("config", "fail", str(exc)))
        return None
    checks.append(Check("config", "ok", f"{path} ({why})"))
    return settings


def _sources(checks: list[Check], settings: Settings) -> None:
    from collector.poll import configured_sources

    try:
        sources, warnings = configured_sources(settings)
    except ConfigError as exc:
        checks.append(Check("sources", "fail", str(exc)))
        return
    for name, source in settings.carriers.items():
        if not source.enabled:
            checks.append(Check(f"source {name}", "warn", "enabled = false; not used"))
        elif name in sources:
            key = (
                f"key from ${source.api_key_env}"
                if source.api_key_env and os.environ.get(source.api_key_env)
                else "key from the config file"
                if source.api_key
                else "no key needed"
            )
            url = getattr(sources[name], "base_url", None)
            where = f", {redact_url(url)}" if isinstance(url, str) else ""
            checks.append(Check(f"source {name}", "ok", f"usable ({key}{where})"))
    checks += [Check("sources", "fail", warning) for warning in warnings]
    if not sources:
        checks.append(
            Check(
                "sources",
                "fail",
                "no tracking source is configured: `run` and `poll` exit 2; add a "
                "[sources.17track] table with api_key_env, or [sources.cainiao]",
            )
        )
    else:
        order = ", ".join(n for n in settings.routing.default if n in sources)
        checks.append(Check("routing", "ok", f"default order: {order or '(none configured)'}"))


def _mail(checks: list[Check], settings: Settings) -> None:
    mail = settings.mail
    if not mail.sources:
        return
    imap = [s for s in mail.sources if s.startswith("imaps://")]
    if imap and not os.environ.get(mail.password_env):
        checks.append(
            Check(
                "mail",
                "fail",
                f"{plural(len(imap), 'IMAP source')} but ${mail.password_env} is not set",
            )
        )
    missing = [s for s in mail.sources if not s.startswith("imaps://") and not Path(s).exists()]
    checks += [Check("mail", "fail", f"{s}: no such file or folder") for s in missing]
    if not missing and not (imap and not os.environ.get(mail.password_env)):
        checks.append(Check("mail", "ok", f"{plural(len(mail.sources), 'source')} read by `run`"))


_COUNTS_SQL = """
SELECT count(*) FILTER (WHERE NOT s.archived),
       count(*) FILTER (WHERE s.archived),
       count(*) FILTER (WHERE NOT s.archived AND t.last_poll_at IS NULL)
FROM shipments s LEFT JOIN tracking_state t USING (shipment_id)
"""

_LAST_RUN_SQL = """
SELECT command, started_at, finished_at, summary FROM runs
WHERE command = 'run' ORDER BY started_at DESC LIMIT 1
"""


def _database(checks: list[Check], db: Located, settings: Settings | None) -> None:
    from collector.store import Store

    path = db.path
    if not path.exists():
        checks.append(
            Check(
                "database",
                "fail",
                f"no database at {path} ({db.why}): `parcelproof import FILE` creates it",
            )
        )
        return
    timeout = settings.poll.database_busy_timeout_seconds if settings else 30.0
    try:
        with Store.open(path, read_only=True, busy_timeout=min(timeout, 5.0)) as store:
            active, archived, unpolled = store.conn.execute(_COUNTS_SQL).fetchone() or (0, 0, 0)
            last = store.conn.execute(_LAST_RUN_SQL).fetchone()
            version = store.schema_version()
    except ParcelproofError as exc:
        checks.append(Check("database", "fail", f"{path}: {exc}"))
        return
    level: Level = "ok" if active else "fail"
    text = f"{path} ({db.why}), schema {version}: {plural(active, 'shipment')} tracked"
    text += f", {archived} archived" if archived else ""
    text += f", {unpolled} not polled yet" if unpolled else ""
    if not active:
        text += "; nothing to track: import your orders (`parcelproof import FILE`)"
    checks.append(Check("database", level, text))
    checks.append(_last_run(last))
    checks.append(_lock(path))


def _last_run(row: tuple[object, ...] | None) -> Check:
    if row is None:
        return Check("last run", "warn", "never (`parcelproof run` from cron, see the README)")
    _, started, finished, summary = row
    if not isinstance(finished, datetime):
        return Check("last run", "warn", f"started {started} and never finished")
    age = (clock.wall() - finished).total_seconds() / 3600
    try:
        data = json.loads(str(summary)) if summary else {}
    except ValueError:
        data = {}
    poll = data.get("poll") or {}
    code = poll.get("exit_code") or 0
    failures = len(data.get("pack_failures") or [])
    text = f"finished {finished:%Y-%m-%d %H:%M} UTC ({age:.1f} h ago)"
    if code or failures:
        problems = [f"poll exit {code}"] if code else []
        problems += [f"{failures} pack(s) not written"] if failures else []
        return Check("last run", "warn", f"{text}; {', '.join(problems)}")
    return Check("last run", "ok", text)


def _lock(db_path: Path) -> Check:
    from collector.poll_lock import ensure_free, lock_path_for

    lock = lock_path_for(db_path)
    if not lock.exists():
        return Check("lock", "ok", f"free ({lock} not created yet)")
    try:
        ensure_free(db_path, wait=0.0, command="doctor")
    except LockHeld as exc:
        return Check("lock", "warn", str(exc))
    except ParcelproofError as exc:
        return Check("lock", "fail", str(exc))
    return Check("lock", "ok", f"free ({lock})")


def alert_checks(settings: Settings) -> list[Check]:
    """What ``[alerts]`` sends, and where to (no secret shown)."""
    alerts = settings.alerts
    out: list[Check] = []
    if alerts.email_to:
        password = (
            f", password from ${alerts.smtp_password_env}"
            if alerts.smtp_password_env and os.environ.get(alerts.smtp_password_env)
            else ""
        )
        missing = alerts.smtp_password_env and not os.environ.get(alerts.smtp_password_env)
        out.append(
            Check(
                "alerts",
                "fail" if missing else "ok",
                f"e-mail to {', '.join(alerts.email_to)} via {alerts.smtp_host}:{alerts.smtp_port}"
                + (f" (${alerts.smtp_password_env} is not set)" if missing else password),
            )
        )
    if alerts.webhook_url:
        parts = urlsplit(alerts.webhook_url)
        out.append(Check("alerts", "ok", f"webhook at {parts.scheme}://{parts.hostname}/..."))
    if not out:
        out.append(Check("alerts", "ok", "none configured (`run` prints what changed)"))
    return out


__all__ = ["Check", "Diagnosis", "alert_checks", "config_origin", "diagnose", "locate_db"]
