"""The poller: which shipments are due, routing, batching, concurrency, quotas.

:func:`run_poll` is the library entry point (``poll`` and ``run`` call it)::

    >>> report = run_poll(Path("data/parcelproof.duckdb"), load_settings())  # doctest: +SKIP
    >>> report.exit_code, report.summary_lines()[0]  # doctest: +SKIP
    (0, '17track: 25 shipments, 2 requests, 22 ok, 2 not found, 1 invalid, 41 new events')

What it does, in order:

1. takes the poll lock (``<db>.poll.lock``) *before* opening the database; a second
   poll gets :class:`~collector.errors.LockHeld` (exit 75) within a second;
2. picks the due shipments: not archived; never polled first, then the stalest;
   ``--all`` ignores due-ness. ``tracking_state.next_poll_at`` says when a shipment
   is due: after ``poll.interval_hours``; not-found answers back off exponentially
   (``not_found_backoff_hours`` doubling up to ``not_found_backoff_max_hours``);
   delivered/returned/expired shipments stop ``final_grace_days`` after the final
   event;
3. routes each shipment: the first source in ``[routing]`` (the courier's own list,
   else ``default``) that is *configured* and can serve the courier. A source is
   configured only when it has a ``[sources.<name>]`` table (and credentials, if it needs
   one): nothing ever calls a real service by default. Shipments no configured
   source can serve are reported once per run (a count and a few ids);
4. polls each source's distinct numbers in batches of its batch size, all sources
   concurrently, each at its own rate (several batches in flight per source so that
   the allowance is kept busy), and writes each batch in one transaction as soon as
   it completes: a crash loses at most the batches in flight;
5. asks again, after ``pending_recheck_seconds`` (doubling, ``pending_rechecks``
   times), for numbers registered in this run that the source had not looked up yet
   (:meth:`~collector.sources.base.Source.recheck`);
6. stops a source for the run on a quota error, on a 429 storm that outlasts the
   retries, on a refused key, or after three batches in a row failed at the
   transport level.

Exit codes (:attr:`PollReport.exit_code`): 0 ok, 1 some source failed (stopped, or
a request ended in an error after its retries), 2 configuration error, 75 lock held.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict, Unpack

from collector import clock
from collector.config import Settings, SourceConfig
from collector.errors import ConfigError, NoRoomForEvidence, ParcelproofError, ResponseTooLarge
from collector.http import SourceClient, TokenBucket, Transport, prewarm_tls
from collector.poll_lock import PollLock
from collector.shard import shard_of
from collector.sources.base import (
    UNREADABLE,
    BatchOutcome,
    ClientCredentials,
    Exchange,
    Outcome,
    Parsed,
    Response,
    Source,
    error_results,
)
from collector.sources.registry import create_source, source_class
from collector.store import Store
from collector.store.evidence import (
    BatchItem,
    BatchWrite,
    EvidenceWriter,
    answered_ok,
    finish_run,
    handed_over_by,
    last_mile_routes,
    quota_refusal_since,
    registered_numbers,
    requests_today,
    start_run,
)
from collector.terminal import plural

#: A source stops for the run after this many batches in a row failed to get any answer.
MAX_FAILED_BATCHES_IN_A_ROW = 3
#: How many shipment ids a report line names at most.
EXAMPLES = 5

_DUE_SQL = """
SELECT s.shipment_id, s.order_id, s.tracking_number, s.courier, s.carrier
FROM shipments s
LEFT JOIN tracking_state t USING (shipment_id)
WHERE NOT s.archived AND s.tracking_number <> ''
  AND ($all OR t.last_poll_at IS NULL
       OR (t.next_poll_at IS NOT NULL AND t.next_poll_at <= $now))
ORDER BY t.last_poll_at ASC NULLS FIRST, s.shipment_id
"""


@dataclass
class SourceSummary:
    """What one source did in a run (counts are per tracking number)."""

    name: str
    shipments: int = 0
    numbers: int = 0
    batches: int = 0
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    new_events: int = 0
    new_documents: int = 0
    failed_requests: int = 0
    #: Numbers whose answer did not match the source's protocol (code ``unreadable``).
    unreadable: int = 0
    rechecked: int = 0
    #: Batches asked again in halves because an answer went over ``max_body_bytes``.
    split_batches: int = 0
    stopped: str | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """Stopped for the run, or some request got no usable answer."""
        return self.stopped is not None or self.failed_requests > 0

    def count(self, outcome: Outcome | str) -> int:
        """Numbers whose final outcome in this run was ``outcome``."""
        return self.outcomes.get(str(outcome), 0)

    def line(self) -> str:
        """The one-line summary printed at the end of a poll."""
        parts = [
            plural(self.shipments, "shipment"),
            plural(self.requests, "request"),
            f"{self.count(Outcome.OK)} ok",
            f"{self.count(Outcome.NOT_FOUND)} not found",
            f"{self.count(Outcome.INVALID)} invalid",
        ]
        if self.count(Outcome.RATE_LIMITED):
            parts.append(f"{self.count(Outcome.RATE_LIMITED)} rate limited")
        if self.count(Outcome.ERROR):
            parts.append(plural(self.count(Outcome.ERROR), "error"))
        if self.unreadable:
            parts.append(plural(self.unreadable, "unreadable answer"))
        if self.skipped:
            parts.append(f"{self.skipped} not polled")
        if self.rechecked:
            parts.append(f"{self.rechecked} asked again after registering")
        if self.split_batches:
            batches = "batch" if self.split_batches == 1 else "batches"
            parts.append(
                f"{self.split_batches} {batches} asked again in halves "
                "(an answer over max_body_bytes)"
            )
        parts.append(f"{self.new_events} new events")
        parts.append(f"{self.seconds:.1f}s")
        text = f"{self.name}: " + ", ".join(parts)
        if self.stopped:
            text += f"; STOPPED: {self.stopped}"
        return text


@dataclass
class PollReport:
    """The result of :func:`run_poll`: per-source summaries and what was left out."""

    run_id: str
    selected: int = 0
    sources: dict[str, SourceSummary] = field(default_factory=dict)
    unserved: int = 0
    unserved_examples: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 ok, 1 some source failed."""
        return 1 if any(s.failed for s in self.sources.values()) else 0

    @property
    def polled(self) -> int:
        """Shipments routed to a source in this run."""
        return sum(s.shipments for s in self.sources.values())

    def as_dict(self) -> dict[str, Any]:
        """The summary stored in ``runs.summary``."""
        return {
            "selected": self.selected,
            "unserved": self.unserved,
            "exit_code": self.exit_code,
            "sources": {
                n: {
                    "shipments": s.shipments,
                    "requests": s.requests,
                    "outcomes": s.outcomes,
                    "new_events": s.new_events,
                    "unreadable": s.unreadable,
                    "stopped": s.stopped,
                }
                for n, s in self.sources.items()
            },
        }

    def summary_lines(self) -> list[str]:
        """One line per source, then the unserved shipments and the warnings."""
        lines = [s.line() for s in self.sources.values()]
        if self.unserved:
            examples = ", ".join(self.unserved_examples)
            more = ", ..." if self.unserved > len(self.unserved_examples) else ""
            lines.append(
                f"{plural(self.unserved, 'shipment')} no configured source can serve "
                f"(e.g. {examples}{more}): add a source for them ([sources.<name>], [routing])"
            )
        if not self.sources and not self.unserved:
            lines.append("nothing to poll")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return lines


@dataclass(frozen=True)
class _Shipment:
    shipment_id: int
    order_id: str
    number: str
    courier: str | None
    carrier: str | None


def configured_sources(settings: Settings) -> tuple[dict[str, Source], list[str]]:
    """The sources this configuration may use, and warnings about unusable tables.

    Every ``[sources.<name>]`` table must name a known source (ConfigError
    otherwise). A table with ``enabled = false``, or of a source whose credentials
    are not set (a key, or an OAuth2 client id and secret), is not used.
    """
    sources: dict[str, Source] = {}
    warnings: list[str] = list(settings.warnings)
    for name, config in settings.sources.items():
        cls = source_class(name)
        if not config.enabled:
            continue
        missing = missing_credentials(cls, config)
        if missing:
            warnings.append(f"[{config.table}.{name}] has no {missing}; source not used")
            continue
        sources[name] = create_source(name, config)
    for names in (settings.routing.default, *settings.routing.couriers.values()):
        for name in names:
            source_class(name)  # an unknown name in [routing] is a config error too
    return sources, warnings


def missing_credentials(cls: type[Source], config: SourceConfig) -> str | None:
    """What a source's auth strategy needs and its table does not give (None: all set)."""
    auth = cls.auth
    if isinstance(auth, ClientCredentials):
        if config.client_credentials() is not None:
            return None
        names = [v for v in (config.client_id_env, config.client_secret_env) if v]
        where = f"set {' and '.join(names)}" if names else "set client_id_env, client_secret_env"
        return f"client credentials ({where})"
    if auth.needs_credentials and not config.secret():
        where = f"set {config.api_key_env}" if config.api_key_env else "set api_key_env"
        return f"key ({where})"
    return None


def route(
    shipments: Iterable[_Shipment], settings: Settings, sources: Mapping[str, Source]
) -> tuple[dict[str, list[_Shipment]], list[_Shipment]]:
    """Assign each shipment the first configured source of its routing list that serves it."""
    routed: dict[str, list[_Shipment]] = {}
    unserved: list[_Shipment] = []
    for shipment in shipments:
        for name in settings.routing.sources_for(shipment.courier):
            source = sources.get(name)
            if source is not None and source.serves(shipment.courier):
                routed.setdefault(name, []).append(shipment)
                break
        else:
            unserved.append(shipment)
    return routed, unserved


def last_mile_legs(
    store: Store,
    settings: Settings,
    sources: Mapping[str, Source],
    shipments: Sequence[_Shipment],
) -> dict[str, list[_Shipment]]:
    """The last-mile numbers of ``shipments`` to poll at the delivering carrier's source.

    A shipment with a recorded handover (``last_mile_handovers``) whose courier has a
    configured carrier's own source (``carrier_own``) in its ``[routing]`` list (the
    first that serves it) gets its last-mile number polled there; the events land on
    the same shipment, with that source. Without such a source there is no leg: the
    aggregator keeps the parcel.
    """
    handovers = last_mile_routes(store, [s.shipment_id for s in shipments])
    by_id = {s.shipment_id: s for s in shipments}
    legs: dict[str, list[_Shipment]] = {}
    for shipment_id, (number, courier) in handovers.items():
        shipment = by_id[shipment_id]
        for name in settings.routing.sources_for(courier):
            source = sources.get(name)
            if source is not None and source.carrier_own and source.serves(courier):
                leg = _Shipment(shipment_id, shipment.order_id, number, courier, shipment.carrier)
                legs.setdefault(name, []).append(leg)
                break
    return legs


def route_last_mile(  # noqa: PLR0913 - the routing so far, and what it routes
    store: Store,
    settings: Settings,
    sources: Mapping[str, Source],
    *,
    picked: Sequence[_Shipment],
    routed: dict[str, list[_Shipment]],
    unserved: list[_Shipment],
) -> tuple[dict[str, list[_Shipment]], list[_Shipment]]:
    """Add the :func:`last_mile_legs` of ``picked`` to ``routed``.

    Once the carrier's source has answered ``ok`` about the last-mile number, the
    first-mile number is no longer polled (its aggregator would only repeat the
    carrier's record); a shipment no source could serve by its own number is
    served by its last mile.
    """
    legs = last_mile_legs(store, settings, sources, picked)
    if not legs:
        return routed, unserved
    settled: set[int] = set()
    for name, items in legs.items():
        answered = answered_ok(store, name, [leg.number for leg in items])
        settled |= {leg.shipment_id for leg in items if leg.number in answered}
        routed[name] = _merge(routed.get(name, []), items)
    for name, items in routed.items():
        if name not in legs:
            routed[name] = [s for s in items if s.shipment_id not in settled]
    with_leg = {leg.shipment_id for items in legs.values() for leg in items}
    return routed, [s for s in unserved if s.shipment_id not in with_leg]


def _merge(items: list[_Shipment], more: Iterable[_Shipment]) -> list[_Shipment]:
    known = {(s.shipment_id, s.number) for s in items}
    return items + [s for s in more if (s.shipment_id, s.number) not in known]


def handed_over_in_run(
    store: Store,
    settings: Settings,
    sources: Mapping[str, Source],
    run_id: str,
    routed: Mapping[str, list[_Shipment]],
) -> dict[str, list[_Shipment]]:
    """Last-mile legs of the handovers first recorded in this run and not polled yet.

    A parcel the first-mile source handed over in this run is followed to the
    delivering carrier in the same run, so that its record arrives with the run that
    learnt of it.
    """
    rows = store.query(
        "SELECT DISTINCT h.shipment_id FROM last_mile_handovers h JOIN polls p "
        "USING (poll_id) WHERE p.run_id = ?",
        [run_id],
    )
    ids = {int(r[0]) for r in rows}
    if not ids:
        return {}  # nothing handed over in this run (the common case): no sets to build
    shipments = {
        s.shipment_id: s for items in routed.values() for s in items if s.shipment_id in ids
    }
    polled = {(name, s.shipment_id, s.number) for name, items in routed.items() for s in items}
    legs = last_mile_legs(store, settings, sources, list(shipments.values()))
    follow = {
        name: [s for s in items if (name, s.shipment_id, s.number) not in polled]
        for name, items in legs.items()
    }
    return {name: items for name, items in follow.items() if items}


def token_verdict(response: Response) -> Parsed:
    """What a ``token`` poll came to: ok, or the error that stopped the token fetch."""
    if response.error is None:
        return Parsed(Outcome.OK, ())
    message = str(response.error)
    outcome = Outcome.RATE_LIMITED if response.status == 429 else Outcome.ERROR
    return Parsed(outcome, error_results((), outcome, message), message)


@dataclass(frozen=True)
class Selection:
    """Which shipments a poll considers (the options of ``poll``)."""

    all_shipments: bool = False
    carriers: tuple[str, ...] = ()
    shipments: tuple[str, ...] = ()
    limit: int | None = None
    #: ``(I, N)``: only the shipments of shard I of N (:mod:`collector.shard`).
    shard: tuple[int, int] | None = None


class PollOptions(TypedDict, total=False):
    """The options of ``poll``, as keywords of :func:`run_poll` and :func:`poll_store`.

    - ``all_shipments``: every non-archived shipment, due or not (``--all``);
    - ``carriers``: only shipments routed to these sources, or whose detected courier
      or declared carrier is one of these (case-insensitive) (``--carrier``);
    - ``shipments``: only these order ids, tracking numbers or shipment ids
      (``--shipment``);
    - ``limit``: at most this many shipments (default ``poll.limit``; none);
    - ``shard``: ``(I, N)``, only the shipments whose stable hash puts them in shard
      I of N (``--shard I/N``, :mod:`collector.shard`);
    - ``progress``: show a progress bar on stderr (None: when stderr is a terminal);
    - ``transports``: per-source httpx transports (tests);
    - ``run_id``: the id stored with every poll of this run (default: generated).
    """

    all_shipments: bool
    carriers: Sequence[str]
    shipments: Sequence[str]
    limit: int | None
    shard: tuple[int, int] | None
    progress: bool | None
    transports: Mapping[str, Transport] | None
    run_id: str | None


def run_poll(db_path: Path | str, settings: Settings, **options: Unpack[PollOptions]) -> PollReport:
    """Poll the due shipments of the database at ``db_path``; see the module docstring.

    ``options`` are those of :class:`PollOptions`. Takes the poll lock, opens the
    store and polls as :func:`poll_store` does. Raises LockHeld (exit 75) when
    another poll holds the lock, ConfigError (exit 2) for an unusable configuration
    (checked before the lock is taken). Must be called outside a running event loop.
    """
    db_path = Path(db_path)
    configured = configured_sources(settings)
    started = time.perf_counter()
    prewarm_tls()
    with (
        PollLock(db_path),
        Store.open(db_path, busy_timeout=settings.poll.database_busy_timeout_seconds) as store,
    ):
        return _poll(store, settings, configured, started, options)


def poll_store(store: Store, settings: Settings, **options: Unpack[PollOptions]) -> PollReport:
    """:func:`run_poll` on an open store whose poll lock the caller already holds.

    ``run`` holds one :class:`~collector.poll_lock.PollLock` and one store across
    mail, poll, assessment and packs, and polls through this::

        with PollLock(db_path, command="run"), Store.open(db_path) as store:  # doctest: +SKIP
            report = poll_store(store, settings, progress=False)
    """
    prewarm_tls()
    return _poll(store, settings, configured_sources(settings), time.perf_counter(), options)


def _poll(
    store: Store,
    settings: Settings,
    configured: tuple[dict[str, Source], list[str]],
    started: float,
    options: PollOptions,
) -> PollReport:
    selection = Selection(
        all_shipments=options.get("all_shipments", False),
        carriers=tuple(c.strip().lower() for c in options.get("carriers", ()) if c.strip()),
        shipments=tuple(s.strip() for s in options.get("shipments", ()) if s.strip()),
        limit=settings.poll.limit if (limit := options.get("limit")) is None else limit,
        shard=options.get("shard"),
    )
    run_id = options.get("run_id")
    progress = options.get("progress")
    sources, warnings = configured
    # A poll lives on the wall clock: which shipments are due, the run's times and
    # every fetch time are real instants. --now moves only the evaluation.
    now = clock.wall()
    report = PollReport(run_id=run_id or f"poll-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}")
    report.warnings.extend(warnings)
    routed, unserved = _select(store, settings, now, selection, sources)
    report.selected = sum(len(v) for v in routed.values()) + len(unserved)
    report.unserved = len(unserved)
    report.unserved_examples = [f"{s.order_id}/{s.number}" for s in unserved[:EXAMPLES]]
    if report.selected and not sources:
        raise ConfigError(
            "no tracking source is configured: add a [sources.<name>] table "
            "(e.g. [sources.17track] with api_key_env, or [sources.cainiao])"
            + "".join(f"; {w}" for w in warnings)
        )
    if routed and store.path is not None:
        check_room_for_evidence(Path(store.path), settings.poll.min_free_megabytes)
    start_run(store, report.run_id, "poll", now)
    context = _RunContext(
        store, settings, now, report, options.get("transports") or {}, sources=sources
    )
    show = sys.stderr.isatty() if progress is None else progress
    asyncio.run(_poll_passes(context, routed, show))
    report.seconds = time.perf_counter() - started
    finish_run(store, report.run_id, clock.wall(), report.as_dict())
    return report


def check_room_for_evidence(db_path: Path, min_free_megabytes: float) -> None:
    """Raise :class:`NoRoomForEvidence` when the database's disk is nearly full.

    >>> check_room_for_evidence(Path("."), 0)
    """
    free = shutil.disk_usage(db_path.resolve().parent).free
    if free < min_free_megabytes * 1_000_000:
        raise NoRoomForEvidence(
            f"not polling: {free / 1_000_000:.0f} MB free on the disk of {db_path}, "
            f"[poll] min_free_megabytes is {min_free_megabytes:g}; free some room (the "
            "answers of a poll are kept as evidence) and run again"
        )


def _select(
    store: Store,
    settings: Settings,
    now: datetime,
    selection: Selection,
    sources: Mapping[str, Source],
) -> tuple[dict[str, list[_Shipment]], list[_Shipment]]:
    """The due shipments, filtered, routed and limited: (by source, unserved)."""
    rows = store.query(_DUE_SQL, {"all": selection.all_shipments, "now": now})
    picked = [_Shipment(int(r[0]), str(r[1]), str(r[2]), r[3], r[4]) for r in rows]
    if selection.shard is not None:
        index, count = selection.shard
        picked = [s for s in picked if shard_of(s.order_id, s.number, count) == index]
    if selection.shipments:
        # The one resolver of user-given ids (an unknown or ambiguous id is an error).
        from collector.resolve import resolve_shipments

        ids = set(resolve_shipments(store, selection.shipments).shipment_ids)
        picked = [s for s in picked if s.shipment_id in ids]
    routed, unserved = route(picked, settings, sources)
    routed, unserved = route_last_mile(
        store, settings, sources, picked=picked, routed=routed, unserved=unserved
    )
    if selection.carriers:
        wanted = set(selection.carriers)
        by_source = {s.shipment_id for name in wanted for s in routed.get(name, [])}
        keep = {
            s.shipment_id
            for s in picked
            if s.shipment_id in by_source
            or (s.courier or "").lower() in wanted
            or (s.carrier or "").lower() in wanted
        }
        routed = {k: [s for s in v if s.shipment_id in keep] for k, v in routed.items()}
        unserved = [s for s in unserved if s.shipment_id in keep]
        picked = [s for s in picked if s.shipment_id in keep]
    if selection.limit is not None:
        routed, unserved = _apply_limit(picked, routed, unserved, selection.limit)
    return {k: v for k, v in routed.items() if v}, unserved


def _apply_limit(
    picked: Sequence[_Shipment],
    routed: dict[str, list[_Shipment]],
    unserved: list[_Shipment],
    limit: int,
) -> tuple[dict[str, list[_Shipment]], list[_Shipment]]:
    keep_ids: set[int] = set()
    candidates = {s.shipment_id for v in routed.values() for s in v} | {
        s.shipment_id for s in unserved
    }
    for shipment in picked:  # due order: new first, then stalest
        if len(keep_ids) >= limit:
            break
        if shipment.shipment_id in candidates:
            keep_ids.add(shipment.shipment_id)
    return (
        {k: [s for s in v if s.shipment_id in keep_ids] for k, v in routed.items()},
        [s for s in unserved if s.shipment_id in keep_ids],
    )


@dataclass(frozen=True)
class _RunContext:
    store: Store
    settings: Settings
    now: datetime
    report: PollReport
    transports: Mapping[str, Transport]
    limiters: dict[str, TokenBucket] = field(default_factory=dict)
    sources: Mapping[str, Source] = field(default_factory=dict)


async def _poll_passes(
    context: _RunContext, routed: Mapping[str, list[_Shipment]], show_progress: bool
) -> None:
    """The run's polls, in one event loop (each source's rate limiter belongs to it).

    Numbers handed over are followed while the run goes on (:class:`_Feeds`); a
    handover that only showed once the feeds had closed (a recheck's answer) is
    followed in a short second pass.
    """
    fed = await _poll_sources(context, routed, show_progress)
    polled = {name: [*routed.get(name, ()), *fed.get(name, ())] for name in {*routed, *fed}}
    report = context.report
    follow = handed_over_in_run(
        context.store, context.settings, context.sources, report.run_id, polled
    )
    if follow:
        await _poll_sources(context, follow, show_progress)


async def _poll_sources(
    context: _RunContext, routed: Mapping[str, list[_Shipment]], show_progress: bool
) -> dict[str, list[_Shipment]]:
    """Poll ``routed`` and the numbers handed over meanwhile; returns the latter."""
    if not routed:
        return {}
    report = context.report
    writer = EvidenceWriter(context.store, run_id=report.run_id, poll=context.settings.poll)
    bar = _ProgressBar(show_progress)
    feeds = _Feeds(routed)
    # One writer thread: DuckDB gets one write at a time, the event loop stays free.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-writer") as executor, bar:
        sink = _WriteQueue(writer, executor, context.now)
        runs = []
        # The delivering carriers' own sources run too, for the numbers handed over
        # during the run (a source with nothing to do sends nothing).
        names = [*routed, *(n for n, s in context.sources.items() if s.carrier_own)]
        for name in dict.fromkeys(names):
            # A second pass (the last mile followed in the same run) adds to the first.
            summary = report.sources.get(name) or SourceSummary(name)
            run = _SourceRun(
                source=context.sources[name],
                shipments=list(routed.get(name, ())),
                summary=summary,
                context=context,
                sink=sink,
                executor=executor,
                bar=bar,
                feeds=feeds,
            )
            feeds.open(name, run.source.effective_batch_size, follower=run.source.carrier_own)
            runs.append(run.run())
        try:
            await asyncio.gather(*runs)
        finally:
            await sink.close()
    return feeds.fed


class _Feeds:
    """Numbers handed from one source to another while a run goes on.

    An answer that names a handover (Cainiao's ``realMailNo``, 17TRACK's second
    provider) is written, and the last-mile number goes at once to the delivering
    carrier's source, whose workers take it in full batches. So that carrier's
    calls overlap the aggregator's and the run's floor stays the slowest source's
    own. A source *holds* the feeds while it polls its own numbers (and asks again
    for pending ones): its answers may hand more over. A partial batch leaves only
    when nothing can add to it (no holds, no batch in flight, no full batch waiting
    anywhere); the feeds close when everything is empty and idle.
    """

    def __init__(self, routed: Mapping[str, Sequence[_Shipment]]) -> None:
        self._seen = {(n, s.shipment_id, s.number) for n, items in routed.items() for s in items}
        self._queues: dict[str, list[_Shipment]] = {}
        self._sizes: dict[str, int] = {}
        self._holds = 0
        self._busy = 0
        self._changed = asyncio.Condition()
        #: Everything fed during the run, by source.
        self.fed: dict[str, list[_Shipment]] = {}
        #: The sources numbers may be handed over to.
        self.followers: set[str] = set()

    def open(self, name: str, size: int, *, follower: bool) -> None:
        """A source that takes numbers (and holds the feeds until :meth:`release`);
        a ``follower`` (a carrier's own source) may be handed numbers."""
        self._queues[name], self._sizes[name] = [], size
        self._holds += 1
        self.followers |= {name} if follower else set()

    async def add(self, legs: Mapping[str, Sequence[_Shipment]]) -> None:
        """Queue last-mile legs not queued or polled in this run before."""
        async with self._changed:
            for name, items in legs.items():
                queue = self._queues.get(name)
                for leg in items:
                    key = (name, leg.shipment_id, leg.number)
                    if queue is None or key in self._seen:
                        continue
                    self._seen.add(key)
                    queue.append(leg)
                    self.fed.setdefault(name, []).append(leg)
            self._changed.notify_all()

    async def put(self, name: str, items: Sequence[_Shipment]) -> None:
        """Queue a source's own numbers (already routed to it) with what is fed to it."""
        async with self._changed:
            self._queues[name].extend(items)
            self._changed.notify_all()

    async def release(self) -> None:
        """One source has polled its own numbers."""
        async with self._changed:
            self._holds -= 1
            self._changed.notify_all()

    async def finish(self) -> None:
        """A batch from :meth:`take` is written (and its handovers fed)."""
        async with self._changed:
            self._busy -= 1
            self._changed.notify_all()

    async def take(self, name: str, size: int) -> list[_Shipment] | None:
        """The next batch for ``name`` (full unless nothing can fill it); None: closed."""
        async with self._changed:
            while True:
                queue = self._queues[name]
                idle = self._holds == 0 and self._busy == 0
                waiting = any(len(q) >= self._sizes[n] for n, q in self._queues.items())
                if len(queue) >= size or (queue and idle and not waiting):
                    batch, queue[:size] = queue[:size], []
                    self._busy += 1
                    return batch
                if idle and not any(self._queues.values()):
                    return None
                await self._changed.wait()


class _WriteQueue:
    """Writes completed batches in the writer thread, several at once when they queue up.

    A batch is written as soon as the writer is free; batches that completed while
    it was busy go in together, in one transaction (group commit). A crash loses
    only batches not yet written, as it would without grouping.
    """

    def __init__(self, writer: EvidenceWriter, executor: ThreadPoolExecutor, now: datetime):
        self._writer = writer
        self._executor = executor
        # The run's start on the wall clock: the state of every batch is derived at
        # it, so that `rebuild` and `verify` can replay the run exactly.
        self._now = now
        self._queue: asyncio.Queue[tuple[BatchItem, asyncio.Future[BatchWrite]] | None] = (
            asyncio.Queue()
        )
        #: The first write that failed (a full disk, a read-only file): from then on no
        #: request is sent, since its answer could not be kept as evidence.
        self.failure: BaseException | None = None
        self._task = asyncio.create_task(self._run())

    def check(self) -> None:
        """Raise the failure of an earlier write, if any (before sending a request)."""
        if self.failure is not None:
            raise self.failure

    async def write(self, item: BatchItem) -> BatchWrite:
        """Queue one batch and wait until it is in the database."""
        done: asyncio.Future[BatchWrite] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, done))
        return await done

    async def close(self) -> None:
        """Finish the writes queued so far and stop."""
        await self._queue.put(None)
        await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        closing = False
        while not closing:
            entry = await self._queue.get()
            if entry is None:
                return
            pending = [entry]
            while not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    closing = True
                    break
                pending.append(more)
            try:
                results = await loop.run_in_executor(
                    self._executor,
                    self._writer.write_batches,
                    [item for item, _ in pending],
                    self._now,
                )
            except Exception as exc:  # each waiting batch sees the failure
                self.failure = self.failure or exc
                for _, done in pending:
                    done.set_exception(exc)
                continue
            for (_, done), result in zip(pending, results, strict=True):
                done.set_result(result)


class _ProgressBar:
    """A rich progress bar on stderr with one task per source (or nothing)."""

    def __init__(self, show: bool) -> None:
        self._progress: Any = None
        if show:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            from collector.console import make_console

            self._progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=make_console(stderr=True),
                transient=False,
            )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _ProgressBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def add(self, name: str, total: int) -> None:
        if self._progress is not None:
            self._tasks[name] = self._progress.add_task(name, total=total)

    def advance(self, name: str, count: int) -> None:
        if self._progress is not None and name in self._tasks:
            self._progress.advance(self._tasks[name], count)


@dataclass
class _SourceRun:
    """Polls one source's shipments: batches, in-flight limit, stop rules, writes."""

    source: Source
    shipments: list[_Shipment]
    summary: SourceSummary
    context: _RunContext
    sink: _WriteQueue
    executor: ThreadPoolExecutor
    bar: _ProgressBar
    feeds: _Feeds
    _failed_in_a_row: int = 0
    #: Numbers answered "not looked up yet" in this run, and when the last one was.
    _pending: dict[str, None] = field(default_factory=dict)
    _pending_at: float = 0.0
    _client: SourceClient | None = None
    #: Tracking number -> the ids of the shipments that carry it, in this run.
    _ids: dict[str, list[int]] = field(default_factory=dict)
    _by_id: dict[int, _Shipment] = field(default_factory=dict)

    def _adopt(self, shipments: Sequence[_Shipment]) -> list[str]:
        """Take ``shipments`` on (counted in the summary); their numbers new to this run."""
        fresh = [s for s in shipments if s.shipment_id not in self._ids.get(s.number, ())]
        new = list(dict.fromkeys(s.number for s in fresh if s.number not in self._ids))
        for shipment in fresh:
            self._ids.setdefault(shipment.number, []).append(shipment.shipment_id)
            self._by_id[shipment.shipment_id] = shipment
        if fresh:
            # A carrier's source that only gets handed-over numbers is reported once it does.
            self.context.report.sources.setdefault(self.source.name, self.summary)
            self.summary.shipments += len(fresh)
            self.summary.numbers += len(new)
            self.bar.add(self.source.name, len(new))
        return new

    def _token_exchanges(self) -> list[Exchange]:
        """The OAuth2 token requests sent since the last batch, as ``token`` polls."""
        if self._client is None or not self._client.token_responses:
            return []
        responses = list(self._client.token_responses)
        self._client.token_responses.clear()
        return [Exchange(r, token_verdict(r)) for r in responses]

    async def run(self) -> None:
        """Poll this source's own numbers, then the numbers handed over to it."""
        started = time.perf_counter()
        released = False
        try:
            numbers = self._adopt(self.shipments)
            client, gate = await self._client_for()
            async with client:
                try:
                    await self._own(numbers, client, gate)
                finally:
                    released = True
                    await self.feeds.release()
                await self._follow(client, gate)
        finally:
            if not released:
                await self.feeds.release()
            self.summary.seconds += time.perf_counter() - started

    async def _own(self, numbers: list[str], client: SourceClient, gate: asyncio.Semaphore) -> None:
        name = self.source.name
        size = self.source.effective_batch_size
        batches = [numbers[i : i + size] for i in range(0, len(numbers), size)]
        if self.source.carrier_own and batches and len(batches[-1]) < size:
            # The last, partial batch waits in the feeds, where numbers handed over
            # later fill it: one call fewer than sending it now and them apart.
            tail = batches.pop()
            await self.feeds.put(name, [self._by_id[i] for n in tail for i in self._ids[n]])
        loop = asyncio.get_running_loop()
        known = await loop.run_in_executor(
            self.executor, registered_numbers, self.context.store, name, numbers
        )

        async def one(batch: list[str]) -> None:
            async with gate:
                if self.summary.stopped:
                    self.summary.skipped += len(batch)
                    self.bar.advance(name, len(batch))
                    return
                await self._batch(batch, known, client, self._ids)

        await asyncio.gather(*(one(b) for b in batches))
        await self._recheck_pending(client, gate, self._ids)
        self._pending.clear()  # asked again as often as [poll] pending_rechecks says

    async def _follow(self, client: SourceClient, gate: asyncio.Semaphore) -> None:
        """Poll the numbers other sources hand over to this one, until the feeds close."""
        name = self.source.name
        size = self.source.effective_batch_size
        loop = asyncio.get_running_loop()

        async def worker() -> None:
            while (legs := await self.feeds.take(name, size)) is not None:
                try:
                    self._adopt(legs)
                    numbers = list(dict.fromkeys(leg.number for leg in legs))
                    if self.summary.stopped:
                        self.summary.skipped += len(numbers)
                        self.bar.advance(name, len(numbers))
                        continue
                    known = await loop.run_in_executor(
                        self.executor, registered_numbers, self.context.store, name, numbers
                    )
                    async with gate:
                        await self._batch(numbers, known, client, self._ids)
                finally:
                    await self.feeds.finish()

        await asyncio.gather(*(worker() for _ in range(self._in_flight)))
        if self._pending:  # handed-over numbers the source had not looked up yet
            await self._recheck_pending(client, gate, self._ids)

    async def _hand_over(self, outcome: BatchOutcome, written: BatchWrite) -> None:
        """Feed the last-mile numbers of the handovers this written batch recorded."""
        if not self.feeds.followers or not any(
            r.outcome is Outcome.OK for r in outcome.results.values()
        ):
            return  # no carrier's own source to follow to, or nothing answered
        context = self.context
        loop = asyncio.get_running_loop()
        ids = await loop.run_in_executor(
            self.executor, handed_over_by, context.store, written.poll_ids
        )
        shipments = [self._by_id[i] for i in sorted(ids) if i in self._by_id]
        if not shipments:
            return
        legs = await loop.run_in_executor(
            self.executor,
            last_mile_legs,
            context.store,
            context.settings,
            context.sources,
            shipments,
        )
        if legs:
            await self.feeds.add(legs)

    @property
    def _in_flight(self) -> int:
        # Enough batches in flight to keep the allowance busy at ~1 s latency, bounded.
        return max(2, min(32, math.ceil(self.source.rate) * 2))

    async def _client_for(self) -> tuple[SourceClient, asyncio.Semaphore]:
        name = self.source.name
        loop = asyncio.get_running_loop()
        store = self.context.store
        day_start = self.source.quota_day_start(self.context.now)
        used = await loop.run_in_executor(
            self.executor, requests_today, store, name, self.context.now, day_start
        )
        rate = self.source.rate
        in_flight = self._in_flight
        config = self.source.config
        client = SourceClient(
            name,
            config,
            rate=rate,
            secret=config.secret(),
            auth=self.source.auth,
            credentials=config.client_credentials(),
            token_url=self.source.token_url,
            transport=self.context.transports.get(name),
            max_connections=in_flight,
            # One pacing per source for the whole run, across its passes.
            limiter=self.context.limiters.setdefault(name, TokenBucket(rate)),
            quota_used_today=used,
            daily_quota=self.source.daily_quota,
            quota_resets_at=day_start + timedelta(days=1),
            quota_signal=self.source.quota_exhausted,
            ready=self.sink.check,
        )
        refused = await loop.run_in_executor(
            self.executor, quota_refusal_since, store, name, day_start
        )
        if refused is not None:
            # Said earlier in this quota day: asking again would only repeat the 429.
            client.quota.exhaust(refused.rsplit(" (", 1)[0] + ", answered earlier today")
        self._client = client
        return client, asyncio.Semaphore(in_flight)

    async def _recheck_pending(
        self, client: SourceClient, gate: asyncio.Semaphore, ids_by_number: Mapping[str, list[int]]
    ) -> None:
        """Ask again for numbers the source had not looked up yet, so that a new
        shipment gets its first events from the run that registers it."""
        poll = self.context.settings.poll
        wait = poll.pending_recheck_seconds
        size = self.source.effective_batch_size
        for _ in range(poll.pending_rechecks):
            numbers = list(self._pending)
            if not numbers or self.summary.stopped:
                return
            self._pending.clear()
            await asyncio.sleep(max(0.0, self._pending_at + wait - time.monotonic()))

            async def again(batch: list[str]) -> None:
                async with gate:
                    if not self.summary.stopped:
                        await self._batch(batch, frozenset(), client, ids_by_number, recheck=True)

            await asyncio.gather(
                *(again(numbers[i : i + size]) for i in range(0, len(numbers), size))
            )
            wait *= 2

    async def _split(
        self,
        batch: list[str],
        known: frozenset[str],
        client: SourceClient,
        ids_by_number: Mapping[str, list[int]],
        outcome: BatchOutcome,
    ) -> None:
        """One answer over the size cap: ask for each half of the batch on its own.

        The oversized attempt is stored as it happened (its poll row names the cap and
        every number it carried), written like any batch so that ``rebuild`` replays
        it the same way; the halves, written after it, settle each number's state, so
        one huge history fails only its own number, never its 39 neighbours. Only the
        halves' answers are counted in the summary.
        """
        self.summary.split_batches += 1
        self.summary.requests += len(outcome.exchanges)
        await self.sink.write(BatchItem(self.source.name, outcome, ids_by_number))
        known = known | frozenset(outcome.registered)
        half = len(batch) // 2
        for part in (batch[:half], batch[half:]):
            if not self.summary.stopped:
                await self._batch(part, known, client, ids_by_number)

    async def _batch(
        self,
        batch: list[str],
        known: frozenset[str],
        client: SourceClient,
        ids_by_number: Mapping[str, list[int]],
        *,
        recheck: bool = False,
    ) -> None:
        name = self.source.name
        self.sink.check()  # an answer that cannot be stored is not asked for
        try:
            if recheck:
                rechecked = await self.source.recheck(batch, send=client.send)
                if rechecked is None:
                    return
                outcome = rechecked
            else:
                outcome = await self.source.track(
                    batch, registered=frozenset(n for n in batch if n in known), send=client.send
                )
        except ParcelproofError as exc:  # a source bug must not end the whole run
            outcome = BatchOutcome(stop=f"{exc}")
        outcome.exchanges[:0] = self._token_exchanges()
        if not recheck and len(batch) > 1 and _too_large(outcome):
            await self._split(batch, known, client, ids_by_number, outcome)
            return
        written = await self.sink.write(BatchItem(name, outcome, ids_by_number))
        await self._hand_over(outcome, written)
        summary = self.summary
        summary.batches += 1
        summary.requests += len(outcome.exchanges)
        summary.new_events += written.new_events
        summary.new_documents += written.new_documents
        for number, result in outcome.results.items():
            key = result.outcome.value
            summary.outcomes[key] = summary.outcomes.get(key, 0) + 1
            summary.unreadable += result.code == UNREADABLE
            if result.pending:
                self._pending[number] = None
                self._pending_at = time.monotonic()
        if recheck:
            # The first answer of these numbers (ok, pending) was counted already.
            summary.rechecked += len(outcome.results)
            summary.outcomes[Outcome.OK.value] -= len(outcome.results)
        else:
            summary.skipped += sum(1 for n in batch if n not in outcome.results)
        transport_failed = [e for e in outcome.exchanges if e.response.error is not None]
        # A request failed when no answer came, or the answer as a whole was unusable
        # (per-number rejections are data, not failures).
        summary.failed_requests += sum(
            1
            for e in outcome.exchanges
            if e.response.error is not None
            or (e.parsed.outcome is Outcome.ERROR and e.parsed.message is not None)
        )
        if outcome.exchanges and len(transport_failed) == len(outcome.exchanges):
            self._failed_in_a_row += 1
        else:
            self._failed_in_a_row = 0
        if outcome.stop and not summary.stopped:
            summary.stopped = outcome.stop
        elif self._failed_in_a_row >= MAX_FAILED_BATCHES_IN_A_ROW and not summary.stopped:
            last = transport_failed[-1].response.error
            summary.stopped = (
                f"{self._failed_in_a_row} batches in a row got no answer (last: {last}); "
                "stopping this source for the run"
            )
        if not recheck:
            self.bar.advance(name, len(batch))


def _too_large(outcome: BatchOutcome) -> bool:
    """Whether a request of the batch got an answer over ``max_body_bytes``."""
    return any(isinstance(e.response.error, ResponseTooLarge) for e in outcome.exchanges)
