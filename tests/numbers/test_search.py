"""Finding tracking numbers in free text, without false hits."""

from __future__ import annotations

from collector.numbers import search

EMAIL = """\
Subject: Your order 8101203344551 has shipped!

Hi Anna,

Good news: your package (USB-C hub, US $23.80, 2 x 11.90) left our warehouse on
2026-10-04 at 14:05. Tracking number: RB 123 456 785 GB (Royal Mail).
The second parcel goes by UPS: 1Z5R89390357567127, and the third, by Cainiao,
is LP00123456789012.
USPS: 9400 1112 0620 6406 2607 87 (track at
https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111206206406260787)

Questions? Call +1 (555) 123-4567 or +44 20 7946 0958, WhatsApp 0044 7700 900123.
Order total 1,299.00, ref 20261128120000, invoice 8101203344551 of 28.11.2026.
A wrong one: RB123456784GB. Delivered in 1234567890 days? Not really.
"""


def _found(text: str, **options: bool) -> list[tuple[str, str, str | None, str]]:
    return [(m.text, m.number, m.detection.format_key, m.verdict) for m in search(text, **options)]


def test_an_email_body() -> None:
    assert _found(EMAIL) == [
        ("RB 123 456 785 GB", "RB123456785GB", "s10", "valid"),
        ("1Z5R89390357567127", "1Z5R89390357567127", "ups", "valid"),
        ("LP00123456789012", "LP00123456789012", "cainiao_lp", "weak"),
        ("9400 1112 0620 6406 2607 87", "9400111206206406260787", "usps_impb_n", "valid"),
        ("9400111206206406260787", "9400111206206406260787", "usps_impb_n", "valid"),
    ]


def test_positions_point_at_the_text() -> None:
    for match in search(EMAIL):
        assert EMAIL[match.start : match.end] == match.text


def test_invalid_numbers_on_request() -> None:
    found = _found(EMAIL, include_invalid=True)
    assert ("RB123456784GB", "RB123456784GB", "s10", "invalid") in found
    assert len(found) == 6


def test_no_false_hits() -> None:
    for text in [
        "Price: US $1,299.00 (was 1.499,00 EUR), 3 x 12.99",
        "Shipped 2026-11-28 14:05:33, delivered 28.11.2026, week 2026/48",
        "Call +1 (555) 123-4567, +44 20 7946 0958, 0044 7700 900123, 8 800 555 35 35",
        "Order 8101203344551234, order no. 3040506070809010",  # AliExpress order ids
        "Your code is 482913; ref 20261128120000; account 1234567890",
        "in 1234567890 days",  # 'in' is a word here, not DHL's 'IN' prefix
    ]:
        assert _found(text) == [], text


def test_digits_only_numbers_need_a_tracking_word_when_short_or_grouped() -> None:
    # A lone 12-digit FedEx number with a passing check is taken as it is...
    assert _found("FedEx 986578788855 arrives Monday")[0][1] == "986578788855"
    # ...a grouped one only after a tracking word (it could be a phone number).
    assert _found("Call 9865 7878 8855") == []
    assert _found("tracking: 9865 7878 8855")[0][1] == "986578788855"


def test_adjacent_numbers_on_one_line_stay_apart() -> None:
    found = _found("Numbers: RB123456785GB 1Z5R89390357567127")
    assert [f[1] for f in found] == ["RB123456785GB", "1Z5R89390357567127"]
