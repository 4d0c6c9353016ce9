"""
title: Post-purchase follow-up
summary: After a purchase, related items from co-occurrence, care content for the category and a
  review request timed a week after the order; a purchase too long ago falls back to a thank-you.
level: personalization
uses: [decide, post_purchase, refresh_neighbours]
run: python cookbook/12_post_purchase_follow_up.py
---
The ``post_purchase`` strategy starts from the person's last purchase (within 30 days): the items
people who bought it also interacted with (item-to-item co-occurrence computed in SQL on the
store), minus what this person already bought. The reason names the purchase, the care content
for its category and when the review request is due. Someone whose last order is older falls
back to the thank-you template, with their first name or the declared default.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from martech import Event, Profile
from martech.personalize import (
    DecideContext,
    decide_outcome,
    example_placements,
    refresh_neighbours,
)
from martech.population import generate, write_store
from martech.store import Store

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


def main() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "martech.duckdb") as store:
        write_store(store, generate(3000, seed=5, as_of=AS_OF))
        refresh_neighbours(store)
        ctx = DecideContext.from_store(store, example_placements(), now=AS_OF)
        rod, name = store.con.execute(
            "SELECT i.item_id, i.name FROM items i JOIN item_neighbours n USING (item_id) "
            "WHERE i.category = 'rods' GROUP BY ALL ORDER BY count(*) DESC, i.item_id LIMIT 1"
        ).fetchall()[0]

        def buyer(pid: str, days: float, first_name: str | None) -> Profile:
            when = AS_OF - timedelta(days=days)
            return Profile(
                id=pid, consent={"email": True},
                traits={"first_name": first_name} if first_name else {},
                events=[Event(type="view", item_id=rod, ts=when - timedelta(minutes=9)),
                        Event(type="purchase", item_id=rod, ts=when, value=120.0)],
            )  # fmt: skip

        recent = decide_outcome(buyer("pia", 3, "Pia"), "post_purchase", context=ctx)
        old = decide_outcome(buyer("omar", 45, None), "post_purchase", context=ctx)

    for who, out in (("pia (3 days ago)", recent), ("omar (45 days ago)", old)):
        d = out.decision
        print(f"{who}: {d.level.value} -> {d.content}")
        for r in d.reasons[:2]:
            print(f"    - {r}")

    d = recent.decision
    assert d.level.value == "personalization"
    assert f"bought {name}" in d.reasons[0]
    assert "care tips for rods" in d.reasons[0]
    assert "review request due in 4 day(s)" in d.reasons[0]
    assert recent.items
    assert rod not in recent.items
    assert d.content.startswith(f"Goes well with your {name}: ")
    assert old.decision.level.value == "default"
    assert old.decision.content == "Thanks for shopping with us, friend"
    assert "no purchase in the last 30 day(s)" in old.decision.reasons[1]
    return {"pia": d.level.value, "omar": old.decision.level.value}


if __name__ == "__main__":
    main()
