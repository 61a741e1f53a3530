"""A new user's cron line: per-user homes, a run that says why it cannot run, ``doctor``.

Each test runs in its own working folder with its own XDG homes (conftest), so
``~/.local/share/parcelproof`` is ``<tmp>/xdg-data/parcelproof``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from collector.paths import data_home, locate_db, user_db_path
from collector.simulator import serve_in_thread
from collector.store import Store
from tests.conftest import NOW, SAMPLE_ORDERS, run_cli

KEY_ENV = "PP_TEST_17TRACK_KEY"


def _parcelproof(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command as cron runs it: a fresh process in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_default_database_is_in_the_users_data_home(tmp_path: Path) -> None:
    result = run_cli("import", str(SAMPLE_ORDERS))
    assert result.exit_code == 0, result.output
    assert user_db_path() == tmp_path / "xdg-data" / "parcelproof" / "parcelproof.duckdb"
    assert user_db_path().exists()
    assert not (tmp_path / "data").exists()  # never the working folder


def test_relative_xdg_data_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")
    assert data_home() == Path.home() / ".local" / "share" / "parcelproof"


def test_an_existing_checkout_database_is_still_used(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "parcelproof.duckdb").write_bytes(b"")
    assert locate_db().path == Path("data") / "parcelproof.duckdb"


def test_config_in_the_users_config_home_is_found(tmp_path: Path) -> None:
    home = tmp_path / "xdg-config" / "parcelproof"
    home.mkdir(parents=True)
    (home / "parcelproof.toml").write_text("[rules]\nstalled_days = 4\n", encoding="utf-8")
    result = run_cli("doctor")
    assert f"config: {home / 'parcelproof.toml'} (the per-user configuration)" in result.output


def test_cron_run_on_a_fresh_install_says_why_and_creates_nothing(tmp_path: Path) -> None:
    """``cd $HOME && parcelproof run --quiet``: no config, no database."""
    done = _parcelproof("run", "--quiet", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "no tracking source is configured" in done.stderr
    assert "no configuration file" in done.stderr
    assert not user_db_path().exists()
    assert not (tmp_path / "data").exists()


def test_run_with_a_source_but_no_database_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "parcelproof.toml"
    config.write_text('[carriers.cainiao]\nbase_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    result = run_cli("run", "--quiet")
    assert result.exit_code == 1
    assert f"no database at {user_db_path()}" in result.output
    assert not user_db_path().exists()


def test_run_with_no_shipments_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "parcelproof.toml"
    config.write_text('[carriers.cainiao]\nbase_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    Store.open(user_db_path()).close()  # an empty database
    result = run_cli("run")
    assert result.exit_code == 1
    assert "no shipments to track" in result.output


def test_doctor_on_a_fresh_install_fails_naming_each_problem(tmp_path: Path) -> None:
    result = run_cli("doctor")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("warn  config: none found") for line in lines), lines
    assert any(line.startswith("fail  sources: no tracking source") for line in lines), lines
    assert any(
        line.startswith(f"fail  database: no database at {user_db_path()}") for line in lines
    )
    assert not user_db_path().exists()  # doctor writes nothing


def test_doctor_on_a_working_set_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sim-key")
    with serve_in_thread(api_key="sim-key") as sim:
        (tmp_path / "parcelproof.toml").write_text(
            sim.config_toml(KEY_ENV) + '[reports]\nformats = ["json"]\n', encoding="utf-8"
        )
        assert run_cli("import", str(SAMPLE_ORDERS)).exit_code == 0
        ran = run_cli("--now", NOW, "run")
        assert ran.exit_code == 0, ran.output
        assert ran.output.splitlines()[-1].startswith("packs: ")  # the count at the end
        assert " evidence packs written" in ran.output.splitlines()[-1]
    result = run_cli("doctor", "--json")
    assert result.exit_code == 0, result.output
    checks = [json.loads(line) for line in result.output.splitlines()]
    by_topic = {c["topic"]: c for c in checks}
    assert by_topic["source 17track"]["text"].startswith(f"usable (key from ${KEY_ENV}")
    assert "sim-key" not in result.output  # never the key itself
    assert by_topic["database"]["text"].startswith(f"{user_db_path()} (the per-user default)")
    assert "25 shipments tracked" in by_topic["database"]["text"]
    assert by_topic["last run"]["level"] == "ok"
    assert by_topic["lock"]["level"] == "ok"
    assert by_topic["packs"]["text"] == f"written to {user_db_path().parent / 'reports'}"


def test_doctor_names_a_missing_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    (tmp_path / "parcelproof.toml").write_text(
        f'[carriers.17track]\napi_key_env = "{KEY_ENV}"\n', encoding="utf-8"
    )
    result = run_cli("doctor")
    assert result.exit_code == 1
    assert f"fail  sources: [carriers.17track] has no key (set {KEY_ENV})" in result.output


def test_packs_default_beside_the_database(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "mine.duckdb"
    assert run_cli("--db", str(db), "import", str(SAMPLE_ORDERS)).exit_code == 0
    result = run_cli("--db", str(db), "--now", NOW, "report", "8101203344552", "--format", "json")
    assert result.exit_code == 0, result.output
    assert list((db.parent / "reports").glob("8101203344552-*/manifest.json"))
    assert not (tmp_path / "data").exists()


def test_relative_out_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "parcelproof.toml").write_text('[reports]\nout_dir = "packs"\n', encoding="utf-8")
    db = tmp_path / "x.duckdb"
    assert run_cli("--db", str(db), "import", str(SAMPLE_ORDERS)).exit_code == 0
    result = run_cli(
        "--db", str(db), "--config", str(conf / "parcelproof.toml"), "--now", NOW,
        "report", "8101203344552", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert list((conf / "packs").glob("8101203344552-*"))
