"""The shared budget follows the credential a request carries, also when it is given per request.

WordPress and Contentful build their client without headers and send Authorization with each
request; Contentful's host is the same for every customer, so a budget keyed on the client's
own (empty) headers made every space and token in the process share one rate limit.
"""

from __future__ import annotations

import asyncio

import pytest
import respx

from martech.connector import Limits
from martech.http import HttpClient
from martech.http.budget import forget_budgets

pytestmark = pytest.mark.anyio

BASE = "https://api.vendor.test"
ONE_PER_HOUR = Limits(requests_per_interval=1, interval_seconds=3600.0, concurrency=2)


@pytest.fixture(autouse=True)
def _fresh_budgets() -> None:
    forget_budgets()


def test_per_request_credentials_pick_their_own_budget() -> None:
    a = HttpClient(base_url=BASE, limits=ONE_PER_HOUR)
    b = HttpClient(base_url=BASE, limits=ONE_PER_HOUR)
    x = a.budget_for({"Authorization": "Bearer token-x"})
    assert x is not None
    assert x is b.budget_for({"Authorization": "Bearer token-x"})
    assert x is not a.budget_for({"Authorization": "Bearer token-y"})
    assert x is not a.budget_for(None)


def test_a_request_header_overrides_the_client_credential_for_the_budget() -> None:
    a = HttpClient(base_url=BASE, limits=ONE_PER_HOUR, headers={"Authorization": "Bearer x"})
    b = HttpClient(base_url=BASE, limits=ONE_PER_HOUR)
    assert a.budget is b.budget_for({"Authorization": "Bearer x"})
    assert a.budget_for({"authorization": "Bearer y"}) is not a.budget


def test_api_key_headers_count_as_credentials() -> None:
    a = HttpClient(base_url=BASE, limits=ONE_PER_HOUR, headers={"X-API-Key": "key-one"})
    b = HttpClient(base_url=BASE, limits=ONE_PER_HOUR, headers={"X-API-Key": "key-two"})
    assert a.budget is not b.budget


def test_an_explicit_budget_key_is_one_budget_whatever_the_request_carries() -> None:
    a = HttpClient(base_url=BASE, limits=ONE_PER_HOUR, budget_key="k")
    assert a.budget_for({"Authorization": "Bearer y"}) is a.budget


@respx.mock
async def test_two_tokens_on_one_host_do_not_wait_for_each_other() -> None:
    respx.get(f"{BASE}/x").respond(200, json={})
    a = HttpClient(base_url=BASE, limits=ONE_PER_HOUR)
    b = HttpClient(base_url=BASE, limits=ONE_PER_HOUR)
    await a.get("/x", headers={"Authorization": "Bearer token-x"})
    # One request per hour per token: token-y has its own hour. Shared, this would wait 3600 s.
    async with asyncio.timeout(5):
        await b.get("/x", headers={"Authorization": "Bearer token-y"})
    budget = a.budget_for({"Authorization": "Bearer token-x"})
    assert budget is not None
    assert budget.waited == 0
