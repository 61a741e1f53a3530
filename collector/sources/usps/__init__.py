"""USPS Tracking v3r2 (``[sources.usps]``): OAuth2 client credentials, batch POST.

``source.py`` builds the requests and parses the answers (pure), ``status_map.py``
maps ``statusCategory`` and event codes, ``simulator.py`` serves the token and
tracking endpoints from the simulator's scenarios.
"""

from collector.sources.usps.source import Usps

__all__ = ["Usps"]
