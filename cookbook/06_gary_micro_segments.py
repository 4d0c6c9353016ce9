"""
title: Gary - segment and micro-segment levels
summary: Fishing beginners get beginner content; Gary's cell (lake, spinning, budget) its own.
level: micro_segmentation
uses: [cells, CellReport.segment, parse_segments, evaluate]
run: python cookbook/06_gary_micro_segments.py
---
The articles' example: Gary is a beginner angler who fishes lakes with a spinning reel on a
budget. *Segmentation* puts him with all fishing beginners ("Your first rod: a buying guide").
*Micro-segmentation* is the conjunction of many attributes: everyone in his cell gets the same,
more specific message ("Budget spinning combos for lake fishing"). Cells that are too small to
justify their own content are rolled up to their parent cell; the report says which.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from martech.population import generate, write_store
from martech.segments import evaluate, parse_segments
from martech.segments.cells import cells
from martech.store import Store

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
ATTRS = ["interest", "skill_level", "water_type", "preferred_tackle", "budget_tier"]
GARY = {"interest": "fishing", "skill_level": "beginner", "water_type": "lake",
        "preferred_tackle": "spinning", "budget_tier": "budget"}  # fmt: skip
MIN_SIZE = 25

SEGMENTS = """
segments:
  fishing_beginners:
    name: Fishing beginners
    rule: {all: [{trait: interest, eq: fishing}, {trait: skill_level, eq: beginner}]}
"""
CONTENT = {
    "micro_segment": "Budget spinning combos for lake fishing",
    "segment": "Your first rod: a buying guide",
    "default": "This week's outdoor picks",
}


def main() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "martech.duckdb") as store:
        write_store(store, generate(6000, seed=16, as_of=AS_OF))
        beginners = evaluate(store, parse_segments(SEGMENTS), as_of=AS_OF, computed=())
        report = cells(store, ATTRS, min_size=MIN_SIZE, computed=())
        gary_cell = next(c for c in report.cells if c.values == GARY)
        gary = report.segment(gary_cell.key, segment_key="gary")
        in_cell = evaluate(store, [gary, *parse_segments(SEGMENTS)], as_of=AS_OF, computed=())
        everyone = {r[0] for r in store.con.execute("SELECT id FROM profiles").fetchall()}

    segment_members = beginners["fishing_beginners"]
    micro_members = in_cell["gary"]
    level = {
        p: "micro_segment"
        if p in micro_members
        else "segment"
        if p in segment_members
        else "default"
        for p in everyone
    }
    counts = {lvl: sum(1 for v in level.values() if v == lvl) for lvl in CONTENT}
    print(
        f"{len(report.cells)} cells of >= {MIN_SIZE}; {len(report.rolled_up)} small cells rolled up"
    )
    print(f"Gary's cell {gary_cell.key!r}: {gary_cell.size} people")
    for lvl, text in CONTENT.items():
        print(f"  {lvl:<14} {counts[lvl]:>6,}  {text}")
    fishing_rolled = [r for r in report.rolled_up if r.values["interest"] == "fishing"][:3]
    for r in fishing_rolled:
        print(f"  rolled up: {r.label} ({r.size}) -> {r.into}")

    assert len(micro_members) == gary_cell.size >= MIN_SIZE
    assert micro_members < segment_members  # the micro-segment refines the segment
    assert counts["segment"] == len(segment_members) - len(micro_members)
    assert sum(counts.values()) == len(everyone)
    assert all(c.size >= MIN_SIZE for c in report.cells)
    assert report.rolled_up, "with 5 attributes some cells are too small"
    assert all(r.size < MIN_SIZE for r in report.rolled_up)
    return counts


if __name__ == "__main__":
    main()
