"""
title: Cart abandonment recovery email
summary: People who left items in the cart (and did not buy them since) get those items back;
  everyone else in the send gets the generic offer, with the reason stored per person.
level: personalization
uses: [decide_batch, decide, refresh_neighbours, cart_abandonment]
run: python cookbook/11_cart_abandonment.py
---
The ``cart_recovery`` placement uses the ``cart_abandonment`` strategy: items added to the cart in
the last 3 days, at least an hour ago, and not bought since. Someone who bought what they carted
is *not* reminded of it. The batch form decides for the whole audience in SQL (no Python loop
per person) and stores each decision, with the tactic and the items, in the ``decisions`` table;
the holdout gets the generic email so lift can be measured later (see recipe 15).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from martech import Event, Profile
from martech.personalize import (
    DecideContext,
    decide,
    decide_batch,
    example_placements,
    refresh_neighbours,
)
from martech.population import generate, write_store
from martech.store import Store

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def main() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "martech.duckdb") as store:
        write_store(store, generate(3000, seed=5, as_of=AS_OF))
        refresh_neighbours(store)
        ctx = DecideContext.from_store(store, example_placements(), now=AS_OF)
        tent, stove = (r[0] for r in store.con.execute(
            "SELECT item_id FROM items WHERE category IN ('tents', 'stoves') "
            "ORDER BY category DESC, item_id LIMIT 2").fetchall())  # fmt: skip
        ts = AS_OF - timedelta(hours=5)
        left = Profile(id="ana", consent={"email": True}, events=[
            Event(type="view", item_id=tent, ts=ts - timedelta(minutes=3)),
            Event(type="add_to_cart", item_id=tent, ts=ts)])  # fmt: skip
        later = ts + timedelta(hours=1)
        bought = Profile(id="bob", consent={"email": True}, events=[
            Event(type="add_to_cart", item_id=stove, ts=ts),
            Event(type="purchase", item_id=stove, ts=later, value=60.0)])  # fmt: skip
        ana, bob = (decide(p, "cart_recovery", context=ctx) for p in (left, bought))
        # The same two people in the store: the batch finds Ana's cart in SQL too.
        store.upsert_profiles([left, bought])
        store.append_events([(p.id, e) for p in (left, bought) for e in p.events])
        summary = decide_batch(store, "cart_recovery", context=ctx)
        stored = dict(store.con.execute(
            "SELECT profile_id, items FROM decisions WHERE placement = 'cart_recovery' "
            "AND tactic = 'cart_abandonment' AND NOT holdout"
        ).fetchall())  # fmt: skip

    print(f"ana: {ana.level.value} -> {ana.content}")
    print(f"     why: {ana.reasons[0]}")
    print(f"bob: {bob.level.value} -> {bob.content}")
    print(f"     why: {bob.reasons[1]}")
    reminders = "; ".join(f"{who}: {', '.join(items)}" for who, items in sorted(stored.items()))
    print(f"cart reminders stored for the send: {reminders or 'none'}")
    # The holdout is decided like everyone else and gets the generic offer (counted there).
    print(f"batch over {summary.scope:,} people in {summary.seconds:.2f}s: "
          f"{summary.by_level.get('personalization', 0):,} cart reminder(s), "
          f"{summary.by_level.get('default', 0):,} generic offer "
          f"({summary.holdout:,} of them the holdout), "
          f"{summary.suppressed:,} not emailed (no email consent)")  # fmt: skip

    assert ana.level.value == "personalization"
    assert "cart abandonment" in ana.reasons[0]
    assert bob.level.value == "default", "bought what he carted: no reminder"
    assert "1 carted item(s) bought since" in bob.reasons[1]
    assert summary.by_level.get("personalization", 0) == len(stored)
    assert stored["ana"] == [tent]
    assert "bob" not in stored
    assert summary.decided + summary.suppressed == summary.scope == 3002
    return summary.by_level


if __name__ == "__main__":
    main()
