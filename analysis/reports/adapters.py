"""The one place where packs call the flag rules and the dispute windows.

Packs never compute a flag or a deadline themselves: they call
:func:`analysis.flags.evaluate_flags` and :func:`analysis.disputes.dispute_windows`
through these two functions, so that a change of either API is absorbed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from analysis import disputes, flags
from analysis.reports.facts import Dispute
from collector.config import Settings
from collector.store import Store


def evaluate_flags(store: Store, now: datetime, settings: Settings) -> flags.Evaluation:
    """Evaluate every flag rule at ``now`` and record the result in the flag history."""
    return flags.evaluate_flags(store, now, settings)


def dispute_windows(
    store: Store, shipment_ids: Sequence[int], *, now: datetime, settings: Settings
) -> dict[int, Dispute]:
    """Opens-at, deadline and recommended action of each requested shipment.

    One statement over all shipments (it reads the open flags, so evaluate first);
    a shipment without a row is simply missing from the result.
    """
    frame = disputes.dispute_windows(store, now, settings)
    wanted = frame.filter(frame["shipment_id"].is_in(list(set(shipment_ids))))
    out: dict[int, Dispute] = {}
    for row in wanted.iter_rows(named=True):
        rule = row.get("rule")
        out[int(row["shipment_id"])] = Dispute(
            marketplace=str(row.get("marketplace") or ""),
            opens_at=_aware(row.get("opens_at")),
            deadline=_aware(row.get("deadline")),
            action=row.get("action"),
            action_detail=row.get("action_detail"),
            rule=rule,
            name=disputes.DISPUTE_NAMES.get(str(rule), "dispute"),
        )
    return out


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
