"""Lift recovers a planted uplift within its interval, and says when it cannot conclude."""

from __future__ import annotations

import pytest

from martech.personalize.lift import lift, plant_lift
from martech.store import Store

from .conftest import decide_lift_placement


@pytest.fixture
def decided(martech_store: Store) -> Store:
    return decide_lift_placement(martech_store, people=6000, seed=3, holdout=0.5)


def test_the_interval_recovers_a_planted_uplift_for_the_treated_tactic_only(decided: Store) -> None:
    plant_lift(decided, base_rate=0.05, uplift=0.04, seed=1, tactics={"co_occurrence"})
    rows = {r.tactic: r for r in lift(decided)}
    co, default = rows["co_occurrence"], rows["default"]
    conv = co.metrics["conversion"]
    assert co.n_treated > 1000
    assert co.n_holdout > 1000
    assert conv.low <= 0.04 <= conv.high
    assert conv.low > 0
    assert co.conclusive
    assert co.verdict.startswith("conversion up")
    assert co.metrics["revenue_per_recipient"].low > 0
    # Every planted outcome falls inside its window, so the latest event is younger than
    # decided_at + 7 days: every counted decision's window is still open, and it says so.
    assert co.partial == co.n_treated + co.n_holdout
    assert f"window is still open for {co.partial:,} of them" in co.verdict
    # no uplift was planted for people the default served anyway
    d = default.metrics["conversion"]
    assert d.low <= 0 <= d.high
    assert not default.conclusive
    assert "includes 0" in default.verdict


def test_a_small_sample_is_too_small_to_conclude(decided: Store) -> None:
    plant_lift(decided, base_rate=0.05, uplift=0.04, seed=2)
    (row,) = lift(decided, tactic="co_occurrence", min_per_arm=100_000)
    assert not row.conclusive
    assert row.verdict.startswith("too small to conclude")
    assert not row.metrics


def test_planted_outcomes_are_seeded(decided: Store) -> None:
    n1 = plant_lift(decided, seed=9, placement="t")
    before = decided.con.execute(
        "SELECT count(*) FROM events WHERE properties IS NOT NULL"
    ).fetchall()
    n2 = plant_lift(decided, seed=9, placement="t")  # same draws: exact duplicates are skipped
    assert n1 > 0
    assert n2 == 0
    assert (
        before
        == decided.con.execute(
            "SELECT count(*) FROM events WHERE properties IS NOT NULL"
        ).fetchall()
    )


def test_decisions_newer_than_every_event_are_pending_not_no_difference(decided: Store) -> None:
    # Decided as of the population's last moment: no event after any decision exists yet.
    counts = dict(
        decided.con.execute(
            "SELECT coalesce(tactic, 'default'), count(*) FROM decisions GROUP BY ALL"
        ).fetchall()
    )
    rows = lift(decided)
    assert {r.tactic: r.pending for r in rows} == counts
    for r in rows:
        assert (r.n_treated, r.n_holdout, r.metrics, r.conclusive) == (0, 0, {}, False)
        assert r.verdict.startswith(f"no outcomes yet: all {r.pending:,} decisions are newer")


def test_only_decisions_after_the_latest_event_are_left_out(decided: Store) -> None:
    plant_lift(decided, base_rate=0.05, uplift=0.04, seed=1, tactics={"co_occurrence"})
    before = {r.tactic: r for r in lift(decided)}["co_occurrence"]
    assert before.pending == 0
    late = decided.con.execute(
        """UPDATE decisions SET decided_at = (SELECT max(ts) FROM events) + INTERVAL 1 DAY
           WHERE profile_id IN (SELECT profile_id FROM decisions
                                WHERE tactic = 'co_occurrence' ORDER BY profile_id LIMIT 300)
           RETURNING holdout"""
    ).fetchall()
    after = {r.tactic: r for r in lift(decided)}["co_occurrence"]
    assert after.pending == len(late) == 300
    held = sum(1 for (h,) in late if h)
    assert (after.n_treated, after.n_holdout) == (
        before.n_treated - (300 - held),
        before.n_holdout - held,
    )
    assert after.metrics  # still measured on the people whose outcomes can be seen


def test_once_later_events_arrive_no_window_is_open(decided: Store) -> None:
    plant_lift(decided, base_rate=0.05, uplift=0.04, seed=1, tactics={"co_occurrence"})
    (pid,) = decided.con.execute("SELECT profile_id FROM decisions LIMIT 1").fetchall()[0]
    late = decided.con.execute("SELECT max(decided_at) + INTERVAL 30 DAY FROM decisions")
    decided.con.execute(
        "INSERT INTO events (profile_id, type, ts) VALUES (?, 'view', ?)",
        [pid, late.fetchall()[0][0]],
    )
    rows = lift(decided)
    assert all(r.partial == 0 and r.pending == 0 for r in rows)
    assert not any("still open" in r.verdict for r in rows)
