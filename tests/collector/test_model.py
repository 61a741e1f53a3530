"""The domain model: named status groups and the SQL lists made from them."""

from __future__ import annotations

import pytest

from collector.model import FINAL_STATUSES, STALL_EXEMPT, Status, status_in


def test_sql_lists_follow_the_enum_and_refuse_unknown_statuses() -> None:
    assert status_in("s", FINAL_STATUSES) == "s IN ('returned', 'delivered', 'expired')"
    assert status_in("s", [Status.EXCEPTION], negate=True) == "s NOT IN ('exception')"
    with pytest.raises(ValueError, match="not a status: deliverd"):
        status_in("s", ["deliverd"])


def test_groups_nest_as_the_rules_expect() -> None:
    assert FINAL_STATUSES < STALL_EXEMPT
    assert Status.INFO_RECEIVED in STALL_EXEMPT
    assert Status.DELIVERED.is_final
