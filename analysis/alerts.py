"""Alerts from ``run``: new flags and near last days, by e-mail (SMTP) or a webhook.

``run`` already prints what changed (so cron mails it); an alert says the same to
someone who does not read cron mail. One alert per run at most, only when there is
news:

- flags of warning or critical severity raised since the previous ``run`` on
  non-archived shipments;
- shipments to act on (open a dispute, escalate, ask the seller) whose last day
  came within ``[alerts] deadline_days`` since the previous run (so each is
  announced once, not every run until it passes).

The e-mail is plain text (``smtplib``, STARTTLS unless ``smtp_starttls = false``);
the webhook gets a JSON POST ``{"text", "flags": [...], "deadlines": [...]}``
(``text`` is what chat webhooks such as Slack or Mattermost show). A failed
delivery is a warning of the run (exit 1), never a traceback::

    >>> Alert(flags=[], deadlines=[]).empty
    True
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import polars as pl

from analysis.assess import PACK_ACTIONS
from collector.config import AlertsConfig
from collector.errors import ParcelproofError
from collector.terminal import plural


@dataclass(frozen=True)
class Alert:
    """What one run has to announce."""

    flags: list[dict[str, Any]] = field(default_factory=list)
    deadlines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to announce."""
        return not self.flags and not self.deadlines

    def subject(self) -> str:
        """``parcelproof: 2 new flags, 1 last day near``."""
        parts = []
        if self.flags:
            parts.append(plural(len(self.flags), "new flag"))
        if self.deadlines:
            parts.append(plural(len(self.deadlines), "last day near", "last days near"))
        return "parcelproof: " + ", ".join(parts)

    def text(self) -> str:
        """The plain-text body: one line per flag, one per deadline."""
        lines = [self.subject(), ""]
        for f in self.flags:
            lines.append(
                f"+ {f['order_id']} {f['tracking_number']} {f['code']} ({f['severity']}): "
                f"{f['detail']}"
            )
        for d in self.deadlines:
            lines.append(
                f"! {d['order_id']} {d['tracking_number']}: last day {d['last_day_date']} "
                f"({d['marketplace']}): {d['action_detail']}"
            )
        return "\n".join(lines) + "\n"

    def payload(self) -> dict[str, Any]:
        """The webhook's JSON body."""
        return {"text": self.text(), "flags": self.flags, "deadlines": self.deadlines}


def collect(
    changes: pl.DataFrame,
    disputes: pl.DataFrame,
    *,
    now: datetime,
    since: datetime | None,
    config: AlertsConfig,
) -> Alert:
    """The news of a run: ``changes`` (as :data:`analysis.run._CHANGES_SQL`) and the
    assessment's ``disputes`` at ``now``; ``since`` is the previous run."""
    raised = changes.filter(
        (pl.col("change") == "raised")
        & ~pl.col("archived")
        & pl.col("cleared_at").is_null()
        & pl.col("severity").is_in(["warning", "critical"])
    )
    flags = [
        {k: _plain(row[k]) for k in ("order_id", "tracking_number", "code", "severity", "detail")}
        for row in raised.iter_rows(named=True)
    ]
    window = timedelta(days=config.deadline_days)
    near = disputes.filter(
        ~pl.col("archived")
        & pl.col("action").is_in(list(PACK_ACTIONS))
        & pl.col("last_day").is_not_null()
        & (pl.col("last_day") > now)
        & (pl.col("last_day") <= now + window)
    )
    if since is not None:
        # Announced once: only those that were not yet within the window last run.
        near = near.filter(pl.col("last_day") > since + window)
    keys = ("order_id", "tracking_number", "marketplace", "last_day_date", "action_detail")
    deadlines = [
        {k: _plain(row[k]) for k in (*keys, "last_day", "action")}
        for row in near.sort("last_day").iter_rows(named=True)
    ]
    return Alert(flags=flags, deadlines=deadlines)


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def send(alert: Alert, config: AlertsConfig) -> list[str]:
    """Deliver ``alert`` to every configured channel; the failures, each named."""
    failures: list[str] = []
    if alert.empty:
        return failures
    if config.email_to:
        try:
            send_email(alert, config)
        except (OSError, smtplib.SMTPException, ParcelproofError) as exc:
            where = f"{config.smtp_host}:{config.smtp_port}"
            failures.append(f"alert e-mail via {where} not sent: {type(exc).__name__}: {exc}")
    if config.webhook_url:
        from collector.http import post_json

        try:
            post_json(config.webhook_url, alert.payload(), timeout=config.timeout_seconds)
        except ParcelproofError as exc:
            failures.append(f"alert webhook not sent: {exc}")
    return failures


def send_email(alert: Alert, config: AlertsConfig) -> None:
    """One plain-text message to ``email_to`` through the configured SMTP server."""
    message = EmailMessage()
    message["From"] = config.email_from
    message["To"] = ", ".join(config.email_to)
    message["Subject"] = alert.subject()
    message.set_content(alert.text())
    password = os.environ.get(config.smtp_password_env) if config.smtp_password_env else None
    if config.smtp_password_env and not password:
        raise ParcelproofError(f"${config.smtp_password_env} (the SMTP password) is not set")
    with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.timeout_seconds) as smtp:
        if config.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.smtp_user:
            smtp.login(config.smtp_user, password or "")
        smtp.send_message(message)
