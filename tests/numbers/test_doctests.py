"""The examples in collector.numbers' docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "collector.numbers",
    "collector.numbers.checksums",
    "collector.numbers.columns",
    "collector.numbers.declared",
    "collector.numbers.detect",
    "collector.numbers.formats",
    "collector.numbers.positions",
    "collector.numbers.render",
    "collector.numbers.search",
    "collector.numbers.synth",
    "collector.numbers.vector",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
