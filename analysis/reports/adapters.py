"""The one place where packs call the flag rules and the dispute windows.

Packs never compute a flag or a deadline themselves: they call
:func:`analysis.flags.evaluate_flags` and :mod:`analysis.disputes` through these two
functions, so that a change of either API is absorbed here.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from types import ModuleType

from analysis.reports.facts import Dispute
from collector.config import Settings
from collector.store import Store

log = logging.getLogger(__name__)


def _optional(module: str) -> ModuleType | None:
    # Imported by name so that packs keep working in a tree where the module is not
    # there yet; any error *inside* the module still surfaces.
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None


def evaluate_flags(store: Store, now: datetime, settings: Settings) -> bool:
    """Evaluate every flag rule at ``now`` (writes the ``flags`` table).

    Returns False when the rules are not available (the pack then shows the flags
    already stored).
    """
    flags = _optional("analysis.flags")
    if flags is None:
        log.warning("analysis.flags is not available; packs show the stored flags")
        return False
    flags.evaluate_flags(store, now, settings)
    return True


def dispute_windows(
    store: Store, shipment_ids: Sequence[int], *, now: datetime, settings: Settings
) -> dict[int, Dispute]:
    """Opens-at, deadline and recommended action per shipment, from analysis.disputes."""
    disputes = _optional("analysis.disputes")
    if disputes is None:
        return {}
    # One statement over all shipments (it reads the open flags, so evaluate first).
    frame = disputes.dispute_windows(store, now, settings)
    names: dict[str, str] = getattr(disputes, "DISPUTE_NAMES", {})
    wanted = set(shipment_ids)
    out: dict[int, Dispute] = {}
    for row in frame.filter(frame["shipment_id"].is_in(list(wanted))).iter_rows(named=True):
        rule = row.get("rule")
        out[int(row["shipment_id"])] = Dispute(
            marketplace=str(row.get("marketplace") or ""),
            opens_at=_aware(row.get("opens_at")),
            deadline=_aware(row.get("deadline")),
            action=row.get("action"),
            action_detail=row.get("action_detail"),
            rule=rule,
            name=names.get(str(rule), "dispute") if rule else "dispute",
        )
    return out


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
