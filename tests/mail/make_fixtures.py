# ruff: noqa: E501 - message bodies are kept as the services write them, long lines and all
"""Writes tests/mail/fixtures/*.eml: shipping notices laid out as the services send them.

Run once (``python tests/mail/make_fixtures.py``); the .eml files are the fixtures,
committed as bytes. Each message uses the transfer encodings its sender uses:
quoted-printable and base64 parts, multipart/alternative, encoded-word subjects,
ISO-8859-1 and UTF-8 text, a message/rfc822 forward and an inline forward.
"""

from __future__ import annotations

from email import policy
from email.charset import BASE64, QP, Charset
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

OUT = Path(__file__).parent / "fixtures"


def _text(body: str, subtype: str, charset: str, encoding: int) -> MIMEText:
    cs = Charset(charset)
    cs.body_encoding = encoding
    return MIMEText(body, subtype, cs)  # type: ignore[arg-type]


def _alternative(
    plain: str, html: str, charset: str = "utf-8", plain_enc: int = QP, html_enc: int = QP
) -> MIMEMultipart:
    msg = MIMEMultipart("alternative")
    msg.attach(_text(plain, "plain", charset, plain_enc))
    msg.attach(_text(html, "html", charset, html_enc))
    return msg


def _headers(msg: object, **values: str) -> None:
    for key, value in values.items():
        msg[key.replace("_", "-")] = value  # type: ignore[index]


def write(name: str, msg: object) -> None:
    OUT.mkdir(exist_ok=True)
    data = msg.as_bytes(policy=policy.SMTP)  # type: ignore[attr-defined]
    (OUT / name).write_bytes(data)


ALI_PLAIN = """Hello Anna,

Your order has been shipped!

Order number: 8101203344551234
Store: Shenzhen Gadget Official Store
Item: USB-C Ladekabel 2 m, geflochten (2 Stück)
Shipping method: AliExpress Standard Shipping
Tracking number: LA586992216CN
Estimated delivery: Nov 20 - Dec 05

Track your package: https://www.aliexpress.com/p/tracking/index.html?tradeOrderId=8101203344551234

Questions? Our service line +86 571 8502 2088 is open 24 hours.
AliExpress, 969 West Wen Yi Road, Hangzhou 311121
"""

ALI_HTML = """<!DOCTYPE html><html><head><style>.x{color:#f60}</style>
<title>Your order has been shipped</title></head><body>
<table width="600"><tr><td><img src="https://ae01.alicdn.com/logo.png" alt="AliExpress"></td></tr>
<tr><td><h2>Your order has been shipped!</h2>
<p>Hello Anna,</p>
<p>Order number: <b>8101203344551234</b><br>Store: Shenzhen Gadget Official Store</p>
<p>Item: USB-C Ladekabel 2&nbsp;m, geflochten (2 St&uuml;ck)</p>
<p>Shipping method: AliExpress Standard Shipping<br>
Tracking number: <a href="https://global.cainiao.com/newDetail.htm?mailNoList=LA586992216CN&amp;otherMailNoList=">LA586992216CN</a></p>
<p>Estimated delivery: Nov 20 - Dec 05</p>
<p><a href="https://www.aliexpress.com/p/order/detail.html?orderId=8101203344551234">View order details</a></p>
<p style="font-size:11px">Questions? Our service line +86 571 8502 2088 is open 24 hours.<br>
AliExpress, 969 West Wen Yi Road, Hangzhou 311121</p></td></tr></table>
<script>var trackingId="XX000000000XX";</script></body></html>"""


def aliexpress() -> MIMEMultipart:
    msg = _alternative(ALI_PLAIN, ALI_HTML, html_enc=BASE64)
    _headers(
        msg,
        From="AliExpress <transaction@notice.aliexpress.com>",
        To="anna.keller@example.de",
        Subject="Order 8101203344551234: order shipped",
        Date="Mon, 02 Nov 2026 09:14:07 +0800",
        Message_ID="<20261102011407.8101203344551234.shipped@notice.aliexpress.com>",
    )
    return msg


def amazon() -> MIMEMultipart:
    plain = """Amazon.com

Hello Jordan,
Your package has shipped!

Arriving:
Tuesday, November 10

Track your package:
https://www.amazon.com/gp/your-account/ship-track?orderId=112-3456789-1234567&shipmentId=Dq4Xb&trackingId=1Z5R89390357567127

Order #112-3456789-1234567
Shipped with UPS

Anker Nano Charger (20W) with USB-C cable
Quantity: 1

Shipment total: $23.80

Return or replace items in Your Orders.
"""
    html = """<html><body><div style="font-family:Arial">
<p>Hello Jordan,</p><h1>Your package has shipped!</h1>
<table><tr><td>Arriving:</td></tr><tr><td><b>Tuesday, November 10</b></td></tr></table>
<a href="https://www.amazon.com/gp/f.html?C=XYZ&amp;U=https%3A%2F%2Fwww.amazon.com%2Fgp%2Fyour-account%2Fship-track%3ForderId%3D112-3456789-1234567%26trackingId%3D1Z5R89390357567127">Track package</a>
<p>Order #<a href="https://www.amazon.com/gp/css/summary/edit.html?orderID=112-3456789-1234567">112-3456789-1234567</a></p>
<p>Shipped with UPS</p>
<p>Anker Nano Charger (20W) with USB-C cable<br>Quantity: 1</p>
<p>Shipment total: $23.80</p></div></body></html>"""
    msg = _alternative(plain, html)
    _headers(
        msg,
        From='"Amazon.com" <shipment-tracking@amazon.com>',
        To="jordan@example.com",
        Subject='Shipped: "Anker Nano Charger (20W)..."',
        Date="Fri, 06 Nov 2026 18:02:41 +0000",
        Message_ID="<0100018f2a.shipment-tracking@email.amazonses.com>",
    )
    return msg


def ebay() -> MIMEMultipart:
    plain = """Your order is on its way

Hi Jordan, good news, your item has shipped.

Café-Racer Lederhandschuhe – Größe L
Order number: 12-34567-89012
Seller: moto_teile_24

Estimated delivery: Thu, Nov 12 - Tue, Nov 17
Carrier: USPS
Tracking number: 9441 7731 7067 4391 5000 80

Questions about your order? Contact the seller. Item number 364512345678.
eBay Inc., 2025 Hamilton Avenue, San Jose, CA 95125
"""
    html = """<html><body><h1>Your order is on its way</h1>
<p>Hi Jordan, good news, your item has shipped.</p>
<p><b>Café-Racer Lederhandschuhe – Größe L</b></p>
<p>Order number: 12-34567-89012<br>Seller: moto_teile_24</p>
<p>Estimated delivery: Thu, Nov 12 - Tue, Nov 17</p>
<p>Carrier: USPS<br>Tracking number: <a href="https://www.ebay.com/ship/trk/tracking-details?tracking=9441773170674391500080&amp;carrier=USPS">9441 7731 7067 4391 5000 80</a></p>
<p>Item number 364512345678</p></body></html>"""
    msg = _alternative(plain, html, plain_enc=QP, html_enc=BASE64)
    _headers(
        msg,
        From="eBay <ebay@ebay.com>",
        To="jordan@example.com",
        Subject="=?UTF-8?Q?Your_order_is_on_its_way:_Caf=C3=A9-Racer_Lederhandschuhe?=",
        Date="Sat, 07 Nov 2026 02:31:12 -0700",
        Message_ID="<D3.C7.09876.ABCDEF12@ebay.com>",
    )
    return msg


def etsy() -> MIMEMultipart:
    plain = """Hi Claire,

Good news! WoodlandCrafts has shipped your order.

Receipt #3145926535
Shipped on 4 November 2026
Estimated delivery: 9-12 November

Hand-carved oak spoon set, "Forêt" edition

Royal Mail Tracked 48: MD895466450GB
Track your order on Etsy: https://www.etsy.com/your/purchases/3145926535?ref=track

Etsy Ireland UC, One Le Pole Square, Ship Street Great, Dublin 8
"""
    html = """<html><body><p>Hi Claire,</p>
<p>Good news! WoodlandCrafts has shipped your order.</p>
<p>Receipt #3145926535</p><p>Shipped on 4 November 2026</p>
<p>Estimated delivery: 9-12 November</p>
<p>Hand-carved oak spoon set, "For&ecirc;t" edition</p>
<p>Royal Mail Tracked 48: <a href="https://www.royalmail.com/track-your-item#/tracking-results/MD895466450GB">MD895466450GB</a></p>
</body></html>"""
    msg = _alternative(plain, html, charset="iso-8859-1")
    _headers(
        msg,
        From="Etsy Transactions <transaction@etsy.com>",
        To="claire@example.co.uk",
        Subject="Your Etsy Purchase from WoodlandCrafts (3145926535) has shipped",
        Date="Wed, 04 Nov 2026 16:40:00 +0000",
        Message_ID="<etsy.3145926535.shipped@mail.etsy.com>",
    )
    return msg


def temu() -> MIMEMultipart:
    html = """<html><body><div>
<p>Your package has shipped</p>
<p>Order ID: PO-211-07654321098765432</p>
<p>Delivery: Nov 14-19</p>
<p>Shipped via YunExpress, tracking number YT9081956811284187</p>
<p><a href="https://www.temu.com/bgt_order_detail.html?parent_order_sn=PO-211-07654321098765432">View</a></p>
<p>Customer service: 1-888-355-7743</p></div></body></html>"""
    msg = MIMEMultipart("alternative")
    msg.attach(_text(html, "html", "utf-8", BASE64))
    _headers(
        msg,
        From="Temu <orders@order.temu.com>",
        To="sam@example.com",
        Subject="=?utf-8?B?8J+amiBZb3VyIHBhY2thZ2UgaGFzIHNoaXBwZWQ=?=",
        Date="Sun, 08 Nov 2026 11:05:33 +0000",
        Message_ID="<temu-ship-07654321098765432@order.temu.com>",
    )
    return msg


def shopify() -> MIMEMultipart:
    plain = """NORDIC KNITS

Your order is on the way
Your order is on the way. Track your shipment to see the delivery status.

Order #1042

FedEx tracking number: 014586627318

Items in this shipment
Merino beanie, charcoal × 1

If you have any questions, reply to this email or contact us at hello@nordicknits.example
"""
    html = """<html><body><table><tr><td><h1>NORDIC KNITS</h1></td><td>Order #1042</td></tr></table>
<h2>Your order is on the way</h2>
<p>Your order is on the way. Track your shipment to see the delivery status.</p>
<p>FedEx tracking number: <a href="https://www.fedex.com/fedextrack/?tracknumbers=014586627318">014586627318</a></p>
<p>Merino beanie, charcoal &times; 1</p>
<img src="https://cdn.shopify.com/s/files/1/0000/logo.png"></body></html>"""
    msg = _alternative(plain, html)
    _headers(
        msg,
        From="Nordic Knits <store+6123456@t.shopifyemail.com>",
        Reply_To="hello@nordicknits.example",
        To="sam@example.com",
        Subject="A shipment from order #1042 is on the way",
        Date="Tue, 03 Nov 2026 14:22:10 -0500",
        Message_ID="<shopify-1042-fulfillment@shopifyemail.com>",
    )
    return msg


def ups_out_for_delivery() -> MIMEMultipart:
    plain = """UPS Update: Package Scheduled for Delivery Today

Hello, your package is out for delivery today.

Scheduled Delivery: Tuesday, 11/10/2026
Estimated Time: 12:00 PM - 4:00 PM
Tracking Number: 1Z5R89390357567127
Ship To: JORDAN, NEW YORK, NY, US
Number of Packages: 1
Shipper: AMAZON.COM

Download the UPS My Choice app. (c) 2026 United Parcel Service of America, Inc.
"""
    html = """<html><body><p>Hello, your package is out for delivery today.</p>
<p>Tracking Number: <a href="https://www.ups.com/track?loc=en_US&amp;tracknum=1Z5R89390357567127&amp;requester=ST/">1Z5R89390357567127</a></p>
<p>Shipper: AMAZON.COM</p></body></html>"""
    msg = _alternative(plain, html)
    _headers(
        msg,
        From="UPS <mcinfo@ups.com>",
        To="jordan@example.com",
        Subject="UPS Update: Package Scheduled for Delivery Today",
        Date="Tue, 10 Nov 2026 07:48:02 -0500",
        Message_ID="<1Z5R89390357567127.20261110@ups.com>",
    )
    return msg


def usps_delivered() -> EmailMessage:
    msg = EmailMessage()
    _headers(
        msg,
        From="USPS <auto-reply@usps.com>",
        To="jordan@example.com",
        Subject="USPS® Tracking 9441773170674391500080: Delivered",
        Date="Mon, 16 Nov 2026 15:20:44 -0600",
        Message_ID="<usps.9441773170674391500080.delivered@usps.com>",
    )
    msg.set_content(
        """<html><body><p>USPS Tracking&reg;</p>
<p>Tracking Number: <a href="https://tools.usps.com/go/TrackConfirmAction?tLabels=9441773170674391500080">9441773170674391500080</a></p>
<p>Your item was delivered in or at the mailbox at 2:54 pm on November 16, 2026 in SAN JOSE, CA 95125.</p>
<p>Do not reply to this automated email. Call 1-800-275-8777.</p></body></html>""",
        subtype="html",
        cte="quoted-printable",
    )
    return msg


def dhl_delivered_de() -> EmailMessage:
    msg = EmailMessage()
    _headers(
        msg,
        From="DHL Paket <noreply@dhl.de>",
        To="anna.keller@example.de",
        Subject="Ihre DHL Sendung wurde zugestellt",
        Date="Thu, 26 Nov 2026 13:05:00 +0100",
        Message_ID="<dhl-20261126-LA586992216CN@dhl.de>",
    )
    msg.set_content(
        """Guten Tag Anna Keller,

Ihre Sendung LA586992216CN wurde am 26.11.2026 um 12:58 Uhr zugestellt.
Zugestellt an: Nachbar/in, Müllerstraße 12.

Sendungsverfolgung: https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode=LA586992216CN

Freundliche Grüße
Ihr DHL Team
""",
        charset="utf-8",
        cte="base64",
    )
    return msg


def forwarded_inline() -> EmailMessage:
    msg = EmailMessage()
    _headers(
        msg,
        From="Anna Keller <anna.keller@example.de>",
        To="orders@parcelproof.example",
        Subject="Fwd: Order 8101299988877766: order shipped",
        Date="Wed, 04 Nov 2026 20:11:00 +0100",
        Message_ID="<CAF=fwd1234@mail.gmail.com>",
    )
    msg.set_content(
        """bitte verfolgen

---------- Forwarded message ---------
From: AliExpress <transaction@notice.aliexpress.com>
Date: Wed, Nov 4, 2026 at 3:02 AM
Subject: Order 8101299988877766: order shipped
To: <anna.keller@example.de>


Your order has been shipped!

Order number: 8101299988877766
Store: Bright LED Lighting Store
Tracking number: LP03527573706829
Estimated delivery: Nov 25 - Dec 10
""",
        charset="utf-8",
        cte="quoted-printable",
    )
    return msg


def forwarded_attached() -> EmailMessage:
    inner = etsy()
    outer = EmailMessage()
    _headers(
        outer,
        From="Claire <claire@example.co.uk>",
        To="orders@parcelproof.example",
        Subject="Fw: Your Etsy Purchase from WoodlandCrafts (3145926535) has shipped",
        Date="Thu, 05 Nov 2026 08:00:00 +0000",
        Message_ID="<fw-etsy-3145926535@example.co.uk>",
    )
    outer.set_content("See the attached notice.\n")
    part = MIMEBase("message", "rfc822")
    part.set_payload([inner])
    part.add_header("Content-Disposition", "attachment", filename="notice.eml")
    outer.make_mixed()
    outer.attach(part)  # type: ignore[arg-type]
    return outer


def order_confirmation() -> EmailMessage:
    msg = EmailMessage()
    _headers(
        msg,
        From="AliExpress <transaction@notice.aliexpress.com>",
        To="anna.keller@example.de",
        Subject="Order confirmed: 8101203344551234",
        Date="Fri, 30 Oct 2026 10:00:00 +0800",
        Message_ID="<20261030.8101203344551234.confirmed@notice.aliexpress.com>",
    )
    msg.set_content(
        "Thank you for your order!\n\nOrder number: 8101203344551234\nTotal: US $23.80\n"
        "We will let you know when it ships.\n"
    )
    return msg


def newsletter() -> EmailMessage:
    msg = EmailMessage()
    _headers(
        msg,
        From="Nordic Knits <news@nordicknits.example>",
        To="sam@example.com",
        Subject="Winter sale: 30% off all beanies",
        Date="Fri, 13 Nov 2026 09:00:00 +0000",
        Message_ID="<news-2026-11@nordicknits.example>",
    )
    msg.set_content("Our winter sale starts now. Call 0800 123 4567 to order by phone.\n")
    return msg


if __name__ == "__main__":
    for name, build in (
        ("aliexpress_shipped.eml", aliexpress),
        ("amazon_shipped.eml", amazon),
        ("ebay_shipped.eml", ebay),
        ("etsy_shipped.eml", etsy),
        ("temu_shipped.eml", temu),
        ("shopify_shipped.eml", shopify),
        ("ups_out_for_delivery.eml", ups_out_for_delivery),
        ("usps_delivered.eml", usps_delivered),
        ("dhl_delivered_de.eml", dhl_delivered_de),
        ("forwarded_inline.eml", forwarded_inline),
        ("forwarded_attached.eml", forwarded_attached),
        ("order_confirmation.eml", order_confirmation),
        ("newsletter.eml", newsletter),
    ):
        write(name, build())
