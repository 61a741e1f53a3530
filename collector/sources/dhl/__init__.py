"""DHL Shipment Tracking – Unified (``[sources.dhl]``): ``DHL-API-Key``, one number a call.

``source.py`` builds the request and parses the answers (pure), ``status_map.py``
maps ``statusCode`` (and its text), ``simulator.py`` serves ``/track/shipments``
from the simulator's scenarios.
"""

from collector.sources.dhl.source import Dhl

__all__ = ["Dhl"]
