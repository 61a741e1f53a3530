"""Dates outside the plausible range (issue 17, item 3): import rows are rejected with
their line and reason; a carrier event is kept, marked implausible, and ignored."""

from __future__ import annotations

import json
from pathlib import Path

from collector.store import Store
from collector.store.evidence import EvidenceWriter
from tests.conftest import NOW, run_cli

from .helpers import payload
from .test_evidence import NOW as EVIDENCE_NOW
from .test_evidence import add_shipments, cainiao_batch


def test_import_rejects_dates_outside_the_range_with_line_and_reason(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,tracking_number,shipped_at,promised_to\n"
        "A1,LP00123456789012,2026-11-01,9999-12-31\n"
        "A2,LP00123456789013,0001-01-01,\n"
        "A3,LP00123456789014,9999-12-31T23:59:59Z,\n"
        "A4,LP00123456789015,2026-11-01,2026-12-01\n",
        encoding="utf-8",
    )
    db = tmp_path / "t.duckdb"
    result = run_cli("--db", str(db), "import", str(orders))
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "line 2 (order A1): promised_to '9999-12-31' is outside 2000-01-01 .. 2100-01-01" in out
    assert "line 3 (order A2): shipped_at '0001-01-01' is outside" in out
    assert "line 4 (order A3): shipped_at '9999-12-31T23:59:59Z' is outside" in out
    assert "1 new" in out and "3 rejected" in out
    assert run_cli("--db", str(db), "--now", NOW, "status").exit_code == 0


def test_status_survives_a_stored_row_outside_the_range(db_path: Path) -> None:
    # Stored by an older version (or by hand) before imports checked the range.
    with Store.open(db_path) as store:
        add_shipments(store, [("o1", "LX593028170CN")])
        store.conn.execute(
            "UPDATE shipments SET shipped_at = '9999-12-31T23:59:59Z', "
            "promised_to = '9999-12-31T23:59:59Z', "
            "protection_ends_at = '0001-01-01 00:00:00+00'"
        )
    for args in (["status"], ["status", "--json"], ["flags", "--json"]):
        result = run_cli("--db", str(db_path), "--now", NOW, *args)
        assert result.exit_code == 0, result.output
        assert "o1" in result.output


STATE_SQL = "SELECT status, last_event_at, delivered_at, event_count FROM tracking_state"


def test_a_carrier_event_in_9999_is_kept_but_ignored(store: Store, tmp_path: Path) -> None:
    ids = add_shipments(store, [("o1", "LX593028170CN")])
    with Store.open(tmp_path / "baseline.duckdb") as plain:
        EvidenceWriter(plain, run_id="run-0").write_batch(
            "cainiao",
            cainiao_batch(payload("cainiao-detail-multi.json"), ["LX593028170CN"]),
            add_shipments(plain, [("o1", "LX593028170CN")]),
            EVIDENCE_NOW,
        )
        baseline = plain.query(STATE_SQL)
    doc = json.loads(payload("cainiao-detail-multi.json"))
    module = next(m for m in doc["module"] if m["mailNo"] == "LX593028170CN")
    module["detailList"].insert(
        0,
        {
            "time": None,
            "timeStr": "9999-12-31 10:30:00",
            "timeZone": "GMT+1",
            "standerdDesc": "[Austin] Delivered",
            "actionCode": "GTMS_SIGNED",
        },
    )
    body = json.dumps(doc).encode()
    EvidenceWriter(store, run_id="run-1").write_batch(
        "cainiao", cainiao_batch(body, ["LX593028170CN"]), ids, EVIDENCE_NOW
    )
    rows = store.query(
        "SELECT year(occurred_at), status, implausible FROM events ORDER BY occurred_at DESC"
    )
    assert rows[0] == (9999, "delivered", True)
    assert all(not implausible for *_, implausible in rows[1:])
    # The state (and so every rule) is what it is without the implausible event.
    assert store.query(STATE_SQL) == baseline
