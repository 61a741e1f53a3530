"""FedEx Track API v1 (``[sources.fedex]``): OAuth2 client credentials, 30 numbers a call.

``source.py`` builds the request and parses the answers (pure), ``status_map.py``
maps the scan ``eventType`` and status codes, ``simulator.py`` serves the token and
``trackingnumbers`` endpoints from the simulator's scenarios.
"""

from collector.sources.fedex.source import Fedex

__all__ = ["Fedex"]
