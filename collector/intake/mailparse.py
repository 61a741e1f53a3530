"""Read one shipping e-mail into a :class:`Notice` (pure: RFC 822 bytes in, no I/O).

The stdlib ``email`` package (``policy.default``) decodes every charset and transfer
encoding; HTML parts are read with selectolax (the visible text, and the targets of
links, because tracking links carry the number); a forwarded message (an attached
``message/rfc822`` part, or the "Forwarded message" text a mail client writes) is
read as the notice it forwards::

    >>> raw = (b"From: AliExpress <transaction@notice.aliexpress.com>\\r\\n"
    ...        b"Subject: Order 8101203344551234: order shipped\\r\\n"
    ...        b"Date: Mon, 02 Nov 2026 09:00:00 +0800\\r\\n\\r\\n"
    ...        b"Tracking number: RB123456785GB\\r\\n")
    >>> notice = parse_message(raw)
    >>> notice.kind, notice.marketplace, notice.order_id, notice.tracking_numbers
    ('shipped', 'aliexpress', '8101203344551234', ('RB123456785GB',))

Who sent it (marketplace, store platform or carrier) comes from the sender's
domain; what it is (``shipped``, ``out_for_delivery``, ``delivered``, ``other``)
from the subject, then the text. Tracking numbers are found with
:func:`collector.numbers.search` (valid or weak formats only), ranked valid first
then by how often they appear, never the order id, a phone number or a date.
"""

from __future__ import annotations

import calendar
import email
import email.message
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any
from urllib.parse import unquote

from selectolax.lexbor import LexborHTMLParser

from collector.numbers import search

__all__ = ["MailParseError", "Notice", "parse_message"]

KINDS = ("shipped", "out_for_delivery", "delivered", "other")


class MailParseError(ValueError):
    """The bytes are not a readable e-mail message."""


@dataclass(frozen=True)
class Notice:
    """What one message says, as a person reads it."""

    message_id: str | None
    sender: str | None
    sender_name: str | None
    subject: str | None
    sent_at: datetime | None
    kind: str
    marketplace: str | None = None
    store: str | None = None
    carrier: str | None = None
    order_id: str | None = None
    tracking_numbers: tuple[str, ...] = ()
    ordered_at: date | None = None
    shipped_at: date | None = None
    promised_from: date | None = None
    promised_to: date | None = None
    forwarded_from: str | None = None
    #: When the forwarded notice was sent (its own Date header), for a forward.
    forwarded_sent_at: datetime | None = None
    #: The courier code of each tracking number, in the same order.
    couriers: tuple[str | None, ...] = field(default=(), repr=False)

    @property
    def source_kind(self) -> str | None:
        """``marketplace``, ``store`` (a shop platform), ``carrier`` or None."""
        if self.marketplace in _STORE_PLATFORMS:
            return "store"
        if self.marketplace:
            return "marketplace"
        return "carrier" if self.carrier and self._from_carrier else None

    @property
    def _from_carrier(self) -> bool:
        return _carrier_of_domain(self.forwarded_from or self.sender) is not None


# --- who sent it -----------------------------------------------------------------

_MARKETPLACE_DOMAINS: tuple[tuple[str, str], ...] = (
    (r"aliexpress\.", "aliexpress"),
    (r"(?:^|\.)amazon\.", "amazon"),
    (r"(?:^|\.)ebay\.", "ebay"),
    (r"(?:^|\.)etsy\.com$", "etsy"),
    (r"(?:^|\.)temu\.com$", "temu"),
    (r"(?:^|\.)shein\.com$", "shein"),
    (r"(?:^|\.)shopify(?:email)?\.com$", "shopify"),
)
_STORE_PLATFORMS = frozenset({"shopify", "etsy"})
_CARRIER_DOMAINS: tuple[tuple[str, str], ...] = (
    (r"(?:^|\.)ups\.com$", "UPS"),
    (r"(?:^|\.)usps\.(?:com|gov)$", "USPS"),
    (r"(?:^|\.)fedex\.com$", "FedEx"),
    (r"(?:^|\.)dhl\.[a-z.]+$", "DHL"),
    (r"(?:^|\.)royalmail\.com$", "Royal Mail"),
    (r"(?:^|\.)parcelforce\.com$", "Parcelforce"),
    (r"(?:^|\.)evri\.com$", "Evri"),
    (r"(?:^|\.)dpd\.[a-z.]+$", "DPD"),
    (r"(?:^|\.)canadapost(?:-postescanada)?\.ca$", "Canada Post"),
    (r"(?:^|\.)auspost\.com\.au$", "Australia Post"),
    (r"(?:^|\.)postnl\.nl$", "PostNL"),
    (r"(?:^|\.)laposte\.(?:fr|net)$", "La Poste"),
    (r"(?:^|\.)correos\.es$", "Correos"),
    (r"(?:^|\.)deutschepost\.de$", "Deutsche Post"),
    (r"(?:^|\.)cainiao\.com$", "Cainiao"),
    (r"(?:^|\.)yunexpress\.com$", "YunExpress"),
)
# Carrier names as sellers and marketplaces write them in a notice's text.
_CARRIER_NAMES = re.compile(
    r"\b(UPS|USPS|FedEx|DHL(?: eCommerce| Express)?|Royal Mail|Parcelforce|Evri|Hermes|"
    r"DPD|GLS|Canada Post|Australia Post|PostNL|La Poste|Colissimo|Correos|"
    r"Deutsche Post|China Post|Cainiao|YunExpress|Yun Express|4PX|Yanwen|"
    r"AliExpress Standard Shipping|Amazon Logistics|OnTrac|LaserShip|SF Express)\b",
    re.IGNORECASE,
)


def _domain(address: str | None) -> str:
    return address.rsplit("@", 1)[-1].lower().strip(">. ") if address and "@" in address else ""


def _marketplace_of_domain(address: str | None) -> str | None:
    domain = _domain(address)
    for pattern, name in _MARKETPLACE_DOMAINS:
        if re.search(pattern, domain):
            return name
    return None


def _carrier_of_domain(address: str | None) -> str | None:
    domain = _domain(address)
    for pattern, name in _CARRIER_DOMAINS:
        if re.search(pattern, domain):
            return name
    return None


# --- what it is ------------------------------------------------------------------

_OUT_FOR_DELIVERY = re.compile(
    r"out for delivery|arriving today|will be delivered today|on (?:its|the) way to you today|"
    r"in zustellung|wird heute zugestellt|en cours de livraison|en reparto",
    re.IGNORECASE,
)
_DELIVERED = re.compile(
    r"(?<!be )(?<!will )(?<!to )\bdelivered\b(?! (?:by|on|between|today|tomorrow))|"
    r"\bzugestellt\b|\blivr[ée]e?\b|\bentregado\b|\bconsegnato\b",
    re.IGNORECASE,
)
_SHIPPED = re.compile(
    r"\bshipped\b|\bdispatched\b|has shipped|is on (?:its|the) way|on its way|"
    r"\bshipment\b|\bshipping (?:confirmation|update|notification)|in transit|"
    r"tracking (?:number|information|details)|label (?:created|was created)|"
    r"\bversandt\b|\bversendet\b|\bexp[ée]di[ée]e?\b|\benviado\b|\bspedito\b",
    re.IGNORECASE,
)
_NOT_SHIPPING = re.compile(
    r"order (?:confirmed|confirmation|received)|thanks? (?:you )?for (?:your )?(?:order|purchase)|"
    r"payment (?:received|confirmed)|refund|review your|rate your|leave feedback|"
    r"password|newsletter|\bsale\b|% off|coupon",
    re.IGNORECASE,
)


def _classify(subject: str, text: str) -> str:
    """The notice's kind: the subject decides when it says, then the text's start."""
    for part in (subject, text[:1500]):
        if _OUT_FOR_DELIVERY.search(part):
            return "out_for_delivery"
        if _DELIVERED.search(part) and not re.search(
            r"(?:estimated|expected|scheduled) deliver", part[:200], re.IGNORECASE
        ):
            return "delivered"
        if _SHIPPED.search(part):
            return "shipped"
        if part is subject and subject and _NOT_SHIPPING.search(subject):
            return "other"
    return "other"


# --- what it names ---------------------------------------------------------------

_ORDER_PATTERNS: tuple[tuple[str | None, re.Pattern[str]], ...] = (
    ("amazon", re.compile(r"\b(\d{3}-\d{7}-\d{7})\b")),
    ("temu", re.compile(r"\b(PO-\d{3}-\d{10,20})\b")),
    ("ebay", re.compile(r"\b(\d{2}-\d{5}-\d{5})\b")),
    ("aliexpress", re.compile(r"(?i)\border\b[^\n\d]{0,20}(\d{15,20})\b")),
    (
        None,
        re.compile(
            r"(?i)\border\s*(?:number|no\.?|nr\.?|id|#|n[º°o])?\s*[:#]?\s*#?\s*"
            r"([A-Z0-9]*\d[A-Z0-9-]{2,30})\b"
        ),
    ),
    (None, re.compile(r"(?i)\b(?:receipt|purchase)\s*(?:number|no\.?|#)\s*[:#]?\s*#?(\d{5,20})\b")),
)


def _order_id(marketplace: str | None, subject: str, text: str) -> str | None:
    for where in (subject, text):
        for name, pattern in _ORDER_PATTERNS:
            if name is not None and name != marketplace:
                continue
            found = pattern.search(where)
            if found:
                return found.group(1).strip("-")
    return None


_STORE = re.compile(
    r"(?im)^[ \t]*(?:store|seller|sold by|shop|verkäufer|vendeur)\s*[:：]\s*(.{2,60}?)\s*$"
)
_STORE_INLINE = re.compile(
    r"(?i)\b(?:sold by|from the store|purchase from|order from)\s+([A-Z0-9][\w&' .-]{1,50}?)"
    r"(?=\s+(?:has|have|is|was|shipped)\b|\s*\(|[.,!\n]|$)"
)

_MONTHS = {
    name.lower(): number
    for number in range(1, 13)
    for name in (calendar.month_name[number], calendar.month_abbr[number])
}
_MONTHS["sept"] = 9
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?"
_DATE = (
    rf"{_WEEKDAY}(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}\.\d{{1,2}}\.\d{{4}}|"
    rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?:,?\s+\d{{4}})?)"
)
_DATE_RE = re.compile(_DATE, re.IGNORECASE)
_RANGE_SEP = r"\s*(?:-|–|—|to|and|bis|au)\s*"
_PROMISE_WORDS = (
    r"(?:estimated|expected|scheduled|guaranteed|promised)?\s*(?:delivery|arrival)"
    r"(?:\s+(?:date|estimate|window|by))?|arriving(?:\s+by)?|get it by|delivery by|"
    r"will arrive(?:\s+(?:by|on|between))?|arrives(?:\s+(?:by|on|between))?|"
    r"voraussichtliche zustellung|livraison prévue|entrega estimada"
)
_PROMISE = re.compile(
    rf"(?i)(?:{_PROMISE_WORDS})\s*(?:date)?\s*[:：]?\s*(?:on\s+|between\s+|by\s+)?"
    rf"({_DATE}|\d{{1,2}}\s*[-–]\s*\d{{1,2}}\s+{_MONTH})(?:{_RANGE_SEP}({_DATE}|\d{{1,2}}(?:st|nd|rd|th)?(?![\d.:])))?"
)
_SHIPPED_ON = re.compile(
    rf"(?i)(?:shipped|dispatched|ship date|shipping date|sent)\s*(?:on)?\s*[:：]?\s*({_DATE})"
)
_ORDERED_ON = re.compile(
    rf"(?i)(?:order date|ordered on|order placed|placed on)\s*[:：]?\s*({_DATE})"
)


_DAY_RANGE = re.compile(rf"(\d{{1,2}})\s*[-–]\s*(\d{{1,2}})\s+({_MONTH})", re.IGNORECASE)


def _read_date(text: str, reference: date) -> date | None:
    """A date as a notice writes it; a missing year is the one nearest after ``reference``."""
    text = re.sub(rf"^{_WEEKDAY}", "", text.strip(), flags=re.IGNORECASE).strip(" ,")
    found = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if found:
        return _safe_date(int(found[1]), int(found[2]), int(found[3]))
    found = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text)
    if found:
        return _safe_date(int(found[3]), int(found[2]), int(found[1]))
    found = re.fullmatch(
        r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?", text, re.IGNORECASE
    ) or re.fullmatch(
        r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?(?:,?\s+(\d{4}))?", text, re.IGNORECASE
    )
    if not found:
        return None
    first, second, year_text = found.groups()
    month_name, day_text = (first, second) if first[0].isalpha() else (second, first)
    month = _MONTHS.get(month_name.lower().rstrip("."))
    if month is None:
        return None
    if year_text:
        return _safe_date(int(year_text), month, int(day_text))
    for year in (reference.year, reference.year + 1):
        value = _safe_date(year, month, int(day_text))
        # A notice names dates after it was sent; "Jan 3" in a December mail is next year.
        if value and value >= reference - timedelta(days=60):
            return value
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _promise(text: str, reference: date) -> tuple[date | None, date | None]:
    found = _PROMISE.search(text)
    if not found:
        return None, None
    days = _DAY_RANGE.match(text, found.start(1))
    if days:  # "9-12 November"
        low, high = _read_date(f"{days[1]} {days[3]}", reference), None
        if low is not None:
            high = _safe_date(low.year, low.month, int(days[2]))
        if low and high and high >= low:
            return low, high
    first = _read_date(found.group(1), reference)
    if first is None:
        return None, None
    second_text = found.group(2)
    if not second_text:
        return None, first
    if second_text.strip().rstrip("stndrh").isdigit():  # "Nov 20 - 25": same month
        second = _safe_date(first.year, first.month, int(re.sub(r"\D", "", second_text)))
    else:
        second = _read_date(second_text, first)
    if second is None or second < first:
        return None, first
    return first, second


# --- the message's text -------------------------------------------------------------

_FORWARD_MARK = re.compile(
    r"-{3,}\s*(?:Forwarded message|Original Message|Weitergeleitete Nachricht|"
    r"Message transféré|Mensaje reenviado)\s*-{3,}|^Begin forwarded message:",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARD_HEADER = re.compile(
    r"(?im)^[>\s]*(From|Von|De|Subject|Betreff|Objet|Asunto|Date|Datum)\s*:\s*(.+)$"
)


def _html_text(html: str) -> str:
    """Visible text of an HTML part, then its link targets, one per line."""
    tree = LexborHTMLParser(html)
    links: list[str] = []
    for node in tree.css("a[href]"):
        href = node.attributes.get("href") or ""
        if href.startswith(("http://", "https://")):
            # "tracknum=1Z..." reads as "tracknum 1Z...": the key names the number.
            links.append(re.sub(r"[?&=/#+]+", " ", unquote(unquote(href))))
    for node in tree.css("script, style, head, noscript"):
        node.decompose()
    body = tree.body or tree.root
    text = body.text(separator="\n") if body is not None else ""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    visible = "\n".join(line for line in lines if line)
    return visible + ("\n\nlinks:\n" + "\n".join(links) if links else "")


def _part_text(part: email.message.EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        # An unknown or wrong charset: the bytes read as Latin-1 lose nothing.
        payload = part.get_payload(decode=True)
        content = payload.decode("latin-1") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        return _html_text(content)
    return content.replace("\r\n", "\n")


@dataclass
class _Read:
    texts: list[str] = field(default_factory=list)
    inner: list[email.message.EmailMessage] = field(default_factory=list)


def _walk(message: email.message.EmailMessage, out: _Read) -> None:
    for part in message.walk():
        if part is not message and part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else payload
            if isinstance(inner, email.message.EmailMessage):
                out.inner.append(inner)
            continue
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if part.get_content_disposition() == "attachment" and part.get_content_type() not in (
            "text/plain",
            "text/html",
        ):
            continue
        out.texts.append(_part_text(part))


def _header(message: email.message.EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header the policy cannot parse
        raw = message.get_all(name, failobj=[])
        value = str(raw[0]) if raw else None
    return " ".join(str(value).split()) if value is not None else None


def _sent_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return _client_date(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _client_date(value: str) -> datetime | None:
    """A date as mail clients write it in a forward ("Wed, Nov 4, 2026 at 3:02 AM").

    It carries no zone: read as UTC, good to the day.
    """
    text = re.sub(rf"^{_WEEKDAY}", "", value.strip(), flags=re.IGNORECASE)
    text = " ".join(text.replace("\u202f", " ").split())
    for pattern in ("%b %d, %Y at %I:%M %p", "%d %b %Y at %H:%M", "%B %d, %Y at %I:%M %p"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _inline_forward(text: str) -> tuple[str | None, str | None, datetime | None]:
    """Sender, subject and date of a notice forwarded inline ("Forwarded message")."""
    sender = subject = None
    sent: datetime | None = None
    mark = _FORWARD_MARK.search(text)
    if not mark:
        return None, None, None
    for name, value in _FORWARD_HEADER.findall(text[mark.end() : mark.end() + 800]):
        key = name.lower()
        if key in ("from", "von", "de") and sender is None:
            addresses = getaddresses([value])
            sender = addresses[0][1] if addresses and addresses[0][1] else None
            if sender is None:
                bracket = re.search(r"[\w.+-]+@[\w.-]+", value)
                sender = bracket.group() if bracket else None
        elif key in ("subject", "betreff", "objet", "asunto") and subject is None:
            subject = value.strip()
        elif key in ("date", "datum") and sent is None:
            sent = _sent_at(value.strip())
    return sender, subject, sent


def parse_message(raw: bytes) -> Notice:
    """Read ``raw`` (a whole RFC 822 message) into a :class:`Notice`.

    Raises :class:`MailParseError` when the bytes are not an e-mail message.
    """
    if not raw.strip():
        raise MailParseError("empty message")
    try:
        message: Any = email.message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # the email package raises many kinds on broken input
        raise MailParseError(f"not an e-mail message: {exc}") from exc
    if not message.keys() or (
        _header(message, "From") is None and _header(message, "Subject") is None
    ):
        raise MailParseError("not an e-mail message (no From or Subject header)")
    name, address = parseaddr(_header(message, "From") or "")
    subject = _header(message, "Subject") or ""
    sent_at = _sent_at(_header(message, "Date"))
    message_id = _header(message, "Message-ID")
    read = _Read()
    try:
        _walk(message, read)
        for inner in read.inner:
            inner_read = _Read()
            _walk(inner, inner_read)
            read.texts.extend(inner_read.texts)
    except Exception as exc:  # a malformed MIME structure
        raise MailParseError(f"cannot read the message body: {exc}") from exc
    text = "\n\n".join(t for t in read.texts if t)

    # The notice a forward carries: its sender, subject and date decide what it is.
    original_from = original_subject = None
    original_date: datetime | None = None
    if read.inner:
        inner_msg = read.inner[0]
        original_from = parseaddr(_header(inner_msg, "From") or "")[1] or None
        original_subject = _header(inner_msg, "Subject")
        original_date = _sent_at(_header(inner_msg, "Date"))
    else:
        original_from, original_subject, original_date = _inline_forward(text)
    who = original_from or address
    what = original_subject or re.sub(r"^(?:\s*(?:fwd?|wg|tr|rv)\s*:\s*)+", "", subject, flags=re.I)
    marketplace = _marketplace_of_domain(who)
    domain_carrier = _carrier_of_domain(who)
    if marketplace is None and re.search(
        r"cdn\.shopify\.com|shopify\.com|myshopify", raw.decode("latin-1")
    ):
        marketplace = "shopify"
    kind = _classify(what, text)
    reference = (original_date or sent_at or datetime.now(UTC)).date()

    order_id = _order_id(marketplace, what, text)
    found = search(f"{what}\n{text}")
    scores: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    verdicts: dict[str, str] = {}
    couriers: dict[str, str | None] = {}
    order_digits = re.sub(r"\D", "", order_id or "")
    for position, match in enumerate(found):
        number = match.number
        if order_id and (number == order_id.upper() or (order_digits and number in order_digits)):
            continue
        scores[number] += 1
        first_seen.setdefault(number, position)
        verdicts[number] = match.verdict
        couriers[number] = match.detection.courier
    numbers = tuple(
        sorted(scores, key=lambda n: (verdicts[n] != "valid", -scores[n], first_seen[n]))
    )

    carrier = domain_carrier
    named = _CARRIER_NAMES.search(f"{what}\n{text}")
    if carrier is None and named:
        carrier = named.group(1)
    store = None
    if marketplace in ("shopify",):
        store = name or None
    line_store = _STORE.search(text)
    inline_store = _STORE_INLINE.search(f"{what}\n{text}")
    if line_store:  # "Store: Fashion Plus Co." keeps its full stop
        store = line_store.group(1).strip(" ,")
    elif inline_store:
        store = inline_store.group(1).strip(" .,")
    ordered = _ORDERED_ON.search(text)
    shipped = _SHIPPED_ON.search(f"{what}\n{text}")
    promised_from, promised_to = _promise(f"{what}\n{text}", reference)
    shipped_day = _read_date(shipped.group(1), reference) if shipped else None
    ordered_day = _read_date(ordered.group(1), reference) if ordered else None
    if kind == "other" and numbers and (marketplace or domain_carrier) and _SHIPPED.search(text):
        kind = "shipped"
    return Notice(
        message_id=message_id,
        sender=address or None,
        sender_name=name or None,
        subject=subject or None,
        sent_at=sent_at,
        kind=kind,
        marketplace=marketplace,
        store=store,
        carrier=carrier,
        order_id=order_id,
        tracking_numbers=numbers,
        ordered_at=ordered_day,
        shipped_at=shipped_day,
        promised_from=promised_from,
        promised_to=promised_to,
        forwarded_from=original_from,
        forwarded_sent_at=original_date if original_from else None,
        couriers=tuple(couriers[n] for n in numbers),
    )
