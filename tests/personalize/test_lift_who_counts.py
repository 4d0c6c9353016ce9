"""lift counts each decided person once, with every outcome they had, whatever id it came under."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pyarrow as pa
import pytest

from martech.models import Event
from martech.personalize.lift import lift
from martech.store import Store

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
PHONE = "+14155552692"


def upsert(store: Store, *rows: tuple[str, dict[str, str]]) -> None:
    store.upsert_profiles(
        pa.table(
            {
                "id": [pid for pid, _ in rows],
                "traits": ["{}" for _ in rows],
                "consent": ["{}" for _ in rows],
                "identities": [orjson.dumps(ids).decode() for _, ids in rows],
            }
        )
    )


def decide(store: Store, *people: tuple[str, bool], at: datetime = T0) -> None:
    """Store a decision of placement ``t``, tactic ``x``, for each (profile id, held out)."""
    for pid, held in people:
        store.con.execute(
            "INSERT INTO decisions (profile_id, placement, variant_id, level, bucket, holdout, "
            "decided_at, tactic) VALUES (?, 't', 'v', 'segment', 0, ?, ?, 'x')",
            [pid, held, at],
        )


@pytest.fixture
def store(martech_store: Store) -> Store:
    """A (email) and B (phone) stored apart, H1 and H2 held out; B buys the day after; a late
    view closes every window."""
    upsert(
        martech_store, ("A", {"email": "a@x.com"}), ("B", {"phone": PHONE}), ("H1", {}), ("H2", {})
    )
    martech_store.append_events(
        [
            ("B", Event(type="purchase", ts=T0 + timedelta(days=1), value=50.0)),
            ("H1", Event(type="view", ts=T0 + timedelta(days=30))),
        ]
    )
    return martech_store


def merge_a_and_b(store: Store) -> None:
    """A new row carries A's email and B's phone: B merges into A, its events move to A."""
    upsert(store, ("N", {"email": "a@x.com", "phone": PHONE}))
    assert store.get_profile("B").id == "A"


def test_a_decided_id_merged_away_keeps_its_outcomes(store: Store) -> None:
    decide(store, ("B", False), ("H1", True), ("H2", True))
    merge_a_and_b(store)
    (row,) = lift(store, min_per_arm=1)
    assert (row.n_treated, row.n_holdout) == (1, 2)
    conv = row.metrics["conversion"]
    assert conv.treated == 1.0  # B's purchase, now stored under A, is still B's outcome
    assert row.metrics["revenue_per_recipient"].treated == 50.0


def test_two_decided_ids_of_one_person_count_once(store: Store) -> None:
    decide(store, ("A", False), ("B", False), ("H1", True), ("H2", True))
    merge_a_and_b(store)
    (row,) = lift(store, min_per_arm=1)
    assert (row.n_treated, row.n_holdout) == (1, 2)
    assert row.metrics["conversion"].treated == 1.0


def test_the_later_decision_of_a_merged_person_is_the_one_counted(store: Store) -> None:
    # B was re-decided into the holdout after A's decision: the person is held out now.
    decide(store, ("A", False), ("H1", True), ("H2", True))
    decide(store, ("B", True), at=T0 + timedelta(hours=1))
    merge_a_and_b(store)
    (row,) = lift(store, min_per_arm=1)
    assert (row.n_treated, row.n_holdout) == (0, 3)


def test_a_tactic_with_no_one_held_out_says_there_is_nothing_to_compare(store: Store) -> None:
    decide(store, ("A", False), ("B", False))
    (row,) = lift(store, min_per_arm=1)
    assert row.verdict.startswith("no holdout to compare with: none of the 2 people decided")
    assert "too small" not in row.verdict
    assert not row.metrics


def test_a_tactic_with_everyone_held_out_says_no_one_was_treated(store: Store) -> None:
    decide(store, ("H1", True), ("H2", True))
    (row,) = lift(store, min_per_arm=1)
    assert row.verdict.startswith("no one treated to compare: all 2 people decided")
    assert not row.metrics


def test_plant_lift_plants_once_per_person_as_lift_counts(store: Store) -> None:
    from martech.personalize.lift import plant_lift

    decide(store, ("A", False), ("B", False), ("H1", True), ("H2", True))
    merge_a_and_b(store)
    assert plant_lift(store, base_rate=1.0, uplift=0.0, seed=1) == 3  # A (and B), H1, H2
    (row,) = lift(store, min_per_arm=1)
    assert row.metrics["conversion"].treated == 1.0


def test_placements_sharing_an_experiment_say_their_holdout_is_shared(store: Store) -> None:
    # Bucketing hashes (id, experiment): placements with one experiment hold out the same
    # people, so each one's treated-vs-holdout difference is the effect of all of them.
    for placement, experiment in (("a", "spring"), ("b", "spring"), ("c", "c")):
        store.con.execute(
            "INSERT INTO decisions (profile_id, placement, variant_id, level, bucket, holdout, "
            "decided_at, tactic, experiment) SELECT pid, ?, 'v', 'segment', 0, held, ?, 'x', ? "
            "FROM (VALUES ('A', false), ('B', false), ('H1', true), ('H2', true)) v(pid, held)",
            [placement, T0, experiment],
        )
    rows = {r.placement: r for r in lift(store, min_per_arm=1)}
    assert rows["a"].metrics
    assert "; its holdout is shared with placement b (experiment 'spring')" in rows["a"].verdict
    assert "shared with placement a (experiment 'spring')" in rows["b"].verdict
    assert "shared" not in rows["c"].verdict
    # two people per arm: the detectable difference would be more than 100 pp
    assert "; arms this small would not reliably detect any difference" in rows["c"].verdict
