"""``parcelproof simulate``: help, bad options, and a real standalone run stopped by Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx

from tests.conftest import ROOT, run_cli


def test_simulate_help() -> None:
    result = run_cli("simulate", "--help")
    assert result.exit_code == 0
    for option in ("--port", "--rate", "--fault", "--scenarios", "--synthetic", "--api-key-env"):
        assert option in result.output
    assert "Ctrl-C" in result.output


def test_bad_fault_is_a_usage_error() -> None:
    result = run_cli("simulate", "--fault", "meteor:1")
    assert result.exit_code == 2
    assert "--fault" in result.output and "unknown fault kind" in result.output


def test_standalone_run_serves_until_interrupted() -> None:
    env = {**os.environ, "SIM_TEST_KEY": "k-123"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collector",
            "simulate",
            "--rate",
            "50",
            "--fault",
            "503:1,endpoint=register",
            "--synthetic",
            "10",
            "--api-key-env",
            "SIM_TEST_KEY",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("export") or line.startswith("requests_per_second"):
                break
        text = "".join(lines)
        assert "34 numbers" in text  # 24 sample numbers + 10 synthetic
        # The fault in words, not as a Python repr.
        assert "fault         HTTP 503 to the first register request\n" in text
        assert "Fault(" not in text
        match = re.search(r'base_url = "(http://127\.0\.0\.1:\d+/track/v2\.2)"', text)
        assert match, text
        assert 'api_key_env = "SIM_TEST_KEY"' in text
        assert "k-123" not in text  # a key from the environment is never printed
        with httpx.Client(timeout=10) as http:
            url = f"{match.group(1)}/register"
            body = [{"number": "UB123456785CN"}]
            headers = {"17token": "k-123"}
            assert http.post(url, json=body, headers=headers).status_code == 503
            answer = http.post(url, json=body, headers=headers)
            assert answer.status_code == 200
            assert answer.json()["data"]["accepted"][0]["carrier"] == 3011
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "simulator stopped" in out
