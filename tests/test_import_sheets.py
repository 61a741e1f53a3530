"""`import` of the spreadsheets people have: export headers, dates, .xlsx, BOM, CRLF."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.errors import ImportFileError
from collector.intake.sheets import prepare
from collector.store import Store
from tests.conftest import run_cli


def _shipments(db: Path) -> list[tuple[object, ...]]:
    with Store.open(db) as store:
        return store.query(
            "SELECT order_id, tracking_number, carrier, ordered_at, shipped_at "
            "FROM shipments ORDER BY order_id, tracking_number"
        )


def test_an_export_with_bom_crlf_aliases_and_two_numbers_in_a_cell(
    tmp_path: Path, db_path: Path
) -> None:
    path = tmp_path / "aliexpress-orders.csv"
    path.write_bytes(
        "\ufeffOrder No.,Tracking Number,Carrier,Order date,Ship date,Country\r\n"
        'A-1,"RB123456785GB, LA586992216CN",Royal Mail,25/10/2026,27/10/2026 14:05,GB\r\n'
        "A-2,1Z5R89390357567127,UPS,03/11/2026,04/11/2026,US\r\n".encode()
    )
    result = run_cli("--db", str(db_path), "import", str(path))
    assert result.exit_code == 0, result.output
    assert _shipments(db_path) == [
        ("A-1", "LA586992216CN", "Royal Mail", datetime(2026, 10, 24, 23, tzinfo=UTC),
         datetime(2026, 10, 27, 14, 5, tzinfo=UTC)),
        ("A-1", "RB123456785GB", "Royal Mail", datetime(2026, 10, 24, 23, tzinfo=UTC),
         datetime(2026, 10, 27, 14, 5, tzinfo=UTC)),
        ("A-2", "1Z5R89390357567127", "UPS", datetime(2026, 11, 3, 5, tzinfo=UTC),
         datetime(2026, 11, 4, 5, tzinfo=UTC)),
    ]  # fmt: skip


def test_ambiguous_dates_are_refused_with_their_rows(tmp_path: Path, db_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "Order Number,Tracking No,Ship date\n1,RB123456785GB,03/11/2026\n"
        "2,LA586992216CN,2026-11-04\n3,1Z5R89390357567127,04/05/2026\n"
    )
    refused = run_cli("--db", str(db_path), "import", str(path))
    assert refused.exit_code == 2
    assert "line(s) 2, 4" in " ".join(refused.output.split())
    assert not db_path.exists()
    assert run_cli("--db", str(db_path), "import", "--month-first", str(path)).exit_code == 0
    assert [r[4] for r in _shipments(db_path)] == [
        datetime(2026, 3, 11, tzinfo=UTC),
        datetime(2026, 11, 4, tzinfo=UTC),
        datetime(2026, 4, 5, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("written", "order", "iso"),
    [
        ("03.11.2026", None, "2026-11-03"),
        ("2026/11/03 14:05", None, "2026-11-03T14:05:00"),
        ("11/03/2026", "month-first", "2026-11-03"),
        ("11/03/2026", "day-first", "2026-03-11"),
        ("25-12-2026", None, "2026-12-25"),
        ("2026-11-03T10:00:00+01:00", None, "2026-11-03T10:00:00+01:00"),
    ],
)
def test_spreadsheet_dates(written: str, order: str | None, iso: str) -> None:
    sheet = prepare(
        ["order", "tracking", "ship date"],
        [(2, {"order": "1", "tracking": "X", "ship date": written})],
        date_order=order,
    )
    assert sheet.rows.head(1)[0][1]["shipped_at"] == iso


def test_day_first_and_month_first_in_one_file_is_refused() -> None:
    with pytest.raises(ImportFileError, match=r"day-first on line\(s\) 2 but month-first"):
        prepare(
            ["order", "tracking", "ship date"],
            [
                (2, {"order": "1", "tracking": "X", "ship date": "25/11/2026"}),
                (3, {"order": "2", "tracking": "Y", "ship date": "11/25/2026"}),
            ],
        )


def test_map_option_and_config_table(tmp_path: Path, db_path: Path) -> None:
    path = tmp_path / "dsers.csv"
    path.write_text("Ref,Parcel,Sent on,Vendor\nZ9,RB123456785GB,2026-11-01,Acme\n")
    missing = run_cli("--db", str(db_path), "import", str(path))
    assert missing.exit_code == 2
    assert "missing required column(s): order_id, tracking_number" in " ".join(
        missing.output.split()
    )
    mapped = run_cli(
        "--db", str(db_path), "import", "--map", "Ref=order_id", "--map", "Parcel=tracking_number",
        "--map", "sent on=shipped_at", str(path),
    )  # fmt: skip
    assert mapped.exit_code == 0, mapped.output
    config = tmp_path / "c.toml"
    config.write_text(
        '[import.columns]\nRef = "order_id"\nParcel = "tracking_number"\n"Sent on" = "shipped_at"\n'
    )
    again = run_cli("--db", str(db_path), "--config", str(config), "import", str(path))
    assert again.exit_code == 0 and "1 unchanged" in again.output
    bad = run_cli("--db", str(db_path), "import", "--map", "Ref=order", str(path))
    assert bad.exit_code == 2 and "'order' is not an import column" in bad.output


def test_xlsx_and_dry_run(tmp_path: Path, db_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Order ID", "Tracking No", "Shipping Carrier", "Order Date", "Amount"])
    sheet.append(["112-3456789-1234567", "1Z5R89390357567127", "UPS",
                  datetime(2026, 11, 2, 9, 30), 23.8])  # fmt: skip
    sheet.append([81012033445, "RB123456785GB", None, datetime(2026, 11, 3), 5])
    path = tmp_path / "orders.xlsx"
    book.save(path)
    shown = run_cli("--db", str(db_path), "import", "--dry-run", str(path))
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[:5] == [
        "column 'Order ID' -> order_id",
        "column 'Tracking No' -> tracking_number",
        "column 'Shipping Carrier' -> carrier",
        "column 'Order Date' -> ordered_at",
        "column 'Amount' -> amount",
    ]
    assert lines[5].startswith("row order_id=112-3456789-1234567, tracking_number=1Z5R8939")
    assert lines[-1] == "2 rows read (dry run: nothing stored)"
    assert not db_path.exists()
    stored = run_cli("--db", str(db_path), "import", str(path))
    assert stored.exit_code == 0, stored.output
    assert [r[:2] for r in _shipments(db_path)] == [
        ("112-3456789-1234567", "1Z5R89390357567127"),
        ("81012033445", "RB123456785GB"),
    ]
