"""Vendor wait hints that are huge, non-finite or negative never reach a sleep or a datetime."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import respx

from martech.errors import DeadlineExceededError, RateLimitedError
from martech.http import HttpClient, RetryPolicy
from martech.http.budget import forget_budgets
from martech.http.retry import MAX_HINT_SECONDS, WAIT_HOOKS, hubspot_wait, wait_hint
from martech.testing.fakes import RecordedSleeps as Sleeps

pytestmark = pytest.mark.anyio

BASE = "https://api.vendor.test"


@pytest.fixture(autouse=True)
def _fresh_budgets() -> None:
    forget_budgets()


@pytest.mark.parametrize("value", ["99999999999999", "1e300", "Fri, 31 Dec 9999 23:59:59 GMT"])
@respx.mock
async def test_a_huge_retry_after_with_a_deadline_is_a_deadline_error(value: str) -> None:
    respx.get(f"{BASE}/x").respond(429, headers={"Retry-After": value})
    soon = datetime.now(UTC) + timedelta(seconds=10)  # before the capped 30 s wait
    c = HttpClient(base_url=BASE, sleep=Sleeps(), deadline=soon)
    with pytest.raises(DeadlineExceededError) as caught:
        await c.get("/x")
    assert caught.value.resume_after <= datetime.now(UTC) + timedelta(seconds=MAX_HINT_SECONDS)


@respx.mock
async def test_a_huge_retry_after_is_capped_on_the_error_it_leaves() -> None:
    respx.get(f"{BASE}/x").respond(429, headers={"Retry-After": "1e300"})
    sleeps = Sleeps()
    c = HttpClient(base_url=BASE, sleep=sleeps, retry=RetryPolicy(max_attempts=2, max_wait=5.0))
    with pytest.raises(RateLimitedError) as caught:
        await c.get("/x")
    assert caught.value.retry_after == MAX_HINT_SECONDS
    assert sleeps.waits == []  # longer than the cap: not retried sooner than asked
    # what the sync layer does with it must not overflow
    assert datetime.now(UTC) + timedelta(seconds=caught.value.retry_after) > datetime.now(UTC)


@respx.mock
async def test_a_huge_retry_after_on_a_5xx_is_capped_too() -> None:
    respx.get(f"{BASE}/x").respond(503, headers={"Retry-After": "1e300"})
    c = HttpClient(base_url=BASE, sleep=Sleeps(), retry=RetryPolicy(max_attempts=1))
    with pytest.raises(Exception) as caught:
        await c.get("/x")
    assert caught.value.retry_after == MAX_HINT_SECONDS  # type: ignore[attr-defined]


@pytest.mark.parametrize("interval", ["nan", "inf", "-10000", "0"])
def test_hubspot_interval_that_is_not_a_positive_number_gives_no_hint(interval: str) -> None:
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": interval,
        "X-HubSpot-RateLimit-Remaining": "0",
    }
    assert hubspot_wait(headers, {}) is None


@respx.mock
async def test_hubspot_nan_interval_falls_back_to_finite_backoff() -> None:
    respx.get(f"{BASE}/x").respond(
        429,
        headers={
            "X-HubSpot-RateLimit-Interval-Milliseconds": "nan",
            "X-HubSpot-RateLimit-Remaining": "0",
        },
    )
    sleeps = Sleeps()
    c = HttpClient(base_url=BASE, sleep=sleeps, vendor="hubspot")
    with pytest.raises(RateLimitedError):
        await c.get("/x")
    assert sleeps.waits
    assert all(math.isfinite(w) and 0 <= w <= 30 for w in sleeps.waits)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -3.0, 1e300])
def test_a_connector_wait_hook_cannot_hand_back_an_unusable_wait(bad: float) -> None:
    WAIT_HOOKS["bounds-test"] = lambda headers, data: bad
    try:
        hint = wait_hint("bounds-test", {}, None)
    finally:
        del WAIT_HOOKS["bounds-test"]
    assert hint is None or 0 <= hint <= MAX_HINT_SECONDS


def test_meta_regain_access_of_years_is_capped() -> None:
    usage = '{"1": [{"type": "ads_management", "estimated_time_to_regain_access": 99999999999}]}'
    hint = wait_hint("meta", {"X-Business-Use-Case-Usage": usage}, None)
    assert hint == MAX_HINT_SECONDS


@respx.mock
async def test_a_hubspot_daily_limit_stops_at_once_until_midnight() -> None:
    # Retrying in seconds cannot help until the daily reset; it only spends the error budget.
    route = respx.get(f"{BASE}/x").respond(
        429,
        json={"status": "error", "message": "daily limit", "policyName": "DAILY"},
        headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
    )
    sleeps = Sleeps()
    c = HttpClient(base_url=BASE, sleep=sleeps, vendor="hubspot")
    with pytest.raises(RateLimitedError) as caught:
        await c.get("/x")
    assert route.call_count == 1
    assert sleeps.waits == []
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 30
