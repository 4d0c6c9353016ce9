"""parse_retry_after and the vendor wait hooks: pure functions, tested hard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from martech.http.retry import (
    RetryPolicy,
    classify_status,
    contentful_wait,
    hubspot_wait,
    meta_wait,
    parse_retry_after,
    wait_hint,
)

NOW = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)


@given(st.integers(min_value=0, max_value=10**9))
def test_delay_seconds_parse_to_themselves(seconds: int) -> None:
    assert parse_retry_after(str(seconds), now=NOW) == seconds


@given(st.integers(min_value=0, max_value=10**7))
def test_http_date_in_the_future_gives_the_seconds_until_it(seconds: int) -> None:
    header = format_datetime(NOW + timedelta(seconds=seconds), usegmt=True)
    assert parse_retry_after(header, now=NOW) == seconds


@given(st.integers(min_value=1, max_value=10**7))
def test_http_date_in_the_past_means_retry_now(seconds: int) -> None:
    header = format_datetime(NOW - timedelta(seconds=seconds), usegmt=True)
    assert parse_retry_after(header, now=NOW) == 0


@given(st.text())
def test_any_text_gives_none_or_a_finite_non_negative_wait(value: str) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result is None or (0 <= result < float("inf"))


@pytest.mark.parametrize("value", ["", "  ", "-1", "soon", "nan", "inf", None])
def test_unusable_values_give_none(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_fractional_seconds_are_accepted() -> None:
    assert parse_retry_after(" 1.5 ", now=NOW) == 1.5


def test_rfc_example_date_parses() -> None:
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:03 GMT", now=NOW) == 3


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "ok"), (207, "ok"), (429, "rate_limited"), (401, "auth"), (403, "auth"),
     (500, "retriable"), (503, "retriable"), (408, "retriable"), (400, "fatal"), (404, "fatal")],
)  # fmt: skip
def test_statuses_classify_for_retrying(status: int, outcome: str) -> None:
    assert classify_status(status) == outcome


def test_hubspot_waits_one_interval_when_the_window_is_spent() -> None:
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Remaining": "0",
    }
    assert hubspot_wait(headers, {}) == 10.0


def test_hubspot_daily_limit_waits_for_midnight_utc_not_the_ten_second_window() -> None:
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Remaining": "57",
    }
    body = {"status": "error", "errorType": "RATE_LIMIT", "policyName": "DAILY"}
    wait = hubspot_wait(headers, body)
    assert wait is not None
    now = datetime.now(UTC)
    resumes = now + timedelta(seconds=wait)
    assert (resumes.hour, resumes.minute) in ((0, 0), (23, 59))  # the next midnight UTC
    assert 0 < wait <= 86_400
    assert hubspot_wait({}, body) == pytest.approx(wait, abs=5)  # headers or not


def test_hubspot_secondly_policy_waits_a_second_when_burst_budget_remains() -> None:
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Remaining": "42",
    }
    assert hubspot_wait(headers, {"policyName": "SECONDLY"}) == 1.0


def test_contentful_reset_header_is_seconds() -> None:
    assert contentful_wait({"X-Contentful-RateLimit-Reset": "2"}, None) == 2.0


def test_meta_usage_header_minutes_become_seconds() -> None:
    usage = {"123": [{"type": "ads_management", "estimated_time_to_regain_access": 3}]}
    assert meta_wait({"X-Business-Use-Case-Usage": orjson.dumps(usage).decode()}, None) == 180.0
    assert meta_wait({"X-Business-Use-Case-Usage": "not json"}, None) is None


def test_retry_after_wins_over_the_vendor_hook() -> None:
    headers = {
        "Retry-After": "3",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Remaining": "0",
    }
    assert wait_hint("hubspot", headers, None) == 3.0
    del headers["Retry-After"]
    assert wait_hint("hubspot", headers, None) == 10.0
    assert wait_hint("unknown-vendor", headers, None) is None


@given(st.integers(min_value=1, max_value=60))
def test_backoff_is_jittered_and_capped(attempt: int) -> None:
    policy = RetryPolicy(max_wait=8.0, backoff_base=0.5)
    wait = policy.backoff(attempt)
    ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
    assert ceiling / 2 <= wait <= ceiling
