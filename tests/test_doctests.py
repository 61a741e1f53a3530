"""Every docstring example in collector/ and analysis/ runs and shows what it says.

The numbers engine has its own test that also insists each of its modules has
examples; this one keeps the rest of the code base's examples honest.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import analysis
import collector


def _modules() -> list[str]:
    names = []
    for package in (collector, analysis):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_pass(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
