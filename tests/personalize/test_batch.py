"""The SQL batch path agrees with decide() person by person, and stores its decisions."""

from __future__ import annotations

import pytest

from martech.models import Profile
from martech.personalize.batch import batch_frame, decide_batch
from martech.personalize.decide import DecideContext, decide_outcome
from martech.personalize.placements import example_placements
from martech.store import Store

from .conftest import AS_OF

PLACEMENTS = sorted(example_placements())


@pytest.fixture(scope="module")
def ctx(pop_store: Store) -> DecideContext:
    return DecideContext.from_store(pop_store, now=AS_OF)


@pytest.fixture(scope="module")
def sample(pop_store: Store) -> list[Profile]:
    """Every 10th person, with their latest events (fewer than 200 each in this population)."""
    ids = [r[0] for r in pop_store.con.execute("SELECT id FROM profiles ORDER BY id").fetchall()]
    return [p for p in (pop_store.get_profile(i) for i in ids[::10]) if p is not None]


def assert_agrees(
    store: Store, ctx: DecideContext, sample: list[Profile], placement: str
) -> dict[str, int]:
    """decide_batch and decide_outcome agree person by person; the levels compared, counted."""
    decide_batch(store, placement, context=ctx, write=False)
    rows = {r[0]: r for r in batch_frame(store)}
    levels: dict[str, int] = {}
    for profile in sample:
        pid = profile.id
        assert len(profile.events) < 200
        out = decide_outcome(profile, placement, context=ctx)
        d = out.decision
        if d.variant_id == "":
            assert pid not in rows
            continue
        got = rows[pid]
        assert (
            d.variant_id,
            d.level.value,
            d.bucket,
            d.holdout,
            d.content,
            list(out.items),
            out.tactic,
        ) == (got[1], got[2], got[3], got[4], got[5], list(got[6]), got[7]), pid
        levels[d.level.value] = levels.get(d.level.value, 0) + 1
    return levels


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_batch_agrees_with_decide_for_every_person(
    pop_store: Store, ctx: DecideContext, sample: list[Profile], placement: str
) -> None:
    summary = decide_batch(pop_store, placement, context=ctx, write=False)
    assert sum(assert_agrees(pop_store, ctx, sample, placement).values()) > 150
    assert summary.decided + summary.suppressed == summary.scope == 3000


def _one_rule(key: str, variant: dict[str, object], rule: dict[str, object]) -> dict[str, object]:
    default = {"id": "default", "kind": "static", "content": "Outdoor gear"}
    return {
        "key": key,
        "channel": "web",
        "holdout": 0,
        "default": "default",
        "variants": [variant, default],
        "rules": [{"variant": variant["id"], **rule}],
    }


#: Every built-in recommender with wide windows and 2 slots (fewer than most people's candidates,
#: so the SQL's top-N and its tie-breaks are what is compared).
WIDE = {
    "co_occurrence": {"min_events": 1},
    "browse_abandonment": {"window_days": 60},
    "cart_abandonment": {"window_days": 60},
    "post_purchase": {"window_days": 120},
    "order_cross_sell": {"window_days": 120},
    "because_you_viewed": {"window_days": 60},
}


@pytest.fixture(scope="module")
def wide_ctx(pop_store: Store) -> DecideContext:
    from martech.personalize.placements import parse_placements

    recs = [
        _one_rule(
            f"wide_{name}",
            {
                "id": "recs",
                "kind": "recommendation",
                "strategy": name,
                "slots": 2,
                "template": "{{reason}}: {{items}}",
            },
            {"params": params},
        )
        for name, params in WIDE.items()
    ]
    placements = parse_placements({"placements": recs}, source="test")
    return DecideContext.from_store(pop_store, placements, now=AS_OF)


@pytest.mark.parametrize("strategy", sorted(WIDE))
def test_batch_agrees_with_decide_for_each_recommender_with_few_slots(
    pop_store: Store, wide_ctx: DecideContext, sample: list[Profile], strategy: str
) -> None:
    levels = assert_agrees(pop_store, wide_ctx, sample, f"wide_{strategy}")
    assert levels.get("personalization", 0) >= 5


def test_batch_drops_items_missing_from_the_catalogue_as_decide_does(
    pop_store: Store, sample: list[Profile]
) -> None:
    """The 40 most recommended items leave the catalogue and the next 20 lose their neighbours
    (rolled back after): both paths skip the first as candidates and still count the second as
    recently seen seeds (which then bring no candidates); a person left with none falls back."""
    con = pop_store.con
    top = [
        r[0]
        for r in con.execute(
            "SELECT neighbour_id FROM item_neighbours GROUP BY ALL ORDER BY count(*) DESC, 1 "
            "LIMIT 60"
        ).fetchall()
    ]
    gone, lonely = top[:40], top[40:]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM items WHERE list_contains(?, item_id)", [gone])
        con.execute(
            "DELETE FROM item_neighbours WHERE list_contains(?, item_id) "
            "OR list_contains(?, neighbour_id)",
            [lonely, lonely],
        )
        ctx = DecideContext.from_store(pop_store, now=AS_OF)
        assert not set(gone) & set(ctx.catalogue)
        assert not set(lonely) & set(ctx.neighbours)
        for placement in ("recs_email", "post_purchase", "order_confirmation"):
            assert_agrees(pop_store, ctx, sample, placement)
        shown = con.execute("SELECT list_distinct(flatten(list(items))) FROM _final").fetchall()
        assert not set(top) & set(shown[0][0] or [])
    finally:
        con.execute("ROLLBACK")


def test_decide_by_profile_id_reads_the_store_without_identities(
    pop_store: Store, ctx: DecideContext, sample: list[Profile]
) -> None:
    for profile in sample[:50]:
        by_id = decide_outcome(profile.id, "recs_email", context=ctx)
        assert by_id == decide_outcome(profile, "recs_email", context=ctx)
    stored = pop_store.get_profile(sample[0].id, identities=False)
    assert stored is not None
    assert stored.identities == {}
    assert stored.events == sample[0].events


def test_batch_reaches_every_level_on_the_population(pop_store: Store, ctx: DecideContext) -> None:
    hero = decide_batch(pop_store, "email_hero", context=ctx, write=False)
    assert {"personalization", "micro_segment", "segment", "default"} <= set(hero.by_level)
    recs = decide_batch(pop_store, "recs_email", context=ctx, write=False)
    assert recs.by_level["personalization"] > 500


def test_batch_stores_decisions_and_rerun_replaces_them(
    pop_store: Store, ctx: DecideContext
) -> None:
    ids = [f"p{i:07d}" for i in range(1, 101)]
    first = decide_batch(pop_store, "home_hero", context=ctx, profile_ids=ids)
    again = decide_batch(pop_store, "home_hero", context=ctx, profile_ids=ids)
    stored = pop_store.con.execute(
        "SELECT count(*), count(DISTINCT profile_id) FROM decisions WHERE placement = 'home_hero'"
    ).fetchall()[0]
    assert first.decided == again.decided == stored[0] == stored[1] == 100
    pop_store.con.execute("DELETE FROM decisions")


def test_batch_for_a_snapshotted_segment_key(pop_store: Store, ctx: DecideContext) -> None:
    from martech.errors import ConfigError

    with pytest.raises(ConfigError, match="segment 'nobody' is neither defined"):
        decide_batch(pop_store, "home_hero", context=ctx, segment="nobody", write=False)


def test_ids_not_in_the_store_are_counted_apart_from_the_suppressed(martech_store) -> None:
    from martech.models import Profile
    from martech.personalize.batch import decide_batch
    from martech.personalize.decide import DecideContext
    from martech.personalize.placements import example_placements

    martech_store.upsert_profiles([Profile(id="p1", consent={"web": True})])
    ctx = DecideContext.from_store(martech_store, example_placements())
    summary = decide_batch(martech_store, "home_hero", context=ctx, profile_ids=["p1", "nope"])
    assert (summary.scope, summary.decided, summary.suppressed, summary.unknown) == (2, 1, 0, 1)
