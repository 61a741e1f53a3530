"""``parcelproof demo``: the whole path on bundled data, with no network and no key.

The loopback simulator (:mod:`collector.simulator`) stands in for 17TRACK and
Cainiao: the demo writes ``<db folder>/demo/parcelproof.toml`` pointing both
sources at it, with a dummy key passed in the environment variable that
``api_key_env`` names (never on a command line). "Now" is fixed at
:data:`DEMO_NOW` unless ``--now``/``PARCELPROOF_NOW`` is given, so the demo shows
the same thing whatever day it runs; the simulator hides events after "now".
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from collector.cli import AppContext, err_console
from collector.config import Settings
from collector.console import make_console
from collector.importer import import_rows, parse_import_date, read_rows
from collector.store import Store
from collector.terminal import markup_safe

SAMPLE_ORDERS = Path(__file__).resolve().parents[1] / "data" / "samples" / "orders.csv"
#: The order of the parcel handed from Cainiao to USPS (its history:
#: ``collector/simulator/scenarios/last_mile.json``), imported after the samples.
LAST_MILE_ORDERS = SAMPLE_ORDERS.parent / "last-mile.csv"
#: Shipping e-mails for some of the sample orders, read by the demo's ``run``.
SAMPLE_MAIL = SAMPLE_ORDERS.parent / "mail"
DEMO_NOW = "2026-11-28T12:00:00Z"
#: The variable the demo config names in ``api_key_env``: a demo-only name, so that
#: a real ``SEVENTEENTRACK_API_KEY`` in the environment is neither used nor changed.
DEMO_KEY_ENV = "PARCELPROOF_DEMO_17TRACK_KEY"
DEMO_KEY = "demo-17track-key"

#: Sample dispute cases, recorded once (an order that has steps keeps them): what a
#: buyer did about some flagged parcels, in several steps, dated before DEMO_NOW.
SAMPLE_CASES: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    # Stalled: contacted, opened; the seller is silent: escalate by 2026-12-01.
    ("8101203344552", "contacted_seller", "2026-11-12", {"note": "asked where the parcel is"}),
    ("8101203344552", "opened", "2026-11-16", {"ask": "refund"}),
    # Expired tracking: the seller was contacted two days ago; wait for the reply.
    ("8101203344571", "contacted_seller", "2026-11-26", {}),
    # Overdue: escalated, and AliExpress asks for evidence by 2026-11-30.
    ("8101203344558", "opened", "2026-11-05", {"ask": "refund"}),
    ("8101203344558", "seller_replied", "2026-11-08", {"note": "says it is in customs"}),
    ("8101203344558", "escalated", "2026-11-12", {}),
    ("8101203344558", "evidence_requested", "2026-11-26", {"due": "2026-11-30"}),
    # Returned to the seller: refunded in full, feedback left.
    ("8101203344556", "opened", "2026-11-01", {"ask": "refund"}),
    ("8101203344556", "resolved", "2026-11-09", {"outcome": "refunded"}),
    ("8101203344556", "feedback_left", "2026-11-10", {}),
    # Never found: the seller sent it again with a new number; the case watches it.
    ("8101203344554", "opened", "2026-11-20", {"ask": "resend"}),
    ("8101203344554", "seller_offer", "2026-11-22", {"note": "offers to send it again"}),
    (
        "8101203344554",
        "resolved",
        "2026-11-26",
        {"outcome": "resent", "tracking": "LP00555666777999"},
    ),
    # An invalid number: the dispute was rejected.
    ("8101203344570", "opened", "2026-11-10", {"ask": "refund"}),
    ("8101203344570", "resolved", "2026-11-20", {"outcome": "rejected"}),
)

# 17TRACK first for every courier: it is the source that reports "Expired" (Cainiao
# has no such status), so the demo shows every scenario; Cainiao stays configured
# as the fallback, as in a real set-up. USPS numbers, and the last mile of parcels
# handed over to USPS, go to USPS's own API (the delivering carrier's record).
_DEMO_ROUTING = """
[routing]
usps = ["usps", "17track"]
default = ["17track", "cainiao"]
"""
#: The prefix of the variables holding the simulated carriers' dummy credentials.
DEMO_ENV_PREFIX = "PARCELPROOF_DEMO"
#: Carriers' own APIs the demo configures (their simulated services).
DEMO_CARRIERS = ("usps",)


def record_sample_cases(store: Store, settings: Settings, now: datetime) -> int:
    """Record :data:`SAMPLE_CASES` for orders that have no steps yet (and are there);
    steps dated after "now" are left out, so an earlier ``--now`` shows an earlier
    stage. Returns the number of steps recorded."""
    from analysis.case_log import StepInput, record_step

    have = {str(r[0]) for r in store.query("SELECT DISTINCT order_id FROM dispute_steps")}
    known = {str(r[0]) for r in store.query("SELECT DISTINCT order_id FROM shipments")}
    count = 0
    for order, step, day, options in SAMPLE_CASES:
        if order in have or order not in known:
            continue
        if parse_import_date(day, None) > now:
            continue
        given = StepInput(order, step, on=day, **options)
        record_step(store, given, now=now, settings=settings)
        count += 1
    return count


def run_demo(app: AppContext, orders: Path | None = None, *, now: datetime) -> int:
    """Start the simulator, import the sample orders, run, record the sample cases,
    write packs, print the cases and the status.

    ``now`` is the evaluation instant (the command passes :data:`DEMO_NOW` unless
    ``--now`` says otherwise). The run is the cron job's own pipeline
    (:func:`analysis.run.run_once`: poll, evaluate the flags, list what changed);
    then :data:`SAMPLE_CASES` are recorded as ``dispute`` records them, and
    ``report --flagged`` writes a pack for every flagged parcel (with its case) and
    the index, under ``<db folder>/reports``.
    """
    from dataclasses import replace

    from analysis.assess import assess
    from analysis.cases import due_soon
    from analysis.console import print_cases_table, print_due_soon, print_status_table
    from analysis.reports import make_report
    from analysis.run import run_once
    from analysis.status import shipment_status
    from collector.simulator import serve_in_thread
    from collector.simulator.model import last_mile_scenarios

    console = make_console()
    # The bundled demo adds the parcel Cainiao handed to USPS; a given file is as is.
    paths = [orders] if orders else [SAMPLE_ORDERS, LAST_MILE_ORDERS]
    files = [(path, *read_rows(path)) for path in paths]
    with serve_in_thread(api_key=DEMO_KEY, as_of=now) as simulator:
        if orders is None:
            simulator.add_scenarios(last_mile_scenarios())
        config = app.db_path.parent / "demo" / "parcelproof.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        mail = (
            f"\n[mail]\nsources = [{json.dumps(str(SAMPLE_MAIL))}]\n"
            if SAMPLE_MAIL.is_dir()
            else ""
        )
        carriers = "".join(
            # The simulator is not USPS: no need to wait out its 60 requests an hour.
            "\n" + simulator.source_table(name, DEMO_ENV_PREFIX) + "requests_per_second = 20\n"
            for name in DEMO_CARRIERS
        )
        config.write_text(
            simulator.config_toml(DEMO_KEY_ENV) + carriers + _DEMO_ROUTING + mail,
            encoding="utf-8",
        )
        credentials = {DEMO_KEY_ENV: DEMO_KEY, **simulator.source_env(DEMO_ENV_PREFIX)}
        previous = {name: os.environ.get(name) for name in credentials}
        os.environ.update(credentials)
        demo_app = AppContext(db_path=app.db_path, config_path=config)
        console.print(
            f"[bold]simulator[/] {simulator.url} (config {config}), now {now:%Y-%m-%d %H:%M}Z",
            highlight=False,
        )
        for path, header, rows in files:
            with demo_app.open_store() as store:
                imported = import_rows(store, header, rows, name=str(path))
            for error in imported.rejected:
                err_console.print(f"[red]rejected[/] {markup_safe(f'{path}: {error}')}")
            console.print(
                f"[bold]import[/] {markup_safe(path)}: {imported.inserted} new, "
                f"{imported.updated} updated, "
                f"{imported.unchanged} unchanged, {len(imported.rejected)} rejected"
            )
        out_dir = app.db_path.parent / "reports"
        settings = replace(
            demo_app.settings, reports=replace(demo_app.settings.reports, out_dir=str(out_dir))
        )
        try:
            # Every shipment, due or not, so that a second demo shows the same path.
            result = run_once(
                demo_app.db_path,
                settings,
                now=now,
                progress=False,
                write_packs=False,
                all_shipments=True,
            )
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        for line in result.lines(quiet=False):
            console.print(f"[bold]run[/] {markup_safe(line)}", highlight=False)
    with demo_app.open_store() as store:
        record_sample_cases(store, settings, now)
        assessment = assess(store, now, settings)
        print_cases_table(assessment.cases, console)
        print_due_soon(due_soon(assessment.cases, now, settings), console)
        print_status_table(
            shipment_status(store, now, settings=settings, assessment=assessment), console
        )
        packs = make_report(store, flagged=True, now=now, settings=settings)
    console.print(
        f"[bold]evidence packs[/]: {len(packs.packs)} flagged parcels in {packs.out_dir} "
        f"(open {packs.index} first)",
        highlight=False,
    )
    console.print(f"database: {app.db_path}")
    return 0
