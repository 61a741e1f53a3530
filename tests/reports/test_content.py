"""What an evidence pack says: one content test per flag kind, then the sections.

The HTML is parsed (selectolax) and its visible text compared, so that a test fails
when a fact is missing or wrong, not when markup moves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.reports import PackResult, adapters, write_packs
from collector.config import RulesConfig, Settings
from collector.sources.base import Event
from collector.sources.status import Status
from collector.store import Store
from tests.reports.builder import NOW, Builder
from tests.reports.conftest import parse, text_of

# For each flag kind: facts the verdict must state (dates as the buyer reads them).
VERDICT_FACTS = {
    "stalled": ["not moved for 35 days", "“Departed sorting center” in Guangzhou on 24 Oct 2026"],
    "label_only": ["electronic shipping notice (8 Nov 2026)", "never reported receiving"],
    "not_found": ["6 requests to 17track, cainiao", "answered 'not found'"],
    "invalid_number": ["RR507128933CN is not valid", "check digit 3 does not match computed 2"],
    "returned": ["was returned to the sender (5 Nov 2026", "Returned to sender: unclaimed"],
    "delivered_elsewhere": ["delivered on 24 Oct 2026 in AUSTIN, TX 73301", "San Francisco 94107"],
    "protection_expiring": ["Buyer protection ends on 1 Dec 2026, in 3 days"],
    "scan_before_order": ["first scan (2 Sep 2026) is 53 days before the order", "25 Oct 2026"],
    "carrier_mismatch": ["declared the carrier as UPS", "format s10"],
    "exception": ["reports a problem", "Held by customs: import documents missing"],
    "expired": ["stopped tracking the parcel without any delivery", "Departed from origin"],
    "number_reused": ["also attached to order 8101203344563"],
}
TITLES = {
    "stalled": "Tracking stalled",
    "label_only": "Label created, never handed over",
    "not_found": "No carrier has any record",
    "invalid_number": "Invalid tracking number",
    "returned": "Returned to sender",
    "delivered_elsewhere": "Delivered to a different place",
    "protection_expiring": "Buyer protection ends soon",
    "scan_before_order": "Scanned before the order was placed",
    "carrier_mismatch": "Carrier cannot issue this number",
    "exception": "Carrier reports a problem",
    "expired": "Tracking expired without delivery",
    "number_reused": "Tracking number used on another order",
}
# The documented order (README "Evidence packs"): part 1 for the reviewer, part 2 for
# the buyer (advice and message), part 3 the full record.
SECTIONS = [
    "reviewer", "verdict", "order", "flags", "dispute", "message", "timeline", "chart",
    "provenance",
]  # fmt: skip


@pytest.mark.parametrize("code", sorted(VERDICT_FACTS))
def test_each_flag_kind_is_stated_with_its_facts_and_rule(
    code: str, pack_of: Callable[..., PackResult]
) -> None:
    pack = pack_of(code)
    tree = parse(pack)
    verdict = text_of(tree, "#verdict")
    for fact in VERDICT_FACTS[code]:
        # The first finding continues the verdict's opening sentence (lower case).
        assert fact.lower() in verdict.lower(), f"{code}: {fact!r} not in verdict: {verdict}"
    assert TITLES[code] in verdict  # the headline names the finding
    card = text_of(tree, f'article[data-flag="{code}"]')
    assert TITLES[code] in card
    manifest = json.loads((pack.folder / "manifest.json").read_text())
    flag = next(f for f in manifest["flags"] if f["code"] == code)
    assert flag["detail"] in card
    assert flag["rule"] in card and flag["basis"] in card
    if flag["threshold"]:
        assert f"Threshold {flag['threshold']}" in card
    assert "since" in card and code in card


def test_sections_come_in_the_documented_order(pack_of: Callable[..., PackResult]) -> None:
    html = (pack_of("stalled").file(".html") or Path()).read_text()
    positions = [html.index(f'id="{name}"') for name in SECTIONS]
    assert positions == sorted(positions)
    assert html.index('id="message"') < html.index('class="colophon"')


def test_order_section_states_the_order(pack_of: Callable[..., PackResult]) -> None:
    order = text_of(parse(pack_of("stalled")), "#order")
    for fact in [
        "Marketplace AliExpress",
        "Store / seller Yiwu Home Official",
        "Item LED desk lamp",
        "Amount 18.45 EUR",
        "Order id 8101203344552",
        "Ordered 10 Oct 2026 14:41 (UTC+02:00)",  # Madrid summer time
        "Shipped 12 Oct 2026",
        "Promised window 28 Oct 2026 to 15 Nov 2026",
        "Protection ends 14 Dec 2026 23:59 (UTC+01:00)",
        "Destination Madrid 28013, ES",
    ]:
        assert fact in order, fact


def test_verdict_states_the_promise(pack_of: Callable[..., PackResult]) -> None:
    verdict = text_of(parse(pack_of("stalled")), "#verdict")
    assert "promised delivery between 28 Oct 2026 and 15 Nov 2026" in verdict
    assert "Buyer protection ends on 14 Dec 2026 (16 days from now)" in verdict
    assert "First flagged by parcelproof on 3 Nov 2026" in verdict
    # Each fact once: the overdue finding states the window, so no second mention.
    assert verdict.count("15 Nov 2026") == 1


def test_verdict_quotes_an_event_once(
    store: Store, scenarios: dict[str, int], tmp_path: Path
) -> None:
    sid = scenarios["exception"]
    store.conn.execute(
        "INSERT INTO flags (shipment_id, code, severity, raised_at, confirmed_at, detail) "
        "VALUES (?, 'stalled', 'warning', ?, ?, 'no event for 10 days')",
        [sid, NOW, NOW],
    )
    (pack,) = write_packs(
        store, [sid], now=NOW, settings=Settings(), formats=["html"], out_dir=tmp_path
    )
    tree = parse(pack)
    verdict = text_of(tree, "#verdict")
    assert verdict.count("Held by customs") == 1
    assert "Tracking has not moved since then (9 days)." in verdict
    # The finding cards stand alone: each quotes its event.
    assert "the last event was “Held by customs" in text_of(tree, 'article[data-flag="stalled"]')


def test_timeline_has_local_and_utc_times_and_marks_the_stall(
    pack_of: Callable[..., PackResult],
) -> None:
    tree = parse(pack_of("stalled"))
    rows = tree.css("#timeline tbody tr")
    cells = [" ".join(td.text(separator=" ").split()) for td in rows[2].css("td")]
    assert cells[0].startswith("2026-10-24 14:05 UTC+08:00")
    assert cells[0].endswith("cited")  # the stalled flag relies on this event
    assert cells[1:] == [
        "2026-10-24 06:05 UTC",
        "In transit",
        "Departed sorting center code SC_OUTBOUND_SUCCESS",
        "Guangzhou",
        "17track",
    ]
    gaps = [" ".join(r.text().split()) for r in tree.css("#timeline tr.gap")]
    assert gaps == [
        "No tracking update for 35 days, up to now "
        "(2026-10-24 06:05 UTC to now, 2026-11-28 12:00 UTC)"
    ]
    # 2 days between the first two events, 10 between the 2nd and 3rd: not a gap.
    note = text_of(tree, "#timeline .note")
    assert "stall threshold (10 days" in note and "rules.stalled_days" in note


def test_gaps_between_events_follow_the_threshold(
    store: Store, scenarios: dict[str, int], tmp_path: Path
) -> None:
    ids = scenarios
    sid = ids["protection_expiring"]
    for days, expected in ((10, ["No tracking update for 25 days"]), (30, [])):
        settings = Settings(rules=RulesConfig(stalled_days=days))
        (pack,) = write_packs(
            store, [sid], now=NOW, settings=settings, formats=["html"], out_dir=tmp_path / str(days)
        )
        gaps = [" ".join(r.text().split()) for r in parse(pack).css("#timeline tr.gap")]
        assert [g.split(" (")[0] for g in gaps] == expected


def test_delivered_parcel_says_nothing_is_wrong(pack_of: Callable[..., PackResult]) -> None:
    pack = pack_of("delivered_ok")
    tree = parse(pack)
    verdict = text_of(tree, "#verdict")
    assert "No problem found" in verdict and "delivered" in verdict
    assert "No rule raised a flag" in text_of(tree, "#flags")
    # 17 days between posting and delivery are marked; silence after delivery is not.
    gaps = [" ".join(r.text().split()) for r in tree.css("#timeline tr.gap")]
    assert len(gaps) == 1 and "up to now" not in gaps[0]
    assert pack.flags == () and pack.severity == "ok"


def test_provenance_lists_every_poll_with_its_hash_and_the_chain_head(
    store: Store, pack_of: Callable[..., PackResult]
) -> None:
    pack = pack_of("not_found")
    tree = parse(pack)
    rows = tree.css("#provenance tbody tr")
    polls = store.query(
        "SELECT p.poll_id, p.body_sha256, p.url, p.source FROM poll_results r "
        "JOIN polls p USING (poll_id) WHERE r.shipment_id = ? ORDER BY p.poll_id",
        [pack.shipment_id],
    )
    assert len(rows) == len(polls) == 6
    for row, (poll_id, sha, url, source) in zip(rows, polls, strict=True):
        text = " ".join(row.text(separator=" ").split())
        assert text.startswith(str(poll_id))
        assert sha in text and url in text and source in text
        assert "not found" in text
        if source == "17track":
            assert "-18019902: not found" in text  # the source's own code and message
        body = store.query("SELECT byte_length FROM raw_documents WHERE sha256 = ?", [sha])
        assert f"{body[0][0]} bytes" in text
    head_id, head_hash = store.query(
        "SELECT poll_id, chain_hash FROM polls ORDER BY poll_id DESC LIMIT 1"
    )[0]
    chain = text_of(tree, "#chain")
    assert head_hash in chain and f"poll #{head_id}" in chain
    assert "parcelproof --db <database> verify" in chain


def test_provenance_hashes_name_the_stored_bodies(
    store: Store, pack_of: Callable[..., PackResult]
) -> None:
    import zlib

    manifest = json.loads((pack_of("stalled").folder / "manifest.json").read_text())
    for poll in manifest["polls"]:
        (stored,) = store.query(
            "SELECT body FROM raw_documents WHERE sha256 = ?", [poll["body_sha256"]]
        )[0]
        assert hashlib.sha256(zlib.decompress(stored)).hexdigest() == poll["body_sha256"]


def test_dispute_message_cites_the_facts(pack_of: Callable[..., PackResult]) -> None:
    message = text_of(parse(pack_of("delivered_elsewhere")), "#message pre")
    for fact in [
        "I have not received order 8101203344557 (Phone case, 9.99 USD)",
        "tracking number the seller gave is 9400111206206406260787 (USPS)",
        "delivered on 24 Oct 2026 in AUSTIN, TX 73301",
        "Nothing was delivered to my address.",
        "5 requests to 17track",
        "Under AliExpress Buyer Protection, I ask for a full refund of 9.99 USD.",
    ]:
        assert fact in message, fact


def test_message_follows_the_marketplace(
    store: Store, scenarios: dict[str, int], tmp_path: Path
) -> None:
    ids = scenarios
    Builder(store).factory.update(ids["stalled"], NOW, marketplace="ebay")
    (pack,) = write_packs(
        store, [ids["stalled"]], now=NOW, settings=Settings(), formats=["html"], out_dir=tmp_path
    )
    assert "eBay Money Back Guarantee" in text_of(parse(pack), "#message pre")


def test_number_reused_names_the_other_order(pack_of: Callable[..., PackResult]) -> None:
    order = text_of(parse(pack_of("number_reused")), "#order")
    assert "also on: order 8101203344563 (AliExpress, Other Store" in order


def test_footer_has_version_and_time(pack_of: Callable[..., PackResult]) -> None:
    from analysis.reports.render import tool_version

    footer = text_of(parse(pack_of("stalled")), "footer.colophon")
    assert f"Made by parcelproof {tool_version()} at 2026-11-28 12:00 UTC" in footer


def test_dispute_section_uses_the_dispute_windows(
    pack_of: Callable[..., PackResult],
) -> None:
    section = text_of(parse(pack_of("stalled")), "#dispute")
    assert "Open a dispute by 14 Dec 2026" in section
    assert "Open the AliExpress dispute now" in section
    # The destination's dates as the window computed them, no time of day.
    assert "last day 14 Dec 2026 (a refund request is still possible until 29 Dec 2026)" in (
        section
    )
    assert "(UTC" not in section


def test_dispute_section_without_a_window(
    pack_of: Callable[..., PackResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapters, "dispute_windows", lambda *a, **k: {})
    section = text_of(parse(pack_of("stalled")), "#dispute")
    assert "Dispute window not computed" in section
    assert "Buyer protection ends on 14 Dec 2026" in section


def test_chart_draws_events_window_and_protection(pack_of: Callable[..., PackResult]) -> None:
    tree = parse(pack_of("stalled"))
    svg = tree.css_first("#chart svg")
    assert svg is not None
    assert len(svg.css("circle")) == 3  # one dot per event
    labels = [t.text() for t in svg.css("text")]
    assert "Promised by 15 Nov 2026" in labels
    assert "Protection ends 14 Dec 2026" in labels
    assert "Now 28 Nov 2026" in labels
    assert "35 days without an update" in labels
    titles = [t.text() for t in svg.css("title")]
    assert "Promised delivery window" in titles
    assert len([t for t in titles if "17track: ok" in t]) == 6  # one tick per request


@pytest.mark.pdf
def test_a_bare_shipment_still_makes_a_complete_pack(tmp_path: Path) -> None:
    # Only what the import requires: an order id, a number and a shipping date; one
    # event whose time the source did not give; an unknown flag kind.
    with Store.open(tmp_path / "bare.duckdb") as store:
        b = Builder(store)
        sid = b.shipment(
            "B-1",
            "XX1",
            ordered_at=None,
            promised_from=None,
            promised_to=None,
            protection_ends_at=None,
            destination_country=None,
            destination_city=None,
            destination_postcode=None,
            item=None,
            amount=None,
            currency=None,
            store=None,
            carrier=None,
            courier=None,
            number_format=None,
            number_verdict=None,
            marketplace="other",
        )
        undated = Event(
            occurred_at=None,
            local_time="yesterday 10:00",
            utc_offset_minutes=None,
            tz_known=False,
            status=Status.IN_TRANSIT,
            sub_status=None,
            raw_code=None,
            raw_status="Moving",
            description="Moving",
        )
        b.factory.answer(NOW, [b.factory.result(b.factory.number_of(sid), "ok", [undated])])
        b.flag(sid, "some_future_rule", "a rule added later said so", severity="info")
        (pack,) = write_packs(
            store,
            [sid],
            now=NOW,
            settings=Settings(),
            formats=["html", "pdf", "json"],
            out_dir=tmp_path / "out",
        )
    tree = parse(pack)
    assert "A rule added later said so." in text_of(tree, "#verdict")
    assert "No promised delivery date or protection end was recorded" in text_of(tree, "#verdict")
    row = " ".join(text_of(tree, "#timeline tbody tr").split())
    assert row.startswith("yesterday 10:00 (zone unknown) -")
    # Moving (the one answer's event), and only an info flag: no non-receipt claim
    # is suggested. (An event is only ever stored with the answer that carried it,
    # so this parcel has been polled once.)
    assert text_of(tree, "#message p.none") == (
        "No dispute message: nothing to claim yet: On its way and nothing is wrong; the "
        "dispute window is open until 2026-12-11: wait until 2026-12-04."
    )
    assert pack.file(".pdf") is not None
