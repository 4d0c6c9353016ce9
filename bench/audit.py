"""How long one audit takes, against the floor: the same tool called as often, directly.

Run: ``.venv/bin/python bench/audit.py``. Prints per target: calls, audit seconds, floor seconds
(the tool called the same number of times on base profiles, nothing else), and the ratio -- the
audit's own cost of building probes, masking and statistics. The issue's bar: one audit of a
local callable under 30 s with at most 2,000 calls.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "audit"))

import truth_set

from martech.audit import audit_target
from martech.audit.sources import synthetic
from martech.audit.targets import parse_target


def floor(target, profiles, calls: int) -> float:
    async def run() -> None:
        for i in range(calls):
            await target.call(profiles[i % len(profiles)])

    started = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - started


def main() -> None:
    from martech.audit.targets import CallableTarget

    t0 = time.perf_counter()
    pop = synthetic()
    print(f"probe population: {len(pop.profiles)} profiles in {time.perf_counter() - t0:.2f} s")
    refs = {r.name: r for r in truth_set.build(pop)}
    print(f"{'target':32} {'calls':>6} {'audit s':>8} {'floor s':>8} {'ratio':>6} level")
    for name in ("recommender", "growthbook_targeting", "liquid_tokens", "micro_segments"):
        ref = refs[name]
        started = time.perf_counter()
        report = audit_target(ref.fn, population=pop, seed=0)
        took = time.perf_counter() - started
        base = floor(CallableTarget(ref.fn), pop.profiles, report.calls)
        print(f"{name:32} {report.calls:>6} {took:>8.2f} {base:>8.3f} {took / base:>6.1f} "
              f"{report.level.value}")  # fmt: skip
    started = time.perf_counter()
    report = audit_target("connector:smartcontent", population=pop, seed=0)
    took = time.perf_counter() - started
    target = parse_target("connector:smartcontent")
    base = floor(target, pop.profiles, report.calls)
    print(f"{'connector:smartcontent (in-process)':32} {report.calls:>6} {took:>8.2f} {base:>8.3f} "
          f"{took / base:>6.1f} {report.level.value}")  # fmt: skip


if __name__ == "__main__":
    main()
