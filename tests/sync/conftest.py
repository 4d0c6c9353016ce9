"""Fixtures for the sync engine tests: a real store with profiles, the reference vendor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from martech.http import HttpClient
from martech.models import Event, Profile
from martech.store import Store
from martech.testing.reference import ReferenceConfig, ReferenceConnector, ReferenceEmulator


def people(n: int, *, start: int = 0, consent: bool = True) -> list[Profile]:
    return [
        Profile(
            id=f"p{i:05d}",
            identities={"email": f"Person{i}@Example.com"},
            traits={"first_name": f"F{i}", "tier": "gold" if i % 2 else "silver"},
            consent={"email": consent, "ad": consent},
        )
        for i in range(start, start + n)
    ]


@pytest.fixture
def store(martech_store: Store) -> Store:
    martech_store.upsert_profiles(people(300))
    return martech_store


@pytest.fixture
def emulator() -> ReferenceEmulator:
    return ReferenceEmulator()


def connect(emulator: ReferenceEmulator) -> ReferenceConnector:
    """A reference connector talking to ``emulator`` in-process."""
    from martech.http.budget import forget_budgets

    forget_budgets()
    config = ReferenceConfig(base_url="http://reference.test", api_key="sk_test_secret")
    http = HttpClient(
        base_url=config.base_url,
        transport=emulator.transport(),
        limits=ReferenceConnector.limits,
        headers={"Authorization": "Bearer sk_test_secret"},
        vendor="reference",
    )
    return ReferenceConnector(config=config, http=http)


@pytest.fixture
def connector(emulator: ReferenceEmulator) -> Iterator[ReferenceConnector]:
    return connect(emulator)


@pytest.fixture
def make_connector():  # type: ignore[no-untyped-def]
    """A fresh connector for an emulator (a new process would build a new one)."""
    return connect


@pytest.fixture
def make_people():  # type: ignore[no-untyped-def]
    return people


__all__ = ["Event"]
