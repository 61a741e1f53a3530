"""Run every benchmark script in this folder (``make bench``).

Each ``bench_*.py`` is a standalone script that prints its figures (ratios against
the floors in docs/architecture.md); a failing script makes ``make bench`` fail.
Set ``BENCH_QUICK=1`` for small sizes (used to smoke-test the scripts).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    only = sys.argv[1:]
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        if only and not any(name in script.name for name in only):
            continue
        print(f"== {script.name}", flush=True)
        done = subprocess.run([sys.executable, str(script)], check=False)
        if done.returncode:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
