"""Tracking sources: one module per source, pure parsers, a registry by name.

See :mod:`collector.carriers.base` for what a source declares and returns, and
:mod:`collector.carriers.registry` for how sources are found.
"""
