"""
title: Order-confirmation cross-sell and upsell
summary: The order confirmation shows complements from other categories first (a rod and line for
  a reel), then pricier items of the same category; never something cheaper than what was just
  bought, never what was already bought.
level: personalization
uses: [decide_outcome, order_cross_sell, decide_batch]
run: python cookbook/13_order_confirmation_cross_sell.py
---
``order_cross_sell`` reads the order just placed (purchases within an hour of the last one, in
the last 2 days) and ranks the co-occurrence neighbours of its items: complements from *other*
categories first (cross-sell), then items of the same category priced above what was bought
(upsell). Same-category items that are not an upgrade are left out. The batch form gives the
same answer in SQL for everyone who ordered.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from martech import Event, Profile
from martech.personalize import (
    DecideContext,
    decide_batch,
    decide_outcome,
    example_placements,
    refresh_neighbours,
)
from martech.population import generate, write_store
from martech.store import Store

AS_OF = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def main() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "martech.duckdb") as store:
        write_store(store, generate(3000, seed=5, as_of=AS_OF))
        refresh_neighbours(store)
        ctx = DecideContext.from_store(store, example_placements(), now=AS_OF)
        reel = store.con.execute(
            "SELECT item_id FROM items JOIN item_neighbours USING (item_id) "
            "WHERE category = 'reels' GROUP BY ALL ORDER BY count(*) DESC, item_id LIMIT 1"
        ).fetchall()[0][0]
        olga = Profile(id="olga", consent={"email": True}, events=[
            Event(type="add_to_cart", item_id=reel, ts=AS_OF - timedelta(minutes=20)),
            Event(type="purchase", item_id=reel, ts=AS_OF - timedelta(minutes=2),
                  value=90.0)])  # fmt: skip
        out = decide_outcome(olga, "order_confirmation", context=ctx)
        store.upsert_profiles([olga])
        store.append_events([("olga", e) for e in olga.events])
        decide_batch(store, "order_confirmation", context=ctx)
        batch_items = store.con.execute(
            "SELECT items FROM decisions WHERE profile_id = 'olga'"
        ).fetchall()[0][0]
        catalogue = store.con.execute(
            "SELECT item_id, category, price, name FROM items").fetchall()  # fmt: skip
    cat = {i: (c, p) for i, c, p, _ in catalogue}
    name = {i: n for i, _, _, n in catalogue}

    _, reel_price = cat[reel]
    print(f"olga bought {name[reel]} ({reel}, reels, {reel_price:.2f}) -> {out.decision.content}")
    print(f"    - {out.decision.reasons[0]}")
    for item in out.items:
        category, price = cat[item]
        kind = "cross-sell" if category != "reels" else "upsell"
        print(f"    {item}  {name[item]:<26} {category:<8} {price:>8.2f}  {kind}")

    groups = [0 if cat[i][0] != "reels" else 1 for i in out.items]
    assert out.decision.level.value == "personalization"
    assert out.items
    assert groups == sorted(groups), "complements first, then upgrades"
    assert all(cat[i][1] > reel_price for i in out.items if cat[i][0] == "reels")
    assert reel not in out.items
    assert list(batch_items) == list(out.items), "SQL batch and decide() agree"
    return list(out.items)


if __name__ == "__main__":
    main()
