"""
title: Gary at each level - segment, micro-segment, personalization
summary: One placement, one fallback chain; Gary gets the reels he viewed last night, people with
  less data get less specific content, and each decision says which level it used and why.
level: personalization
uses: [parse_placements, DecideContext, decide, refresh_neighbours]
run: python cookbook/10_gary_three_levels.py
---
Gary is a lake-fishing beginner who prefers spinning reels on a budget. The email hero block has
three rules and a default:

- **personalization** (browse abandonment): the reels *he* viewed last night and did not buy;
- **micro-segment**: the cell beginner + lake + spinning + budget (everyone in it gets the same);
- **segment**: everyone interested in fishing;
- **default**: everyone else.

``decide()`` walks the chain from the most specific level and falls back as data thins out. Gary
last night gets his reels; Gary a week later (no fresh views) gets the cell's content; his
river-fishing brother gets the fishing segment; a camper gets the default. Each ``Decision``
carries the level actually used and the reasons, including why the more specific levels were
skipped.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from martech import DecisionLevel, Event, Profile
from martech.personalize import DecideContext, decide, example_placements, refresh_neighbours
from martech.population import generate, write_store
from martech.store import Store

AS_OF = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
GARY = {
    "first_name": "Gary", "interest": "fishing", "skill_level": "beginner", "water_type": "lake",
    "preferred_tackle": "spinning", "budget_tier": "budget",
}  # fmt: skip


def main() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "martech.duckdb") as store:
        write_store(store, generate(1500, seed=11, as_of=AS_OF))
        refresh_neighbours(store)
        reels = store.con.execute(
            "SELECT item_id, name FROM items WHERE category = 'reels' ORDER BY price LIMIT 2"
        ).fetchall()
        last_night = AS_OF - timedelta(hours=10)
        gary = Profile(
            id="gary-lake", traits=GARY, consent={"email": True},
            events=[Event(type="view", item_id=item, ts=last_night + timedelta(minutes=5 * i))
                    for i, (item, _) in enumerate(reels)],
        )  # fmt: skip
        ctx = DecideContext.from_store(store, example_placements(), now=AS_OF)
        later = DecideContext.from_store(store, example_placements(), now=AS_OF + timedelta(days=7))
        brother = Profile(
            id="greg",
            traits={**GARY, "first_name": "Greg", "water_type": "river"},
            consent={"email": True},
        )
        camper = Profile(id="cara", traits={"interest": "camping"}, consent={"email": True})
        decisions = {
            "Gary, the morning after": decide(gary, "email_hero", context=ctx),
            "Gary, a week later": decide(gary, "email_hero", context=later),
            "Greg, river angler": decide(brother, "email_hero", context=ctx),
            "Cara, camper": decide(camper, "email_hero", context=ctx),
        }

    for who, d in decisions.items():
        print(f"{who:<24} {d.level.value:<16} {d.variant_id:<18} {d.content}")
        for reason in d.reasons:
            print(f"{'':<24}   - {reason}")

    levels = [d.level for d in decisions.values()]
    assert levels == [
        DecisionLevel.personalization,
        DecisionLevel.micro_segment,
        DecisionLevel.segment,
        DecisionLevel.default,
    ]
    first = decisions["Gary, the morning after"]
    assert all(name in first.content for _, name in reels), "his own reels, by name"
    assert decisions["Gary, a week later"].content.startswith("Gary, your first lake spinning")
    assert any("skipped: nothing viewed" in r for r in decisions["Gary, a week later"].reasons)
    assert any("cell wants water_type=lake" in r for r in decisions["Greg, river angler"].reasons)
    assert not any(d.holdout for d in decisions.values())
    return {who: d.level.value for who, d in decisions.items()}


if __name__ == "__main__":
    main()
