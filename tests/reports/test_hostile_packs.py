"""Packs under hostile ids: unique bounded folder names, one failure does not stop the
others, and a pack appears whole or not at all (issue 17, items 1 and 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from analysis.reports import packs as packs_module
from analysis.reports import write_index, write_packs
from analysis.reports.packs import PackFailure, pack_folder_name
from collector.config import Settings
from collector.store import Store
from tests.reports.builder import NOW, Builder, at


def _flagged(b: Builder, order_id: str, number: str) -> int:
    sid = b.shipment(order_id, number)
    b.event(sid, at("2026-10-20T08:00"), "in_transit", "Departed sorting center")
    b.state(sid)
    b.flag(sid, "stalled", "no movement", severity="critical", raised_at=NOW)
    return sid


@pytest.mark.parametrize(
    ("first", "second"),
    [(("EB-23/09876", "LP1"), ("EB-23_09876", "LP1")), (("A1.", "LP1"), ("A1..", "LP1"))],
)
def test_ids_that_sanitise_alike_get_their_own_folders_and_index_rows(
    store: Store, tmp_path: Path, first: tuple[str, str], second: tuple[str, str]
) -> None:
    b = Builder(store)
    ids = [_flagged(b, *first), _flagged(b, *second)]
    out = tmp_path / "out"
    packs = write_packs(store, ids, now=NOW, settings=Settings(), formats=["html"], out_dir=out)
    folders = {p.folder for p in packs}
    assert len(folders) == 2 and all(f.parent == out and f.is_dir() for f in folders)
    for pack in packs:
        html = pack.file(".html")
        assert html is not None and pack.order_id in html.read_text(encoding="utf-8")
    index = write_index(packs, now=NOW, out_dir=out)
    links = [
        a.attributes["href"]
        for a in LexborHTMLParser(index.read_text(encoding="utf-8")).css("a")
        if a.attributes.get("href", "").endswith(".html")
    ]
    assert len(set(links)) == 2


def test_long_and_dash_ids_give_bounded_names_not_starting_with_a_dash(
    store: Store, tmp_path: Path
) -> None:
    b = Builder(store)
    sid = _flagged(b, "-" + "x" * 300, "N" * 300)
    (pack,) = write_packs(
        store, [sid], now=NOW, settings=Settings(), formats=["html", "json"], out_dir=tmp_path
    )
    assert not pack.folder.name.startswith(("-", "."))
    assert all(len(p.name.encode()) <= 200 for p in [pack.folder, *pack.files])
    assert pack_folder_name("8101203344552", "LP00123456789012") == (
        "8101203344552-LP00123456789012"
    )


def test_a_failing_pack_is_named_and_the_others_are_written(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = Builder(store)
    good = _flagged(b, "GOOD-1", "LP2")
    bad = _flagged(b, "BAD-1", "LP3")
    real = packs_module._render_into

    def render(facts, renderer, formats, folder, *rest):  # type: ignore[no-untyped-def]
        if facts.shipment.order_id == "BAD-1":
            raise OSError(28, "No space left on device")
        return real(facts, renderer, formats, folder, *rest)

    monkeypatch.setattr(packs_module, "_render_into", render)
    failures: list[PackFailure] = []
    packs = write_packs(
        store,
        [bad, good],
        now=NOW,
        settings=Settings(),
        formats=["html"],
        out_dir=tmp_path / "out",
        failures=failures,
    )
    assert [p.order_id for p in packs] == ["GOOD-1"]
    assert [str(f) for f in failures] == [
        "order BAD-1 number LP3: cannot write the pack: No space left on device"
    ]
    # No temporary folder is left behind.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["GOOD-1-LP2"]


def test_an_interrupted_rewrite_leaves_the_old_pack_whole(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = Builder(store)
    sid = _flagged(b, "ORDER-9", "LP9")
    out = tmp_path / "out"
    (old,) = write_packs(
        store, [sid], now=NOW, settings=Settings(), formats=["html", "json"], out_dir=out
    )
    before = {p.name: p.read_bytes() for p in old.folder.iterdir()}
    real = packs_module._write

    def killed(path: Path, data: bytes) -> Path:
        if path.name == "manifest.json":
            raise KeyboardInterrupt  # as a kill between the HTML and the manifest
        return real(path, data.replace(b"LP9", b"LP9 (rewritten)"))

    monkeypatch.setattr(packs_module, "_write", killed)
    with pytest.raises(KeyboardInterrupt):
        write_packs(
            store, [sid], now=NOW, settings=Settings(), formats=["html", "json"], out_dir=out
        )
    assert {p.name: p.read_bytes() for p in old.folder.iterdir()} == before
    assert [p.name for p in out.iterdir()] == [old.folder.name]
    manifest = json.loads((old.folder / "manifest.json").read_text())
    assert {f["name"] for f in manifest["files"]} == set(before) - {"manifest.json"}
