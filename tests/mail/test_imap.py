"""``import-mail imaps://...`` against a real Dovecot on loopback (tests/mail/dovecot.py).

Read-only (no flag changes), TLS verified with the test's own CA, UIDs remembered
per folder and UIDVALIDITY, and a connection cut mid-fetch by a TCP proxy.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.config import MailConfig
from collector.intake.mail import import_mail
from collector.store import Store
from tests.conftest import run_cli
from tests.mail import dovecot

FIXTURES = Path(__file__).parent / "fixtures"
ENV = "PARCELPROOF_TEST_IMAP_PASSWORD"

pytestmark = pytest.mark.skipif(
    not dovecot.available(),
    reason="dovecot-imapd or openssl is not installed (scripts/system-deps.sh installs them)",
)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[dovecot.Dovecot]:
    # A short path of its own: Dovecot's unix sockets must fit in 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="ppdv-"))
    instance = dovecot.configure(root)
    instance.start()
    monkeypatch.setenv(ENV, dovecot.PASSWORD)
    try:
        yield instance
    finally:
        instance.remove()
        shutil.rmtree(root, ignore_errors=True)


def _config(server: dovecot.Dovecot, **extra: object) -> MailConfig:
    return MailConfig(password_env=ENV, ca_file=str(server.ca_file), timeout_seconds=10, **extra)  # type: ignore[arg-type]


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_reads_new_mail_only_and_changes_no_flag(server: dovecot.Dovecot, store: Store) -> None:
    server.deliver(_fixture("aliexpress_shipped.eml"), _fixture("newsletter.eml"))
    before = server.flags()
    first = import_mail(store, [server.url], _config(server))
    assert first.exit_code == 0, first.failed_sources
    assert [m.outcome for m in first.messages] == ["stored", "skipped"]
    assert first.messages[0].source == (
        f"imaps://{dovecot.USER}@127.0.0.1:{server.port}/INBOX;UID=1"
    )
    assert server.flags() == before  # nothing marked \Seen, moved or deleted
    assert "\\Seen" not in " ".join(server.flags().values())

    again = import_mail(store, [server.url], _config(server))
    assert again.exit_code == 0 and again.messages == []

    server.deliver(_fixture("ebay_shipped.eml"))
    third = import_mail(store, [server.url], _config(server))
    assert [(m.source.rsplit(";", 1)[1], m.outcome) for m in third.messages] == [
        ("UID=3", "stored")
    ]
    assert store.query("SELECT count(*) FROM shipments") == [(2,)]
    seen = store.query("SELECT mailbox, uid FROM mail_imap_seen ORDER BY uid")
    assert [uid for _, uid in seen] == [1, 2, 3]
    assert all("correct horse" not in mailbox for mailbox, _ in seen)


def test_tls_is_verified(server: dovecot.Dovecot, store: Store) -> None:
    server.deliver(_fixture("temu_shipped.eml"))
    untrusted = MailConfig(password_env=ENV, timeout_seconds=10)  # system CAs only
    result = import_mail(store, [server.url], untrusted)
    assert result.exit_code == 2
    assert "TLS certificate not trusted" in result.failed_sources[0]
    assert store.query("SELECT count(*) FROM mail_imap_seen") == [(0,)]


def test_wrong_password_and_missing_folder(
    server: dovecot.Dovecot, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = import_mail(store, [server.url.replace("/INBOX", "/Orders")], _config(server))
    assert missing.exit_code == 2 and "no such folder" in missing.failed_sources[0]
    monkeypatch.setenv(ENV, "wrong")
    refused = import_mail(store, [server.url], _config(server))
    assert refused.exit_code == 2 and "login refused" in refused.failed_sources[0]
    assert "wrong" not in refused.failed_sources[0]


class CuttingProxy:
    """Relays TCP to the server and cuts every connection after ``limit`` bytes back."""

    def __init__(self, port: int, limit: int) -> None:
        self.target = port
        self.limit = limit
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, upstream, None), daemon=True).start()
            threading.Thread(
                target=self._pipe, args=(upstream, client, self.limit), daemon=True
            ).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(16384):
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: limit - sent])
                    self.cut.set()
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()


def test_connection_cut_mid_fetch_keeps_what_was_read(
    server: dovecot.Dovecot, store: Store, db_path: Path, tmp_path: Path
) -> None:
    # The second message is large, so the cut falls inside its FETCH.
    big = _fixture("ebay_shipped.eml").replace(
        b"eBay Inc., 2025 Hamilton", b"x" * 76 + b"\r\n" + (b"y" * 76 + b"\r\n") * 4000 + b"eBay"
    )
    server.deliver(_fixture("temu_shipped.eml"), big)
    proxy = CuttingProxy(server.port, limit=60_000)
    try:
        url = server.url.replace(f":{server.port}/", f":{proxy.port}/")
        cut = import_mail(store, [url], _config(server))
    finally:
        proxy.close()
    assert proxy.cut.is_set()
    assert cut.exit_code == 2
    assert "connection lost" in cut.failed_sources[0]
    assert [m.outcome for m in cut.messages] == ["stored"]
    uid_rows = store.query("SELECT uid FROM mail_imap_seen")
    assert uid_rows == [(1,)]  # the cut message is not remembered as read
    store.close()

    # The same folder straight to the server: only the message that was cut.
    config = tmp_path / "c.toml"
    config.write_text(
        f'[mail]\nsources = ["{url.replace(f":{proxy.port}/", f":{server.port}/")}"]\n'
        f'password_env = "{ENV}"\nca_file = "{server.ca_file}"\n'
    )
    result = run_cli("--db", str(db_path), "--config", str(config), "import-mail")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2 and ";UID=2: stored: shipped ebay notice" in lines[0]
    assert lines[1].startswith("1 message: 1 stored")


def test_a_new_uidvalidity_rereads_but_stores_nothing_twice(
    server: dovecot.Dovecot, store: Store
) -> None:
    server.deliver(_fixture("temu_shipped.eml"))
    assert [m.outcome for m in import_mail(store, [server.url], _config(server)).messages] == [
        "stored"
    ]
    # The server renumbers the folder (as after a restore): UIDVALIDITY changes.
    server.stop()
    mailbox = server.mail_root / "mail" / dovecot.USER.split("@")[0]
    for stale in mailbox.glob("dovecot*"):
        if stale.is_file():
            stale.unlink()
    server.start()
    again = import_mail(store, [server.url], _config(server))
    assert [m.outcome for m in again.messages] == ["known"]
    validities = store.query("SELECT count(DISTINCT uidvalidity) FROM mail_imap_seen")
    assert validities == [(2,)]
    assert store.query("SELECT count(*) FROM mail_notices") == [(1,)]
