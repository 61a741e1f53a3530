"""Data printed by the command line is text: Rich markup escaped, control characters
shown visibly (issue 17, item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.store import Store
from collector.terminal import markup_safe, visible
from tests.conftest import NOW, run_cli
from tests.flags.builder import Ev, World

LINK = "[link=file:///etc/passwd]CLICKME[/link]"
OSC = "\x1b]8;;file:///etc/passwd\x07"
CLEAR = "\x1b[2J"


def _assert_inert(output: str) -> None:
    assert "\x1b" not in output and "\x07" not in output and "\x9b" not in output


def test_visible_and_markup_safe() -> None:
    assert visible(f"a{CLEAR}b\x9b\u202ec\n") == "a\\x1b[2Jb\\x9b\\u202ec\\x0a"
    assert markup_safe(LINK) == "\\[link=file:///etc/passwd]CLICKME\\[/link]"
    assert visible("Guangzhou 广州 ½") == "Guangzhou 广州 ½"


def test_status_and_flags_tables_print_data_as_text(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one line per cell, to compare the text
    with Store.open(db_path) as store:
        world = World(store)
        sid = world.shipment(LINK, "LP00123456789012", promised_to=None, protection_ends_at=None)
        world.events(
            sid,
            Ev("2026-11-01T06:00:00+08:00", "in_transit", f"{OSC}Departed{CLEAR}", city=CLEAR),
        )
    for command in ("status", "flags"):
        result = run_cli("--db", str(db_path), "--now", NOW, command)
        assert result.exit_code == 0, result.output
        _assert_inert(result.output)
        assert LINK in result.output, result.output


def test_import_messages_and_check_show_control_characters(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,tracking_number,shipped_at\n"
        f"{LINK},LP1,2026-11-01{CLEAR}\n"
        f"O2,{OSC}LP2,2026-11-01\n",
        encoding="utf-8",
    )
    result = run_cli("--db", str(tmp_path / "t.duckdb"), "import", str(orders))
    assert result.exit_code == 1
    _assert_inert(result.output)
    assert "\\x1b[2J" in result.output and LINK in result.output
    check = run_cli("check", f"{OSC}RB123456785GB{CLEAR}")
    _assert_inert(check.output)
    assert "\\x1b]8;;file:///etc/passwd\\x07" in check.output


def test_error_messages_show_control_characters(db_path: Path) -> None:
    with Store.open(db_path):
        pass
    result = run_cli("--db", str(db_path), "report", f"{OSC}X{CLEAR}")
    assert result.exit_code == 1
    _assert_inert(result.output)
