"""Fixtures of the flag tests: a world builder over a fresh in-memory store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collector.store import Store
from tests.flags.builder import World


@pytest.fixture
def world() -> Iterator[World]:
    with Store.open(":memory:") as store:
        yield World(store)
