"""Shared set-up for the CLI tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from martech.models import Profile
from martech.plugins import registry
from martech.store import Store
from martech.testing.reference import ReferenceConnector, ReferenceEmulator

SEGMENTS = """
segments:
  gold:
    name: Gold tier
    rule: {trait: tier, eq: gold}
"""


@contextmanager
def reference_workdir(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    no_email_consent: frozenset[int] = frozenset(),
) -> Iterator[ReferenceEmulator]:
    """A store of 20 people p0..p19 (the odd ones gold; those in ``no_email_consent`` without
    email consent), segments.yml, and the reference vendor on loopback, found by the CLI."""
    home = tmp_path / "home"
    with Store(home / "martech.duckdb") as store:
        store.upsert_profiles(
            Profile(
                id=f"p{i}",
                identities={"email": f"p{i}@example.com"},
                traits={"tier": "gold" if i % 2 else "silver"},
                consent={"email": i not in no_email_consent},
            )
            for i in range(20)
        )
    (tmp_path / "segments.yml").write_text(SEGMENTS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARTECH_HOME", str(home))
    monkeypatch.setenv("MARTECH_REFERENCE_API_KEY", "sk_cli_secret")
    monkeypatch.setitem(registry().connectors, "reference", ReferenceConnector)
    emulator = ReferenceEmulator()
    with emulator.serve() as url:
        monkeypatch.setenv("MARTECH_REFERENCE_BASE_URL", url)
        yield emulator
