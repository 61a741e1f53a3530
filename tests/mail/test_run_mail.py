"""One cron line: `run` reads the [mail] sources, polls them (simulator over loopback
HTTP), flags, and the packs list the shipping e-mails behind each parcel."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.simulator import Simulator, serve_in_thread
from collector.store import Store
from tests.conftest import SAMPLE_ORDERS, run_cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_MAIL = ROOT / "data" / "samples" / "mail"
KEY_ENV = "PP_SIM_17TRACK_KEY"


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with serve_in_thread(as_of=datetime(2026, 11, 28, 12, tzinfo=UTC)) as running:
        monkeypatch.setenv(KEY_ENV, running.api_key)
        yield running


def test_run_reads_mail_then_polls_and_packs_list_the_notices(
    sim: Simulator, tmp_path: Path, db_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLE_MAIL, inbox)
    config = tmp_path / "parcelproof.toml"
    config.write_text(
        f"""
[carriers.17track]
base_url = "{sim.base_url_17track}"
api_key_env = "{KEY_ENV}"
requests_per_second = 50

[routing]
default = ["17track"]

[reports]
formats = ["html", "json"]
out_dir = "{tmp_path / "packs"}"

[mail]
sources = ["{inbox}"]
""",
        encoding="utf-8",
    )
    base = ["--db", str(db_path), "--config", str(config), "--now", "2026-11-28T12:00:00Z"]
    assert run_cli(*base, "import", str(SAMPLE_ORDERS)).exit_code == 0
    first = run_cli(*base, "run")
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[0] == (
        "mail: 3 messages: 1 skipped, 2 stored; shipments 0 new, 0 updated"
    )
    pack = tmp_path / "packs" / "8101203344556-UH204817360CN"
    manifest = json.loads((pack / "manifest.json").read_text())
    assert [(n["from"], n["kind"], n["promised_to"]) for n in manifest["mail_notices"]] == [
        ("anna.keller@example.de", "shipped", "2026-10-25")
    ]
    html = (pack / "evidence-UH204817360CN.html").read_text()
    assert manifest["mail_notices"][0]["sha256"] in html
    assert "Fwd: Order 8101203344556: order shipped" in html
    # A new notice arrives; the next cron run reads only it.
    shutil.copy(ROOT / "tests" / "mail" / "fixtures" / "amazon_shipped.eml", inbox)
    second = run_cli(*base, "run")
    assert second.exit_code == 0
    assert second.output.splitlines()[0] == (
        "mail: 4 messages: 2 known, 1 skipped, 1 stored; shipments 1 new, 0 updated"
    )
    assert run_cli(*base, "verify").exit_code == 0
    # ... and its parcel was polled in that same run.
    with Store.open(db_path) as store:
        polled = store.query(
            "SELECT count(*) FROM poll_results WHERE tracking_number = '1Z5R89390357567127'"
        )
    assert polled[0][0] >= 1
