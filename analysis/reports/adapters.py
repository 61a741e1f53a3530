"""The one place where packs call the assessment (flags and dispute windows).

Packs never compute a flag or a deadline themselves: they read one
:func:`analysis.assess.assess` through these functions, so that the open flags a
pack lists and the advice it gives come from the same evaluation, and a change of
that API is absorbed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from analysis import disputes
from analysis.assess import Assessment
from analysis.assess import assess as _assess
from analysis.assess import assess_recorded as _assess_recorded
from analysis.reports.facts import Dispute
from collector.config import Settings
from collector.store import Store


def assess(
    store: Store,
    now: datetime,
    settings: Settings,
    shipment_ids: Sequence[int] | None = None,
    *,
    record: bool = True,
) -> Assessment:
    """The assessment at ``now`` (recorded in the flag history unless ``record`` is off)."""
    return _assess(store, now, settings, shipment_ids, record=record)


def assess_recorded(
    store: Store, now: datetime, settings: Settings, shipment_ids: Sequence[int] | None = None
) -> Assessment:
    """The assessment as the flag history recorded it at ``now`` (no rule runs)."""
    return _assess_recorded(store, now, settings, shipment_ids)


def dispute_windows(assessment: Assessment, shipment_ids: Sequence[int]) -> dict[int, Dispute]:
    """Opens-at, deadline and recommended action of each requested shipment, from the
    assessment's own flags; a shipment without a row is simply missing."""
    frame = assessment.disputes
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
            last_day=_aware(row.get("last_day")),
            polled=bool(row.get("polled", True)),
            opens_date=row.get("opens_date"),
            deadline_date=row.get("deadline_date"),
            last_day_date=row.get("last_day_date"),
        )
    return out


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
