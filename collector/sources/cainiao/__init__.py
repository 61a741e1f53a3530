"""Cainiao global: the unofficial JSON behind AliExpress tracking (``[sources.cainiao]``).

``source.py`` builds the request and parses ``detail.json`` (pure), ``status_map.py``
maps action codes and module statuses, ``simulator.py`` renders a scenario as a
``detail.json`` module for the loopback simulator.
"""

from collector.sources.cainiao.source import Cainiao

__all__ = ["Cainiao"]
