"""
title: Home-page hero per lifecycle stage
summary: The web hero is chosen by the computed lifecycle_stage (prospect, new, active, lapsing,
  lapsed) - segment level, decided for everyone in SQL, with a 5% holdout that sees the default.
level: segmentation
uses: [compute_traits, lifecycle_stage, decide_batch, decide]
run: python cookbook/14_home_hero_by_lifecycle.py
---
Lifecycle stage is a segment, not personalization: everyone in a stage sees the same hero. The
``home_hero`` placement maps each stage to a variant with ``trait: lifecycle_stage`` rules; the
trait is computed in SQL (``compute_traits``) and read by both the single-profile ``decide()``
and the batch. Web placements need no channel consent. The decision keeps the stage it used in
``segment_keys`` and the holdout records which hero it would have shown.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from martech.personalize import DecideContext, decide, decide_batch, example_placements
from martech.population import generate, write_store
from martech.segments.traits import compute_traits, trait_values
from martech.store import Store

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
HERO_FOR = {
    "new": "hero_welcome", "active": "hero_new_arrivals", "lapsing": "hero_miss_you",
    "lapsed": "hero_come_back", "prospect": "hero_first_order",
}  # fmt: skip


def main() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "martech.duckdb") as store:
        write_store(store, generate(3000, seed=11, as_of=AS_OF))
        compute_traits(store, ["lifecycle_stage"], as_of=AS_OF)
        stage = trait_values(store, "lifecycle_stage")
        ctx = DecideContext.from_store(store, example_placements(), now=AS_OF)
        summary = decide_batch(store, "home_hero", context=ctx)
        rows = store.con.execute(
            "SELECT profile_id, variant_id, holdout, segment_keys FROM decisions "
            "WHERE placement = 'home_hero'"
        ).fetchall()
        one = decide(rows[0][0], "home_hero", context=ctx)

    shown = Counter((stage[p], v) for p, v, hold, _ in rows if not hold)
    levels = ", ".join(f"{level} {n:,}" for level, n in sorted(summary.by_level.items()))
    print(f"{summary.decided:,} decisions in {summary.seconds:.2f}s; by level: {levels} "
          f"(the {summary.holdout:,} in the holdout see the default hero)")  # fmt: skip
    for (st, variant), n in sorted(shown.items()):
        print(f"  {st:<9} -> {variant:<18} {n:>5,}")
    print(f"{one.profile_id}: {one.variant_id} because {one.reasons[0]}")

    assert summary.suppressed == 0, "web: no channel consent needed"
    assert all(HERO_FOR[st] == variant for st, variant in shown)
    assert set(HERO_FOR) <= {st for st, _ in shown}, "every stage is present and served"
    assert all(hold == (v == "hero_default") for _, v, hold, _ in rows)
    assert all(keys == [f"lifecycle_stage={stage[p]}"] for p, _, hold, keys in rows if not hold)
    assert one.variant_id == rows[0][1]
    assert 0 < summary.holdout < 0.1 * summary.decided
    return dict(summary.by_level)


if __name__ == "__main__":
    main()
