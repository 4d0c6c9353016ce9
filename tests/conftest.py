"""Suite-wide settings. Fixtures for users live in martech.testing.plugin (pytest11)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Scale tests (``@pytest.mark.slow``) run only when asked for with ``-m slow``."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow scale test: run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
