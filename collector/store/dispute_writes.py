"""Writes of the dispute log: one appended row per step, never an update.

``dispute_steps`` is append-only like the evidence: a mistaken step stays and a new
step with ``corrects`` replaces it (:mod:`analysis.cases` reads the log).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

from collector.store import Store


@dataclass(frozen=True)
class StepRow:
    """One step as stored (``dispute_steps`` less its id)."""

    order_id: str
    step: str
    occurred_at: datetime
    recorded_at: datetime
    ask: str | None = None
    outcome: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    due_at: datetime | None = None
    note: str | None = None
    pack_dir: str | None = None
    pack_manifest_sha256: str | None = None
    new_tracking_number: str | None = None
    linked_shipment_id: int | None = None
    corrects: int | None = None


def append_step(store: Store, row: StepRow) -> int:
    """Append ``row`` to the dispute log and return its ``step_id``."""
    values = asdict(row)
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    found = store.conn.execute(
        f"INSERT INTO dispute_steps ({columns}) VALUES ({marks}) RETURNING step_id",
        list(values.values()),
    ).fetchone()
    assert found is not None
    return int(found[0])
