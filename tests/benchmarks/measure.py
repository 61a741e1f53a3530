"""Measuring a command the way the benchmarks do: wall time and peak memory."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def timed(args: list[str]) -> tuple[float, float, int]:
    """Run a command in ROOT (stdout to /dev/null): wall seconds, its peak RSS in MiB
    and its exit code. Exit codes other than 0 and 1 stop the benchmark."""
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.PIPE, cwd=ROOT)
        assert process.stderr is not None
        errors = process.stderr.read()
        _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed ({code}): {errors.decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, code
