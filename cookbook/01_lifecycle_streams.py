"""
title: Lifecycle streams
summary: New, active, lapsing and lapsed customers (and prospects) each get their own stream.
level: segmentation
uses: [compute_traits, lifecycle_stage, parse_segments, evaluate]
run: python cookbook/01_lifecycle_streams.py
---
Lifecycle stage decides *whether* and *in which stream* to market: a welcome series for new
customers, product news for active ones, a nudge before they lapse, a win-back offer once they
have. The stage is a computed trait (``lifecycle_stage``) with configurable thresholds; each
stream is one segment on it, so the same definitions can be pushed to an ESP as audiences.
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
THRESHOLDS = {"new_days": 30, "active_days": 90, "lapsing_days": 180}

SEGMENTS = """
segments:
  stream_welcome:  {name: Welcome series,   rule: {trait: lifecycle_stage, eq: new}}
  stream_news:     {name: Product news,     rule: {trait: lifecycle_stage, eq: active}}
  stream_nudge:    {name: Don't-forget-us,  rule: {trait: lifecycle_stage, eq: lapsing}}
  stream_winback:  {name: Win-back offer,   rule: {trait: lifecycle_stage, eq: lapsed}}
  stream_nurture:  {name: First-order nurture, rule: {trait: lifecycle_stage, eq: prospect}}
"""


def main() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "martech.duckdb") as store:
        write_store(store, generate(3000, seed=11, as_of=AS_OF))
        compute_traits(store, ["lifecycle_stage", "order_count", "days_since_purchase"],
                       as_of=AS_OF, params=THRESHOLDS)  # fmt: skip
        segments = parse_segments(SEGMENTS)
        streams = evaluate(store, segments, as_of=AS_OF, computed=computed_names(store))
        stage = trait_values(store, "lifecycle_stage")
        orders = trait_values(store, "order_count")
        since = trait_values(store, "days_since_purchase")
        everyone = set(stage)

    sizes = {key: len(ids) for key, ids in streams.items()}
    for key, n in sizes.items():
        print(f"{key:<16} {n:>6,}")

    # Every profile is in exactly one stream.
    assert sum(sizes.values()) == len(everyone) == 3000
    assert set().union(*streams.values()) == everyone
    # Each stream holds what its stage promises.
    assert all(orders[p] == 1 for p in streams["stream_welcome"])
    assert all(since[p] <= THRESHOLDS["active_days"] for p in streams["stream_news"])
    assert all(90 <= since[p] <= 180 for p in streams["stream_nudge"])
    assert all(since[p] >= THRESHOLDS["lapsing_days"] for p in streams["stream_winback"])
    assert all(orders[p] == 0 for p in streams["stream_nurture"])
    # The synthetic shop has customers in every stage.
    assert all(n > 0 for n in sizes.values()), sizes
    return sizes


if __name__ == "__main__":
    main()
