from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from collector.errors import ImportFileError
from collector.importer import import_file, import_rows, parse_import_date, read_rows
from collector.store import Store
from tests.conftest import SAMPLE_ORDERS, run_cli

HEADER = "order_id,tracking_number,carrier,ordered_at,shipped_at,destination_country,amount\n"


def csv_file(tmp_path: Path, body: str, header: str = HEADER, name: str = "o.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


def test_sample_orders_import_cleanly(store: Store) -> None:
    result = import_file(store, SAMPLE_ORDERS)
    assert result.rejected == []
    assert result.inserted == result.rows == 25
    assert store.query("SELECT count(*) FROM shipments") == [(25,)]


def test_bad_rows_are_reported_with_line_and_reason(store: Store, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "A1,RB123456785GB,Royal Mail,2026-10-01,,GB,1.50\n"
        ",RB123456785GB,,2026-10-01,,GB,\n"
        "A3,,,2026-10-01,,GB,\n"
        "A4,XYZ,,yesterday,,GB,\n"
        "A5,XYZ,,2026-10-01,,ZZ,\n"
        "A6,XYZ,,2026-10-01,,US,twelve\n"
        "A7,XYZ,,,,US,\n"
        "A8,NOT-A-REAL-NUMBER,,2026-10-01,,US,2\n",
    )
    result = import_file(store, path)
    assert [(e.line, e.reason) for e in result.rejected] == [
        (3, "order_id is empty"),
        (5, "ordered_at 'yesterday' is not an ISO 8601 date or date-time"),
        (6, "destination_country 'ZZ' is not an ISO 3166 alpha-2 code"),
        (7, "amount 'twelve' is not a number"),
        (8, "needs ordered_at or shipped_at"),
    ]
    # A garbage number is evidence, not a bad row: stored as it is (normalised).
    rows = store.query("SELECT order_id, tracking_number, amount FROM shipments ORDER BY 1")
    # An empty number is an order awaiting one: stored, not rejected.
    assert rows == [
        ("A1", "RB123456785GB", Decimal("1.50")),
        ("A3", "", None),
        ("A8", rows[2][1], Decimal("2.00")),
    ]


def test_reimport_changes_nothing_and_update_keeps_history(store: Store, tmp_path: Path) -> None:
    path = csv_file(tmp_path, "A1,RB123456785GB,Royal Mail,2026-10-01,,GB,1.50\n")
    assert import_file(store, path).inserted == 1
    before = store.query("SELECT * FROM shipments")
    again = import_file(store, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
    assert store.query("SELECT * FROM shipments") == before
    assert store.query("SELECT count(*) FROM shipment_history") == [(0,)]

    # Tracking data collected for the shipment must survive an update.
    store.conn.execute(
        "INSERT INTO tracking_state (shipment_id, status, updated_at)"
        " VALUES (1, 'in_transit', now())"
    )
    changed = csv_file(tmp_path, "A1,RB123456785GB,Royal Mail,2026-10-01,,GB,2.50\n")
    result = import_file(store, changed)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 0)
    assert store.query("SELECT shipment_id, amount FROM shipments") == [(1, Decimal("2.50"))]
    history = store.query("SELECT shipment_id, previous FROM shipment_history")
    assert len(history) == 1 and json.loads(history[0][1])["amount"] in (1.5, "1.50", 1.50)
    assert store.query("SELECT status FROM tracking_state") == [("in_transit",)]


def test_partial_file_does_not_erase_columns(store: Store, tmp_path: Path) -> None:
    import_file(store, csv_file(tmp_path, "A1,RB123456785GB,Royal Mail,2026-10-01,,GB,1.50\n"))
    partial = csv_file(
        tmp_path,
        "A1,RB123456785GB,2026-09-30T23:00:00Z\n",
        header="order_id,tracking_number,ordered_at\n",
        name="p.csv",
    )
    result = import_file(store, partial)
    assert result.unchanged == 1
    assert store.query("SELECT carrier, amount FROM shipments") == [("Royal Mail", Decimal("1.50"))]


def test_json_import_matches_csv(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    path.write_text(
        json.dumps(
            [
                {
                    "order_id": "J1",
                    "tracking_number": "rb 1234 5678 5gb",
                    "shipped_at": "2026-10-02",
                    "amount": 3.5,
                    "destination_country": "gb",
                },
                {"order_id": "J2", "tracking_number": "", "shipped_at": "2026-10-02"},
                "not an object",
            ]
        )
    )
    result = import_file(store, path)
    assert [(e.line, e.reason) for e in result.rejected] == [(3, "item is not a JSON object")]
    assert store.query(
        "SELECT order_id, tracking_number, destination_country FROM shipments ORDER BY 1"
    ) == [("J1", "RB123456785GB", "GB"), ("J2", "", None)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("order_id,tracking_number\nA,B\n", "missing required column(s): ordered_at or shipped_at"),
        ("foo,bar\n1,2\n", "missing required column(s): order_id, tracking_number"),
        ("order_id,tracking_number,ordered_at\n", "no orders"),
        ('{"a": 1}', "list of objects"),
        ("[1, 2", "not valid JSON"),
    ],
)
def test_unusable_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_rows(path)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK\x03\x04\x00\x00\xff\xfe")
    with pytest.raises(ImportFileError, match="not a CSV or JSON"):
        read_rows(path)


def test_spreadsheet_encoding_is_named_and_readable_with_encoding(
    tmp_path: Path, db_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    text = "order_id,tracking_number,ordered_at,store\r\nA1,RB123456785GB,2026-10-01,Café Zoë\r\n"
    path.write_bytes(text.encode("cp1252"))
    refused = run_cli("--db", str(db_path), "import", str(path))
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())
    assert "(not UTF-8 at byte 74); a spreadsheet export? try --encoding cp1252" in said
    assert not db_path.exists()
    stored = run_cli("--db", str(db_path), "import", "--encoding", "cp1252", str(path))
    assert stored.exit_code == 0, stored.output
    with Store.open(db_path) as store:
        assert store.query("SELECT store FROM shipments") == [("Café Zoë",)]
    unknown = run_cli("--db", str(db_path), "import", "--encoding", "klingon", str(path))
    assert unknown.exit_code == 2 and "unknown encoding 'klingon'" in unknown.output


def test_numbers_a_spreadsheet_turned_into_scientific_notation_are_warned_about(
    store: Store, tmp_path: Path
) -> None:
    path = csv_file(
        tmp_path,
        "B1,9.40011E+21,,2026-10-01,,US,\nB2,7.72986e+11,,2026-10-01,,US,\n"
        "B3,RB123456785GB,,2026-10-01,,GB,\n",
    )
    result = import_file(store, path)
    assert result.warnings == [
        "2 tracking numbers in scientific notation, as a spreadsheet writes long numbers, "
        "with digits lost: order B1 (9.40011E+21), order B2 (7.72986e+11); stored as given, "
        "but format the column as text and export again"
    ]
    # Evidence as received: stored, not rejected, and never as another number (the
    # point dropped, "940011E+21"), with the reason where the flag can name it.
    assert result.inserted == 3 and result.rejected == []
    rows = store.query(
        "SELECT order_id, tracking_number, number_verdict, number_reason FROM shipments "
        "ORDER BY order_id"
    )
    reason = (
        "scientific notation, as a spreadsheet writes a long number: its last digits are "
        "lost; format the column as text and export again"
    )
    assert rows[:2] == [
        ("B1", "9.40011E+21", "unknown", reason),
        ("B2", "7.72986E+11", "unknown", reason),
    ]


def test_bare_dates_follow_the_destination_zone() -> None:
    assert parse_import_date("2026-11-02", "DE") == datetime(2026, 11, 1, 23, tzinfo=UTC)
    assert parse_import_date("2026-11-02", None) == datetime(2026, 11, 2, tzinfo=UTC)
    end = parse_import_date("2026-11-02", "US", end_of_day=True)
    assert end == datetime(2026, 11, 3, 4, 59, 59, 999999, tzinfo=UTC)
    assert parse_import_date("2026-11-02T10:00:00+08:00", "US") == datetime(
        2026, 11, 2, 2, tzinfo=UTC
    )


def test_cli_exit_codes_and_nothing_stored_on_unusable_file(tmp_path: Path, db_path: Path) -> None:
    good = csv_file(tmp_path, "A1,RB123456785GB,,2026-10-01,,GB,\n")
    mixed = csv_file(
        tmp_path, "A1,RB123456785GB,,2026-10-01,,GB,\nA2,RB1,,yesterday,,GB,\n", name="m.csv"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("nothing,useful\n1,2\n")
    assert run_cli("--db", str(db_path), "import", str(bad)).exit_code == 2
    assert not db_path.exists()
    assert run_cli("--db", str(db_path), "import", str(good)).exit_code == 0
    result = run_cli("--db", str(db_path), "import", str(mixed))
    assert result.exit_code == 1
    assert "line 3 (order A2): ordered_at 'yesterday' is not an ISO 8601 date" in result.output
    assert run_cli("--db", str(db_path), "import", str(tmp_path / "absent.csv")).exit_code == 2


def test_ten_thousand_rows_import_in_one_batch(store: Store, tmp_path: Path) -> None:
    lines = [
        f"O{i},LP{i:014d},Cainiao,2026-10-01T10:00:00+08:00,2026-10-02,DE,{i % 97}.99\n"
        for i in range(10_000)
    ]
    path = csv_file(tmp_path, "".join(lines))
    assert path.stat().st_size > 500_000
    result = import_file(store, path)
    assert result.inserted == 10_000 and not result.rejected
    assert import_file(store, path).unchanged == 10_000


def test_the_summary_counts_in_words(tmp_path: Path, db_path: Path) -> None:
    path = csv_file(tmp_path, "A1,RB123456785GB,,2026-10-01,,GB,\n")
    result = run_cli("--db", str(db_path), "import", str(path))
    assert result.exit_code == 0
    assert f"{path}: 1 row: 1 new, 0 updated" in result.output
    assert "1 rows" not in result.output


def test_a_semicolon_export_with_decimal_commas_is_read(store: Store, tmp_path: Path) -> None:
    # What a spreadsheet in a decimal-comma locale (de, fr, es, it ...) saves as CSV.
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id;tracking_number;ordered_at;destination_country;amount;currency\n"
        "E1;RB123456785GB;2026-10-01;DE;12,50;EUR\n"
        "E2;RB123456785GB;2026-10-01;DE;1.234,56;EUR\n"
        "E3;RB123456785GB;2026-10-01;DE;7;EUR\n"
        "E4;RB123456785GB;2026-10-01;DE;1,250;EUR\n",
        encoding="utf-8",
    )
    result = import_file(store, path)
    assert [(e.line, e.reason) for e in result.rejected] == [
        (5, "amount '1,250' is ambiguous (a thousand and more, or a decimal?): "
            "write it with two decimals"),
    ]  # fmt: skip
    assert store.query("SELECT order_id, amount FROM shipments ORDER BY 1") == [
        ("E1", Decimal("12.50")),
        ("E2", Decimal("1234.56")),
        ("E3", Decimal("7.00")),
    ]


def test_a_row_without_a_number_yet_is_stored_awaiting_one(store: Store, tmp_path: Path) -> None:
    first = csv_file(
        tmp_path,
        "W1,,,2026-10-01,,GB,\nW2,,,2026-10-01,,GB,\nW3, ,,2026-10-01,,GB,\n",
    )
    result = import_file(store, first)
    assert result.rejected == [] and result.inserted == 3 and result.awaiting == 3
    rows = store.query(
        "SELECT order_id, tracking_number, tracking_number_raw, number_verdict, number_reason "
        "FROM shipments ORDER BY 1"
    )
    assert rows[0] == ("W1", "", None, None, "awaiting a tracking number")
    ids = dict(store.query("SELECT order_id, shipment_id FROM shipments"))
    # The number comes: the same shipment takes it (its id, flags and cases stay),
    # the version awaiting it kept in shipment_history.
    later = csv_file(
        tmp_path,
        "W1,RB123456785GB,,2026-10-01,,GB,\nW2,,,2026-10-01,,GB,\n",
        name="later.csv",
    )
    result = import_file(store, later)
    assert (result.inserted, result.updated, result.unchanged, result.awaiting) == (0, 1, 1, 1)
    assert store.query(
        "SELECT shipment_id, tracking_number FROM shipments WHERE order_id = 'W1'"
    ) == [(ids["W1"], "RB123456785GB")]
    assert store.query(
        "SELECT previous->>'tracking_number' FROM shipment_history WHERE shipment_id = ? "
        "ORDER BY replaced_at LIMIT 1",
        [ids["W1"]],
    ) == [("",)]
    # The first file again: W1 has its number now, so nothing goes back to awaiting.
    again = import_file(store, first)
    assert (again.inserted, again.updated) == (0, 0)
    assert store.query("SELECT count(*) FROM shipments WHERE order_id = 'W1'") == [(1,)]


def test_status_says_an_order_awaits_its_number(tmp_path: Path, db_path: Path) -> None:
    path = csv_file(tmp_path, "W1,,,2026-11-01,,GB,\n")
    imported = run_cli("--db", str(db_path), "import", str(path))
    assert imported.exit_code == 0, imported.output
    assert "1 row: 1 new, 0 updated, 0 unchanged, 0 rejected (1 awaiting a tracking number)" in (
        imported.output
    )
    status = run_cli("--db", str(db_path), "--now", "2026-11-05T12:00:00Z", "status")
    line = next(line for line in status.output.splitlines() if "W1" in line)
    assert "awaiting a tracking number" in line and "wait for the number" in line
    assert "poll first" not in line and "open dispute" not in line


def _shipments(store: Store) -> list[tuple[object, ...]]:
    return store.query(
        "SELECT shipment_id, order_id, tracking_number, tracking_number_raw, shipped_at, "
        "amount FROM shipments ORDER BY shipment_id"
    )


def test_an_import_read_in_chunks_stores_what_one_batch_stores(tmp_path: Path) -> None:
    # Eleven rows read three at a time: a pair repeated across chunks (the last row
    # wins, in the order of the last rows), a bad row, a number a spreadsheet mangled.
    body = "".join(
        f"A{i},RB{123456785 if i % 2 else 987654325}GB,,2026-10-{i + 1:02d},,GB,{i}.50\n"
        for i in range(8)
    )
    body += "A1,RB123456785GB,,2026-10-20,,GB,9.99\n"  # repeats line 3's pair
    body += "A9,,,2026-10-01,,GB,\n"  # no tracking number yet: stored awaiting one
    body += "A10,9.40011E+21,,2026-10-01,,US,\n"
    path = csv_file(tmp_path, body)
    header, rows = read_rows(path)
    results = {}
    stored = {}
    for chunk in (3, 1000):
        with Store.open(tmp_path / f"c{chunk}.duckdb") as store:
            result = import_rows(store, header, rows, name=str(path), chunk_rows=chunk)
            results[chunk] = (
                result.rows,
                result.inserted,
                result.updated,
                result.unchanged,
                [str(e) for e in result.rejected],
                result.warnings,
            )
            stored[chunk] = _shipments(store)
            assert not store.query(
                "SELECT table_name FROM duckdb_tables() WHERE temporary"
            )  # the staging is dropped
    assert results[3] == results[1000]
    assert stored[3] == stored[1000]
    assert results[3][:4] == (11, 10, 0, 0)
    assert any(
        "1 (order_id, tracking_number) pairs appear more than once" in w for w in results[3][5]
    )
    assert any("1 tracking number in scientific notation" in w for w in results[3][5])
    a1 = [row for row in stored[3] if row[1] == "A1"]
    assert len(a1) == 1 and a1[0][5] == Decimal("9.99")  # the last row won


def test_csv_rows_are_read_from_the_file_not_held(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "A1,RB123456785GB,,2026-10-01,,GB,\n")
    _header, rows = read_rows(path)
    assert not isinstance(rows, list)  # a CsvRows: each pass reads the file again
    assert [r["order_id"] for _, r in rows] == [r["order_id"] for _, r in rows] == ["A1"]


def test_a_bad_byte_far_into_the_file_is_named_at_its_offset(tmp_path: Path) -> None:
    # Past the first block the check decodes (1 MiB): its offset counts every block.
    good = HEADER + "A1,RB123456785GB,,2026-10-01,,GB,\n" * 40_000
    data = good.encode() + b"A2,\xff\n"
    path = tmp_path / "late.csv"
    path.write_bytes(data)
    assert len(good.encode()) > 1 << 20
    with pytest.raises(ImportFileError, match=f"not UTF-8 at byte {len(good.encode()) + 3}"):
        read_rows(path)
