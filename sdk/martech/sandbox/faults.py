"""Fault knobs for emulators: what goes wrong, how often, reproducibly from a seed.

``Faults`` is data (frozen pydantic); ``FaultState`` is the seeded dice an emulator rolls per
request. A burst starts on a trigger (a probability, every Nth request, or the first N) and then
fails ``length`` consecutive requests, as a real overloaded vendor does.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Burst(BaseModel):
    """When a kind of failure happens: a probability, every Nth request, or the first N."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: float = Field(default=0.0, ge=0, le=1, description="Chance a request starts a burst.")
    every: int | None = Field(default=None, ge=1, description="Every Nth request starts a burst.")
    first: int = Field(default=0, ge=0, description="The first N matching requests fail.")
    length: int = Field(default=1, ge=1, description="Consecutive requests failing per burst.")

    @property
    def active(self) -> bool:
        return self.rate > 0 or self.every is not None or self.first > 0


class Faults(BaseModel):
    """Everything an emulator can be told to get wrong. All off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    paths: tuple[str, ...] = Field(
        default=(), description="Only requests whose path starts with one of these (all if empty)."
    )
    too_many_requests: Burst = Field(default_factory=Burst, description="Injected 429s.")
    retry_after: str | None = Field(
        default="1", description="Retry-After sent with injected 429s: seconds or an HTTP-date."
    )
    server_errors: Burst = Field(default_factory=Burst, description="Injected 5xx.")
    server_error_status: int = Field(default=503, ge=500, le=599)
    latency: float = Field(default=0.0, ge=0, le=30, description="Seconds added to every answer.")
    timeouts: Burst = Field(default_factory=Burst, description="Requests that hang.")
    hang_seconds: float = Field(default=5.0, ge=0, le=60, description="How long a hang lasts.")
    reject_rate: float = Field(
        default=0.0, ge=0, le=1, description="Chance the vendor refuses one item of a batch."
    )
    pages: Literal["normal", "loop", "duplicate"] = Field(
        default="normal",
        description="loop: the next-page cursor points back to the first page; "
        "duplicate: a page is served twice under different cursors.",
    )


class _BurstState:
    def __init__(self, spec: Burst, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng
        self.seen = 0
        self.left = 0

    def roll(self) -> bool:
        spec = self.spec
        if not spec.active:
            return False
        self.seen += 1
        if self.left > 0:
            self.left -= 1
            return True
        if self.seen <= spec.first:
            return True
        if (spec.every is not None and self.seen % spec.every == 0) or (
            spec.rate > 0 and self.rng.random() < spec.rate
        ):
            self.left = spec.length - 1
            return True
        return False


class FaultState:
    """Seeded dice for one emulator; counts what it injected."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        rng = random.Random(faults.seed)
        self.rng = random.Random(faults.seed + 1)  # per-item rejections
        self._429 = _BurstState(faults.too_many_requests, rng)
        self._5xx = _BurstState(faults.server_errors, rng)
        self._hang = _BurstState(faults.timeouts, rng)
        self.injected: dict[str, int] = {"429": 0, "5xx": 0, "timeout": 0, "rejected": 0}

    def applies(self, path: str) -> bool:
        return not self.faults.paths or path.startswith(self.faults.paths)

    def roll(self, path: str) -> Literal["429", "5xx", "timeout"] | None:
        """What to do to this request, if anything."""
        if not self.applies(path):
            return None
        # Roll every die on every request so one kind of fault does not shift another's "every".
        hang, too_many, error = self._hang.roll(), self._429.roll(), self._5xx.roll()
        if hang:
            self.injected["timeout"] += 1
            return "timeout"
        if too_many:
            self.injected["429"] += 1
            return "429"
        if error:
            self.injected["5xx"] += 1
            return "5xx"
        return None

    def reject(self) -> bool:
        """Should the vendor refuse this one item?"""
        if self.faults.reject_rate and self.rng.random() < self.faults.reject_rate:
            self.injected["rejected"] += 1
            return True
        return False


__all__ = ["Burst", "FaultState", "Faults"]
