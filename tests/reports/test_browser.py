"""The pack renders in a real browser (headless Chromium) without a single console message.

A console message would be a script error or a Content-Security-Policy violation,
i.e. something in the pack tried to run or to load from outside the file.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.reports import PackResult

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="chromium is not installed (scripts/system-deps.sh installs it)",
    ),
]


def screenshot(page: Path, out: Path, profile: Path, width: int) -> tuple[int, str]:
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={profile}",
            f"--screenshot={out}",
            f"--window-size={width},2000",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stderr


@pytest.mark.parametrize("width", [1280, 390])
def test_pack_renders_in_chromium(
    pack_of: Callable[..., PackResult], tmp_path: Path, width: int
) -> None:
    pack = pack_of("stalled", formats=("html",))
    page = pack.file(".html")
    assert page is not None
    shot = tmp_path / "shot.png"
    code, log = screenshot(page, shot, tmp_path / "profile", width)
    assert code == 0, log
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert console == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (width, 2000)
    assert len(data) > 20_000  # a rendered page, not a blank one
