"""The notebooks run top to bottom on the database `parcelproof demo` builds, and
are committed without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from collector.store import Store
from tests.conftest import DemoDb
from tests.notebooks.runner import NOTEBOOKS, execute
from tests.sample_db import NOW

# The plots each notebook saves when PARCELPROOF_FIGURES is set.
FIGURES = {
    "01-triage.ipynb": ["triage-deadlines.png"],
    "02-carriers.ipynb": ["carriers-transit.png", "carriers-legs.png"],
    "03-sellers.ipynb": ["sellers-scorecard.png"],
    "04-disputes.ipynb": [
        "disputes-deadlines.png",
        "disputes-recovered.png",
        "disputes-win-rate.png",
    ],
}
# Something each notebook must show for the sample orders.
SHOWS = {
    "01-triage.ipynb": ["open_dispute", "RB640192835SG", "LP00123456789012"],
    "02-carriers.ipynb": ["China Post", "transit_days_p50", "stall_rate"],
    "03-sellers.ipynb": [
        "MiniParts Factory Store",
        "on_time_rate",
        "invalid_number",
        "disputes_won",
    ],
    "04-disputes.ipynb": ["send_evidence", "8101203344558", "win_rate", "12.99"],
}


def test_the_four_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == list(FIGURES)


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.pdf  # the demo database's packs (built once per session)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, demo_db: DemoDb, tmp_path: Path) -> None:
    with Store.open(demo_db.path, read_only=True) as store:
        assert store.query("SELECT count(*) > 100 FROM events") == [(True,)]
    figures = tmp_path / "figures"
    figures.mkdir()
    env = {
        "PARCELPROOF_DB": str(demo_db.path),
        "PARCELPROOF_NOW": NOW.isoformat(),
        "PARCELPROOF_FIGURES": str(figures),
    }
    shown = _run_cleanly(path, env)
    for text in SHOWS[path.name]:
        assert text in shown, f"{path.name} does not show {text!r}"
    assert sorted(p.name for p in figures.iterdir()) == sorted(FIGURES[path.name])
    for png in figures.iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def _run_cleanly(path: Path, env: dict[str, str]) -> str:
    """Run the notebook; no warning or traceback on the way; the text it showed."""
    notebook = execute(path, env)  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    stderr = [o.get("text", "") for o in outputs if o.get("name") == "stderr"]
    assert stderr == []
    assert not [o for o in outputs if o.output_type == "error"]
    return "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_an_empty_database(path: Path, tmp_path: Path) -> None:
    # A fresh install: the database migrated, nothing imported or evaluated yet.
    db = tmp_path / "empty.duckdb"
    Store.open(db).close()
    figures = tmp_path / "figures"
    figures.mkdir()
    env = {"PARCELPROOF_DB": str(db), "PARCELPROOF_FIGURES": str(figures)}
    _run_cleanly(path, env)
    assert sorted(p.name for p in figures.iterdir()) == sorted(FIGURES[path.name])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs; clear them"
            assert cell.execution_count is None, f"{path.name}: clear the execution counts"
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"


def test_notebooks_default_to_the_demo_database() -> None:
    for path in NOTEBOOKS:
        first_code = next(
            c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
        )
        assert (
            'os.environ.get("PARCELPROOF_DB") or "../data/parcelproof.duckdb"' in first_code.source
        )
