"""``[alerts]``: ``run`` announces new flags and near last days by e-mail or webhook.

Against real servers on loopback: aiosmtpd (an SMTP server) and http.server.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from collector.simulator import serve_in_thread
from tests.conftest import NOW, SAMPLE_ORDERS, run_cli

KEY_ENV = "PP_ALERT_17TRACK_KEY"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    received: list[dict[str, Any]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}/hook?token=s3cret"
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _set_up(tmp_path: Path, sim: Any, alerts: str) -> None:
    (tmp_path / "parcelproof.toml").write_text(
        sim.config_toml(KEY_ENV) + '[reports]\nformats = ["json"]\n' + alerts, encoding="utf-8"
    )
    assert run_cli("import", str(SAMPLE_ORDERS)).exit_code == 0


def test_new_flags_are_mailed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp
    monkeypatch.setenv(KEY_ENV, "k")
    with serve_in_thread(api_key="k") as sim:
        _set_up(
            tmp_path,
            sim,
            f'[alerts]\nemail_to = ["me@example.com"]\nemail_from = "pp@example.com"\n'
            f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_starttls = false\n',
        )
        first = run_cli("--now", NOW, "run", "--quiet")
        assert first.exit_code == 0, first.output
        assert len(inbox.messages) == 1
        message = inbox.messages[0]
        assert inbox.envelopes[0] == ("pp@example.com", ["me@example.com"])
        assert message["Subject"].startswith("parcelproof: ")
        assert "new flags" in message["Subject"]
        body = message.get_content()
        raised = [line for line in first.output.splitlines() if line.startswith("+ ")]
        assert raised and all(line.split(":")[0] in body for line in raised if "(info)" not in line)
        # Nothing new an hour later: no second mail.
        again = run_cli("--now", "2026-11-28T13:00:00Z", "run", "--quiet")
        assert again.exit_code == 0, again.output
        assert len(inbox.messages) == 1


def test_webhook_gets_flags_and_near_last_days(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    webhook: tuple[list[dict[str, Any]], str],
) -> None:
    received, url = webhook
    monkeypatch.setenv(KEY_ENV, "k")
    with serve_in_thread(api_key="k") as sim:
        _set_up(tmp_path, sim, f'[alerts]\nwebhook_url = "{url}"\ndeadline_days = 400\n')
        result = run_cli("--now", NOW, "run")
    assert result.exit_code == 0, result.output
    assert len(received) == 1
    payload = received[0]
    assert payload["text"].startswith("parcelproof: ")
    assert payload["flags"] and {"order_id", "code", "severity"} <= set(payload["flags"][0])
    assert payload["deadlines"], payload
    assert all(
        d["action"] in {"open_dispute", "escalate", "ask_seller"} for d in payload["deadlines"]
    )
    days = [d["last_day"] for d in payload["deadlines"]]
    assert days == sorted(days)  # soonest first


def test_a_failed_delivery_is_an_error_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "k")
    port = _free_port()  # nothing listens there
    with serve_in_thread(api_key="k") as sim:
        _set_up(
            tmp_path,
            sim,
            f'[alerts]\nemail_to = ["me@example.com"]\nsmtp_host = "127.0.0.1"\n'
            f"smtp_port = {port}\nsmtp_starttls = false\n"
            'webhook_url = "http://127.0.0.1:9/hook?token=s3cret"\n',
        )
        result = run_cli("--now", NOW, "run", "--quiet")
    assert result.exit_code == 1
    assert f"error: alert e-mail via 127.0.0.1:{port} not sent" in result.output
    assert "error: alert webhook not sent" in result.output
    assert "s3cret" not in result.output  # the URL's token is redacted


def test_last_days_are_announced_once() -> None:
    from datetime import UTC, datetime, timedelta

    import polars as pl

    from analysis.alerts import collect
    from collector.config import AlertsConfig

    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    disputes = pl.DataFrame(
        {
            "order_id": ["A", "B"],
            "tracking_number": ["N1", "N2"],
            "marketplace": ["aliexpress", "ebay"],
            "archived": [False, False],
            "action": ["open_dispute", "open_dispute"],
            "action_detail": ["open it", "open it"],
            "last_day": [now + timedelta(days=2), now + timedelta(days=2, hours=23)],
            "last_day_date": ["2026-11-30", "2026-12-01"],
        }
    )
    changes = pl.DataFrame(
        schema={
            "order_id": pl.String,
            "tracking_number": pl.String,
            "archived": pl.Boolean,
            "code": pl.String,
            "severity": pl.String,
            "detail": pl.String,
            "cleared_at": pl.Datetime("us", "UTC"),
            "change": pl.String,
        }
    )
    config = AlertsConfig(webhook_url="http://x", deadline_days=3)
    first = collect(changes, disputes, now=now, since=None, config=config)
    assert [d["order_id"] for d in first.deadlines] == ["A", "B"]
    # A was already within 3 days at the previous run (an hour ago), B was not.
    later = collect(changes, disputes, now=now, since=now - timedelta(hours=2), config=config)
    assert [d["order_id"] for d in later.deadlines] == ["B"]
