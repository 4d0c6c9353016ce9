"""DecideContext.from_store: segment definitions are evaluated as of the context's now."""

from __future__ import annotations

from martech.personalize.decide import DecideContext
from martech.personalize.placements import parse_placements
from martech.segments import evaluate, parse_segments
from martech.store import Store

from .conftest import AS_OF, STRATEGIES

RECENT_VIEWERS = {"recent_viewers": {"rule": {"event": "view", "window": "last 7 days"}}}
PLACEMENT = {
    "key": "hero",
    "channel": "web",
    "holdout": 0.0,
    "default": "generic",
    "variants": [
        {"id": "again", "kind": "static", "content": "Welcome back"},
        {"id": "generic", "kind": "static", "content": "Gear up"},
    ],
    "rules": [{"variant": "again", "segment": "recent_viewers"}],
}


def test_segment_definitions_are_evaluated_as_of_the_context_now(pop_store: Store) -> None:
    segments = parse_segments({"segments": RECENT_VIEWERS}, source="test")
    ctx = DecideContext.from_store(
        pop_store,
        parse_placements([PLACEMENT]),
        segments=segments,
        now=AS_OF,
        strategies=STRATEGIES,
    )
    expected = evaluate(pop_store, segments, as_of=AS_OF)["recent_viewers"]
    assert expected  # the population has views in the week before AS_OF
    assert ctx.memberships["recent_viewers"] == frozenset(expected)
