"""``idempotent=False``: a create is retried only when the vendor certainly did not apply it."""

from __future__ import annotations

import httpx
import pytest
import respx

from martech.errors import RateLimitedError, RetriableVendorError
from martech.http import HttpClient
from martech.http.budget import forget_budgets
from martech.testing.fakes import RecordedSleeps as Sleeps

pytestmark = pytest.mark.anyio
BASE = "https://api.vendor.test"


@pytest.fixture(autouse=True)
def _fresh_budgets() -> None:
    forget_budgets()


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(502, json={"message": "bad gateway"}),
        httpx.Response(504, json={"message": "gateway timeout"}),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message"),
    ],
    ids=["502", "504", "read-timeout", "dropped"],
)
@respx.mock
async def test_a_create_that_may_have_been_applied_is_not_sent_again(failure: object) -> None:
    route = respx.post(f"{BASE}/wp/v2/posts").mock(
        side_effect=[failure, httpx.Response(201, json={"id": 1})]
    )
    c = HttpClient(base_url=BASE, sleep=Sleeps())
    with pytest.raises(RetriableVendorError, match="may have been applied"):
        await c.post("/wp/v2/posts", json={"title": "x"}, idempotent=False)
    assert route.call_count == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(429, json={"message": "slow down"}),
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
    ],
    ids=["429", "connect-error", "connect-timeout"],
)
@respx.mock
async def test_a_create_the_vendor_never_applied_is_retried(failure: object) -> None:
    route = respx.post(f"{BASE}/wp/v2/posts").mock(
        side_effect=[failure, httpx.Response(201, json={"id": 1})]
    )
    c = HttpClient(base_url=BASE, sleep=Sleeps())
    r = await c.post("/wp/v2/posts", json={"title": "x"}, idempotent=False)
    assert r.status == 201
    assert route.call_count == 2


@respx.mock
async def test_the_default_still_retries_every_transient_failure() -> None:
    route = respx.post(f"{BASE}/batch").mock(
        side_effect=[httpx.Response(503), httpx.ReadTimeout("t"), httpx.Response(200, json={})]
    )
    c = HttpClient(base_url=BASE, sleep=Sleeps())
    assert (await c.post("/batch", json=[1])).status == 200
    assert route.call_count == 3


@respx.mock
async def test_a_create_gives_up_on_a_long_429_burst_with_the_rate_limited_error() -> None:
    respx.post(f"{BASE}/x").respond(429, json={"message": "slow"})
    c = HttpClient(base_url=BASE, sleep=Sleeps())
    with pytest.raises(RateLimitedError, match="gave up after 5 attempts"):
        await c.post("/x", json={}, idempotent=False)
