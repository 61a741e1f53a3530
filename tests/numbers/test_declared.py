"""Whether the declared carrier can issue (or carry) the number: carrier_mismatch."""

from __future__ import annotations

import pytest

from collector.numbers import carrier_can_issue, detect, resolve

CN_S10 = "UB123456785CN"  # China Post (S10 check 5)
GB_S10 = "RB123456785GB"  # Royal Mail
UPS = "1Z5R89390357567127"
SUREPOST = "1Z9AA293YW03482200"  # UPS service YW: delivered by USPS
USPS = "9400111206206406260787"
FEDEX = "986578788855"
LP = "LP00123456789012"
YT = "YT2412345678901234"
FOURPX = "4PX3001234567890CN"
YANWEN = "UG123456789YP"


@pytest.mark.parametrize(
    ("declared", "number", "destination", "expected"),
    [
        # Couriers issue their own formats only.
        ("UPS", UPS, None, True),
        ("UPS", CN_S10, None, False),
        ("UPS", FEDEX, None, False),
        ("FedEx", FEDEX, None, True),
        ("FedEx International Priority", UPS, None, False),
        ("DHL Express", CN_S10, None, False),
        # Posts: the S10 country's post, or the destination's post delivering it.
        ("China Post", CN_S10, None, True),
        ("China Post Registered Air Mail", CN_S10, "FR", True),
        ("China EMS", CN_S10, None, True),
        ("ePacket", CN_S10, "US", True),
        ("Royal Mail", GB_S10, None, True),
        ("Royal Mail", CN_S10, "GB", True),
        ("Royal Mail", CN_S10, "FR", False),
        ("Royal Mail", CN_S10, None, None),
        ("PostNL", GB_S10, "NL", True),
        ("La Poste", CN_S10, "FR", True),
        ("USPS", USPS, None, True),
        ("USPS", CN_S10, "US", True),
        ("USPS", SUREPOST, None, True),
        ("USPS", UPS, None, False),
        ("China Post", UPS, None, False),
        ("China Post", LP, None, False),
        ("EMS", GB_S10, None, True),
        ("Posten Sweden Post", GB_S10, "SE", True),
        # Aggregators hand over to anyone: any recognised number is fine.
        ("Cainiao", LP, None, True),
        ("Cainiao", GB_S10, None, True),
        ("AliExpress Standard Shipping", CN_S10, None, True),
        ("AliExpress Standard Shipping", UPS, None, True),
        ("aliexpress selection shipping", USPS, None, True),
        # Forwarders: their own format, any post's or courier's, not another forwarder's.
        ("YunExpress", YT, None, True),
        ("Yun Express", GB_S10, None, True),
        ("YunExpress", FOURPX, None, False),
        ("4PX", FOURPX, None, True),
        ("4PX", YT, None, False),
        ("4PX", LP, None, True),
        ("Yanwen", YANWEN, None, True),
        ("Yanwen", USPS, None, True),
        # DHL eCommerce hands parcels to posts and USPS; DHL's own parcel numbers are
        # not all in the data, so a digits-only number never contradicts "DHL".
        ("DHL eCommerce", CN_S10, None, True),
        ("DHL eCommerce", USPS, None, True),
        ("DHL", FEDEX, None, None),
        ("DHL", UPS, None, False),
        # Cannot tell.
        ("Some Local Courier", CN_S10, None, None),
        ("", CN_S10, None, None),
        (None, CN_S10, None, None),
        ("UPS", "GARBAGE123", None, None),
    ],
)
def test_carrier_can_issue(
    declared: str | None, number: str, destination: str | None, expected: bool | None
) -> None:
    assert carrier_can_issue(declared, detect(number), destination_country=destination) is expected


def test_aliases_resolve_longest_first_and_by_data_name() -> None:
    assert [(resolve(n) or None) and resolve(n).name for n in (  # type: ignore[union-attr]
        "USPS", "United States Postal Service", "China Post", "China EMS", "Cainiao",
        "AliExpress Standard Shipping", "YunExpress", "Yun Express", "4PX", "Yanwen", "DHL",
        "DHL eCommerce", "UPS", "FedEx", "Royal Mail", "PostNL", "La Poste",
        "Royal Mail Group plc", "Hongkong Post", "Other", "Post", "Posten",
    )] == [
        "USPS", "USPS", "China Post", "China EMS", "Cainiao / AliExpress",
        "Cainiao / AliExpress", "YunExpress", "YunExpress", "4PX", "Yanwen", "DHL",
        "DHL", "UPS", "FedEx", "Royal Mail", "PostNL", "La Poste",
        "Royal Mail Group plc", "Hongkong Post", None, None, None,
    ]  # fmt: skip
    assert resolve("DHL eCommerce").couriers == frozenset({"dhl", "usps"})  # type: ignore[union-attr]
    assert resolve("DHL Express").couriers == frozenset({"dhl"})  # type: ignore[union-attr]
    assert resolve("Correos de México").posts == frozenset({"MX"})  # type: ignore[union-attr]
    assert resolve("Correios").posts == frozenset({"BR"})  # type: ignore[union-attr]
