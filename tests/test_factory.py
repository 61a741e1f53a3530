"""The test factory is the production path, and the test data goes through it.

1. A real poll against the loopback simulator and the factory fed the same answers
   leave the same ``events``, ``poll_results`` and ``tracking_state``.
2. No test module writes the evidence tables or ``tracking_state`` itself, except
   the tests of the store, the writer and ``verify`` (they forge rows on purpose).
3. The factory refuses data production does not store.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collector import clock
from collector.config import settings_from_dict
from collector.importer import import_file
from collector.poll import poll_store
from collector.simulator import serve_in_thread
from collector.sources.registry import source_class
from collector.store import Store
from collector.store.rebuild import STATE_COLUMNS
from tests.conftest import SAMPLE_ORDERS
from tests.factory import Factory, event, wall_at

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
WALL = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
TESTS = Path(__file__).resolve().parent


def _derived(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """The derived tables, every column the writer sets from the answers, sorted."""
    state = ", ".join(c for c in STATE_COLUMNS if c != "input_version")
    return {
        "tracking_state": store.query(
            f"SELECT shipment_id, {state}, updated_at FROM tracking_state ORDER BY shipment_id"
        ),
        "events": store.query(
            "SELECT * EXCLUDE (first_poll_id) FROM events ORDER BY shipment_id, event_key"
        ),
        "poll_results": store.query(
            "SELECT * EXCLUDE (poll_id) FROM poll_results ORDER BY shipment_id, tracking_number"
        ),
    }


def test_the_factory_writes_what_a_real_poll_writes(tmp_path: Path) -> None:
    clock.set_now(NOW)
    with serve_in_thread(as_of=NOW) as sim:
        settings = settings_from_dict(
            {
                "sources": {"cainiao": {"base_url": sim.base_url_cainiao, "batch_size": 5}},
                "routing": {"default": ["cainiao"]},
            }
        )
        with Store.open(tmp_path / "polled.duckdb") as polled:
            with wall_at(WALL):
                import_file(polled, SAMPLE_ORDERS)
            clock.set_wall(lambda: WALL)
            report = poll_store(polled, settings, all_shipments=True, progress=False)
            clock.set_wall(None)
            assert report.sources["cainiao"].requests > 1
            answers = polled.query(
                "SELECT p.requested_at, p.operation, p.numbers, p.http_status, d.body "
                "FROM polls p JOIN raw_documents d ON d.sha256 = p.body_sha256 ORDER BY poll_id"
            )
            expected = _derived(polled)
    # The same answers, parsed by the source's own parser, written by the factory.
    cainiao = source_class("cainiao")
    with Store.open(tmp_path / "factory.duckdb") as built:
        with wall_at(WALL):
            import_file(built, SAMPLE_ORDERS)
        factory = Factory(built)
        for requested_at, operation, numbers, status, stored in answers:
            body = zlib.decompress(bytes(stored))
            parsed = cainiao.parse_answer(operation, body, numbers, status)
            factory.answer(
                requested_at, list(parsed.results), source="cainiao", body=body, operation=operation
            )
        got = _derived(built)
    assert expected["tracking_state"], "the poll derived no state"
    assert {r[1] for r in expected["tracking_state"]} >= {"delivered", "in_transit"}
    for table, rows in expected.items():
        assert got[table] == rows, table


# --- nothing bypasses it ----------------------------------------------------------------

_WRITE = re.compile(
    r"(INSERT(\s+OR\s+(REPLACE|IGNORE))?\s+INTO|UPDATE|DELETE\s+FROM)\s+"
    r"(tracking_state|events|polls|poll_results|raw_documents|source_registrations)\b",
    re.IGNORECASE,
)
_SHIPMENT_WRITE = re.compile(
    r"(INSERT(\s+OR\s+(REPLACE|IGNORE))?\s+INTO|UPDATE|DELETE\s+FROM)\s+shipments\b",
    re.IGNORECASE,
)
#: Modules that forge or tamper with evidence on purpose: the store, the writer,
#: rebuild/verify and export fidelity, and the synthetic benchmark database.
FORGERS = {
    "benchmarks/bench_reports.py",
    "benchmarks/synth.py",
    "collector/test_evidence.py",
    "collector/test_rebuild.py",
    "mail/test_import_mail.py",
    "sources/test_last_mile.py",
    "test_export.py",
    "test_import.py",
    "test_store.py",
}
#: Where rule, report and frame test data is built: only through tests/factory.py.
DATA_BUILDERS = ("flags/builder.py", "reports/builder.py", "sample_db.py", "factory.py")


def _writers(pattern: re.Pattern[str]) -> set[str]:
    return {
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if path.name != "test_factory.py" and pattern.search(path.read_text(encoding="utf-8"))
    }


def test_no_test_module_writes_evidence_or_tracking_state_itself() -> None:
    writers = _writers(_WRITE)
    assert writers - FORGERS == set(), "write through tests/factory.py (the production path)"
    assert not set(DATA_BUILDERS) & (writers | FORGERS)
    # A forger that stopped forging leaves the allow-list.
    assert FORGERS - writers == set()


def test_rule_report_and_frame_tests_write_shipments_through_the_importer() -> None:
    data_tests = ("flags/", "reports/", "cases/", "test_frames.py", "test_assessment.py")
    bypass = {m for m in _writers(_SHIPMENT_WRITE) if m.startswith(data_tests)}
    assert bypass == set()
    assert not set(DATA_BUILDERS) & _writers(_SHIPMENT_WRITE)


def test_the_guard_sees_a_bypass(tmp_path: Path) -> None:
    assert _WRITE.search('conn.execute("INSERT INTO tracking_state (shipment_id) VALUES (1)")')
    assert _WRITE.search("UPDATE events SET description = 'x'")
    assert not _WRITE.search("SELECT * FROM tracking_state")


# --- it refuses what production does not store ------------------------------------------


def test_a_derived_column_the_importer_would_not_derive_is_an_error() -> None:
    with Store.open(":memory:") as store:
        factory = Factory(store)
        with pytest.raises(ValueError, match=r"the importer derives .*number_verdict.*'weak'"):
            factory.shipment(
                "o1", "LP00123456789012", shipped_at="2026-11-01", number_verdict="valid"
            )
        sid = factory.shipment(
            "o2", "RR507128933CN", shipped_at="2026-11-01", number_verdict="invalid"
        )
        assert factory.number_of(sid) == "RR507128933CN"


def test_a_row_the_importer_rejects_is_an_error_naming_it() -> None:
    refused = pytest.raises(ValueError, match=r"order o1\): tracking_number '\.'")
    with Store.open(":memory:") as store, refused:
        Factory(store).shipment("o1", ".", shipped_at="2026-11-01")


def test_an_answer_telling_of_an_event_before_it_happened_is_an_error() -> None:
    with Store.open(":memory:") as store:
        factory = Factory(store)
        factory.shipment("o1", "LP00123456789012", shipped_at="2026-11-01")
        later = event("2026-11-03T10:00:00+08:00", "in_transit", "Departed")
        ahead = [factory.result("LP00123456789012", "ok", [later])]
        with pytest.raises(ValueError, match="no source reports one before it happened"):
            factory.answer("2026-11-02T00:00:00Z", ahead)
        assert factory.answer("2026-11-03T03:00:00Z", ahead) == 1
