"""Shared fixtures: a fresh database path, a CLI runner, a fixed clock, the demo database.

``make test-fast`` leaves out the tests marked ``slow``, ``browser``, ``pdf`` and
``notebooks``. A test that renders a PDF without the ``pdf`` marker fails (see
:func:`_pdf_needs_its_marker`), so the fast suite never renders one by accident.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
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


@pytest.fixture(autouse=True)
def _pdf_needs_its_marker(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering a PDF (and so its PNG pages) is for tests marked ``pdf`` only."""
    if request.node.get_closest_marker("pdf") is not None:
        return
    from analysis.reports.render import Renderer

    def refuse(self: Renderer, html: str) -> bytes:
        raise AssertionError(
            f"{request.node.nodeid} renders a PDF: mark it @pytest.mark.pdf "
            "(make test-fast leaves those out)"
        )

    monkeypatch.setattr(Renderer, "pdf", refuse)


@dataclass(frozen=True)
class DemoDb:
    """The database ``parcelproof demo`` built, once per test session (read it only)."""

    path: Path
    #: What the demo printed.
    output: str

    def copy(self, target: Path) -> Path:
        """A private copy of the database at ``target``, for a test that writes."""
        shutil.copyfile(self.path, target)
        return target


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoDb]:
    """``parcelproof demo`` at the demo's "now": the sample orders polled from the simulator,
    flags evaluated, a pack for every flagged parcel. Built once per session (about
    half a minute); tests that write use :meth:`DemoDb.copy`."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        for var in ("PARCELPROOF_DB", "PARCELPROOF_CONFIG", "PARCELPROOF_NOW"):
            patch.delenv(var, raising=False)
        patch.chdir(path.parent)
        try:
            result = run_cli("--db", str(path), "demo")
        finally:
            clock.set_now(None)
    assert result.exit_code == 0, result.output
    yield DemoDb(path, result.output)


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
