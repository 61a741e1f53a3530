"""Shipping e-mails as the services send them, read in full (tests/mail/fixtures).

The fixtures are written by tests/mail/make_fixtures.py with each sender's own
layout and transfer encodings (multipart/alternative, quoted-printable, base64,
ISO-8859-1, encoded-word subjects, forwards inline and attached).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from collector.intake.mailparse import MailParseError, parse_message

FIXTURES = Path(__file__).parent / "fixtures"


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


_NONE = {
    "ordered_at": None,
    "shipped_at": None,
    "promised_from": None,
    "promised_to": None,
    "forwarded_from": None,
    "forwarded_sent_at": None,
    "store": None,
    "carrier": None,
    "order_id": None,
    "marketplace": None,
}

EXPECTED: dict[str, dict[str, Any]] = {
    "aliexpress_shipped.eml": {
        "message_id": "<20261102011407.8101203344551234.shipped@notice.aliexpress.com>",
        "sender": "transaction@notice.aliexpress.com",
        "sender_name": "AliExpress",
        "subject": "Order 8101203344551234: order shipped",
        "sent_at": _at(2026, 11, 2, 1, 14, 7),
        "kind": "shipped",
        "marketplace": "aliexpress",
        "store": "Shenzhen Gadget Official Store",
        "carrier": "AliExpress Standard Shipping",
        "order_id": "8101203344551234",
        # not the order id in the tracking link, the phone number or the placeholder
        # in the script element
        "tracking_numbers": ("LA586992216CN",),
        "promised_from": date(2026, 11, 20),
        "promised_to": date(2026, 12, 5),
    },
    "amazon_shipped.eml": {
        "message_id": "<0100018f2a.shipment-tracking@email.amazonses.com>",
        "sender": "shipment-tracking@amazon.com",
        "sender_name": "Amazon.com",
        "subject": 'Shipped: "Anker Nano Charger (20W)..."',
        "sent_at": _at(2026, 11, 6, 18, 2, 41),
        "kind": "shipped",
        "marketplace": "amazon",
        "carrier": "UPS",
        "order_id": "112-3456789-1234567",
        "tracking_numbers": ("1Z5R89390357567127",),
        "promised_to": date(2026, 11, 10),
    },
    "dhl_delivered_de.eml": {
        "message_id": "<dhl-20261126-LA586992216CN@dhl.de>",
        "sender": "noreply@dhl.de",
        "sender_name": "DHL Paket",
        "subject": "Ihre DHL Sendung wurde zugestellt",
        "sent_at": _at(2026, 11, 26, 12, 5),
        "kind": "delivered",
        "carrier": "DHL",
        "tracking_numbers": ("LA586992216CN",),
    },
    "ebay_shipped.eml": {
        "message_id": "<D3.C7.09876.ABCDEF12@ebay.com>",
        "sender": "ebay@ebay.com",
        "sender_name": "eBay",
        "subject": "Your order is on its way: Café-Racer Lederhandschuhe",
        "sent_at": _at(2026, 11, 7, 9, 31, 12),
        "kind": "shipped",
        "marketplace": "ebay",
        "store": "moto_teile_24",
        "carrier": "USPS",
        "order_id": "12-34567-89012",
        # written in groups; the item number is not a tracking number
        "tracking_numbers": ("9441773170674391500080",),
        "promised_from": date(2026, 11, 12),
        "promised_to": date(2026, 11, 17),
    },
    "etsy_shipped.eml": {
        "message_id": "<etsy.3145926535.shipped@mail.etsy.com>",
        "sender": "transaction@etsy.com",
        "sender_name": "Etsy Transactions",
        "subject": "Your Etsy Purchase from WoodlandCrafts (3145926535) has shipped",
        "sent_at": _at(2026, 11, 4, 16, 40),
        "kind": "shipped",
        "marketplace": "etsy",
        "store": "WoodlandCrafts",
        "carrier": "Royal Mail",
        "order_id": "3145926535",
        "tracking_numbers": ("MD895466450GB",),
        "shipped_at": date(2026, 11, 4),
        "promised_from": date(2026, 11, 9),
        "promised_to": date(2026, 11, 12),
    },
    "forwarded_attached.eml": {
        "message_id": "<fw-etsy-3145926535@example.co.uk>",
        "sender": "claire@example.co.uk",
        "sender_name": "Claire",
        "subject": "Fw: Your Etsy Purchase from WoodlandCrafts (3145926535) has shipped",
        "sent_at": _at(2026, 11, 5, 8, 0),
        "kind": "shipped",
        "marketplace": "etsy",
        "store": "WoodlandCrafts",
        "carrier": "Royal Mail",
        "order_id": "3145926535",
        "tracking_numbers": ("MD895466450GB",),
        "shipped_at": date(2026, 11, 4),
        "promised_from": date(2026, 11, 9),
        "promised_to": date(2026, 11, 12),
        "forwarded_from": "transaction@etsy.com",
        "forwarded_sent_at": _at(2026, 11, 4, 16, 40),
    },
    "forwarded_inline.eml": {
        "message_id": "<CAF=fwd1234@mail.gmail.com>",
        "sender": "anna.keller@example.de",
        "sender_name": "Anna Keller",
        "subject": "Fwd: Order 8101299988877766: order shipped",
        "sent_at": _at(2026, 11, 4, 19, 11),
        "kind": "shipped",
        "marketplace": "aliexpress",
        "store": "Bright LED Lighting Store",
        "order_id": "8101299988877766",
        "tracking_numbers": ("LP03527573706829",),
        "promised_from": date(2026, 11, 25),
        "promised_to": date(2026, 12, 10),
        "forwarded_from": "transaction@notice.aliexpress.com",
        "forwarded_sent_at": _at(2026, 11, 4, 3, 2),
    },
    "newsletter.eml": {
        "message_id": "<news-2026-11@nordicknits.example>",
        "sender": "news@nordicknits.example",
        "sender_name": "Nordic Knits",
        "subject": "Winter sale: 30% off all beanies",
        "sent_at": _at(2026, 11, 13, 9, 0),
        "kind": "other",
        "tracking_numbers": (),
    },
    "order_confirmation.eml": {
        "message_id": "<20261030.8101203344551234.confirmed@notice.aliexpress.com>",
        "sender": "transaction@notice.aliexpress.com",
        "sender_name": "AliExpress",
        "subject": "Order confirmed: 8101203344551234",
        "sent_at": _at(2026, 10, 30, 2, 0),
        "kind": "other",
        "marketplace": "aliexpress",
        "order_id": "8101203344551234",
        "tracking_numbers": (),
    },
    "shopify_shipped.eml": {
        "message_id": "<shopify-1042-fulfillment@shopifyemail.com>",
        "sender": "store+6123456@t.shopifyemail.com",
        "sender_name": "Nordic Knits",
        "subject": "A shipment from order #1042 is on the way",
        "sent_at": _at(2026, 11, 3, 19, 22, 10),
        "kind": "shipped",
        "marketplace": "shopify",
        "store": "Nordic Knits",
        "carrier": "FedEx",
        "order_id": "1042",
        "tracking_numbers": ("014586627318",),
    },
    "temu_shipped.eml": {
        "message_id": "<temu-ship-07654321098765432@order.temu.com>",
        "sender": "orders@order.temu.com",
        "sender_name": "Temu",
        "subject": "\U0001f69a Your package has shipped",
        "sent_at": _at(2026, 11, 8, 11, 5, 33),
        "kind": "shipped",
        "marketplace": "temu",
        "carrier": "YunExpress",
        "order_id": "PO-211-07654321098765432",
        # the customer-service phone number is not one
        "tracking_numbers": ("YT9081956811284187",),
        "promised_from": date(2026, 11, 14),
        "promised_to": date(2026, 11, 19),
    },
    "ups_out_for_delivery.eml": {
        "message_id": "<1Z5R89390357567127.20261110@ups.com>",
        "sender": "mcinfo@ups.com",
        "sender_name": "UPS",
        "subject": "UPS Update: Package Scheduled for Delivery Today",
        "sent_at": _at(2026, 11, 10, 12, 48, 2),
        "kind": "out_for_delivery",
        "carrier": "UPS",
        "tracking_numbers": ("1Z5R89390357567127",),
    },
    "usps_delivered.eml": {
        "message_id": "<usps.9441773170674391500080.delivered@usps.com>",
        "sender": "auto-reply@usps.com",
        "sender_name": "USPS",
        "subject": "USPS® Tracking 9441773170674391500080: Delivered",
        "sent_at": _at(2026, 11, 16, 21, 20, 44),
        "kind": "delivered",
        "carrier": "USPS",
        "tracking_numbers": ("9441773170674391500080",),
    },
}


def test_every_fixture_is_expected() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notice_read_in_full(name: str) -> None:
    notice = parse_message((FIXTURES / name).read_bytes())
    got = dataclasses.asdict(notice)
    got.pop("couriers")
    assert got == {**_NONE, **EXPECTED[name]}


def test_fixtures_use_the_encodings_they_claim() -> None:
    encodings = {
        name: (FIXTURES / name).read_bytes().count(b"Content-Transfer-Encoding: base64")
        for name in ("aliexpress_shipped.eml", "temu_shipped.eml", "dhl_delivered_de.eml")
    }
    assert all(encodings.values()), encodings
    assert b"=C3=A9" in (FIXTURES / "ebay_shipped.eml").read_bytes()  # QP UTF-8
    assert b'charset="iso-8859-1"' in (FIXTURES / "etsy_shipped.eml").read_bytes()
    assert b"message/rfc822" in (FIXTURES / "forwarded_attached.eml").read_bytes()


def test_a_tracking_link_alone_carries_the_number() -> None:
    raw = (
        b"From: Amazon.com <shipment-tracking@amazon.com>\r\n"
        b"Subject: Your package has shipped\r\n"
        b"Date: Fri, 06 Nov 2026 18:02:41 +0000\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b'<p>Order #112-3456789-1234567</p><a href="https://www.amazon.com/progress-tracker'
        b'?orderId=112-3456789-1234567&amp;trackingId=1Z5R89390357567127">Track package</a>'
    )
    notice = parse_message(raw)
    assert notice.tracking_numbers == ("1Z5R89390357567127",)
    assert notice.order_id == "112-3456789-1234567"


def test_numbers_ranked_valid_first_then_by_mentions() -> None:
    raw = (
        b"From: Seller <shop@example.com>\r\nSubject: Your order 5551 has shipped\r\n"
        b"Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n\r\n"
        b"Tracking number: LP03527573706829\r\n"
        b"Tracking number: 1Z5R89390357567127 (1Z5R89390357567127)\r\n"
    )
    notice = parse_message(raw)
    assert notice.tracking_numbers == ("1Z5R89390357567127", "LP03527573706829")


@pytest.mark.parametrize(
    ("subject", "kind"),
    [
        ("Delivered: Your Amazon.com order #112-3456789-1234567", "delivered"),
        ("Your package will be delivered tomorrow", "shipped"),
        ("Out for delivery: your parcel RB123456785GB", "out_for_delivery"),
        ("Your order has been dispatched", "shipped"),
        ("Thanks for your order!", "other"),
    ],
)
def test_kind_from_the_subject(subject: str, kind: str) -> None:
    raw = (
        f"From: Shop <orders@shop.example>\r\nSubject: {subject}\r\n"
        "Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n\r\nTracking number: RB123456785GB\r\n"
    ).encode()
    assert parse_message(raw).kind == kind


@pytest.mark.parametrize("raw", [b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"just some words"])
def test_not_a_message_is_refused(raw: bytes) -> None:
    with pytest.raises(MailParseError):
        parse_message(raw)
