"""
title: Purchasers vs non-purchasers
summary: Cross-sell to people who bought; give people who never bought a first-order reason.
level: segmentation
uses: [parse_segments, evaluate, compute_traits, purchaser, first_time_purchaser]
run: python cookbook/02_purchasers_vs_non_purchasers.py
---
The most basic behavioural split. Written once as an event rule (``purchases >= 1``) and its
complement (``not`` the first segment), and once as computed traits; both must agree. First-time
purchasers are the purchasers to thank and convert into a second order.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from martech.population import generate, write_store
from martech.segments import evaluate, parse_segments
from martech.segments.traits import compute_traits, computed_names
from martech.store import Store

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)

SEGMENTS = """
segments:
  purchasers:     {name: Purchasers, rule: {event: purchase}}
  non_purchasers: {name: Non-purchasers, rule: {not: {segment: purchasers}}}
  purchaser_trait: {rule: {trait: purchaser, eq: true}}
  first_timers:   {name: First-time purchasers, rule: {trait: first_time_purchaser, eq: true}}
"""
CONTENT = {
    "purchasers": "Complete your kit: accessories for what you bought",
    "non_purchasers": "10% off your first order",
    "first_timers": "Thanks for your first order - here is what goes with it",
}


def main() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "martech.duckdb") as store:
        write_store(store, generate(3000, seed=12, as_of=AS_OF))
        compute_traits(store, ["purchaser", "first_time_purchaser"], as_of=AS_OF)
        groups = evaluate(store, parse_segments(SEGMENTS), as_of=AS_OF,
                          computed=computed_names(store))  # fmt: skip
        population = store.count("profiles")

    sizes = {k: len(v) for k, v in groups.items()}
    for key in CONTENT:
        print(f"{key:<16} {sizes[key]:>6,}  -> {CONTENT[key]}")

    buyers, others = groups["purchasers"], groups["non_purchasers"]
    assert buyers.isdisjoint(others)
    assert len(buyers) + len(others) == population
    assert buyers == groups["purchaser_trait"]  # event rule and computed trait agree
    assert groups["first_timers"] <= buyers
    assert 0 < len(groups["first_timers"]) < len(buyers)
    return sizes


if __name__ == "__main__":
    main()
