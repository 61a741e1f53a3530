"""Long pack work shows progress on a terminal and ends with a count."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.reports import make_report
from collector import clock
from collector.config import Settings
from collector.importer import import_file
from collector.store import Store
from tests.conftest import NOW, SAMPLE_ORDERS, run_cli


def test_report_ends_with_a_count_and_no_bar_off_a_terminal(db_path: Path) -> None:
    assert run_cli("--db", str(db_path), "import", str(SAMPLE_ORDERS)).exit_code == 0
    ids = ("8101203344552", "8101203344553")
    result = run_cli("--db", str(db_path), "--now", NOW, "report", *ids, "--format", "json")
    assert result.exit_code == 0, result.output
    last = result.output.splitlines()[-1]
    assert last == f"2 evidence packs in {db_path.parent / 'reports'}"
    assert "evidence packs ━" not in result.output  # no bar in a pipe or cron mail


def test_the_bar_counts_every_pack(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(db_path) as store:
        import_file(store, SAMPLE_ORDERS)
        result = make_report(
            store,
            ("8101203344552", "8101203344553", "8101203344554"),
            now=clock.parse_instant(NOW),
            settings=Settings(),
            formats=("json",),
            out_dir=db_path.parent / "packs",
            progress=True,
        )
    assert len(result.packs) == 3
    err = capsys.readouterr().err
    assert "evidence packs" in err and "3/3" in err
