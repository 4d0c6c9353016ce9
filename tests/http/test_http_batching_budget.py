"""batches() by count and bytes; the shared rate limiter's arithmetic."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from martech.errors import ValidationError
from martech.http import RateLimiter, batches


# max_bytes >= 400: any 50-character item fits (6 bytes per escaped control character + 3 + 64).
@given(st.lists(st.text(max_size=50), max_size=300), st.integers(1, 40), st.integers(400, 2000))
def test_batches_keep_order_and_respect_both_limits(
    items: list[str], max_count: int, max_bytes: int
) -> None:
    out = list(batches(items, max_count, max_bytes))
    assert [x for b in out for x in b] == items
    for b in out:
        assert 1 <= len(b) <= max_count
        assert sum(len(orjson.dumps(x)) + 1 for x in b) <= max_bytes - 64


def test_batches_by_count_only() -> None:
    assert list(batches(range(5), 2)) == [[0, 1], [2, 3], [4]]


def test_an_item_too_big_for_any_request_names_its_position() -> None:
    with pytest.raises(ValidationError, match=r"items\[1\]"):
        list(batches(["a", "x" * 500], 10, max_bytes=200))


def test_window_limiter_lets_n_through_then_waits_for_the_window() -> None:
    limiter = RateLimiter(3, 1.0)
    assert [limiter.reserve(now=100.0) for _ in range(3)] == [0, 0, 0]
    wait = limiter.reserve(now=100.0)
    assert 1.0 < wait < 1.2  # the window plus a little slack for the vendor's clock


@given(st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=200))
def test_window_limiter_never_schedules_more_than_n_per_window(gaps: list[float]) -> None:
    limiter = RateLimiter(5, 1.0)
    now, sends = 0.0, []
    for gap in gaps:
        now += gap
        sends.append(now + limiter.reserve(now=now))
    sends.sort()
    for i in range(len(sends) - 5):
        assert sends[i + 5] - sends[i] >= 1.0
