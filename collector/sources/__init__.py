"""Tracking sources: one module per source, pure parsers, a registry by name.

See :mod:`collector.sources.base` for what a source declares and returns, and
:mod:`collector.sources.registry` for how sources are found.
"""
