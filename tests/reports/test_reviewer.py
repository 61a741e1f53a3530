"""The pack opens with a part for the marketplace's reviewer: the buyer's statement,
the public tracking page of each number, no rule names and no advice; the advice and
the full provenance come after it (issue 18, item 8)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from analysis.reports import PackResult, write_packs
from analysis.rules import FLAG_CODES
from collector.config import ReportsConfig, Settings
from collector.store import Store
from tests.reports.builder import NOW, Builder, at
from tests.reports.conftest import parse, text_of

ADVICE = (
    "open the", "dispute now", "ask the seller", "contact the seller", "last day", "wait until",
)  # fmt: skip


def test_the_first_part_is_the_buyers_statement_for_the_reviewer(
    pack_of: Callable[..., PackResult],
) -> None:
    tree = parse(pack_of("stalled"))
    sections = [n.attributes.get("id") for n in tree.css("main > section, main > div")]
    assert sections.index("reviewer") < sections.index("verdict") < sections.index("dispute")
    assert sections.index("message") < sections.index("part-record") < sections.index("timeline")
    assert sections.index("timeline") < sections.index("provenance")
    part = text_of(tree, "#reviewer")
    assert "Part 1 · For the reviewer at AliExpress" in part
    assert "Item not received: order" in part
    assert "I have not received it." in part
    assert "I ask for a full refund" in part
    # The courier data's public page for a Cainiao number, as a link.
    links = [a.attributes["href"] for a in tree.css("#reviewer a")]
    assert links == ["https://global.cainiao.com/newDetail.htm?mailNoList=LP00123456789012"]
    # No rule name, no advice to the buyer.
    lowered = part.lower()
    assert not [c for c in FLAG_CODES if c in lowered or c.replace("_", " ") in lowered]
    assert not [a for a in ADVICE if a in lowered], part
    assert "threshold" not in lowered and "rule" not in lowered


def test_sections_are_numbered_without_a_gap(pack_of: Callable[..., PackResult]) -> None:
    for name in ("stalled", "delivered_ok", "not_found"):
        tree = parse(pack_of(name))
        numbers = [int(n.text()) for n in tree.css("h2 .num")]
        assert numbers == list(range(1, len(numbers) + 1)), (name, numbers)


def test_a_dropshippers_pack_speaks_of_the_customer(
    store: Store, scenarios: dict[str, int], tmp_path: Path
) -> None:
    settings = replace(Settings(), reports=ReportsConfig(dropshipper=True))
    (pack,) = write_packs(
        store, [scenarios["stalled"]], now=NOW, settings=settings, formats=("html",),
        out_dir=tmp_path / "out",
    )  # fmt: skip
    tree = parse(pack)
    part = text_of(tree, "#reviewer")
    assert "My customer has not received it." in part
    assert "for my customer" in part and "I have not received" not in part
    assert "My customer has not received" in text_of(tree, "#message")


def test_no_claim_where_the_parcel_was_delivered_home(pack_of: Callable[..., PackResult]) -> None:
    part = text_of(parse(pack_of("delivered_ok")), "#reviewer")
    assert part.startswith("Part 1") and "Tracking record: order" in part
    assert "not received" not in part.replace("Item not received", "")
    assert "refund" not in part


def test_an_s10_number_links_to_an_aggregator_page(pack_of: Callable[..., PackResult]) -> None:
    tree = parse(pack_of("returned"))
    links = [a.attributes["href"] for a in tree.css("#reviewer a")]
    assert len(links) == 1 and re.fullmatch(r"https://t\.17track\.net/en#nums=[A-Z0-9]+", links[0])


def test_failed_requests_are_labelled_in_the_provenance(
    store: Store, scenarios: dict[str, int], tmp_path: Path
) -> None:
    sid = scenarios["stalled"]
    builder = Builder(store)
    failed = builder.poll(at("2026-11-27T06:00:00Z"), {sid: "error"}, http_status=503)
    builder.state(sid)
    (pack,) = write_packs(
        store, [sid], now=NOW, settings=Settings(), formats=("html",), out_dir=tmp_path / "o"
    )
    tree = parse(pack)
    rows = {
        int(r.css_first('td[data-label="Poll"]').text().split()[0]): r
        for r in tree.css("#provenance tbody tr")
        if r.css_first('td[data-label="Poll"]') is not None
    }
    assert "failed request" in rows[failed].text().lower()
    assert "failed" in (rows[failed].attributes.get("class") or "")
    others = [r for pid, r in rows.items() if pid != failed]
    assert others and not [r for r in others if "failed request" in r.text().lower()]
    assert "1 request failed" in text_of(tree, "#provenance")


@pytest.mark.pdf
def test_the_printed_pack_has_no_blank_page(pack_of: Callable[..., PackResult]) -> None:
    import pypdfium2

    for name in ("stalled", "returned", "delivered_ok"):
        pdf_path = pack_of(name, formats=("html", "pdf")).file(".pdf")
        assert pdf_path is not None
        pdf = pypdfium2.PdfDocument(pdf_path)
        try:
            text = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
        finally:
            pdf.close()
        # The running footer alone is about 60 characters; a page with next to nothing
        # more is a page a part break left behind.
        assert all(len(t.strip()) > 200 for t in text), (name, [len(t) for t in text])
        assert "for the reviewer" in text[0].lower()
