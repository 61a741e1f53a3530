"""UPS Track API v1 (``[sources.ups]``): OAuth2 client credentials, one number a call.

``source.py`` builds the request and parses the answers (pure), ``status_map.py``
maps the activity ``status.type`` and code, ``simulator.py`` serves the token and
details endpoints from the simulator's scenarios.
"""

from collector.sources.ups.source import Ups

__all__ = ["Ups"]
