"""``import-mail`` from files, folders, mbox and Maildir into the store (real DuckDB)."""

from __future__ import annotations

import json
import mailbox
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.config import MailConfig
from collector.intake.mail import import_mail
from collector.store import Store
from collector.verify import verify_store
from tests.conftest import run_cli

FIXTURES = Path(__file__).parent / "fixtures"
NOTICES = 11  # fixtures that are shipping notices naming a tracking number


def _shipments(store: Store) -> list[tuple[object, ...]]:
    return store.query(
        "SELECT order_id, tracking_number, marketplace, store, carrier, courier, shipped_at, "
        "promised_from, promised_to FROM shipments ORDER BY order_id, tracking_number"
    )


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def _end(*parts: int) -> datetime:
    return datetime(*parts, 23, 59, 59, 999999, tzinfo=UTC)  # type: ignore[misc]


EXPECTED_SHIPMENTS = [
    ("1042", "014586627318", "other", "Nordic Knits", "FedEx", "fedex",
     _at(2026, 11, 3, 19, 22, 10), None, None),
    ("112-3456789-1234567", "1Z5R89390357567127", "amazon", None, "UPS", "ups",
     _at(2026, 11, 6, 18, 2, 41), None, _end(2026, 11, 10)),
    ("12-34567-89012", "9441773170674391500080", "ebay", "moto_teile_24", "USPS", "usps",
     _at(2026, 11, 7, 9, 31, 12), _at(2026, 11, 12), _end(2026, 11, 17)),
    ("3145926535", "MD895466450GB", "other", "WoodlandCrafts", "Royal Mail", "s10",
     _at(2026, 11, 4), _at(2026, 11, 9), _end(2026, 11, 12)),
    ("8101203344551234", "LA586992216CN", "aliexpress", "Shenzhen Gadget Official Store",
     "AliExpress Standard Shipping", "s10", _at(2026, 11, 2, 1, 14, 7), _at(2026, 11, 20),
     _end(2026, 12, 5)),
    ("8101299988877766", "LP03527573706829", "aliexpress", "Bright LED Lighting Store", None,
     "cainiao", _at(2026, 11, 4, 3, 2), _at(2026, 11, 25), _end(2026, 12, 10)),
    ("PO-211-07654321098765432", "YT9081956811284187", "temu", None, "YunExpress",
     "yunexpress", _at(2026, 11, 8, 11, 5, 33), _at(2026, 11, 14), _end(2026, 11, 19)),
]  # fmt: skip


def test_a_folder_of_notices_becomes_shipments_and_a_rerun_adds_nothing(store: Store) -> None:
    first = import_mail(store, [str(FIXTURES)], MailConfig())
    assert first.exit_code == 0
    assert [m.outcome for m in first.messages].count("stored") == NOTICES
    assert [m.outcome for m in first.messages].count("skipped") == 2
    assert _shipments(store) == EXPECTED_SHIPMENTS
    documents = store.query(
        "SELECT count(*) FROM raw_documents WHERE content_type = 'message/rfc822'"
    )
    assert documents == [(NOTICES,)]
    again = import_mail(store, [str(FIXTURES)], MailConfig())
    assert again.exit_code == 0 and again.inserted == again.updated == 0
    assert {m.outcome for m in again.messages} == {"known", "skipped"}
    assert _shipments(store) == EXPECTED_SHIPMENTS
    assert store.query("SELECT count(*) FROM mail_notices") == [(NOTICES,)]
    assert store.query("SELECT count(*) FROM shipment_history") == [(0,)]


def test_the_stored_message_is_the_whole_rfc822_bytes(store: Store) -> None:
    import zlib

    import_mail(store, [str(FIXTURES / "ebay_shipped.eml")], MailConfig())
    body, sha = store.query(
        "SELECT d.body, n.sha256 FROM mail_notices n JOIN raw_documents d USING (sha256)"
    )[0]
    raw = (FIXTURES / "ebay_shipped.eml").read_bytes()
    assert zlib.decompress(bytes(body)) == raw
    import hashlib

    assert sha == hashlib.sha256(raw).hexdigest()


def test_carrier_notices_link_to_the_orders_they_name(store: Store) -> None:
    # The carrier's mails arrive first: they create nothing, and join the order once
    # the marketplace's notice (or a CSV) names it.
    carriers = [str(FIXTURES / n) for n in ("ups_out_for_delivery.eml", "usps_delivered.eml")]
    early = import_mail(store, carriers, MailConfig())
    assert [m.outcome for m in early.messages] == ["stored", "stored"]
    assert "no shipment has this number yet" in early.messages[0].detail
    assert store.query("SELECT count(*) FROM shipments") == [(0,)]
    import_mail(store, [str(FIXTURES / "amazon_shipped.eml")], MailConfig())
    links = store.query(
        "SELECT n.kind, s.order_id FROM mail_notice_shipments l "
        "JOIN mail_notices n USING (notice_id) JOIN shipments s USING (shipment_id) "
        "ORDER BY n.kind"
    )
    assert links == [
        ("out_for_delivery", "112-3456789-1234567"),
        ("shipped", "112-3456789-1234567"),
    ]


def test_a_delivered_email_is_not_a_delivery_scan(store: Store) -> None:
    import_mail(store, [str(FIXTURES / "ebay_shipped.eml"), str(FIXTURES / "usps_delivered.eml")],
                MailConfig())  # fmt: skip
    assert store.query("SELECT count(*) FROM events") == [(0,)]
    assert store.query("SELECT count(*) FROM tracking_state WHERE delivered_at IS NOT NULL") == [
        (0,)
    ]
    assert store.query("SELECT kind FROM mail_notices ORDER BY kind") == [
        ("delivered",),
        ("shipped",),
    ]


def test_a_later_notice_never_empties_what_is_stored(store: Store, tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,tracking_number,marketplace,store,carrier,ordered_at,destination_country,"
        "item\n8101203344551234,LA586992216CN,aliexpress,Gadget Store,China Post,"
        "2026-10-30,DE,USB-C cable\n"
    )
    assert run_cli("--db", str(store.path), "import", str(orders)).exit_code == 0
    store.close()
    with Store.open(store.path) as reopened:
        result = import_mail(reopened, [str(FIXTURES / "aliexpress_shipped.eml")], MailConfig())
        assert result.updated == 1
        row = reopened.query(
            "SELECT ordered_at, destination_country, item, store, carrier, promised_to "
            "FROM shipments"
        )
        # the notice's own values win; what it does not say stays
        assert row == [
            (_at(2026, 10, 29, 23), "DE", "USB-C cable", "Shenzhen Gadget Official Store",
             "AliExpress Standard Shipping", datetime(2026, 12, 5, 22, 59, 59, 999999, tzinfo=UTC))
        ]  # fmt: skip
        history = reopened.query("SELECT previous->>'store' FROM shipment_history")
        assert history == [("Gadget Store",)]


def test_mbox_and_maildir_sources(store: Store, tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "Inbox.mbox")
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    for name in ("aliexpress_shipped.eml", "newsletter.eml"):
        box.add((FIXTURES / name).read_bytes())
    for name in ("temu_shipped.eml", "forwarded_inline.eml"):
        maildir.add((FIXTURES / name).read_bytes())
    box.flush()
    box.close()
    result = import_mail(store, [str(tmp_path / "Inbox.mbox"), str(tmp_path / "Maildir")],
                         MailConfig())  # fmt: skip
    assert result.exit_code == 0
    assert [m.outcome for m in result.messages] == ["stored", "skipped", "stored", "stored"] or [
        m.outcome for m in result.messages
    ] == ["stored", "skipped", "stored", "stored"]
    assert sorted(r[0] for r in store.query("SELECT order_id FROM shipments")) == [
        "8101203344551234",
        "8101299988877766",
        "PO-211-07654321098765432",
    ]
    assert result.messages[0].source == f"{tmp_path / 'Inbox.mbox'}#1"


def test_verify_covers_the_messages(store: Store) -> None:
    import_mail(store, [str(FIXTURES / "temu_shipped.eml")], MailConfig())
    assert verify_store(store).intact
    store.conn.execute("UPDATE raw_documents SET body = body || '\\x00'::BLOB")
    assert not verify_store(store).intact
    store.conn.execute("DELETE FROM raw_documents")
    report = verify_store(store)
    assert report.problems and report.problems[0].startswith("mail notice 1: its message")


def test_cli_dry_run_json_stores_nothing(db_path: Path) -> None:
    result = run_cli(
        "--db", str(db_path), "import-mail", "--dry-run", "--json",
        str(FIXTURES / "etsy_shipped.eml"), str(FIXTURES / "newsletter.eml"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines[0] == {
        "source": str(FIXTURES / "etsy_shipped.eml"),
        "message_id": "<etsy.3145926535.shipped@mail.etsy.com>",
        "from": "transaction@etsy.com",
        "subject": "Your Etsy Purchase from WoodlandCrafts (3145926535) has shipped",
        "date": "2026-11-04T16:40:00+00:00",
        "kind": "shipped",
        "marketplace": "etsy",
        "order_id": "3145926535",
        "tracking_numbers": ["MD895466450GB"],
        "carrier": "Royal Mail",
        "promised_to": "2026-11-12",
        "promised_from": "2026-11-09",
        "shipped_on": "2026-11-04",
        "store": "WoodlandCrafts",
        "forwarded_from": None,
    }
    assert lines[1]["kind"] == "other" and lines[1]["tracking_numbers"] == []
    assert not db_path.exists()


def test_cli_lines_and_exit_codes(db_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    shutil.copy(FIXTURES / "amazon_shipped.eml", folder)
    shutil.copy(FIXTURES / "newsletter.eml", folder)
    ok = run_cli("--db", str(db_path), "import-mail", str(folder))
    assert ok.exit_code == 0
    lines = ok.output.splitlines()
    assert lines[0] == (
        f"{folder / 'amazon_shipped.eml'}: stored: shipped amazon notice: order "
        "112-3456789-1234567, tracking 1Z5R89390357567127, promised 2026-11-10; "
        "linked to 1 shipment(s)"
    )
    assert lines[1].startswith(f"{folder / 'newsletter.eml'}: skipped: not a shipping notice")
    (folder / "broken.eml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    bad = run_cli("--db", str(db_path), "import-mail", str(folder))
    assert bad.exit_code == 1
    assert f"{folder / 'broken.eml'}: unreadable:" in bad.output
    missing = run_cli("--db", str(db_path), "import-mail", str(tmp_path / "nope.mbox"))
    assert missing.exit_code == 2
    assert "no such file or folder" in missing.output


def test_sources_come_from_config(db_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[mail]\nsources = ["{FIXTURES / "temu_shipped.eml"}"]\n')
    result = run_cli("--db", str(db_path), "--config", str(config), "import-mail")
    assert result.exit_code == 0
    assert "stored: shipped temu notice" in result.output
    none = run_cli("--db", str(db_path), "import-mail")
    assert none.exit_code == 2


@pytest.mark.parametrize("spec", ["imaps://user:secret@127.0.0.1/INBOX", "imap://u@h/INBOX"])
def test_imap_urls_refused_before_connecting(db_path: Path, spec: str) -> None:
    result = run_cli("--db", str(db_path), "import-mail", spec)
    assert result.exit_code == 2
    assert "secret" not in result.output


def test_a_number_tracked_under_another_order_id_is_joined_not_doubled(
    store: Store, tmp_path: Path
) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,marketplace,tracking_number,ordered_at\n"
        "EB-12-34567-89012,ebay,9441773170674391500080,2026-11-05\n"
    )
    assert run_cli("--db", str(store.path), "import", str(orders)).exit_code == 0
    store.close()
    with Store.open(store.path) as reopened:
        result = import_mail(reopened, [str(FIXTURES / "ebay_shipped.eml")], MailConfig())
        assert result.inserted == 0
        assert reopened.query("SELECT order_id FROM shipments") == [("EB-12-34567-89012",)]
        assert reopened.query("SELECT count(*) FROM mail_notice_shipments") == [(1,)]
