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


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_batch_agrees_with_decide_for_every_person(
    pop_store: Store, ctx: DecideContext, sample: list[Profile], placement: str
) -> None:
    summary = decide_batch(pop_store, placement, context=ctx, write=False)
    rows = {r[0]: r for r in batch_frame(pop_store)}
    compared = 0
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
        compared += 1
    assert compared > 150
    assert summary.decided + summary.suppressed == summary.scope == 3000


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
