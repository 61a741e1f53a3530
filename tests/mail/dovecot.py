"""A real IMAP server for the tests: Dovecot on a free loopback port, over TLS.

Started per test with its own config file (no system config, no root needed): a
passwd-file user, Maildir storage in a temporary folder, a certificate signed by a
CA the test makes (openssl), so the client verifies TLS exactly as against a real
provider. Messages are added with IMAP APPEND, as a mail provider delivers them.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "buyer@example.test"
PASSWORD = "correct horse battery staple"


def available() -> bool:
    """Whether Dovecot and openssl are installed (scripts/system-deps.sh installs them)."""
    return Path(DOVECOT).exists() and shutil.which("openssl") is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for 127.0.0.1/localhost signed by it."""
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=parcelproof test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    run(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost",
    )  # fmt: skip
    (folder / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n"
    )
    run(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf",
    )  # fmt: skip
    return folder / "ca.crt", folder / "server.crt", folder / "server.key"


@dataclass
class Dovecot:
    """One running Dovecot instance."""

    root: Path
    port: int
    ca_file: Path
    mail_root: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"imaps://{USER.replace('@', '%40')}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> None:
        config = self.root / "dovecot.conf"
        with (self.root / "stderr.log").open("wb") as stderr:
            self.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=stderr
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def remove(self) -> None:
        """Stop and delete the mail store kept outside the test's folder."""
        self.stop()
        if self.mail_root != self.root / "mailstore":
            shutil.rmtree(self.mail_root, ignore_errors=True)

    def log(self) -> str:
        parts = []
        for name in ("dovecot.log", "stderr.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=10)
        conn.login(USER, PASSWORD)
        return conn

    def deliver(self, *messages: bytes, folder: str = "INBOX") -> None:
        """Add messages as new, unseen mail."""
        conn = self.client()
        try:
            for raw in messages:
                status, _ = conn.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
                assert status == "OK"
        finally:
            conn.logout()

    def flags(self, folder: str = "INBOX") -> dict[int, str]:
        """Each message's flags, read with EXAMINE (read-only) itself."""
        conn = self.client()
        try:
            conn.select(folder, readonly=True)
            _status, data = conn.uid("FETCH", "1:*", "(FLAGS)")
            out: dict[int, str] = {}
            for item in data:
                if isinstance(item, bytes) and b"UID" in item:
                    text = item.decode()
                    uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                    out[uid] = text.split("FLAGS (")[1].split(")")[0]
            return out
        finally:
            conn.logout()


def _first_user(*names: str) -> str:
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError(f"none of the users {names} exists")


def configure(root: Path) -> Dovecot:
    """Write the instance's config (not started yet)."""
    root.mkdir(parents=True, exist_ok=True)
    ca, cert, key = make_certificates(root / "tls")
    port = free_port()
    me = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    # Dovecot's login processes refuse to run as root: as root (CI containers), they
    # run as the unprivileged users the Debian package creates.
    login_user = me if os.getuid() != 0 else _first_user("dovenull", "nobody")
    internal_user = me if os.getuid() != 0 else _first_user("dovecot", "nobody")
    for sub in ("run", "state"):
        (root / sub).mkdir(exist_ok=True)
    # Mail is owned by a non-root user (Dovecot refuses uid 0 for mail access); as
    # root, that is "nobody", with the mail kept where it can reach it.
    mail_uid, mail_gid = os.getuid(), os.getgid()
    mail_root = root / "mailstore"
    if os.getuid() == 0:
        nobody = pwd.getpwnam(_first_user("nobody", "dovenull"))
        mail_uid, mail_gid = nobody.pw_uid, nobody.pw_gid
        mail_root = Path(tempfile.mkdtemp(prefix="parcelproof-dovecot-"))
        os.chown(mail_root, mail_uid, mail_gid)
    mail_root.mkdir(exist_ok=True)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    (root / "dovecot.conf").write_text(
        f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
auth_mechanisms = plain
default_internal_user = {internal_user}
default_internal_group = {group if os.getuid() != 0 else internal_user}
default_login_user = {login_user}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{mail_root}/mail/%n
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={mail_root}/home/%n
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  user = {me}
}}
service auth-worker {{
  user = {me}
}}
service stats {{
  chroot =
}}
"""
    )
    return Dovecot(root=root, port=port, ca_file=ca, mail_root=mail_root)
