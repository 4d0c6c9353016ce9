"""A request budget per host and credential, shared by every client that uses it.

Two vendor limit shapes exist (``shared/research/vendor-apis.md`` §0 and §5):

* **request rate** — HubSpot's 100 or 190 requests per rolling 10 s, Contentful's 7-10 per second.
  A plain token bucket with a burst lets through ``burst + rate·T`` in a window of ``T``, which
  overshoots a vendor that counts in a window; so the limiter keeps the send times of the last
  ``N`` requests and lets request ``k`` go at ``t[k-N] + T`` (a window log), a token bucket whose
  burst equals the window. It never exceeds ``N`` per window on our clock and wastes no capacity.
* **concurrency** — Mailchimp's 10 simultaneous connections: an asyncio semaphore.

The rate limiter is thread-safe and loop-agnostic (callers sleep on their own loop); semaphores
belong to one event loop, so they are kept per loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..connector import Limits

#: Extra slack on the window so arrival jitter on the vendor's clock never tips it over.
WINDOW_SLACK = 1.02
WINDOW_PAD_SECONDS = 0.05


class RateLimiter:
    """At most ``requests`` per ``interval`` seconds, as a window log. Thread-safe."""

    def __init__(self, requests: int, interval: float) -> None:
        if requests < 1 or interval <= 0:
            raise ValueError("requests must be >= 1 and interval > 0")
        self.requests = requests
        self.interval = interval * WINDOW_SLACK + WINDOW_PAD_SECONDS
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def reserve(self, now: float | None = None) -> float:
        """Claim the next slot; return how many seconds to wait before sending (0 if none)."""
        with self._lock:
            now = time.monotonic() if now is None else now
            slot = now
            if len(self._sent) >= self.requests:
                slot = max(now, self._sent[-self.requests] + self.interval)
            self._sent.append(slot)
            while len(self._sent) > self.requests:
                self._sent.popleft()
            return slot - now

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


class Budget:
    """One credential's share of a vendor: an optional rate limiter and a concurrency cap."""

    def __init__(self, key: str, *, rate: RateLimiter | None, concurrency: int | None) -> None:
        self.key = key
        self.rate = rate
        self.concurrency = concurrency
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()
        self.waited = 0.0  # seconds spent waiting on the rate limiter, for reports

    def _semaphore(self) -> asyncio.Semaphore | None:
        if self.concurrency is None:
            return None
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        return sem

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one request's worth of budget: a concurrency slot, then a rate slot."""
        sem = self._semaphore()
        if sem is not None:
            await sem.acquire()
        try:
            if self.rate is not None:
                delay = self.rate.reserve()
                if delay > 0:
                    self.waited += delay
                    await asyncio.sleep(delay)
            yield
        finally:
            if sem is not None:
                sem.release()


_BUDGETS: dict[str, Budget] = {}
_BUDGETS_LOCK = threading.Lock()


def budget_for(key: str, limits: Limits) -> Budget:
    """The process-wide budget for ``key`` (host + credential), created from ``limits`` once."""
    with _BUDGETS_LOCK:
        budget = _BUDGETS.get(key)
        if budget is None:
            rate = (
                RateLimiter(limits.requests_per_interval, limits.interval_seconds)
                if limits.requests_per_interval
                else None
            )
            budget = _BUDGETS[key] = Budget(key, rate=rate, concurrency=limits.concurrency)
        return budget


def forget_budgets() -> None:
    """Drop every shared budget (tests use this between emulators)."""
    with _BUDGETS_LOCK:
        _BUDGETS.clear()


__all__ = ["Budget", "RateLimiter", "budget_for", "forget_budgets"]
