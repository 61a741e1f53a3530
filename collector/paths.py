"""Where the database, the configuration and the packs are, without importing the store
(so commands start fast).

With no ``--db``/``--config`` and no ``PARCELPROOF_DB``/``PARCELPROOF_CONFIG``, the
files are in the user's own home (the XDG base directories), never in whatever folder
cron or a shell happened to start in:

- the database: ``$XDG_DATA_HOME/parcelproof/parcelproof.duckdb``
  (``~/.local/share/parcelproof/parcelproof.duckdb``); a ``data/parcelproof.duckdb``
  that already exists in the working folder (a checkout used before per-user homes)
  is still used, so that its data never seems to vanish;
- the configuration: ``./parcelproof.toml`` when present, else
  ``$XDG_CONFIG_HOME/parcelproof/parcelproof.toml`` (``~/.config/parcelproof/``) when
  present, else none (the defaults);
- evidence packs: ``reports/`` beside the database (``[reports] out_dir`` moves it).

>>> default_db_path("x.duckdb")
PosixPath('x.duckdb')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP = "parcelproof"
DB_NAME = "parcelproof.duckdb"
CONFIG_NAME = "parcelproof.toml"
#: The database of a checkout used before per-user homes, relative to the working folder.
LEGACY_DB_PATH = Path("data") / DB_NAME


def _xdg(variable: str, fallback: str) -> Path:
    # The XDG spec: a relative value is invalid and must be ignored.
    value = os.environ.get(variable)
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / fallback
    return base / APP


def data_home() -> Path:
    """``$XDG_DATA_HOME/parcelproof`` (default ``~/.local/share/parcelproof``)."""
    return _xdg("XDG_DATA_HOME", ".local/share")


def config_home() -> Path:
    """``$XDG_CONFIG_HOME/parcelproof`` (default ``~/.config/parcelproof``)."""
    return _xdg("XDG_CONFIG_HOME", ".config")


def user_db_path() -> Path:
    """The per-user database: ``~/.local/share/parcelproof/parcelproof.duckdb``."""
    return data_home() / DB_NAME


def demo_db_path() -> Path:
    """The demo's own database, apart from real orders: ``<data home>/demo/demo.duckdb``."""
    return data_home() / "demo" / "demo.duckdb"


@dataclass(frozen=True)
class Located:
    """A path and why it was chosen (``doctor`` says both)."""

    path: Path
    why: str


def locate_db(explicit: str | os.PathLike[str] | None = None) -> Located:
    """The database: ``--db``, ``PARCELPROOF_DB``, an existing ``./data/parcelproof.duckdb``,
    then the per-user one."""
    if explicit:
        return Located(Path(explicit), "--db")
    env = os.environ.get("PARCELPROOF_DB")
    if env:
        return Located(Path(env), "PARCELPROOF_DB")
    if LEGACY_DB_PATH.is_file():
        return Located(LEGACY_DB_PATH, "an existing data/parcelproof.duckdb in this folder")
    return Located(user_db_path(), "the per-user default")


def default_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--db``, then ``PARCELPROOF_DB``, then the per-user database (see the module)."""
    return locate_db(explicit).path


def config_candidates() -> list[Path]:
    """Where a configuration file is looked for when none is named, in order."""
    return [Path.cwd() / CONFIG_NAME, config_home() / CONFIG_NAME]


def reports_dir(out_dir: str | None, *, config_path: Path | None, db_path: Path | None) -> Path:
    """Where packs go: ``out_dir`` (relative to the config file's folder), else beside
    the database.

    >>> reports_dir(None, config_path=None, db_path=Path("/srv/pp/p.duckdb"))
    PosixPath('/srv/pp/reports')
    >>> reports_dir("packs", config_path=Path("/etc/pp/parcelproof.toml"), db_path=None)
    PosixPath('/etc/pp/packs')
    """
    if out_dir:
        path = Path(out_dir).expanduser()
        if not path.is_absolute() and config_path is not None:
            path = config_path.parent / path
        return path
    return (db_path.parent if db_path is not None else Path()) / "reports"
