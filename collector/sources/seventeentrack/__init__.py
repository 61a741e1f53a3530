"""17TRACK Tracking API v2.2: the paid aggregator (``[sources.17track]``).

``source.py`` builds the requests and parses the answers (pure), ``status_map.py``
maps 17TRACK's status and sub-status onto the canonical status, ``simulator.py``
renders a scenario in 17TRACK's wire format for the loopback simulator.
"""

from collector.sources.seventeentrack.source import SeventeenTrack

__all__ = ["SeventeenTrack"]
