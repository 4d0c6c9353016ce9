"""martech's pytest plugin (entry point ``pytest11``): fixtures for stores, emulators, connectors.

Loaded automatically wherever martech is installed; every fixture is opt-in by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

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


@pytest.fixture
def martech_serve() -> Iterator[Callable[[Any], str]]:
    """Serve emulators on 127.0.0.1 for the test: ``url = martech_serve(emulator)``.

    Every emulator served is stopped after the test; HTTP budgets are reset first so limits
    learnt against one emulator never leak into another.
    """
    from ..http.budget import forget_budgets

    forget_budgets()
    with ExitStack() as stack:

        def serve(emulator: Any) -> str:
            url: str = stack.enter_context(emulator.serve())
            return url

        yield serve
