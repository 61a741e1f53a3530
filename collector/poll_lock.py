"""The poll lock: one ``poll`` per database at a time, answered at once.

A file lock beside the database (``<db>.poll.lock``), taken *before* the database
is opened. The holder writes its pid, host and start time into the file, so that a
second ``poll`` can say who holds it and exit 75 straight away. The lock is an OS
lock on an open file (``flock`` on POSIX, ``msvcrt.locking`` on Windows): when the
holder dies, even by SIGKILL, the kernel releases it; the stale text left behind
is simply overwritten by the next holder::

    >>> with PollLock(Path("data/p.duckdb")):                  # doctest: +SKIP
    ...     ...  # poll
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from collector import clock
from collector.errors import LockHeld, StoreError

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(handle: IO[str]) -> bool:
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: IO[str]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def lock_path_for(db_path: Path) -> Path:
    """``<db>.poll.lock`` beside the database file."""
    return db_path.with_name(db_path.name + ".poll.lock")


class PollLock:
    """Exclusive, non-blocking lock for one database's poll (a context manager).

    ``wait`` is how long to keep trying before :class:`LockHeld` (default 0.5 s, so
    that a second poll answers well within 2 s).
    """

    def __init__(self, db_path: Path, *, wait: float = 0.5, command: str = "poll") -> None:
        self.path = lock_path_for(Path(db_path))
        self.wait = wait
        self.command = command
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockHeld` naming the holder."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Opened without truncation: the holder's text must survive our attempt.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            # A read-only mount, a folder that is a file: say so, before any request.
            raise StoreError(
                f"cannot create the poll lock file {self.path}: {exc.strerror or exc}"
            ) from exc
        handle = os.fdopen(fd, "r+", encoding="utf-8")
        deadline = time.monotonic() + self.wait
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                holder = _describe(handle)
                handle.close()
                raise LockHeld(
                    f"another poll holds the lock {self.path} ({holder}); "
                    "try again when it has finished"
                )
            time.sleep(0.05)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": clock.wall().isoformat(),
            "command": self.command,
        }
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(info) + "\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Release the lock (idempotent); the file stays, its text is cleared."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            _unlock(handle)
        finally:
            handle.close()

    def __enter__(self) -> PollLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _describe(handle: IO[str]) -> str:
    try:
        handle.seek(0)
        text = handle.read(2000).strip()
        info = json.loads(text) if text else {}
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or not info:
        return "holder unknown"
    return (
        f"pid {info.get('pid', '?')} on {info.get('host', '?')}, "
        f"{info.get('command', 'poll')} started {info.get('started_at', '?')}"
    )


def ensure_free(db_path: Path, *, wait: float = 0.5, command: str = "poll") -> None:
    """Raise :class:`LockHeld` now if another poll holds ``db_path``'s lock.

    A cheap probe that commands run before importing the poller, so that a second
    poll answers in well under 2 s even on a cold machine; whoever then takes the
    lock for real still goes through :meth:`PollLock.acquire`.
    """
    with PollLock(db_path, wait=wait, command=command):
        pass
