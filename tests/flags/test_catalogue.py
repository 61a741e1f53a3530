"""The rule catalogue is the one home of a rule: docs, config, disputes and wording
follow it, and the stage tables keep whatever a declared rule needs."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import disputes
from analysis.reports import wording
from analysis.rules import RULES, DisputeRole, Rule, rule, thresholds
from analysis.rules import stages as rule_stages
from analysis.rules.docs import flag_table, rules_reference
from collector.config import RulesConfig
from tests.flags.builder import Ev, World

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_flag_table_and_rules_reference_are_the_catalogue() -> None:
    text = README.read_text(encoding="utf-8")
    assert flag_table() in text
    assert rules_reference() in text


def test_every_rules_setting_belongs_to_a_rule() -> None:
    names = [t.name for t in thresholds()]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(RulesConfig))
    assert rule("stalled").thresholds[0].default == RulesConfig().stalled_days


def test_codes_are_unique_and_wording_follows_the_catalogue() -> None:
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes))
    assert list(wording.RULES) == codes
    assert wording.rule_for("stalled").title == rule("stalled").title


def test_dispute_roles_come_from_the_catalogue() -> None:
    assert disputes._NOT_PROBLEMS == ("protection_expiring",)
    assert disputes._SOFT == ("carrier_mismatch",)
    assert disputes._DELIVERY_CONTRADICTED == ("delivered_elsewhere",)
    assert set(disputes._DELIVERY_DOUBTED) == {"scan_before_order", "invalid_number"}
    assert all(isinstance(r.dispute, DisputeRole) for r in RULES)


def test_a_new_rule_about_delivered_parcels_is_not_filtered_away(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A parcel delivered at its destination, with a valid number: no stock rule needs
    # it, so a stage filter written for the stock rules alone would drop it.
    sid = world.shipment("o1", promised_to="2026-11-05T00:00:00Z")
    world.events(
        sid,
        Ev("2026-11-02T10:00:00+08:00", "in_transit", "Accepted", city="Guangzhou"),
        Ev(
            "2026-11-10T10:00:00+01:00",
            "delivered",
            "Delivered",
            city="Madrid",
            postcode="28013",
            country="ES",
        ),
    )
    assert "o1" not in world.codes()
    late = Rule(
        code="delivered_late",
        title="Delivered late",
        explanation="Delivered after the promised date.",
        basis="test",
        readme=rule("overdue").readme,
        dispute=DisputeRole.NONE,
        severity="'info'",
        detail="'delivered late'",
        evidence="NULL::JSON",
        began_at="b.promised_to",
        where="b.delivered AND b.promised_to < b.last_event_at",
    )
    monkeypatch.setattr(rule_stages, "RULES", (*RULES, late))
    assert world.codes()["o1"] == {"delivered_late"}


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("analysis.rules", {"analysis.flags", "analysis.disputes", "analysis.assess"}),
        ("analysis.disputes", {"analysis.flags", "analysis.assess"}),
    ],
)
def test_no_import_cycle_between_rules_flags_and_disputes(module: str, forbidden: set[str]) -> None:
    code = (
        f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith('analysis')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert not forbidden & set(eval(out)), out
