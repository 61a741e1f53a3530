"""Open mail sources and yield their messages as RFC 822 bytes.

A source is an ``.eml`` file, a folder of them, an mbox file, a Maildir (a folder
with ``cur``/``new``/``tmp``), or ``imaps://user@host[:port]/FOLDER``. IMAP is
read-only: the folder is opened with EXAMINE and bodies fetched with BODY.PEEK, so
no flag is set and nothing is moved or deleted; TLS is verified (a ``ca_file`` may
add the CA to trust). ``seen`` says which UIDs (per folder and UIDVALIDITY) were
read before, so only new ones are fetched::

    for message in open_source("mail/Inbox.mbox", MailConfig(), seen=lambda *a: set()):
        print(message.label, len(message.raw))

Any failure to open or keep reading a source raises :class:`MailSourceError`.
"""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import os
import re
import socket
import ssl
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from collector.config import MailConfig
from collector.errors import MailSourceError

__all__ = ["ImapPosition", "RawMessage", "open_source"]

#: ``seen(mailbox, uidvalidity)``: the UIDs already read there.
SeenLookup = Callable[[str, int], Collection[int]]
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ImapPosition:
    """Where an IMAP message came from, to remember once it is stored."""

    mailbox: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class RawMessage:
    """One message: a label a person can find it by, and its bytes."""

    label: str
    raw: bytes
    imap: ImapPosition | None = None


def open_source(spec: str, config: MailConfig, *, seen: SeenLookup) -> Iterator[RawMessage]:
    """Every message of ``spec`` (see the module docstring), in the source's order."""
    if spec.lower().startswith("imaps://"):
        return _imap(spec, config, seen)
    if spec.lower().startswith("imap://"):
        raise MailSourceError(f"{spec}: only imaps:// (IMAP over TLS) is supported")
    path = Path(spec)
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            return _maildir(path)
        return _folder(path)
    if not path.exists():
        raise MailSourceError(f"{spec}: no such file or folder")
    try:
        with path.open("rb") as handle:
            start = handle.read(5)
    except OSError as exc:
        raise MailSourceError(f"{spec}: cannot read: {exc.strerror}") from exc
    if start == b"From ":
        return _mbox(path)
    return iter([RawMessage(str(path), _read(path))])


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_MESSAGE_BYTES:
            raise MailSourceError(f"{path}: larger than {MAX_MESSAGE_BYTES} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise MailSourceError(f"{path}: cannot read: {exc.strerror}") from exc


def _folder(path: Path) -> Iterator[RawMessage]:
    try:
        files = sorted(p for p in path.rglob("*.eml") if p.is_file())
    except OSError as exc:
        raise MailSourceError(f"{path}: cannot list: {exc.strerror}") from exc
    for file in files:
        yield RawMessage(str(file), _read(file))


def _maildir(path: Path) -> Iterator[RawMessage]:
    try:
        box = mailbox.Maildir(path, factory=None, create=False)
        keys = sorted(box.keys())
    except OSError as exc:
        raise MailSourceError(f"{path}: not a readable Maildir: {exc}") from exc
    for key in keys:
        try:
            raw = box.get_bytes(key)
        except (OSError, KeyError) as exc:
            raise MailSourceError(f"{path}: cannot read message {key}: {exc}") from exc
        yield RawMessage(f"{path}#{key}", raw)


def _mbox(path: Path) -> Iterator[RawMessage]:
    try:
        box = mailbox.mbox(path, factory=None, create=False)
        keys = list(box.keys())
    except (OSError, mailbox.Error) as exc:
        raise MailSourceError(f"{path}: not a readable mbox: {exc}") from exc
    try:
        for number, key in enumerate(keys, start=1):
            yield RawMessage(f"{path}#{number}", box.get_bytes(key))
    except (OSError, mailbox.Error) as exc:
        raise MailSourceError(f"{path}: cannot read: {exc}") from exc
    finally:
        box.close()


@dataclass(frozen=True)
class _ImapUrl:
    user: str
    host: str
    port: int
    folder: str

    @property
    def mailbox(self) -> str:
        """The folder's key in the store (no password, no port: the same folder)."""
        return f"imaps://{self.user}@{self.host}/{self.folder}"

    @property
    def label(self) -> str:
        """The folder as a person gave it (without a password)."""
        return f"imaps://{self.user}@{self.host}:{self.port}/{self.folder}"


def _parse_url(spec: str) -> _ImapUrl:
    parts = urlsplit(spec)
    if parts.password is not None:
        raise MailSourceError(
            "an IMAP password is never given on the command line or in a source; "
            "set [mail] password_env and that environment variable"
        )
    try:
        port = parts.port or 993
    except ValueError as exc:
        raise MailSourceError(f"{spec}: bad port") from exc
    if not parts.username or not parts.hostname:
        raise MailSourceError(f"{spec}: expected imaps://user@host[:port]/FOLDER")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return _ImapUrl(unquote(parts.username), parts.hostname, port, folder)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap(spec: str, config: MailConfig, seen: SeenLookup) -> Iterator[RawMessage]:
    url = _parse_url(spec)
    password = os.environ.get(config.password_env)
    if not password:
        raise MailSourceError(
            f"{url.label}: set the IMAP password in the environment variable "
            f"{config.password_env} (named by [mail] password_env)"
        )
    try:
        context = ssl.create_default_context(cafile=config.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise MailSourceError(f"[mail] ca_file {config.ca_file}: cannot load: {exc}") from exc
    where = url.label
    try:
        conn = imaplib.IMAP4_SSL(
            url.host, url.port, ssl_context=context, timeout=config.timeout_seconds
        )
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailSourceError(f"{where}: cannot connect: {_why(exc)}") from exc
    try:
        yield from _read_folder(conn, url, password, seen)
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            # The connection is already gone: close our end of it.
            with contextlib.suppress(OSError):
                conn.shutdown()


def _read_folder(
    conn: imaplib.IMAP4_SSL, url: _ImapUrl, password: str, seen: SeenLookup
) -> Iterator[RawMessage]:
    where = url.label
    try:
        conn.login(url.user, password)
    except imaplib.IMAP4.error as exc:
        raise MailSourceError(f"{where}: login refused: {_why(exc)}") from exc
    except OSError as exc:
        raise MailSourceError(f"{where}: connection lost: {_why(exc)}") from exc
    try:
        status, _ = conn.select(_quote(url.folder), readonly=True)  # EXAMINE
        if status != "OK":
            raise MailSourceError(f"{where}: no such folder")
        _, validity = conn.response("UIDVALIDITY")
        uidvalidity = int(validity[0]) if validity and validity[0] else 0
        status, found = conn.uid("SEARCH", "ALL")
        if status != "OK":
            raise MailSourceError(f"{where}: SEARCH refused")
        uids = [int(u) for u in (found[0] or b"").split()] if found else []
        done = seen(url.mailbox, uidvalidity)
        for uid in uids:
            if uid in done:
                continue
            status, data = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = _fetched_body(data)
            if status != "OK" or raw is None:
                continue  # expunged by another client since SEARCH
            yield RawMessage(
                f"{url.label};UID={uid}", raw, ImapPosition(url.mailbox, uidvalidity, uid)
            )
    except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort) as exc:
        raise MailSourceError(f"{where}: connection lost: {_why(exc)}") from exc


def _fetched_body(data: list[object]) -> bytes | None:
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and re.search(rb"BODY\[\]", item[0]):
            body = item[1]
            return body if isinstance(body, bytes) else None
    return None


def _why(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text.strip()
