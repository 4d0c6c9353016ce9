"""How long to wait before retrying, and whether to retry at all. Pure functions and small data.

Order of preference for the wait after a retriable answer (the research behind it is in
``shared/research/peers-connector-frameworks.md`` §5: dlt honours Retry-After, singer-sdk and
Airbyte ignore it by default and retry early):

1. ``Retry-After``, in seconds or as an HTTP-date (RFC 9110 §10.2.3);
2. a vendor's own reset header, through a small per-vendor hook (:data:`WAIT_HOOKS`);
3. exponential backoff with full jitter.

Every wait is capped by :attr:`RetryPolicy.max_wait`, and the whole retry loop by
:attr:`RetryPolicy.max_attempts` and :attr:`RetryPolicy.max_elapsed`. A vendor asking for
longer than ``max_wait`` is not retried sooner than it asked: the error goes to the caller with
``retry_after`` set (a sync stops there and says when to resume).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

#: What a vendor's answer means for the caller.
Outcome = Literal["ok", "rate_limited", "retriable", "auth", "fatal"]

#: ``hook(headers, data) -> seconds | None``: a vendor-specific wait when Retry-After is absent.
WaitHook = Callable[[Mapping[str, str], Any], float | None]
#: ``hook(status, data) -> Outcome | None``: overrides the status-code classification
#: (Meta answers throttling with HTTP 400 and Graph error code 17/613/80003).
ClassifyHook = Callable[[int, Any], Outcome | None]

#: The longest wait a vendor's hint can ask for (a week). Longer hints (``Retry-After: 1e300``, a
#: date in year 9999, a hook's mistake) are capped here, so ``now + hint`` is always a datetime.
MAX_HINT_SECONDS = 7 * 24 * 3600.0


def bounded_hint(seconds: float | None) -> float | None:
    """``seconds`` as a usable wait: None if not a finite number >= 0, else at most a week."""
    if seconds is None or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return None
    if seconds < 0:
        return None
    return min(float(seconds), MAX_HINT_SECONDS)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value, or None if unusable.

    Accepts delay-seconds (``"120"``, also ``"1.5"``, which some vendors send) and an HTTP-date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``); a date in the past means 0. Garbage, negative or
    non-finite numbers give None, so the caller falls back to other hints.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0:
            return None
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def classify_status(status: int) -> Outcome:
    """The default meaning of an HTTP status for retrying."""
    if status < 400:
        return "ok"
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status >= 500 or status == 408:
        return "retriable"
    return "fatal"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def hubspot_wait(headers: Mapping[str, str], data: Any) -> float | None:
    """HubSpot sends no Retry-After [U]: when the 10-second window is spent, wait one interval.

    ``X-HubSpot-RateLimit-Interval-Milliseconds`` is the rolling window (10000); waiting a whole
    window is the conservative reading — the window has certainly rolled by then. A 429 of the
    ``DAILY`` policy waits for the next midnight UTC (longer than any retry waits: the caller
    stops and resumes then).
    """
    policy = data.get("policyName") if isinstance(data, dict) else None
    if policy == "DAILY":
        return _until_utc_midnight()
    interval = _header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
    remaining = _header(headers, "X-HubSpot-RateLimit-Remaining")
    if interval is None:
        return None
    try:
        ms = float(interval)
    except ValueError:
        return None
    if not math.isfinite(ms) or ms <= 0:
        return None
    if remaining is not None and remaining.strip() not in ("0", ""):
        # Budget left in the burst window: the 429 came from another policy (search).
        if policy == "SECONDLY":
            return 1.0
        return None
    return ms / 1000.0


def _until_utc_midnight(now: datetime | None = None) -> float:
    """Seconds to the next midnight UTC, when a daily limit is taken to reset. HubSpot resets at
    midnight in the account's time zone, which the API does not say [U]: a guess off by hours
    either way, but resuming early only meets the same 429 and stops again, where retrying every
    few seconds would spend the error budget HubSpot asks clients to keep under 5%."""
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def contentful_wait(headers: Mapping[str, str], data: Any) -> float | None:
    """Contentful: ``X-Contentful-RateLimit-Reset`` is seconds until the window resets."""
    return parse_retry_after(_header(headers, "X-Contentful-RateLimit-Reset"))


def meta_wait(headers: Mapping[str, str], data: Any) -> float | None:
    """Meta: ``X-Business-Use-Case-Usage`` JSON; ``estimated_time_to_regain_access`` is minutes."""
    raw = _header(headers, "X-Business-Use-Case-Usage")
    if not raw:
        return None
    import orjson

    try:
        usage = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    minutes = 0.0
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else [entries]:
                if isinstance(entry, dict):
                    value = entry.get("estimated_time_to_regain_access")
                    if isinstance(value, int | float) and value > minutes:
                        minutes = float(value)
    return minutes * 60.0 if minutes > 0 else None


#: Per-vendor wait hooks, by the ``vendor`` name given to the HttpClient. Connectors may add.
WAIT_HOOKS: dict[str, WaitHook] = {
    "hubspot": hubspot_wait,
    "contentful": contentful_wait,
    "meta": meta_wait,
}
#: Per-vendor classification hooks; connectors may add (Meta registers its Graph codes).
CLASSIFY_HOOKS: dict[str, ClassifyHook] = {}


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying: attempts, total time, per-wait cap and the backoff shape."""

    max_attempts: int = 5
    max_elapsed: float = 120.0
    max_wait: float = 30.0
    backoff_base: float = 0.5
    backoff_factor: float = 2.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with full jitter for retry number ``attempt`` (1-based)."""
        ceiling = min(self.max_wait, self.backoff_base * self.backoff_factor ** (attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)


def wait_hint(
    vendor: str, headers: Mapping[str, str], data: Any, *, now: datetime | None = None
) -> float | None:
    """What the vendor asked us to wait: Retry-After first, then the vendor's hook, else None.

    Capped at :data:`MAX_HINT_SECONDS`; a hook's negative or non-finite answer counts as none.
    """
    seconds = parse_retry_after(_header(headers, "Retry-After"), now=now)
    if seconds is not None:
        return bounded_hint(seconds)
    hook = WAIT_HOOKS.get(vendor)
    return bounded_hint(hook(headers, data)) if hook is not None else None


__all__ = [
    "CLASSIFY_HOOKS",
    "MAX_HINT_SECONDS",
    "WAIT_HOOKS",
    "ClassifyHook",
    "Outcome",
    "RetryPolicy",
    "WaitHook",
    "bounded_hint",
    "classify_status",
    "contentful_wait",
    "hubspot_wait",
    "meta_wait",
    "parse_retry_after",
    "wait_hint",
]
