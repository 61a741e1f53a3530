"""The registry of tracking sources, by name.

Built-in sources are registered explicitly below. Third-party sources are found
through the entry point group ``parcelproof.sources`` (name → a :class:`Source`
subclass), loaded lazily, only when a name is not built in::

    # in a plug-in's pyproject.toml
    [project.entry-points."parcelproof.sources"]
    mycarrier = "my_package.tracking:MyCarrierSource"

    >>> source_class("cainiao").batch_size
    10
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from collector.config import SourceConfig
from collector.errors import ConfigError
from collector.sources.base import Source
from collector.sources.cainiao import Cainiao
from collector.sources.dhl import Dhl
from collector.sources.fedex import Fedex
from collector.sources.seventeentrack import SeventeenTrack
from collector.sources.ups import Ups
from collector.sources.usps import Usps

ENTRY_POINT_GROUP = "parcelproof.sources"

#: The built-in sources, one line each (a new source: its folder, one line here).
BUILTIN: dict[str, type[Source]] = {
    SeventeenTrack.name: SeventeenTrack,
    Cainiao.name: Cainiao,
    Usps.name: Usps,
    Ups.name: Ups,
    Fedex.name: Fedex,
    Dhl.name: Dhl,
}

_plugins: dict[str, type[Source]] = {}


def source_class(name: str) -> type[Source]:
    """The :class:`Source` class registered as ``name``; ConfigError when none is."""
    if name in BUILTIN:
        return BUILTIN[name]
    if name in _plugins:
        return _plugins[name]
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name != name:
            continue
        try:
            loaded = entry.load()
        except Exception as exc:  # a broken plug-in is a configuration problem
            raise ConfigError(
                f"source {name!r}: cannot load entry point {entry.value}: {exc}"
            ) from exc
        if not (isinstance(loaded, type) and issubclass(loaded, Source)):
            raise ConfigError(f"source {name!r}: entry point {entry.value} is not a Source class")
        _plugins[name] = loaded
        return loaded
    raise ConfigError(f"unknown source {name!r} (known: {', '.join(available_sources())})")


def create_source(name: str, config: SourceConfig | None = None) -> Source:
    """An instance of source ``name`` bound to its ``[sources.<name>]`` settings."""
    return source_class(name)(config)


def available_sources() -> list[str]:
    """Built-in names, then the names of installed plug-ins (without loading them)."""
    names = list(BUILTIN)
    names += sorted({e.name for e in entry_points(group=ENTRY_POINT_GROUP)} - set(names))
    return names


def simulator_endpoints() -> list[type[Any]]:
    """The simulated services of the built-in and run-time registered sources that have one."""
    found: list[type[Any]] = []
    for cls in [*BUILTIN.values(), *_plugins.values()]:
        if cls.simulator:
            found.append(importlib.import_module(cls.simulator).Endpoints)
    return found


def is_carrier_own(name: str) -> bool:
    """Whether source ``name`` is the delivering carrier's own record (unknown: False).

    >>> is_carrier_own("usps"), is_carrier_own("17track"), is_carrier_own("gone")
    (True, False, False)
    """
    try:
        return source_class(name).carrier_own
    except ConfigError:
        return False


def register_source(cls: type[Source]) -> type[Source]:
    """Register a source class at run time (tests and embedding code); returns it."""
    _plugins[cls.name] = cls
    return cls
