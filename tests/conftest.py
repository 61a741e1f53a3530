"""Shared fixtures: a fresh database path, a CLI runner, a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from collector import clock
from collector.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ORDERS = ROOT / "data" / "samples" / "orders.csv"
NOW = "2026-11-28T12:00:00Z"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for var in ("PARCELPROOF_DB", "PARCELPROOF_CONFIG", "PARCELPROOF_NOW"):
        monkeypatch.delenv(var, raising=False)
    # The per-user homes (collector.paths) of each test are its own, never ~/.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.chdir(tmp_path)
    yield
    clock.set_now(None)
    clock.set_wall(None)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "t.duckdb"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store.open(db_path) as s:
        yield s


def run_cli(*args: str, input: str | None = None) -> Result:
    """Invoke the ``parcelproof`` command in-process."""
    from analysis.cli import cli

    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def cli_run() -> object:
    return run_cli
