"""Fixtures for evidence-pack tests: a store holding every scenario, and pack helpers."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from analysis.reports import PackResult, write_packs
from collector.config import Settings
from collector.store import Store
from tests.reports.builder import NOW, build_all


@pytest.fixture(scope="session")
def _scenario_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    # Built once (hundreds of single-row inserts), then copied for each test.
    path = tmp_path_factory.mktemp("scenarios") / "scenarios.duckdb"
    with Store.open(path) as store:
        _, ids = build_all(store)
    return path, ids


@pytest.fixture
def db_path(_scenario_db: tuple[Path, dict[str, int]], tmp_path: Path) -> Path:
    """A private copy of the scenario database (overrides the empty one)."""
    target = tmp_path / "t.duckdb"
    shutil.copyfile(_scenario_db[0], target)
    return target


@pytest.fixture
def scenarios(_scenario_db: tuple[Path, dict[str, int]]) -> dict[str, int]:
    """{scenario name: shipment_id} in the ``store`` fixture's database."""
    return _scenario_db[1]


@pytest.fixture
def pack_of(store: Store, scenarios: dict[str, int], tmp_path: Path) -> Callable[..., PackResult]:
    """Write the pack of one named scenario (HTML and manifest unless told otherwise)."""

    def make(name: str, formats: tuple[str, ...] = ("html", "json")) -> PackResult:
        (result,) = write_packs(
            store,
            [scenarios[name]],
            now=NOW,
            settings=Settings(),
            formats=formats,
            out_dir=tmp_path / "out",
        )
        return result

    return make


def parse(pack: PackResult) -> HTMLParser:
    html = pack.file(".html")
    assert html is not None
    return HTMLParser(html.read_text(encoding="utf-8"))


def text_of(tree: HTMLParser, selector: str) -> str:
    """The whitespace-normalised text of the first node matching ``selector``."""
    node = tree.css_first(selector)
    assert node is not None, f"no {selector}"
    return " ".join(node.text(separator=" ").split())
