"""Import rows that used to be stored wrongly (issue 17, item 10)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from collector.store import Store
from tests.conftest import run_cli


def test_numbers_that_normalise_to_empty_and_sub_cent_amounts_are_rejected(
    tmp_path: Path,
) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,tracking_number,shipped_at,amount\n"
        "A1,---,2026-11-01,\n"
        "A2,. . .,2026-11-01,\n"
        "A3,LP00123456789012,2026-11-01,0.001\n"
        "A4,LP00123456789013,2026-11-01,12.340\n",
        encoding="utf-8",
    )
    db = tmp_path / "t.duckdb"
    result = run_cli("--db", str(db), "import", str(orders))
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "line 2 (order A1): tracking_number '---' is empty once spaces, dots and dashes" in out
    assert "line 3 (order A2): tracking_number '. . .' is empty" in out
    assert "line 4 (order A3): amount '0.001' has more than two decimal places" in out
    with Store.open(db) as store:
        assert store.query("SELECT order_id, amount FROM shipments") == [("A4", Decimal("12.34"))]
