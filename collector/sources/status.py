"""The canonical tracking status: defined in :mod:`collector.model` (kept here for the
modules that import it from its first home)."""

from collector.model import FINAL_STATUSES, Status, SubStatus

__all__ = ["FINAL_STATUSES", "Status", "SubStatus"]
