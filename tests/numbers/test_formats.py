"""Loading the courier data: every file, every key, compiled patterns and hints."""

from __future__ import annotations

import json
import random
import re
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.numbers.detect import match_formats
from collector.numbers.formats import build_registry, compact_regex, load_sources, registry
from collector.numbers.synth import example

SHARED = resources.files("collector.numbers").joinpath("data")
FORMAT_KEYS = [f.key for f in registry().formats]

# Every key the courier files may use, and where; the loader handles each of them.
KNOWN_KEYS = {
    "": {"name", "courier_code", "tracking_numbers", "source"},
    "tracking_numbers[]": {
        "name",
        "id",
        "description",
        "regex",
        "validation",
        "tracking_url",
        "additional",
        "glossary",
        "partners",
    },
    "validation": {"checksum", "serial_number_format", "additional"},
    "checksum": {
        "name",
        "modulo",
        "evens_multiplier",
        "odds_multiplier",
        "reverse",
        "weightings",
        "modulo1",
        "modulo2",
        "alphabet",
    },
    "additional[]": {"name", "regex_group_name", "lookup"},
    "lookup[]": {
        "matches",
        "matches_regex",
        "name",
        "description",
        "country",
        "courier",
        "courier_url",
        "upu_reference_url",
        "country_code",
        "country_short_code",
    },
}


def test_every_courier_file_is_loaded() -> None:
    sources = load_sources()
    codes = {doc["courier_code"] for _, doc in sources}
    assert codes == {
        "amazon", "canada_post", "canpar", "dhl", "dpd", "fedex", "gofo", "landmark",
        "lasership", "old_dominion", "ontrac", "purolator", "s10", "speedee", "ups", "usps",
        "yodel", "yunexpress", "cainiao", "4px", "yanwen", "sf_express",
    }  # fmt: skip
    published = sum(len(d["tracking_numbers"]) for s, d in sources if s == "tracking_number_data")
    assert published == 39
    assert len(registry().formats) == 39 + 5
    assert len(set(FORMAT_KEYS)) == len(FORMAT_KEYS)


def test_licence_readme_and_our_marking_ship_with_the_data() -> None:
    published = SHARED.joinpath("tracking_number_data")
    assert "MIT License" in published.joinpath("LICENSE").read_text()
    assert published.joinpath("README.md").is_file()
    assert json.loads(published.joinpath("glossary.json").read_text())["SerialNumber"]
    ours = SHARED.joinpath("parcelproof")
    assert "not part of tracking_number_data" in ours.joinpath("README.md").read_text()
    for source, doc in load_sources():
        assert (doc.get("source") == "parcelproof") == (source == "parcelproof")


def _keys(document: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def add(where: str, obj: dict[str, Any]) -> None:
        found.setdefault(where, set()).update(obj)

    add("", document)
    for spec in document["tracking_numbers"]:
        add("tracking_numbers[]", spec)
        validation = spec.get("validation") or {}
        add("validation", validation)
        if validation.get("checksum"):
            add("checksum", validation["checksum"])
        for extra in spec.get("additional") or []:
            add("additional[]", extra)
            for row in extra["lookup"]:
                add("lookup[]", row)
    return found


def test_no_key_of_the_data_is_left_unhandled() -> None:
    for _, document in load_sources():
        for where, keys in _keys(document).items():
            assert keys <= KNOWN_KEYS[where], (document["courier_code"], where, keys)


def test_ruby_named_groups_become_python_groups() -> None:
    ups = registry().by_key["ups"]
    assert "(?<" not in ups.regex
    assert ups.groups == ("SerialNumber", "ShipperId", "ServiceType", "PackageId", "CheckDigit")
    assert compact_regex(r"(?<=x)\s*(a\s*)(?:b)[(\]]") == r"(?<=x)(?:a)(?:b)[(\]]"


@pytest.mark.parametrize("key", FORMAT_KEYS)
def test_compact_pattern_reads_like_the_published_one(key: str) -> None:
    # The compact pattern (no \s*, non-capturing groups) must accept exactly the
    # normalised numbers the published pattern accepts, with the same named groups.
    fmt = registry().by_key[key]
    published = re.compile(fmt.regex)
    rng = random.Random(key)
    for _ in range(20):
        number = example(fmt, rng, best=False)
        compact, full = fmt.pattern.fullmatch(number), published.fullmatch(number)
        assert compact is not None and full is not None
        assert compact.groupdict() == full.groupdict()
        position = rng.randrange(len(number))
        mutated = number[:position] + rng.choice("0123456789ABZ") + number[position + 1 :]
        assert (fmt.pattern.fullmatch(mutated) is None) == (published.fullmatch(mutated) is None)


@given(st.sampled_from(FORMAT_KEYS), st.randoms(use_true_random=False))
@settings(max_examples=300)
def test_dispatch_never_hides_a_format_that_fits(key: str, rng: random.Random) -> None:
    fmt = registry().by_key[key]
    number = example(fmt, rng, best=False)
    assert fmt in registry().formats_for(number)
    assert any(c.format_ is fmt for c in match_formats(number))


def test_dispatch_narrows_to_the_formats_that_can_fit() -> None:
    reg = registry()
    assert [f.key for f in reg.formats_for("1Z5R89390357567127")] == ["ups"]
    assert [f.key for f in reg.formats_for("RB123456785GB")] == ["s10", "yanwen_yp"]
    assert [f.key for f in reg.formats_for("LX123456785CN")] == [
        "dhl_ecommerce",
        "s10",
        "yanwen_yp",
    ]
    assert reg.formats_for("") == ()
    assert reg.formats_for("1" * 200) == ()
    assert reg.formats_for("??????????") == ()


def test_lookups_exists_and_decoding_tables() -> None:
    s10 = registry().by_key["s10"]
    assert [a.name for a in s10.required] == ["Courier"]
    courier = s10.additional[1]
    assert courier.find("CN") is not None and courier.find("CN").values["courier"] == "China Post"  # type: ignore[union-attr]
    assert courier.find("XX") is None
    service = s10.additional[0]
    assert service.find("EE").values["name"] == "EMS"  # type: ignore[union-attr]
    assert service.find("QZ") is None  # Q[A-M] only
    usps = registry().by_key["usps_20"].additional[0]
    assert usps.find("04").values["description"] == "Retail"  # type: ignore[union-attr]


def _document(**spec: Any) -> tuple[str, dict[str, Any]]:
    base = {"name": "Test", "id": "test_format", "regex": r"T(?<SerialNumber>[0-9]{4})"}
    base.update(spec)
    return ("test", {"name": "Test Co", "courier_code": "test", "tracking_numbers": [base]})


def test_partners_are_read_and_applied() -> None:
    reg = build_registry(
        [
            _document(
                partners=[
                    {
                        "partner_type": "carrier",
                        "partner_id": "usps_20",
                        "description": "delivered by USPS",
                        "validation": {"matches_regex": "^T9"},
                    }
                ]
            )
        ]
    )
    fmt = reg.by_key["test_format"]
    assert [p.partner_id for p in fmt.partners] == ["usps_20"]
    assert fmt.partners[0].applies("T9000") and not fmt.partners[0].applies("T1000")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"validation": {"checksum": {"name": "luhn"}}}, "SerialNumber and CheckDigit"),
        (
            {"additional": [{"name": "X", "regex_group_name": "Nope", "lookup": []}]},
            "unknown group Nope",
        ),
        ({"validation": {"additional": {"exists": ["Courier"]}}}, "'exists' names no lookup"),
        (
            {
                "regex": r"T(?<SerialNumber>[0-9]{3})(?<CheckDigit>[0-9])",
                "validation": {"checksum": {"name": "crc"}},
            },
            "unknown check-digit algorithm",
        ),
    ],
)
def test_inconsistent_data_is_refused(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_registry([_document(**spec)])


def test_duplicate_format_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate format keys: test_format"):
        build_registry([_document(), _document()])


def test_hints_of_a_format() -> None:
    usps = registry().by_key["usps_impb_c"].hints
    assert usps.prefixes == frozenset({"42", "92", "93", "95"})
    assert usps.digits_only
    lasership = registry().by_key["lasership:lasership-1ls7-18"]
    assert lasership.kept_punctuation == frozenset("-")
    assert lasership.id is None
    assert registry().by_key["dhl_ecommerce"].catch_all
    assert not registry().by_key["yunexpress"].catch_all
