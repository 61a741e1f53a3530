"""Where the database is, without importing the store (so commands start fast).

>>> default_db_path("x.duckdb")
PosixPath('x.duckdb')
"""

from __future__ import annotations

import os
from pathlib import Path

#: The database when neither ``--db`` nor ``PARCELPROOF_DB`` says otherwise.
DEFAULT_DB_PATH = Path("data") / "parcelproof.duckdb"


def default_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--db``, then ``PARCELPROOF_DB``, then ``data/parcelproof.duckdb``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("PARCELPROOF_DB")
    return Path(env) if env else DEFAULT_DB_PATH
