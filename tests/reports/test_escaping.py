"""Whatever a carrier (or an import file) sends shows as text, never as markup."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pypdfium2
import pytest
from selectolax.lexbor import LexborHTMLParser

from analysis.reports import write_packs
from collector.config import Settings
from collector.store import Store
from tests.reports.builder import NOW, Builder, at

SCRIPT = "<script>alert('x')</script>"
IMG = '"><img src=x onerror=alert(1)>'
STYLE = "</style><style>body{display:none}</style>"
SVG = "<svg onload=alert(2)></svg>"
IFRAME = "<iframe src=javascript:alert(3)></iframe>"
TEMPLATE = "{{ 7*7 }}{% raw %}"


# The hostile pack is rendered to PDF once for the module.
pytestmark = pytest.mark.pdf


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A pack whose every carrier- or user-provided field is hostile markup."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    with Store.open(tmp_path / "hostile.duckdb") as store:
        b = Builder(store)
        sid = b.shipment(
            "ORD<b>1</b>",
            "LP00123456789012",
            store=STYLE,
            item=TEMPLATE,
            destination_city=IMG,
            carrier=IFRAME,
            number_reason=SVG,
        )
        pid = b.poll(
            at("2026-10-20T06:00"),
            {sid: "ok"},
            message=SCRIPT,
            code=IMG,
            url=f"https://api.example/track?q={IMG}",
        )
        key = b.event(
            sid,
            at("2026-10-19T06:00"),
            "in_transit",
            SCRIPT,
            location=IMG,
            poll_id=pid,
            raw_code=SVG,
        )
        b.event(sid, at("2026-10-21T06:00"), "exception", IFRAME, location=STYLE, poll_id=pid)
        b.state(sid)
        b.flag(
            sid,
            "stalled",
            f"detail {SCRIPT}",
            threshold=f"x={IMG}",
            event_keys=[key],
            severity="critical",
        )
        b.flag(sid, "exception", SVG, severity="warning")
        (pack,) = write_packs(
            store,
            [sid],
            now=NOW,
            settings=Settings(),
            formats=["html", "pdf", "json"],
            out_dir=tmp_path / "out",
        )
    html, pdf = pack.file(".html"), pack.file(".pdf")
    assert html is not None and pdf is not None
    return html, pdf


def test_hostile_text_is_not_markup(hostile: tuple[Path, Path]) -> None:
    tree = LexborHTMLParser(hostile[0].read_text())
    assert tree.css("script") == []
    assert tree.css("iframe") == []
    assert tree.css("img") == []
    assert len(tree.css("svg")) == 1  # only the chart
    assert len(tree.css("style")) == 1  # only the pack's own stylesheet
    for node in tree.css("*"):
        assert not any(name.lower().startswith("on") for name in node.attributes), node.tag


def test_hostile_text_shows_as_text(hostile: tuple[Path, Path]) -> None:
    tree = LexborHTMLParser(hostile[0].read_text())
    body = tree.body
    assert body is not None
    text = body.text()
    for raw in (SCRIPT, IMG, STYLE, SVG, IFRAME, TEMPLATE, "ORD<b>1</b>"):
        assert raw in text, raw
    assert "49" not in text.split("Item")[1][:40]  # {{ 7*7 }} was not evaluated
    titles = [t.text() for t in tree.css("svg title")]
    assert any(SCRIPT in t for t in titles)  # chart tooltips are escaped too


def test_hostile_text_in_the_pdf_and_manifest(hostile: tuple[Path, Path]) -> None:
    document = pypdfium2.PdfDocument(hostile[1])
    try:
        text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()
    assert "<script>alert('x')</script>" in text.replace("\r\n", "")
    manifest = json.loads((hostile[0].parent / "manifest.json").read_text())
    assert manifest["events"][0]["description"] == SCRIPT
    assert manifest["shipment"]["order_id"] == "ORD<b>1</b>"


def test_folder_name_is_safe(hostile: tuple[Path, Path]) -> None:
    # Sanitising changed the order id, so a hash of the original keeps the name unique.
    assert re.fullmatch(r"ORD_b_1_b-LP00123456789012-[0-9a-f]{10}", hostile[0].parent.name)
