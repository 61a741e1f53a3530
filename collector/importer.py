"""Import orders (CSV or JSON) into ``shipments``.

The format is ARCHITECTURE.md's: a header row (or a JSON list of objects) with
``order_id``, ``tracking_number`` and one of ``ordered_at``/``shipped_at`` required;
every other column optional. Each bad row is reported with its line and reason and
skipped; the good rows are stored in one transaction; a file that is unusable as a
whole raises :class:`ImportFileError` and stores nothing. A CSV file is read as a
stream and its rows validated :data:`CHUNK_ROWS` at a time (the good ones wait in a
DuckDB temporary table until the one upsert), so an import's memory is bounded by a
chunk, not by the file::

    result = import_file(store, Path("orders.csv"))
    print(result.inserted, result.updated, [e.reason for e in result.rejected])
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from collector import clock
from collector.countries import normalise_country, zone_for
from collector.errors import ImportFileError
from collector.model import AWAITING
from collector.plausible import RANGE_TEXT, plausible
from collector.store import Store
from collector.store.writes import upsert_staged_shipments
from collector.terminal import plural

COLUMNS = (
    "order_id",
    "marketplace",
    "store",
    "tracking_number",
    "carrier",
    "ordered_at",
    "shipped_at",
    "promised_from",
    "promised_to",
    "protection_ends_at",
    "destination_country",
    "destination_postcode",
    "destination_city",
    "item",
    "amount",
    "currency",
    "archived",
)
#: What the ``archived`` column may say (case aside); an empty cell is "no".
_YES = frozenset({"true", "yes", "y", "1", "x", "archived"})
_NO = frozenset({"false", "no", "n", "0", ""})
DATE_COLUMNS = ("ordered_at", "shipped_at", "promised_from", "promised_to", "protection_ends_at")
# Deadlines given as a bare date mean the end of that day, not its start.
END_OF_DAY_COLUMNS = frozenset({"promised_to", "protection_ends_at"})
MARKETPLACES = frozenset(
    {"aliexpress", "ebay", "amazon", "paypal", "visa", "mastercard", "temu", "shein", "other"}
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_IMPORT_BYTES = 512 * 1024 * 1024
#: Rows validated and staged at a time (see the module docstring).
CHUNK_ROWS = 50_000
#: DuckDB's memory limit while an import stages its rows (see :class:`_Staging`).
STAGING_MEMORY_LIMIT = "256MB"
#: Bytes decoded at a time when a CSV file is checked before it is read.
_READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class RowError:
    """One rejected row: its line in the file (1 = header), and why."""

    line: int
    reason: str
    order_id: str | None = None

    def __str__(self) -> str:
        who = f" (order {self.order_id})" if self.order_id else ""
        return f"line {self.line}{who}: {self.reason}"


@dataclass
class ImportResult:
    """What an import did."""

    path: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Rows stored without a tracking number yet (included in the counts above).
    awaiting: int = 0

    @property
    def stored(self) -> int:
        """Rows now in the database as given (new, updated or already identical)."""
        return self.inserted + self.updated + self.unchanged


def import_file(store: Store, path: Path, encoding: str = "utf-8") -> ImportResult:
    """Read ``path`` (CSV or JSON, by content) and store its good rows in one batch."""
    header, rows = read_rows(path, encoding)
    return import_rows(store, header, rows, name=str(path))


def import_rows(
    store: Store,
    header: Sequence[str],
    rows: Iterable[tuple[int, dict[str, Any]]],
    *,
    name: str = "<rows>",
    chunk_rows: int = CHUNK_ROWS,
) -> ImportResult:
    """Validate ``(line, row)`` pairs and upsert the good ones in one transaction.

    ``rows`` may be a stream: they are validated ``chunk_rows`` at a time, each
    chunk's good rows staged in a temporary table, and the upsert reads that table
    once all are in (the last of repeated (order_id, tracking_number) rows wins).
    """
    result = ImportResult(path=name)
    present = _check_header(header, name, result)
    mangled = _Mangled()
    with _Staging(store) as staging:
        for chunk in _chunks(rows, chunk_rows):
            frame, errors, count = parse_rows(chunk, present)
            result.rows += count
            result.rejected += errors
            if frame.height:
                mangled.add(frame)
                staging.append(frame)
        if staging.rows:
            repeated = staging.repeated_pairs()
            if repeated:
                result.warnings.append(
                    f"{repeated} (order_id, tracking_number) pairs appear more than once; "
                    "the last row wins"
                )
            unique = staging.unique()
            counts = upsert_staged_shipments(
                store, unique, present_columns=present, now=clock.wall()
            )
            result.inserted, result.updated, result.unchanged = counts
            result.awaiting = staging.awaiting()
    if mangled.count:
        result.warnings.append(mangled.warning())
    return result


def _chunks(
    rows: Iterable[tuple[int, dict[str, Any]]], size: int
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    chunk: list[tuple[int, dict[str, Any]]] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Staging:
    """The good rows of an import, in a DuckDB temporary table until the upsert.

    ``seq`` keeps the file's order: the upsert reads the last row of each repeated
    (order_id, tracking_number) pair, in the order of those last rows (as
    ``unique(keep="last", maintain_order=True)`` did on one frame).
    """

    TABLE = "import_staged"
    UNIQUE = "import_staged_unique"

    def __init__(self, store: Store) -> None:
        self.conn = store.conn
        self.rows = 0
        self._limit: str | None = None

    def __enter__(self) -> _Staging:
        # DuckDB holds temporary tables in memory up to its limit (80% of the RAM by
        # default) before it spills them: a lower limit while the rows are staged
        # keeps an import's memory bounded, whatever the file's length; the upsert
        # runs under it too (DuckDB's joins spill to disk beside the database).
        row = self.conn.execute("SELECT current_setting('memory_limit')").fetchone()
        self._limit = str(row[0]) if row else None
        self.conn.execute(f"SET memory_limit = '{STAGING_MEMORY_LIMIT}'")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._limit:
            self.conn.execute(f"SET memory_limit = '{self._limit}'")
        self.conn.execute(f"DROP VIEW IF EXISTS temp.{self.UNIQUE}")
        self.conn.execute(f"DROP TABLE IF EXISTS temp.{self.TABLE}")

    def append(self, frame: pl.DataFrame) -> None:
        self.conn.register("import_batch", frame.with_row_index("seq", offset=self.rows))
        try:
            if self.rows == 0:
                self.conn.execute(
                    f"CREATE OR REPLACE TEMP TABLE {self.TABLE} AS SELECT * FROM import_batch"
                )
            else:
                self.conn.execute(f"INSERT INTO {self.TABLE} SELECT * FROM import_batch")
        finally:
            self.conn.unregister("import_batch")
        self.rows += frame.height

    def repeated_pairs(self) -> int:
        row = self.conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {self.TABLE} "
            "GROUP BY order_id, tracking_number HAVING count(*) > 1)"
        ).fetchone()
        return int(row[0]) if row else 0

    def unique(self) -> str:
        """The staged rows, the last of each pair, as a temporary view's name (no copy).

        A row awaiting its number is left out when the file has the same order with
        a number (an order exported before and after the seller sent it).
        """
        self.conn.execute(
            f"CREATE OR REPLACE TEMP VIEW {self.UNIQUE} AS "
            f"SELECT * EXCLUDE (seq) FROM {self.TABLE} "
            f"WHERE tracking_number <> '{AWAITING}' OR order_id NOT IN "
            f"(SELECT order_id FROM {self.TABLE} WHERE tracking_number <> '{AWAITING}') "
            "QUALIFY row_number() OVER (PARTITION BY order_id, tracking_number "
            "ORDER BY seq DESC) = 1 ORDER BY seq"
        )
        return self.UNIQUE

    def awaiting(self) -> int:
        """How many of the file's orders are stored awaiting a tracking number now."""
        row = self.conn.execute(
            f"SELECT count(*) FROM shipments WHERE tracking_number = '{AWAITING}' AND order_id IN "
            f"(SELECT order_id FROM {self.TABLE} WHERE tracking_number = '{AWAITING}')"
        ).fetchone()
        return int(row[0]) if row else 0


#: Why a shipment has no number: its row's number cell was empty.
AWAITING_REASON = "awaiting a tracking number"


class _Mangled:
    """Numbers a spreadsheet turned into scientific notation (digits lost), counted
    over every chunk of an import.

    They are stored as given (the file is the evidence), but no source will find
    them, and the buyer should re-export the column as text.
    """

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []

    def add(self, frame: pl.DataFrame) -> None:
        from collector.numbers.detect import SCIENTIFIC

        mangled = frame.filter(pl.col("tracking_number_raw").str.contains(SCIENTIFIC))
        self.count += mangled.height
        for order, number in mangled.select("order_id", "tracking_number_raw").head(3).iter_rows():
            if len(self.examples) < 3:
                self.examples.append(f"order {order} ({number})")

    def warning(self) -> str:
        more = f" and {self.count - 3} more" if self.count > 3 else ""
        return (
            f"{plural(self.count, 'tracking number')} in scientific notation, as a spreadsheet "
            f"writes long numbers, with digits lost: {', '.join(self.examples)}{more}; stored as "
            "given, but format the column as text and export again"
        )


def read_rows(
    path: Path, encoding: str = "utf-8"
) -> tuple[list[str], Iterable[tuple[int, dict[str, Any]]]]:
    """Parse a CSV or JSON import file into its header and ``(line, row)`` pairs.

    ``encoding`` is the file's text encoding (UTF-8 by default, a byte-order mark
    allowed; spreadsheets on Windows often save ``cp1252``). Raises
    :class:`ImportFileError` when the file cannot be used at all. The whole file is
    checked first (its encoding, binary content), block by block; a CSV file's rows
    are then a :class:`CsvRows` that reads the file again each time it is iterated,
    so that no more than a row is held; a JSON file is read whole.
    """
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as exc:
        raise ImportFileError(f"{path}: unknown encoding {encoding!r}") from exc
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise ImportFileError(f"{path}: {size} bytes is larger than the import limit")
        start = _check_text(path, codec)
    except FileNotFoundError as exc:
        raise ImportFileError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise ImportFileError(f"{path}: is a directory, not a CSV or JSON file") from exc
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read: {exc.strerror}") from exc
    if not start.strip():
        raise ImportFileError(f"{path}: the file is empty")
    rows: Iterable[tuple[int, dict[str, Any]]]
    if start.lstrip()[0] in "[{":
        text = path.read_bytes().decode(_text_codec(codec))
        header, rows = _read_json(text.strip(), path)
    else:
        csv_rows = CsvRows(path, codec, sniff=start)
        header, rows = csv_rows.header, csv_rows
        if not csv_rows.has_rows():
            raise ImportFileError(f"{path}: the file has a header but no orders")
    _check_header(header, str(path), ImportResult(path=str(path)))
    return header, rows


def _text_codec(codec: str) -> str:
    return "utf-8-sig" if codec == "utf-8" else codec


def _check_text(path: Path, codec: str) -> str:
    """Decode the whole file block by block (nothing kept); return its first 4,096
    non-space characters or fewer. Raises ImportFileError naming the first bad byte,
    or binary content."""
    decoder = codecs.getincrementaldecoder(_text_codec(codec))()
    start = ""
    offset = 0
    saw_nul = False
    with path.open("rb") as data:
        while True:
            block = data.read(_READ_BLOCK)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                hint = (
                    "; a spreadsheet export? try --encoding cp1252 (or the encoding it was "
                    "saved in)"
                    if codec == "utf-8" and b"\x00" not in block and not saw_nul
                    else ""
                )
                raise ImportFileError(
                    f"{path}: not a CSV or JSON text file (not "
                    f"{'UTF-8' if codec == 'utf-8' else codec} at byte {offset + exc.start})"
                    f"{hint}"
                ) from exc
            if "\x00" in text:
                saw_nul = True
            if len(start) < 4096 and (start or text.strip()):
                start = (start + (text if start else text.lstrip()))[:4096]
            offset += len(block)
            if not block:
                break
    if saw_nul:
        raise ImportFileError(f"{path}: not a CSV or JSON text file (binary content)")
    return start


class CsvRows:
    """The ``(line, row)`` pairs of a CSV file, read from the file at each iteration.

    ``header`` is the first row's names (lower-cased and stripped, or ``as_written``);
    a malformed line or one with more fields than the header is a row with an
    ``__error__``, reported like any bad row; blank lines are skipped.
    """

    def __init__(self, path: Path, codec: str, *, sniff: str, as_written: bool = False) -> None:
        self.path = path
        self.codec = _text_codec(codec)
        try:
            self.delimiter = csv.Sniffer().sniff(sniff[:4096], delimiters=",;\t").delimiter
        except csv.Error:
            self.delimiter = ","
        with path.open(encoding=self.codec, newline="") as text:
            try:
                first = next(csv.reader(text, delimiter=self.delimiter))
            except (StopIteration, csv.Error) as exc:
                raise ImportFileError(f"{path}: no header row") from exc
        self.header = [h.strip() if as_written else h.strip().lower() for h in first]

    def has_rows(self) -> bool:
        return next(iter(self), None) is not None

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        header = self.header
        with self.path.open(encoding=self.codec, newline="") as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            next(reader, None)
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield reader.line_num, {"__error__": f"malformed CSV: {exc}"}
                    continue
                if not any(v.strip() for v in values):
                    continue
                if len(values) > len(header):
                    yield (
                        reader.line_num,
                        {"__error__": f"{len(values)} fields but the header has {len(header)}"},
                    )
                    continue
                yield reader.line_num, dict(zip(header, values, strict=False))


def _read_json(text: str, path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    except RecursionError as exc:
        raise ImportFileError(f"{path}: not usable JSON: nested too deeply") from exc
    except ValueError as exc:  # e.g. a number of 10,000 digits (Python's int limit)
        raise ImportFileError(f"{path}: not usable JSON: {exc}") from exc
    if isinstance(doc, dict) and isinstance(doc.get("orders"), list):
        doc = doc["orders"]
    if not isinstance(doc, list):
        raise ImportFileError(f"{path}: JSON import must be a list of objects")
    if not doc:
        raise ImportFileError(f"{path}: the file has no orders")
    header: list[str] = []
    rows: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(doc, start=1):
        if not isinstance(item, dict):
            # Reported per row, like a malformed CSV line: "line" is the item's index.
            rows.append((index, {"__error__": "item is not a JSON object"}))
            continue
        for key in item:
            if key not in header:
                header.append(str(key))
        rows.append((index, {str(k): _json_scalar(v) for k, v in item.items()}))
    return header, rows


def _json_scalar(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        # A NUL ("\u0000") is binary content, as a NUL byte makes a CSV file unusable.
        return {"__error__": "contains a NUL character"}
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return {"__error__": f"expected a text or number, got {type(value).__name__}"}


def _check_header(header: Sequence[str], name: str, result: ImportResult) -> frozenset[str]:
    keys = {h.strip().lower() for h in header}
    missing = [c for c in ("order_id", "tracking_number") if c not in keys]
    if not ({"ordered_at", "shipped_at"} & keys):
        missing.append("ordered_at or shipped_at")
    if missing:
        raise ImportFileError(
            f"{name}: missing required column(s): {', '.join(missing)} "
            f"(found: {', '.join(sorted(keys)) or 'none'})"
        )
    unknown = sorted(keys - set(COLUMNS))
    if unknown:
        result.warnings.append(f"ignoring unknown column(s): {', '.join(unknown)}")
    return frozenset(keys & set(COLUMNS))


def parse_rows(
    rows: Iterable[tuple[int, dict[str, Any]]], present: frozenset[str]
) -> tuple[pl.DataFrame, list[RowError], int]:
    """Validate rows into a typed frame ready for :mod:`collector.store.writes`."""
    records: list[dict[str, Any]] = []
    errors: list[RowError] = []
    count = 0
    for line, row in rows:
        count += 1
        try:
            records.append(_clean_row(row, present))
        except _BadRow as exc:
            order = row.get("order_id")
            errors.append(
                RowError(
                    line,
                    str(exc),
                    order.strip() if isinstance(order, str) and order.strip() else None,
                )
            )
    frame = (
        pl.DataFrame(records, schema=_FRAME_SCHEMA, orient="row")
        if records
        else (pl.DataFrame(schema=_FRAME_SCHEMA))
    )
    if frame.height:
        frame = _detect_numbers(frame)
    return frame, errors, count


_TS = pl.Datetime("us", "UTC")
_FRAME_SCHEMA: dict[str, Any] = {
    "order_id": pl.String,
    "tracking_number_raw": pl.String,
    "marketplace": pl.String,
    "store": pl.String,
    "carrier": pl.String,
    "ordered_at": _TS,
    "shipped_at": _TS,
    "promised_from": _TS,
    "promised_to": _TS,
    "protection_ends_at": _TS,
    "destination_country": pl.String,
    "destination_postcode": pl.String,
    "destination_city": pl.String,
    "item": pl.String,
    "amount": pl.Decimal(14, 2),
    "currency": pl.String,
    "archived": pl.Boolean,
}


class _BadRow(Exception):
    pass


def _clean_row(row: dict[str, Any], present: frozenset[str]) -> dict[str, Any]:
    if "__error__" in row:
        raise _BadRow(row["__error__"])
    for key, value in row.items():
        if isinstance(value, dict):
            raise _BadRow(f"{key}: {value['__error__']}")

    def text(key: str) -> str | None:
        value = row.get(key)
        if value is None:
            return None
        value = str(value).strip()
        return value or None

    order_id = text("order_id")
    number = text("tracking_number")
    if not order_id:
        raise _BadRow("order_id is empty")
    from collector.numbers.detect import normalise

    # An empty number is an order whose seller has not sent one yet: stored as
    # awaiting it (never polled; only a passed promised date flags it).
    if number is not None and not normalise(number):
        raise _BadRow(f"tracking_number {number!r} is empty once spaces, dots and dashes go")
    country_text = text("destination_country")
    country = None
    if country_text:
        country = normalise_country(country_text)
        if country is None:
            raise _BadRow(f"destination_country {country_text!r} is not an ISO 3166 alpha-2 code")
    out: dict[str, Any] = {
        "order_id": order_id,
        "tracking_number_raw": number,
        "marketplace": (text("marketplace") or "aliexpress").lower(),
        "store": text("store"),
        "carrier": text("carrier"),
        "destination_country": country,
        "destination_postcode": _postcode(text("destination_postcode")),
        "destination_city": text("destination_city"),
        "item": text("item"),
        "currency": None,
        "amount": None,
    }
    if out["marketplace"] not in MARKETPLACES:
        raise _BadRow(
            f"marketplace {out['marketplace']!r} is not one of {', '.join(sorted(MARKETPLACES))}"
        )
    for column in DATE_COLUMNS:
        value = text(column)
        try:
            out[column] = (
                parse_import_date(value, country, end_of_day=column in END_OF_DAY_COLUMNS)
                if value
                else None
            )
        except OverflowError:
            raise _BadRow(f"{column} {value!r} is outside {RANGE_TEXT}") from None
        except ValueError:
            raise _BadRow(f"{column} {value!r} is not an ISO 8601 date or date-time") from None
        if out[column] is not None and not plausible(out[column]):
            raise _BadRow(f"{column} {value!r} is outside {RANGE_TEXT}")
    if out["ordered_at"] is None and out["shipped_at"] is None:
        raise _BadRow("needs ordered_at or shipped_at")
    amount = text("amount")
    if amount:
        value = _amount(amount)
        if not value.is_finite() or value < 0 or abs(value) >= Decimal("1e12"):
            raise _BadRow(f"amount {amount!r} is not a plausible amount")
        cents = value.quantize(Decimal("0.01"))
        if cents != value:
            # Stored with two decimals: rounding 0.001 to 0.00 would change the evidence.
            raise _BadRow(f"amount {amount!r} has more than two decimal places")
        out["amount"] = cents
    currency = text("currency")
    if currency:
        if not _CURRENCY.match(currency.upper()):
            raise _BadRow(f"currency {currency!r} is not an ISO 4217 code")
        out["currency"] = currency.upper()
    if out["promised_from"] and out["promised_to"] and out["promised_from"] > out["promised_to"]:
        raise _BadRow("promised_from is after promised_to")
    if "archived" in present:
        flag = (text("archived") or "").lower()
        if flag not in _YES | _NO:
            raise _BadRow(f"archived {text('archived')!r} is not yes/no (true/false, 1/0)")
        out["archived"] = flag in _YES
    else:
        out["archived"] = None
    return out


def _amount(text: str) -> Decimal:
    """An amount as a spreadsheet of any locale writes it.

    A decimal comma is read (``12,50``; ``1.234,50`` with grouping dots, as a
    semicolon-separated European export writes them), as is a decimal point with
    grouping commas (``1,234.50``); spaces group digits too. A lone point is a
    decimal point (``12.340``), but a lone comma before exactly three digits
    (``1,250``) could be either, so it is refused with a reason rather than read as
    a thousand times too much or too little.

    >>> _amount("12,50"), _amount("1.234,50"), _amount("1,234.50"), _amount("1 234,5")
    (Decimal('12.50'), Decimal('1234.50'), Decimal('1234.50'), Decimal('1234.5'))
    """
    plain = "".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())
    at = max(plain.rfind(","), plain.rfind("."))
    whole, fraction = plain, ""
    if at >= 0:
        mark, tail = plain[at], plain[at + 1 :]
        kinds = {c for c in plain if c in ",."}
        if len(kinds) == 2 or plain.count(mark) == 1:
            if mark == "," and len(kinds) == 1 and len(tail) == 3 and plain[:at].strip("-+0"):
                raise _BadRow(
                    f"amount {text!r} is ambiguous (a thousand and more, or a decimal?): "
                    "write it with two decimals"
                )
            whole, fraction = plain[:at], tail
        grouping = ({",", "."} - {mark}).pop() if fraction or at == len(plain) - 1 else mark
        digits = whole.lstrip("-+")
        if grouping in digits:
            if not re.fullmatch(rf"\d{{1,3}}(?:{re.escape(grouping)}\d{{3}})+", digits):
                raise _BadRow(f"amount {text!r} is not a number")
            whole = whole.replace(grouping, "")
    if not re.fullmatch(r"[-+]?\d*", whole) or (not fraction.isdigit() and fraction):
        raise _BadRow(f"amount {text!r} is not a number")
    if not (whole.strip("-+") or fraction):
        raise _BadRow(f"amount {text!r} is not a number")
    return Decimal(f"{whole}.{fraction}" if fraction else whole)


def _postcode(value: str | None) -> str | None:
    return " ".join(value.upper().split()) if value else None


def parse_import_date(text: str, country: str | None, *, end_of_day: bool = False) -> datetime:
    """Read an ISO 8601 date or date-time from an import, as a UTC instant.

    A bare date is a whole day in the destination's zone (UTC when unknown): its
    start, or for deadlines (``end_of_day``) its last microsecond. A date-time
    without a zone is read in the destination's zone too.

    >>> parse_import_date("2026-11-02", "DE", end_of_day=True).isoformat()
    '2026-11-02T22:59:59.999999+00:00'
    """
    text = text.strip()
    zone = zone_for(country)
    if len(text) == 10:
        day = date.fromisoformat(text)
        if end_of_day:
            local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            return (local - timedelta(microseconds=1)).astimezone(UTC)
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    value = datetime.fromisoformat(text.replace("z", "Z"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _detect_numbers(frame: pl.DataFrame) -> pl.DataFrame:
    """Normalise the numbers and record what format each one is.

    One batch over the whole column (:func:`collector.numbers.detect_column`):
    the normalised number, the detected courier and format (id, or name for the few
    formats without one), the verdict and its reason, and whether the declared
    carrier cannot issue that format. A bad or unknown number is stored as it is.
    """
    from collector.numbers import detect_column

    found = detect_column(
        frame["tracking_number_raw"],
        declared=frame["carrier"],
        destination=frame["destination_country"],
    )
    awaiting = frame["tracking_number_raw"].is_null()
    frame = frame.with_columns(
        found["number"].alias("tracking_number"),
        found["courier"].alias("courier"),
        found.select(pl.coalesce("format", "format_name")).to_series().alias("number_format"),
        found["verdict"].alias("number_verdict"),
        found["reason"].alias("number_reason"),
        found["carrier_mismatch"].alias("carrier_mismatch"),
    )
    if not awaiting.any():
        return frame
    return frame.with_columns(
        pl.when(awaiting).then(pl.lit(AWAITING)).otherwise(pl.col("tracking_number"))
        .alias("tracking_number"),
        *(pl.when(awaiting).then(None).otherwise(pl.col(c)).alias(c)
          for c in ("courier", "number_format", "number_verdict", "carrier_mismatch")),
        pl.when(awaiting).then(pl.lit(AWAITING_REASON)).otherwise(pl.col("number_reason"))
        .alias("number_reason"),
    )  # fmt: skip
