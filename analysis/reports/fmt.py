"""How a pack writes instants, amounts and names (plain text; the template escapes).

Buyer-facing dates (promised window, protection end) are shown in the destination's
zone, the zone the import read them in; event times in the carrier's local time with
its offset, next to UTC::

    >>> from datetime import datetime, UTC
    >>> day(datetime(2026, 11, 15, 22, 59, tzinfo=UTC), "ES")
    '15 Nov 2026'
    >>> utc(datetime(2026, 11, 15, 22, 59, tzinfo=UTC))
    '2026-11-15 22:59 UTC'
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from collector.countries import zone_for

MARKETPLACES = {
    "aliexpress": "AliExpress",
    "ebay": "eBay",
    "amazon": "Amazon",
    "paypal": "PayPal",
    "visa": "Visa (card issuer)",
    "mastercard": "Mastercard (card issuer)",
    "temu": "Temu",
    "shein": "SHEIN",
    "other": "the marketplace",
}

STATUSES = {
    "info_received": "Label created",
    "in_transit": "In transit",
    "out_for_delivery": "Out for delivery",
    "available_for_pickup": "Available for pickup",
    "delivery_failed": "Delivery failed",
    "exception": "Exception",
    "returning": "Returning to sender",
    "returned": "Returned to sender",
    "delivered": "Delivered",
    "not_found": "Not found",
    "expired": "Tracking expired",
    "unknown": "Unknown",
}


def marketplace(code: str | None) -> str:
    """The marketplace's proper name (``aliexpress`` -> ``AliExpress``)."""
    if not code:
        return "the marketplace"
    return MARKETPLACES.get(code, code)


def status(code: str | None) -> str:
    """A canonical status as words (``in_transit`` -> ``In transit``)."""
    if not code:
        return "Unknown"
    return STATUSES.get(code, code.replace("_", " ").capitalize())


def in_zone(value: datetime, country: str | None) -> datetime:
    """``value`` in the destination country's zone (UTC when unknown)."""
    return value.astimezone(zone_for(country))


def day(value: datetime | None, country: str | None = None) -> str:
    """A date as ``15 Nov 2026`` in the destination's zone; ``-`` for none."""
    if value is None:
        return "-"
    return f"{in_zone(value, country):%d %b %Y}".lstrip("0")


def local_date(text: str | None) -> str:
    """A destination date the window computed (``2026-11-15``) as ``15 Nov 2026``.

    >>> local_date("2026-11-05"), local_date(None)
    ('5 Nov 2026', '-')
    """
    if not text:
        return "-"
    return f"{date.fromisoformat(text):%d %b %Y}".lstrip("0")


def when(value: datetime | None, country: str | None = None) -> str:
    """Date, time and offset in the destination's zone: ``15 Nov 2026 23:59 (UTC+01:00)``."""
    if value is None:
        return "-"
    local = in_zone(value, country)
    return f"{day(value, country)} {local:%H:%M} ({offset_text(local.utcoffset())})"


def utc(value: datetime | None) -> str:
    """An instant in UTC, ISO-like and unambiguous: ``2026-11-15 22:59 UTC``."""
    if value is None:
        return "-"
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def iso(value: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC (for the manifest)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def offset_text(offset: timedelta | None) -> str:
    """``UTC+08:00`` for an offset; ``UTC`` for zero or none."""
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def event_local(
    occurred_at: datetime | None, offset_minutes: int | None, local_text: str | None
) -> str:
    """The carrier's local time with its offset, or its raw text when the zone is unknown."""
    if occurred_at is not None and offset_minutes is not None:
        local = occurred_at.astimezone(timezone(timedelta(minutes=offset_minutes)))
        return f"{local:%Y-%m-%d %H:%M} {offset_text(local.utcoffset())}"
    if local_text:
        return f"{local_text} (zone unknown)"
    return "-"


def event_day(occurred_at: datetime | None, offset_minutes: int | None) -> str:
    """An event's date in its own local time where known (else UTC)."""
    if occurred_at is None:
        return "an unknown date"
    zone = timezone(timedelta(minutes=offset_minutes or 0))
    return f"{occurred_at.astimezone(zone):%d %b %Y}".lstrip("0")


def money(amount: Decimal | None, currency: str | None) -> str:
    """``18.45 EUR``; ``-`` when there is no amount."""
    if amount is None:
        return "-"
    return f"{amount:,.2f} {currency or ''}".strip()


def days(delta: timedelta) -> int:
    """Whole days in a duration (rounded down; never negative)."""
    return max(0, int(delta / timedelta(days=1)))


def plural(count: int, word: str) -> str:
    """``1 day``, ``3 days``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def short_hash(value: str | None, length: int = 12) -> str:
    """The first characters of a hash, for prose (tables show the whole hash)."""
    return value[:length] if value else "-"
