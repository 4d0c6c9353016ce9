"""Shared fixtures: one synthetic probe population per test session (about half a second)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The suite imports test modules in importlib mode (no packages): make truth_set importable.
sys.path.insert(0, str(Path(__file__).parent))

from martech.audit.sources import ProbePopulation, synthetic


@pytest.fixture(scope="session")
def probe_population() -> ProbePopulation:
    return synthetic()
