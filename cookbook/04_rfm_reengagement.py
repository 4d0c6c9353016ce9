"""
title: RFM re-engagement
summary: Win back at-risk, can't-lose and hibernating customers; give champions early access.
level: segmentation
uses: [compute_traits, rfm_segment, recency_score, parse_segments, evaluate]
run: python cookbook/04_rfm_reengagement.py
---
RFM scores each purchaser 1-5 on recency, frequency and monetary value (quintiles) and names
the combination (see ``martech_plugins.traits.builtin`` for the map). Customers who used to be
valuable but have gone quiet (``at_risk``, ``cant_lose``) get a stronger offer than those who
were never very engaged (``hibernating``); champions get early access instead of a discount.
Only people who consented to email are targeted.
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
  reengage_strong:
    name: Win back valuable customers (20% off)
    rule: {trait: rfm_segment, in: [at_risk, cant_lose]}
  reengage_light:
    name: Wake up hibernating customers (free shipping)
    rule: {trait: rfm_segment, in: [hibernating, about_to_sleep]}
  vip_early_access:
    name: Champions - early access, no discount
    rule: {trait: rfm_segment, eq: champions}
"""


def main() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "martech.duckdb") as store:
        write_store(store, generate(4000, seed=14, as_of=AS_OF))
        compute_traits(store, ["rfm_segment", "recency_score", "monetary_score"], as_of=AS_OF)
        groups = evaluate(store, parse_segments(SEGMENTS), as_of=AS_OF,
                          computed=computed_names(store))  # fmt: skip
        consented = {
            pid
            for (pid,) in store.con.execute(
                "SELECT id FROM profiles WHERE json_extract(consent, '$.email') = 'true'"
            ).fetchall()
        }
        recency = trait_values(store, "recency_score")
        monetary = trait_values(store, "monetary_score")

    audiences = {k: v & consented for k, v in groups.items()}
    sizes = {k: len(v) for k, v in audiences.items()}
    for key, n in sizes.items():
        print(f"{key:<17} {n:>6,} (of {len(groups[key]):,} before consent)")

    assert all(recency[p] <= 2 for p in audiences["reengage_strong"])
    assert all(recency[p] <= 3 for p in audiences["reengage_light"])
    assert all(recency[p] >= 4 for p in audiences["vip_early_access"])
    # the strong offer goes to people who spent more than the light one
    strong = sum(monetary[p] for p in audiences["reengage_strong"]) / sizes["reengage_strong"]
    light = sum(monetary[p] for p in audiences["reengage_light"]) / sizes["reengage_light"]
    assert strong > light
    assert all(a <= consented for a in audiences.values())
    assert len({frozenset(a) for a in audiences.values()}) == 3  # three different audiences
    assert all(n > 0 for n in sizes.values())
    return sizes


if __name__ == "__main__":
    main()
