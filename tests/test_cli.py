"""Meta-tests: every command has help text and is documented in the README."""

from __future__ import annotations

import subprocess
import sys

import click

from analysis.cli import cli
from tests.conftest import ROOT, run_cli


def all_commands() -> dict[str, click.Command]:
    return dict(cli.commands)


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, command in all_commands().items():
        assert command.help and len(command.help) > 20, name
        assert f"parcelproof {name}" in readme, f"{name} is not documented in README.md"
        result = run_cli(name, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_contract_commands_exist() -> None:
    expected = {"import", "status", "demo"}
    assert expected <= set(all_commands())


def test_collector_does_not_load_analysis_or_report_dependencies() -> None:
    code = (
        "import sys, collector.cli, collector.store, collector.importer\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('analysis', 'jinja2', 'weasyprint', 'pypdfium2', 'matplotlib')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_python_m_entry_points() -> None:
    for module in ("collector", "analysis"):
        done = subprocess.run(
            [sys.executable, "-m", module, "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 0 and "Usage:" in done.stdout, done.stderr


def test_bad_now_is_a_usage_error() -> None:
    result = run_cli("--now", "yesterday", "status")
    assert result.exit_code == 2
    assert "ISO 8601" in result.output


def test_status_json_after_import(tmp_path, db_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import SAMPLE_ORDERS

    assert run_cli("--db", str(db_path), "import", str(SAMPLE_ORDERS)).exit_code == 0
    result = run_cli("--db", str(db_path), "--now", "2026-11-28T00:00:00Z", "status", "--json")
    import json

    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 25
    assert {"order_id", "tracking_number", "status", "flags", "protection_ends_at"} <= set(rows[0])


def _piped(*args: str, cwd: object, env_extra: dict[str, str] | None = None) -> str:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(env_extra or {})
    done = subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_output_to_a_pipe_never_wraps_whatever_columns_says(tmp_path: object) -> None:
    # cron mail and `| grep` see one row per shipment, however long the order id or
    # the path, with or without COLUMNS (CI has none; a narrow one must not matter).
    from pathlib import Path

    root = Path(str(tmp_path))
    long_id = "ORDER-" + "9" * 200
    orders = root / "o.csv"
    orders.write_text(
        f"order_id,tracking_number,ordered_at\n{long_id},LP00123456789012,2026-11-01\n"
    )
    deep = root / ("d" * 120) / ("e" * 120)
    deep.mkdir(parents=True)
    db = str(deep / "t.duckdb")
    _piped("--db", db, "import", str(orders), cwd=root)
    for extra in ({}, {"COLUMNS": "40"}):
        out = _piped("--db", db, "status", cwd=root, env_extra=extra)
        rows = [line for line in out.splitlines() if long_id in line]
        assert len(rows) == 1 and "LP00123456789012" in rows[0], out


def test_json_into_head_exits_0_quietly(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    db = str(root / "t.duckdb")
    _piped("--db", db, "import", str(ROOT / "data" / "samples" / "orders.csv"), cwd=root)
    done = subprocess.run(
        f"'{sys.executable}' -m analysis --db '{db}' status --json | head -1 >/dev/null;"
        " echo ${PIPESTATUS[0]}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
        timeout=120,
    )
    assert done.stdout.strip() == "0" and done.stderr == "", done.stderr
