"""The files of a pack: PDF text, PNG page images, the manifest's hashes, file names."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pypdfium2
import pytest

from analysis.reports import PackResult, write_packs
from analysis.reports.render import PNG_MAX_BYTES, Renderer
from collector.config import Settings
from collector.store import Store
from tests.reports.builder import NOW, Builder, at

# Every test here renders a PDF but one (html_only), and that one is quick anyway.
pytestmark = pytest.mark.pdf


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def full_pack(
    _scenario_db: tuple[Path, dict[str, int]], tmp_path_factory: pytest.TempPathFactory
) -> PackResult:
    """One whole pack (HTML, PDF, PNG pages, manifest), written once for the module:
    rendering a PDF takes seconds. Tests read it only."""
    folder = tmp_path_factory.mktemp("full_pack")
    db, ids = _scenario_db
    with Store.open(shutil.copyfile(db, folder / "t.duckdb")) as store:
        (pack,) = write_packs(
            store,
            [ids["stalled"]],
            now=NOW,
            settings=Settings(),
            formats=("html", "pdf", "png", "json"),
            out_dir=folder / "out",
        )
    return pack


def test_files_are_named_for_what_they_are(full_pack: PackResult) -> None:
    assert full_pack.folder.name == "8101203344552-LP00123456789012"
    names = [p.name for p in full_pack.files]
    pages = [n for n in names if n.endswith(".png")]
    assert names[:2] == ["evidence-LP00123456789012.html", "evidence-LP00123456789012.pdf"]
    assert pages == [f"evidence-LP00123456789012-page-{i}.png" for i in range(1, len(pages) + 1)]
    assert names[-1] == "manifest.json"
    assert sorted(p.name for p in full_pack.folder.iterdir()) == sorted(names)


def test_pdf_opens_and_its_text_has_the_facts(full_pack: PackResult) -> None:
    pdf = full_pack.file(".pdf")
    assert pdf is not None
    document = pypdfium2.PdfDocument(pdf)
    try:
        text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
        pages = len(document)
    finally:
        document.close()
    assert "LP00123456789012" in text
    assert "Tracking stalled" in text and "Suggested dispute message" in text
    assert f"Page 1 of {pages}" in text  # the running footer
    assert pages == len([p for p in full_pack.files if p.suffix == ".png"])


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_text_through_poppler(full_pack: PackResult) -> None:
    pdf = full_pack.file(".pdf")
    assert pdf is not None
    done = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    assert "LP00123456789012" in done.stdout
    assert "8101203344552" in done.stdout


def test_png_pages_fit_marketplace_uploads(full_pack: PackResult) -> None:
    pages = [p for p in full_pack.files if p.suffix == ".png"]
    assert pages
    for page in pages:
        width, height = png_size(page)
        assert 1200 <= width <= 2000
        assert height > width  # A4 portrait
        assert page.stat().st_size < PNG_MAX_BYTES


def test_manifest_hashes_match_the_files(full_pack: PackResult) -> None:
    manifest = json.loads((full_pack.folder / "manifest.json").read_text())
    listed = {f["name"]: f for f in manifest["files"]}
    on_disk = {p.name for p in full_pack.folder.iterdir()} - {"manifest.json"}
    assert set(listed) == on_disk
    for name, entry in listed.items():
        data = (full_pack.folder / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)


def test_manifest_holds_the_facts(full_pack: PackResult) -> None:
    m = json.loads((full_pack.folder / "manifest.json").read_text())
    assert m["schema"] == "parcelproof.evidence-pack/1"
    assert m["evaluated_at"] == "2026-11-28T12:00:00Z"
    assert m["shipment"]["tracking_number"] == "LP00123456789012"
    assert m["shipment"]["amount"] == "18.45"
    assert m["shipment"]["promised_to"] == "2026-11-15T22:59:59Z"
    assert [f["code"] for f in m["flags"]] == ["stalled", "overdue"]  # most severe first
    assert m["flags"][0]["threshold"] == "stalled_days=10"
    assert len(m["events"]) == 3 and m["events"][2]["utc_offset_minutes"] == 480
    assert m["gaps"] == [
        {
            "start": "2026-10-24T06:05:00Z",
            "end": "2026-11-28T12:00:00Z",
            "days": 35.25,
            "open_ended": True,
        }
    ]
    assert len(m["polls"]) == 6 and all(len(p["body_sha256"]) == 64 for p in m["polls"])
    assert len(m["chain_head"]["chain_hash"]) == 64
    assert m["verdict"].startswith("Order 8101203344552")
    assert "LP00123456789012" in m["dispute_message"]


def test_rerun_replaces_stale_page_images(pack_of: Callable[..., PackResult]) -> None:
    first = pack_of("stalled", formats=("html", "pdf", "png", "json"))
    stale = first.folder / "evidence-LP00123456789012-page-99.png"
    stale.write_bytes(b"old")
    again = pack_of("stalled", formats=("html", "pdf", "png", "json"))
    assert not stale.exists()
    assert [p.name for p in again.files] == [p.name for p in first.files]


def test_html_only_writes_no_pdf(pack_of: Callable[..., PackResult]) -> None:
    pack = pack_of("label_only", formats=("html",))
    assert [p.suffix for p in pack.files] == [".html"]


def test_pdf_rendering_never_fetches_anything() -> None:
    # A listening socket that nobody may connect to: WeasyPrint is only allowed data: URLs.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.2)
        port = server.getsockname()[1]
        html = (
            f'<img src="http://127.0.0.1:{port}/x.png">'
            f'<link rel="stylesheet" href="http://127.0.0.1:{port}/x.css"><p>LP1</p>'
        )
        pdf = Renderer().pdf(html)
        with pytest.raises(TimeoutError):
            server.accept()
    assert pdf.startswith(b"%PDF")


@pytest.mark.skipif(shutil.which("pdffonts") is None, reason="poppler-utils not installed")
def test_chinese_carrier_text_gets_a_cjk_font(
    store: Store, scenarios: dict[str, int], tmp_path: Path
) -> None:
    # Chinese posts describe events in Chinese; DejaVu has no CJK glyphs, so the
    # pack's font stack falls back to WenQuanYi Micro Hei (scripts/system-deps.sh).
    b = Builder(store)
    sid = b.shipment("CN-1", "LP00123456789013", carrier="Cainiao")
    b.event(sid, at("2026-10-12T02:10"), "in_transit", "【深圳市】已收寄", location="深圳市")
    b.state(sid)
    (pack,) = write_packs(
        store, [sid], now=NOW, settings=Settings(), formats=["pdf"], out_dir=tmp_path
    )
    pdf = pack.file(".pdf")
    assert pdf is not None
    fonts = subprocess.run(
        ["pdffonts", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    assert "WenQuanYi" in fonts or "CJK" in fonts, fonts
    document = pypdfium2.PdfDocument(pdf)
    try:
        text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()
    assert "【深圳市】已收寄" in text
