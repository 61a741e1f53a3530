"""Packs carry the case: the log with dates, asks, offers and packs, and a message for the step."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from analysis.assess import assess
from analysis.reports import write_packs
from collector.config import Settings
from tests.cases.conftest import ORDER, at, record
from tests.flags.builder import World

S = Settings()


def pack(world: World, now: str, out: Path, settings: Settings = S) -> tuple[dict[str, Any], str]:
    instant = at(now)
    a = assess(world.store, instant, settings, record=False)
    [result] = write_packs(
        world.store, [1], now=instant, settings=settings, formats=("html", "json"),
        out_dir=out, assessment=a,
    )  # fmt: skip
    manifest = json.loads((result.folder / "manifest.json").read_text(encoding="utf-8"))
    html = next(result.folder.glob("*.html")).read_text(encoding="utf-8")
    return manifest, html


def test_the_pack_lists_the_log_and_the_submitted_pack(stalled: World, tmp_path: Path) -> None:
    first, _ = pack(stalled, "2026-11-21", tmp_path / "first")
    folder = tmp_path / "first" / f"{ORDER}-LP00123456789012"
    record(stalled.store, "contacted_seller", "2026-11-18", note="no answer")
    record(stalled.store, "opened", "2026-11-21", ask="refund", attach=folder)
    record(stalled.store, "seller_offer", "2026-11-23", amount="4.00")
    manifest, html = pack(stalled, "2026-11-24", tmp_path / "second")
    sha = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    case = manifest["case"]
    assert (case["state"], case["action"], case["offer_amount"]) == (
        "seller_offer",
        "answer_offer",
        4.0,
    )
    assert [s["step"] for s in case["log"]] == ["contacted_seller", "opened", "seller_offer"]
    assert case["log"][1]["pack_manifest_sha256"] == sha
    assert first["case"] is None
    assert "Dispute case" in html and sha in html and "asked for a refund" in html
    message = manifest["dispute_message"]
    assert "Thank you for offering 4.00 EUR for order" in message
    assert "I ask for 23.80 EUR in full" in message
    assert "escalate the dispute by 2026-12-06" in message


def test_the_escalation_text_cites_the_silence_and_the_deadline(
    stalled: World, tmp_path: Path
) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="refund")
    manifest, html = pack(stalled, "2026-11-20", tmp_path)
    message = manifest["dispute_message"]
    assert "I opened a dispute for order 8101203344552 on 10 Nov 2026, asking for a refund." in (
        message
    )
    assert "The seller has not answered. I ask AliExpress to step in" in message
    assert "The last day to escalate is 2026-11-25." in message
    assert "message for the next step" in html


def test_the_evidence_note_and_the_seller_message(stalled: World, tmp_path: Path) -> None:
    record(stalled.store, "contacted_seller", "2026-11-20")
    manifest, _ = pack(stalled, "2026-11-21", tmp_path / "a")
    assert manifest["dispute_message"].startswith("Hello,\n\nI wrote to you on 20 Nov 2026")
    assert "Please tell me where the parcel is" in manifest["dispute_message"]
    assert "have had no answer. My order 8101203344552" in manifest["dispute_message"]
    # A dropshipper writes for a customer.
    reseller = replace(S, reports=replace(S.reports, dropshipper=True))
    manifest, _ = pack(stalled, "2026-11-21", tmp_path / "c", reseller)
    assert "have had no answer. My customer's order 8101203344552" in (manifest["dispute_message"])
    record(stalled.store, "opened", "2026-11-23", ask="refund")
    record(stalled.store, "evidence_requested", "2026-11-24")
    manifest, _ = pack(stalled, "2026-11-25", tmp_path / "b")
    assert manifest["dispute_message"].startswith(
        "Hello,\n\nAs requested on 24 Nov 2026, here is the evidence for order"
    )


def test_a_resolved_case_has_no_message(stalled: World, tmp_path: Path) -> None:
    record(stalled.store, "opened", "2026-11-10", ask="refund")
    record(stalled.store, "resolved", "2026-11-20", outcome="refunded")
    manifest, html = pack(stalled, "2026-11-21", tmp_path)
    assert manifest["dispute_message"] is None
    assert "the case needs no message now: Case resolved on 2026-11-20: refunded" in html
