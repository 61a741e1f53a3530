"""The import stores each number normalised, with its detected courier and format."""

from __future__ import annotations

from pathlib import Path

from collector.importer import import_file
from collector.store import Store

CSV = """\
order_id,tracking_number,carrier,shipped_at,destination_country
A1,ub 123 456 785 cn,China Post,2026-10-04,US
A2,RB123456784GB,Royal Mail,2026-10-04,GB
A3,LP00123456789012,Cainiao,2026-10-04,ES
A4,UG390176528CN,UPS,2026-10-04,CH
A5,1LS7-12301-1123456-1,LaserShip,2026-10-04,US
A6,GARBAGE123,,2026-10-04,DE
A7,1Z5R89390357567127,,2026-10-04,US
"""


def test_import_fills_the_number_columns(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    result = import_file(store, path)
    assert (result.inserted, result.rejected) == (7, [])
    rows = store.query(
        "SELECT order_id, tracking_number, tracking_number_raw, courier, number_format,"
        " number_verdict, number_reason, carrier_mismatch FROM shipments ORDER BY order_id"
    )
    assert rows == [
        ("A1", "UB123456785CN", "ub 123 456 785 cn", "s10", "s10", "valid", None, False),
        (
            "A2", "RB123456784GB", "RB123456784GB", "s10", "s10", "invalid",
            "check digit 4 does not match computed 5 (S10)", False,
        ),
        (
            "A3", "LP00123456789012", "LP00123456789012", "cainiao", "cainiao_lp", "weak",
            "Cainiao Global (LP) has no check digit: the shape fits but cannot be verified",
            False,
        ),
        ("A4", "UG390176528CN", "UG390176528CN", "s10", "s10", "valid", None, True),
        (
            "A5", "1LS7123011123456-1", "1LS7-12301-1123456-1", "lasership",
            "LaserShip 1LS7 (18)", "weak",
            "LaserShip 1LS7 (18) has no check digit: the shape fits but cannot be verified",
            False,
        ),
        (
            "A6", "GARBAGE123", "GARBAGE123", None, None, "unknown",
            "matches no known format", None,
        ),
        ("A7", "1Z5R89390357567127", "1Z5R89390357567127", "ups", "ups", "valid", None, None),
    ]  # fmt: skip
