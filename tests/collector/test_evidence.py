"""Evidence store: bodies stored once, the poll chain, events de-duplicated, state, verify."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector import clock
from collector.config import PollConfig
from collector.importer import import_rows
from collector.sources.base import BatchOutcome, Request
from collector.sources.cainiao.source import Cainiao
from collector.store import Store
from collector.store.evidence import EvidenceWriter, canonical_poll, chain_hash, sha256_hex
from collector.verify import verify_store

from .helpers import FakeSender, payload

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
HEADER = ["order_id", "tracking_number", "shipped_at", "destination_country"]
MULTI = ("LX593028170CN", "LY839205143CN", "EB908172638CN")


def add_shipments(store: Store, numbers: Sequence[tuple[str, str]]) -> dict[str, list[int]]:
    clock.set_now(NOW)
    rows = [
        (i + 2, {"order_id": o, "tracking_number": n, "shipped_at": "2026-10-20"})
        for i, (o, n) in enumerate(numbers)
    ]
    result = import_rows(store, HEADER, rows)
    assert not result.rejected
    ids: dict[str, list[int]] = {}
    for shipment_id, number in store.query(
        "SELECT shipment_id, tracking_number FROM shipments ORDER BY shipment_id"
    ):
        ids.setdefault(number, []).append(int(shipment_id))
    return ids


def cainiao_batch(body: bytes, numbers: Sequence[str] = MULTI) -> BatchOutcome:
    sender = FakeSender(lambda request: (200, body))
    return asyncio.run(Cainiao().track(numbers, registered=frozenset(), send=sender))


@pytest.fixture
def ids(store: Store) -> dict[str, list[int]]:
    # Two orders share EB908172638CN (a reused number): both get its events.
    return add_shipments(
        store,
        [("o1", "LX593028170CN"), ("o2", "LY839205143CN"), ("o3", "EB908172638CN"),
         ("o4", "EB908172638CN")],
    )  # fmt: skip


def counts(store: Store) -> dict[str, int]:
    tables = ("raw_documents", "polls", "poll_results", "events", "tracking_state")
    return {t: int(store.query(f"SELECT count(*) FROM {t}")[0][0]) for t in tables}


def test_one_batch_lands_in_every_table(store: Store, ids: dict[str, list[int]]) -> None:
    writer = EvidenceWriter(store, run_id="run-1")
    written = writer.write_batch(
        "cainiao", cainiao_batch(payload("cainiao-detail-multi.json")), ids, NOW
    )
    assert (written.polls, written.new_documents, written.new_events) == (1, 1, 12)
    assert counts(store) == {
        "raw_documents": 1,
        "polls": 1,
        "poll_results": 4,
        "events": 12,  # 4 + 0 + 4 + 4 (two shipments share a number)
        "tracking_state": 4,
    }
    body = payload("cainiao-detail-multi.json")
    (row,) = store.query(
        "SELECT sha256, byte_length, compression, stored_sha256, body FROM raw_documents"
    )
    assert row[0] == sha256_hex(body) and row[1] == len(body) and row[2] == "zlib"
    assert zlib.decompress(row[4]) == body and row[3] == sha256_hex(row[4])
    (poll,) = store.query(
        "SELECT poll_id, run_id, source, operation, method, url, numbers, http_status, outcome, "
        "body_sha256, chain_hash FROM polls"
    )
    assert poll[:10] == (
        1,
        "run-1",
        "cainiao",
        "detail",
        "GET",
        "https://global.cainiao.com/global/detail.json",
        list(MULTI),
        200,
        "ok",
        sha256_hex(body),
    )


def test_tracking_state_is_derived(store: Store, ids: dict[str, list[int]]) -> None:
    writer = EvidenceWriter(store, run_id="run-1", poll=PollConfig(interval_hours=6))
    writer.write_batch("cainiao", cainiao_batch(payload("cainiao-detail-multi.json")), ids, NOW)
    state = {
        r[0]: r[1:]
        for r in store.query(
            "SELECT s.order_id, t.status, t.source, t.first_event_at, t.last_event_at, "
            "t.delivered_at, t.event_count, t.last_outcome, t.next_poll_at, "
            "t.consecutive_not_found, t.ever_found, t.last_mile_number, t.last_mile_carrier, "
            "t.estimated_to FROM tracking_state t JOIN shipments s USING (shipment_id)"
        )
    }
    utc = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
    assert state["o1"] == (
        "available_for_pickup", "cainiao", utc(2026, 10, 20, 3, 15), utc(2026, 11, 9, 9, 30),
        None, 4, "ok", NOW + timedelta(hours=6), 0, True, "PX0012345678PL", "Poczta Polska",
        utc(2026, 11, 30, 22, 59, 59),
    )  # fmt: skip
    # Not found: backs off (12 h for the first answer).
    assert state["o2"][:2] == ("not_found", "cainiao")
    assert state["o2"][6:10] == ("not_found", NOW + timedelta(hours=12), 1, False)
    # Delivered a month ago, long past the grace period: no more polls.
    assert state["o3"][4] == utc(2026, 10, 29, 5, 5)
    assert state["o3"][0] == "delivered" and state["o3"][7] is None
    assert state["o4"] == state["o3"]


def test_not_found_backoff_doubles_up_to_the_cap(store: Store, ids: dict[str, list[int]]) -> None:
    writer = EvidenceWriter(store, run_id="r", poll=PollConfig(
        not_found_backoff_hours=12, not_found_backoff_max_hours=40))  # fmt: skip
    body = payload("cainiao-not-found.json")
    seen = []
    for _ in range(4):
        writer.write_batch("cainiao", cainiao_batch(body, ("LY839205143CN",)), ids, NOW)
        seen.append(
            store.query(
                "SELECT consecutive_not_found, next_poll_at FROM tracking_state "
                "WHERE shipment_id = ?",
                [ids["LY839205143CN"][0]],
            )[0]
        )
    assert seen == [
        (1, NOW + timedelta(hours=12)),
        (2, NOW + timedelta(hours=24)),
        (3, NOW + timedelta(hours=40)),
        (4, NOW + timedelta(hours=40)),
    ]


def test_final_status_is_polled_until_the_grace_period_ends(
    store: Store, ids: dict[str, list[int]]
) -> None:
    writer = EvidenceWriter(store, run_id="r", poll=PollConfig(final_grace_days=3))
    batch = cainiao_batch(payload("cainiao-detail-multi.json"))
    # Delivered 2026-10-29 05:05Z: two days later it is still polled, four days later not.
    writer.write_batch("cainiao", batch, ids, datetime(2026, 10, 31, 5, tzinfo=UTC))
    shipment = ids["EB908172638CN"][0]
    sql = "SELECT next_poll_at FROM tracking_state WHERE shipment_id = ?"
    assert store.query(sql, [shipment])[0][0] is not None
    writer.write_batch("cainiao", batch, ids, datetime(2026, 11, 2, 5, 6, tzinfo=UTC))
    assert store.query(sql, [shipment])[0][0] is None


def test_rerun_writes_nothing_new_when_nothing_changed(
    store: Store, ids: dict[str, list[int]]
) -> None:
    writer = EvidenceWriter(store, run_id="run-1")
    body = payload("cainiao-detail-multi.json")
    writer.write_batch("cainiao", cainiao_batch(body), ids, NOW)
    before = counts(store)
    again = EvidenceWriter(store, run_id="run-2")
    written = again.write_batch("cainiao", cainiao_batch(body), ids, NOW + timedelta(hours=7))
    assert (written.new_documents, written.new_events) == (0, 0)
    after = counts(store)
    # Only the request itself is logged again (and what it said per number).
    assert after == {**before, "polls": 2, "poll_results": 8}


def test_events_are_deduplicated_on_a_normalised_key(
    store: Store, ids: dict[str, list[int]]
) -> None:
    writer = EvidenceWriter(store, run_id="r")
    body = payload("cainiao-detail-multi.json")
    writer.write_batch("cainiao", cainiao_batch(body), ids, NOW)
    # The same scans with different spacing and case, plus one new scan.
    doc = json.loads(body)
    details = doc["module"][0]["detailList"]
    details[1]["desc"] = "  ODPRAWA   celna zakonczona "
    newer = {
        **details[0],
        "time": details[0]["time"] + 3_600_000,
        "timeStr": "2026-11-09 11:30:00",
        "desc": "Picked up by the buyer",
        "standerdDesc": "[Warszawa] Delivered",
        "actionCode": "GTMS_SIGNED",
    }
    details.insert(0, newer)
    changed = json.dumps(doc).encode()
    written = writer.write_batch("cainiao", cainiao_batch(changed), ids, NOW)
    assert (written.new_documents, written.new_events) == (1, 1)
    status = store.query(
        "SELECT status, delivered_at, event_count FROM tracking_state WHERE shipment_id = ?",
        [ids["LX593028170CN"][0]],
    )
    assert status == [("delivered", datetime(2026, 11, 9, 10, 30, tzinfo=UTC), 5)]


def test_chain_links_every_poll_in_order(store: Store, ids: dict[str, list[int]]) -> None:
    writer = EvidenceWriter(store, run_id="r")
    body = payload("cainiao-detail-multi.json")
    for _ in range(3):
        writer.write_batch("cainiao", cainiao_batch(body), ids, NOW)
    # A new writer (a new run) continues the chain from the database.
    EvidenceWriter(store, run_id="r2").write_batch("cainiao", cainiao_batch(body), ids, NOW)
    frame = store.frame("SELECT * FROM polls ORDER BY poll_id")
    previous = ""
    for row in frame.iter_rows(named=True):
        assert row["chain_hash"] == chain_hash(previous, row)
        previous = row["chain_hash"]
    assert frame["poll_id"].to_list() == [1, 2, 3, 4]
    assert verify_store(store).summary() == (
        "intact: 1 raw document, 4 polls; derived tables match the evidence"
    )


def test_canonical_form_is_stable() -> None:
    row: dict[str, Any] = {
        "poll_id": 7,
        "requested_at": datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC),
        "numbers": ("A", "B"),
        "duration_ms": 12,
        "outcome": "ok",
    }
    text = canonical_poll(row)
    assert '"requested_at":"2026-11-28T12:00:00.123456Z"' in text
    assert '"numbers":["A","B"]' in text and '"duration_ms":12.0' in text
    assert text == canonical_poll({**row, "requested_at": row["requested_at"].astimezone()})


def test_registrations_are_recorded_once(store: Store, ids: dict[str, list[int]]) -> None:
    batch = cainiao_batch(payload("cainiao-detail-multi.json"))
    batch.registered = {"LX593028170CN"}
    writer = EvidenceWriter(store, run_id="r")
    assert writer.write_batch("17track", batch, ids, NOW).registrations == 1
    assert writer.write_batch("17track", batch, ids, NOW).registrations == 0
    assert store.query("SELECT source, tracking_number, poll_id FROM source_registrations") == [
        ("17track", "LX593028170CN", 1)
    ]


def test_failed_request_is_logged_without_a_body(store: Store, ids: dict[str, list[int]]) -> None:
    from collector.errors import SourceUnavailable
    from collector.sources.base import Response
    from collector.sources.cainiao.source import Cainiao as Source

    async def down(request: Request) -> Response:
        error = SourceUnavailable("cainiao", "timed out after 20s")
        return Response(request, NOW, request.url, None, None, None, 5.0, error, attempts=5)

    batch = asyncio.run(Source().track(MULTI, registered=frozenset(), send=down))
    EvidenceWriter(store, run_id="r").write_batch("cainiao", batch, ids, NOW)
    assert store.query("SELECT outcome, error, body_sha256, http_status FROM polls") == [
        ("error", "cainiao: timed out after 20s", None, None)
    ]
    # Shipments stay due: the next run asks again.
    assert {r[0] for r in store.query("SELECT next_poll_at FROM tracking_state")} == {NOW}
    assert verify_store(store).intact


# --- verify after tampering ------------------------------------------------------------------


@pytest.fixture
def evidence(store: Store, ids: dict[str, list[int]]) -> Store:
    writer = EvidenceWriter(store, run_id="r")
    writer.write_batch("cainiao", cainiao_batch(payload("cainiao-detail-multi.json")), ids, NOW)
    writer.write_batch("cainiao", cainiao_batch(payload("cainiao-not-found.json")), ids, NOW)
    writer.write_batch("cainiao", cainiao_batch(payload("cainiao-detail-multi.json")), ids, NOW)
    assert verify_store(store).intact
    return store


def _document(store: Store, name: str) -> tuple[str, bytes]:
    sha = sha256_hex(payload(name))
    return sha, bytes(store.query("SELECT body FROM raw_documents WHERE sha256 = ?", [sha])[0][0])


def test_verify_detects_a_changed_body_byte(evidence: Store) -> None:
    sha, body = _document(evidence, "cainiao-not-found.json")
    tampered = body[:10] + bytes([body[10] ^ 1]) + body[11:]
    evidence.conn.execute("UPDATE raw_documents SET body = ? WHERE sha256 = ?", [tampered, sha])
    report = verify_store(evidence)
    assert report.exit_code == 1
    assert report.problems == [f"raw document {sha}: stored bytes do not match stored_sha256"]


def test_verify_detects_a_recompressed_forgery(evidence: Store) -> None:
    # A forger who rewrites body and stored_sha256 consistently is caught by the key.
    sha, _ = _document(evidence, "cainiao-not-found.json")
    forged = zlib.compress(payload("cainiao-not-found.json").replace(b"EXTERNAL", b"AE"))
    evidence.conn.execute(
        "UPDATE raw_documents SET body = ?, stored_sha256 = ? WHERE sha256 = ?",
        [forged, sha256_hex(forged), sha],
    )
    report = verify_store(evidence)
    assert report.problems[0].startswith(f"raw document {sha}: body is ")


def test_verify_detects_bytes_appended_after_the_zlib_stream(evidence: Store) -> None:
    sha, body = _document(evidence, "cainiao-not-found.json")
    padded = body + b"hidden"
    evidence.conn.execute(
        "UPDATE raw_documents SET body = ?, stored_sha256 = ? WHERE sha256 = ?",
        [padded, sha256_hex(padded), sha],
    )
    report = verify_store(evidence)
    assert report.exit_code == 1
    assert report.problems == [
        f"raw document {sha}: 6 bytes after the end of the compressed stream"
    ]


def test_verify_detects_an_edited_poll_row(evidence: Store) -> None:
    evidence.conn.execute("UPDATE polls SET outcome = 'ok' WHERE poll_id = 2")
    report = verify_store(evidence)
    assert report.exit_code == 1
    assert report.problems[0].startswith("poll 2: chain_hash does not match")
    assert "poll 2" in report.summary()


def test_verify_detects_a_deleted_poll_row(evidence: Store) -> None:
    evidence.conn.execute("DELETE FROM polls WHERE poll_id = 2")
    assert verify_store(evidence).problems[0].startswith("poll 3: chain_hash does not match")


def test_verify_detects_a_deleted_raw_document(evidence: Store) -> None:
    sha, _ = _document(evidence, "cainiao-not-found.json")
    evidence.conn.execute("DELETE FROM raw_documents WHERE sha256 = ?", [sha])
    assert verify_store(evidence).problems == [f"poll 2: its raw document {sha} is missing"]


def test_verify_command_exit_codes(evidence: Store, db_path: Any, cli_run: Any) -> None:
    evidence.close()
    result = cli_run("--db", str(db_path), "verify")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "intact: 2 raw documents, 3 polls; derived tables match the evidence"
    )
    with Store.open(db_path) as store:
        store.conn.execute("UPDATE polls SET url = 'https://elsewhere.test/' WHERE poll_id = 3")
    result = cli_run("--db", str(db_path), "verify")
    assert result.exit_code == 1
    assert "poll 3" in result.output
