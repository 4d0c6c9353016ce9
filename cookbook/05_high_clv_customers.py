"""
title: High-CLV customers
summary: Find the customers worth most (historic + predicted CLV) and treat them differently.
level: segmentation
uses: [compute_traits, clv_tier, historic_clv, predicted_clv, churn_risk]
run: python cookbook/05_high_clv_customers.py
---
``historic_clv`` is what a customer spent; ``predicted_clv`` is a simple, documented forecast
(average order value x expected orders over a year x (1 - churn risk)). ``clv_tier`` ranks
purchasers by the sum: ``top`` is the best 10 %. The top tier earns a concierge stream; the
valuable customers who are slipping away (top or high tier with churn risk above 0.5) go to
account managers first.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from martech.population import generate, write_store
from martech.segments import evaluate, parse_segments
from martech.segments.traits import compute_traits, computed_names, trait_values
from martech.store import Store

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)

SEGMENTS = """
segments:
  top_clv:
    name: Top 10% by CLV - concierge stream
    min_size: 20
    rule: {trait: clv_tier, eq: top}
  valuable_slipping:
    name: Valuable but slipping - call them
    rule:
      all:
        - {trait: clv_tier, in: [top, high]}
        - {trait: churn_risk, gt: 0.5}
"""


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "martech.duckdb") as store:
        write_store(store, generate(4000, seed=15, as_of=AS_OF))
        compute_traits(store, ["clv_tier", "historic_clv", "predicted_clv", "churn_risk"],
                       as_of=AS_OF)  # fmt: skip
        groups = evaluate(store, parse_segments(SEGMENTS), as_of=AS_OF,
                          computed=computed_names(store))  # fmt: skip
        historic = trait_values(store, "historic_clv")
        predicted = trait_values(store, "predicted_clv")
        risk = trait_values(store, "churn_risk")
        tiers = trait_values(store, "clv_tier")

    top = groups["top_clv"]
    purchasers = set(tiers)
    revenue = sum(historic[p] for p in purchasers)
    top_share = sum(historic[p] for p in top) / revenue
    print(
        f"top tier: {len(top):,} of {len(purchasers):,} purchasers hold {top_share:.0%} of revenue"
    )
    print(f"valuable but slipping: {len(groups['valuable_slipping']):,}")

    assert 0.08 <= len(top) / len(purchasers) <= 0.12  # about the best 10 %
    assert top_share >= 2 * len(top) / len(purchasers)  # worth far more than their headcount
    lowest_top = min(historic[p] + predicted[p] for p in top)
    assert all(historic[p] + predicted[p] <= lowest_top for p in purchasers - top)
    assert all(risk[p] > 0.5 and tiers[p] in ("top", "high") for p in groups["valuable_slipping"])
    return {"top": len(top), "top_revenue_share": top_share}


if __name__ == "__main__":
    main()
