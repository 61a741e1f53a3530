"""Spreadsheets as people export them, turned into ``import``'s own rows.

Marketplace order reports, dropshipping apps and store platforms name their
columns their own way ("Order No.", "Tracking Number", "Ship date"), write dates as
``11/03/2026``, ``03.11.2026`` or ``2026/11/03 14:05``, put several tracking numbers
in one cell, and save ``.xlsx``. :func:`prepare` maps such a table onto the import
columns and hands it to :func:`collector.importer.import_rows` unchanged otherwise::

    >>> header, rows = ["Order No.", "Tracking No", "Ship date"], [
    ...     (2, {"Order No.": "A1", "Tracking No": "RB123456785GB; LA586992216CN",
    ...          "Ship date": "25/11/2026"})]
    >>> sheet = prepare(header, rows)
    >>> sheet.mapping
    {'Order No.': 'order_id', 'Tracking No': 'tracking_number', 'Ship date': 'shipped_at'}
    >>> [r["tracking_number"] for _, r in sheet.rows], sheet.rows.head(1)[0][1]["shipped_at"]
    (['RB123456785GB', 'LA586992216CN'], '2026-11-25')

Dates with ``/`` or ``-`` between day and month are read day-first or month-first
as the file itself shows (a day over 12 in either place); a file whose dates could
be either is refused, naming the rows, unless ``date_order`` says which. Dates with
dots (``03.11.2026``) are day-first, as everywhere they are written so.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path
from typing import Any

from collector.errors import ImportFileError
from collector.importer import COLUMNS, DATE_COLUMNS, CsvRows

__all__ = ["ALIASES", "Sheet", "parse_maps", "prepare", "read_xlsx"]


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z#]+", " ", text.replace("\ufeff", "").lower()).split())


_ALIAS_LIST: dict[str, tuple[str, ...]] = {
    "order_id": (
        "order id", "order no", "order number", "order #", "order", "order nr", "orderid",
        "order ref", "order reference", "amazon order id", "ebay order number",
        "order name", "receipt id", "sales record number", "purchase order",
    ),
    "tracking_number": (
        "tracking number", "tracking no", "tracking", "tracking id", "tracking code",
        "tracking #", "tracking numbers", "waybill", "waybill number", "awb",
        "shipment tracking number", "tracking num", "logistics number", "tracking no s",
    ),
    "carrier": (
        "carrier", "shipping carrier", "courier", "shipping company", "logistics company",
        "shipping provider", "carrier name", "tracking company", "logistics provider",
        "shipping method", "shipping service",
    ),
    "ordered_at": (
        "order date", "ordered", "date ordered", "order time", "purchase date", "created at",
        "order created", "order placed", "order date time", "sale date",
    ),
    "shipped_at": (
        "ship date", "shipped date", "shipping date", "date shipped", "shipped at", "shipped",
        "fulfilled at", "fulfillment date", "dispatch date", "dispatched", "date dispatched",
    ),
    "promised_from": ("earliest delivery date", "delivery from", "estimated delivery from"),
    "promised_to": (
        "estimated delivery", "estimated delivery date", "delivery date", "expected delivery",
        "expected delivery date", "delivery by", "latest delivery date", "delivery to",
        "estimated delivery to", "promised delivery date",
    ),
    "protection_ends_at": ("buyer protection ends", "protection ends", "protection end"),
    "marketplace": ("marketplace", "platform", "sales channel", "channel"),
    "store": (
        "store", "store name", "seller", "seller name", "shop", "shop name", "vendor",
        "supplier", "store seller",
    ),
    "destination_country": (
        "country", "ship to country", "shipping country", "destination country", "country code",
        "recipient country", "ship country", "shipping country code",
    ),
    "destination_postcode": (
        "zip", "zip code", "postcode", "postal code", "ship to zip", "shipping zip",
        "ship postal code", "shipping postcode", "ship zip",
    ),
    "destination_city": ("city", "ship to city", "shipping city", "ship city", "recipient city"),
    "item": (
        "item", "product", "product name", "item title", "title", "lineitem name", "item name",
        "product title", "description",
    ),
    "amount": ("amount", "total", "order total", "price", "item price", "total price", "subtotal"),
    "currency": ("currency", "currency code"),
}  # fmt: skip
#: Header text (lower-case, punctuation as spaces) -> import column.
ALIASES: dict[str, str] = {
    _key(alias): column for column, names in _ALIAS_LIST.items() for alias in names
} | {_key(c): c for c in COLUMNS}

_SPLIT = re.compile(r"\s*[,;|\n]\s*|\s+/\s+")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ].*)?$")
_YMD = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_XY = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


@dataclass
class Sheet:
    """A table mapped onto the import columns."""

    header: list[str]
    #: The rows as ``import_rows`` reads them: a :class:`MappedRows`, read (and
    #: mapped) again at each iteration, so a large file is never held whole.
    rows: MappedRows
    #: Source column -> import column, for every column used.
    mapping: dict[str, str]
    ignored: list[str] = field(default_factory=list)
    #: "day-first", "month-first", or None when no date needed the choice.
    date_order: str | None = None


def parse_maps(values: Iterable[str]) -> dict[str, str]:
    """``--map "Source column=field"`` options as a dict (errors name the option)."""
    out: dict[str, str] = {}
    for value in values:
        source, sep, column = value.rpartition("=")
        column = column.strip().lower()
        if not sep or not source.strip():
            raise ImportFileError(f"--map {value!r}: expected 'Source column=field'")
        if column not in COLUMNS:
            raise ImportFileError(
                f"--map {value!r}: {column!r} is not an import column ({', '.join(COLUMNS)})"
            )
        out[source.strip()] = column
    return out


def prepare(
    header: Sequence[str],
    rows: Iterable[tuple[int, dict[str, Any]]],
    *,
    maps: Mapping[str, str] | None = None,
    date_order: str | None = None,
    name: str = "<table>",
) -> Sheet:
    """Map, split and re-date ``rows`` (keys are ``header``'s names) for ``import_rows``.

    ``maps`` (source column -> import column) wins over the aliases;
    ``date_order`` is ``"day-first"`` or ``"month-first"``. Raises
    :class:`ImportFileError` when a mapped column is missing or dates are ambiguous.
    """
    maps = dict(maps or {})
    by_key = {_key(h): h for h in header}
    mapping: dict[str, str] = {}
    for source, column in maps.items():
        found = source if source in header else by_key.get(_key(source))
        if found is None:
            raise ImportFileError(
                f"{name}: --map names column {source!r}, which the file does not have "
                f"(found: {', '.join(header)})"
            )
        mapping[found] = column
    taken = set(mapping.values())
    ignored: list[str] = []
    for column in header:
        if column in mapping:
            continue
        target = ALIASES.get(_key(column))
        if target is None or target in taken:
            ignored.append(column)
            continue
        mapping[column] = target
        taken.add(target)
    new_header = [mapping[h] for h in header if h in mapping]
    missing = [c for c in ("order_id", "tracking_number") if c not in taken]
    if not ({"ordered_at", "shipped_at"} & taken):
        missing.append("ordered_at or shipped_at")
    if missing:
        raise ImportFileError(
            f"{name}: missing required column(s): {', '.join(missing)} "
            f"(found: {', '.join(header) or 'none'}); name yours with --map 'Column=field'"
        )
    renamed = _Renamed(rows, mapping)
    order = _date_order(renamed, date_order, name)
    return Sheet(new_header, MappedRows(renamed, order), mapping, ignored, order)


class _Renamed:
    """``rows`` with the source columns renamed to import columns (others dropped)."""

    def __init__(self, rows: Iterable[tuple[int, dict[str, Any]]], mapping: dict[str, str]):
        self.rows = rows
        self.mapping = mapping

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        mapping = self.mapping
        for line, row in self.rows:
            if "__error__" in row:
                yield line, row
            else:
                yield line, {mapping[k]: v for k, v in row.items() if k in mapping}


class MappedRows:
    """A sheet's rows ready for ``import_rows``: dates in ISO 8601 (in the file's day
    and month order), one row per tracking number of a cell that lists several.

    Iterating reads the source again (a :class:`collector.importer.CsvRows` reads
    its file), so it can be iterated more than once and holds a row at a time.
    """

    def __init__(self, renamed: Iterable[tuple[int, dict[str, Any]]], order: str | None):
        self.renamed = renamed
        self.order = order

    def head(self, count: int) -> list[tuple[int, dict[str, Any]]]:
        """The first ``count`` rows (``import --dry-run``)."""
        return list(islice(self, count))

    def count(self) -> int:
        """How many rows an import reads (a pass over the source)."""
        return sum(1 for _ in self)

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        order = self.order
        for line, row in self.renamed:
            if "__error__" in row:
                yield line, row
                continue
            for column in DATE_COLUMNS:
                value = row.get(column)
                if isinstance(value, str) and value.strip():
                    row[column] = _iso_date(value.strip(), order)
            numbers = row.get("tracking_number")
            parts = (
                [p for p in _SPLIT.split(numbers.strip()) if p]
                if isinstance(numbers, str) and numbers.strip()
                else [numbers]
            )
            for part in parts:
                yield line, {**row, "tracking_number": part}


class _Lines:
    """Lines that show something, kept bounded: how many, and the first ten."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[int] = []
        self._last: int | None = None

    def add(self, line: int) -> None:
        if line == self._last:
            return
        self._last = line
        self.count += 1
        if len(self.first) < 10:
            self.first.append(line)

    def __bool__(self) -> bool:
        return self.count > 0

    def __str__(self) -> str:
        shown = ", ".join(str(n) for n in self.first)
        return shown + (f" and {self.count - 10} more" if self.count > 10 else "")


def _date_order(
    rows: Iterable[tuple[int, dict[str, Any]]], chosen: str | None, name: str
) -> str | None:
    """The file's day/month order: chosen, or shown by its own dates, or refused.

    One pass over the rows (stopped as soon as both orders are seen); what it keeps
    is bounded (:class:`_Lines`)."""
    if chosen is not None:
        return chosen
    day_first, month_first, ambiguous = _Lines(), _Lines(), _Lines()
    for line, row in rows:
        for column in DATE_COLUMNS:
            value = row.get(column)
            found = _XY.match(value.strip()) if isinstance(value, str) else None
            if not found or found.group(2) == ".":
                continue
            first, second = int(found.group(1)), int(found.group(3))
            if first > 12 >= second:
                day_first.add(line)
            elif second > 12 >= first:
                month_first.add(line)
            elif first != second:
                ambiguous.add(line)
    if day_first and month_first:
        raise ImportFileError(
            f"{name}: dates are day-first on line(s) {day_first} but month-first on "
            f"line(s) {month_first}; fix the file or pass --day-first/--month-first"
        )
    if day_first:
        return "day-first"
    if month_first:
        return "month-first"
    if ambiguous:
        raise ImportFileError(
            f"{name}: dates could be day-first or month-first on line(s) {ambiguous} "
            "(e.g. 03/11/2026); pass --day-first or --month-first"
        )
    return None


def _iso_date(value: str, order: str | None) -> str:
    """``value`` as ISO 8601 when it is a spreadsheet date; otherwise as it is."""
    if _ISO.match(value):
        return value
    found = _YMD.match(value)
    if found:
        year, month, day = int(found[1]), int(found[2]), int(found[3])
        hms = found.group(4, 5, 6)
    else:
        found = _XY.match(value)
        if not found:
            return value  # the importer names what it cannot read
        first, second, year = int(found[1]), int(found[3]), int(found[4])
        day_first = found.group(2) == "." or order != "month-first"
        day, month = (first, second) if day_first else (second, first)
        hms = found.group(5, 6, 7)
    try:
        day_value = date(year, month, day)
        if hms[0] is None:
            return day_value.isoformat()
        moment = time(int(hms[0]), int(hms[1]), int(hms[2] or 0))
    except ValueError:
        return value
    return datetime.combine(day_value, moment).isoformat()


def read_xlsx(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """The first sheet of an ``.xlsx`` file: its header row and ``(line, row)`` pairs.

    Date cells become ISO 8601 text; whole numbers lose the ``.0`` a float adds.
    """
    try:
        from openpyxl import load_workbook
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportFileError(f"{path}: reading .xlsx needs openpyxl") from exc
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError as exc:
        raise ImportFileError(f"{path}: no such file") from exc
    except Exception as exc:  # openpyxl raises zipfile, KeyError, XML errors ...
        raise ImportFileError(f"{path}: not a readable .xlsx file ({exc})") from exc
    try:
        sheet = book.worksheets[0]
        header: list[str] | None = None
        rows: list[tuple[int, dict[str, Any]]] = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell(v) for v in values]
            if header is None:
                if any(cells):
                    header = [c.strip() for c in cells]
                continue
            if not any(c.strip() for c in cells):
                continue
            rows.append((line, dict(zip(header, cells, strict=False))))
    finally:
        book.close()
    if header is None:
        raise ImportFileError(f"{path}: the sheet is empty")
    if not rows:
        raise ImportFileError(f"{path}: the sheet has a header but no orders")
    return [h for h in header if h], rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat() if value.time() != time(0) else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_table(
    path: Path, encoding: str = "utf-8"
) -> tuple[list[str], Iterable[tuple[int, dict[str, Any]]]]:
    """A CSV, JSON or ``.xlsx`` file's header (as written) and ``(line, row)`` pairs
    (for CSV a :class:`~collector.importer.CsvRows`, read from the file as iterated).

    CSV and JSON are read by :func:`collector.importer.read_rows` (encodings, BOM,
    CRLF, delimiters and its checks); a CSV whose header is not the import format's
    is read again keeping its column names as written, for :func:`prepare`.
    """
    from collector.importer import read_rows

    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return read_xlsx(path)
    try:
        return read_rows(path, encoding)
    except ImportFileError as exc:
        if "missing required column" not in str(exc):
            raise
    return _read_csv_as_written(path, encoding)


def _read_csv_as_written(path: Path, encoding: str) -> tuple[list[str], CsvRows]:
    codec = codecs.lookup(encoding).name
    with path.open(encoding="utf-8-sig" if codec == "utf-8" else codec, newline="") as text:
        start = text.read(4096)
    rows = CsvRows(path, codec, sniff=start, as_written=True)
    return rows.header, rows
