"""HubSpot fixtures: an in-process emulator and a connector pointed at it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from martech.http import HttpClient, RetryPolicy
from martech.http.budget import forget_budgets
from martech.testing.fakes import RecordedSleeps as Sleeps
from martech_connectors.hubspot.config import HubSpotConfig
from martech_connectors.hubspot.connector import HubSpotConnector
from martech_connectors.hubspot.emulator import HubSpotEmulator

TOKEN = "pat-na1-00000000-1111-2222-3333-444444444444"
BASE = "http://hubspot.test"
_keys = itertools.count()


@pytest.fixture(autouse=True)
def _fresh_budgets() -> None:
    forget_budgets()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def emulator() -> HubSpotEmulator:
    emu = HubSpotEmulator(token=TOKEN)
    emu.seed_data(250, seed=3)
    return emu


@pytest.fixture
def make_connector(emulator: HubSpotEmulator, sleeps: Sleeps) -> Callable[..., HubSpotConnector]:
    def make(**config: Any) -> HubSpotConnector:
        http = HttpClient(
            base_url=BASE,
            transport=emulator.transport(),
            vendor="hubspot",
            retry=RetryPolicy(max_attempts=5, max_wait=30.0),
            sleep=sleeps,
        )
        config.setdefault("search_per_second", 1000)  # tests of the 5/s limit set it
        cfg = HubSpotConfig(access_token=TOKEN, base_url=BASE, **config)
        return HubSpotConnector(config=cfg, http=http)

    return make


@pytest.fixture
def connector(make_connector: Callable[..., HubSpotConnector]) -> HubSpotConnector:
    return make_connector()
