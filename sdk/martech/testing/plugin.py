"""martech's pytest plugin (entry point ``pytest11``): fixtures for stores, emulators, connectors.

Loaded automatically wherever martech is installed; every fixture is opt-in by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..store import Store


@pytest.fixture
def martech_store(tmp_path: Path) -> Iterator[Store]:
    """A fresh, real DuckDB store in a temporary folder, closed after the test."""
    store = Store(tmp_path / "martech.duckdb")
    try:
        yield store
    finally:
        store.close()
