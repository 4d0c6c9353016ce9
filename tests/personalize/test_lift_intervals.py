"""lift: honest intervals when an arm has no events; the default tactic is an A/A check."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.cli import main
from martech.errors import ConfigError
from martech.personalize.lift import _mean, _rate, _z, lift, plant_lift, wilson
from martech.store import Store

from .conftest import decide_lift_placement

Z = _z(0.95)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lift_intervals")
    with Store(path / "martech.duckdb") as store:
        # A small holdout (10%), as in the reviewer's email_hero: few holdout people, few
        # conversions.
        decide_lift_placement(store, people=3000, seed=7, holdout=0.1)
        # Conversions for the treated only: every holdout arm has none.
        plant_lift(store, base_rate=0.0, uplift=0.006, seed=5)
    return path


def test_seven_conversions_against_none_is_not_a_lift() -> None:
    # The reviewer's numbers: 7 of 1,528 treated vs 0 of 182 held out (exact test p ~ 0.45).
    m = _rate(7, 1528, 0, 182, Z, "conversion")
    assert m.diff == pytest.approx(7 / 1528)
    assert m.low < 0 < m.high
    assert not m.significant
    # the empty arm's own upper bound (~2% for 0 of 182) is what widens the interval
    assert m.low < -0.01


def test_wilson_gives_an_empty_arm_a_real_width() -> None:
    low, high = wilson(0, 182, Z)
    assert low == 0.0
    assert high == pytest.approx(Z * Z / (182 + Z * Z))  # Wilson's bound at 0, solved by hand
    assert 0.015 < high < 0.025
    low, high = wilson(182, 182, Z)
    assert high == 1.0
    assert low < 1.0


def test_a_clear_difference_is_still_significant() -> None:
    m = _rate(90, 1000, 50, 1000, Z, "conversion")
    assert m.significant
    assert 0 < m.low < 0.04 < m.high


def test_revenue_with_under_two_purchases_in_an_arm_is_not_significant() -> None:
    # treated: 7 purchases of 80 among 1,528; holdout: nothing. Welch alone would say "up" (the
    # empty arm's variance 0); the pooled variance gives it the treated arm's spread.
    m = _mean(7 * 80, 7 * 80 * 80, 7, 1528, 0, 0, 0, 182, Z, "revenue_per_recipient")
    assert m.low < 0 < m.high
    assert not m.estimable
    assert not m.significant
    both = _mean(7 * 80, 7 * 80 * 80, 7, 1528, 160, 2 * 80 * 80, 2, 182, Z, "r")
    assert both.estimable


def test_no_holdout_conversions_reads_as_no_detectable_difference(home: Path) -> None:
    with Store(home / "martech.duckdb", read_only=True) as store:
        rows = {r.tactic: r for r in lift(store)}
    co = rows["co_occurrence"]
    conv = co.metrics["conversion"]
    assert conv.holdout == 0.0
    assert conv.treated > 0
    assert conv.low < 0 < conv.high
    assert not co.conclusive
    assert "includes 0" in co.verdict
    assert not co.metrics["revenue_per_recipient"].significant


def test_the_default_tactic_is_a_baseline_never_up_or_down(home: Path) -> None:
    # The treated who got the default converted and its holdout did not: a real gap, but both
    # arms saw the same content, so it is an A/A check, not an effect of the default.
    with Store(home / "martech.duckdb", read_only=True) as store:
        (row,) = lift(store, tactic="default")
    assert row.verdict.startswith("baseline (A/A: both arms got the default)")
    assert "conversion up" not in row.verdict
    assert "conversion down" not in row.verdict
    assert not row.conclusive


def test_min_per_arm_must_be_at_least_one(home: Path) -> None:
    with Store(home / "martech.duckdb", read_only=True) as store:
        with pytest.raises(ConfigError, match="min_per_arm must be at least 1, not 0"):
            lift(store, min_per_arm=0)
        (row,) = lift(store, tactic="co_occurrence", min_per_arm=10**6)
    assert "at least 1,000,000 per arm are needed" in row.verdict


def test_cli_refuses_min_per_arm_zero(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MARTECH_HOME", str(home))
    assert main(["lift", "--min-per-arm", "0"]) == 2
    captured = capsys.readouterr()
    assert "--min-per-arm" in captured.err
    assert "at least 0 per arm" not in captured.out


def test_one_person_per_arm_concludes_nothing(martech_store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    from martech.models import Event

    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for pid, held in (("a", False), ("b", True)):
        martech_store.con.execute(
            "INSERT INTO decisions (profile_id, placement, variant_id, level, bucket, holdout, "
            "decided_at, tactic) VALUES (?, 't', 'v', 'segment', 0, ?, ?, 'x')",
            [pid, held, t0],
        )
    martech_store.append_events(
        [("a", Event(type="purchase", ts=t0 + timedelta(days=1), value=9.0))]
    )
    (row,) = lift(martech_store, min_per_arm=1)
    assert (row.n_treated, row.n_holdout) == (1, 1)
    conv, revenue = row.metrics["conversion"], row.metrics["revenue_per_recipient"]
    assert (conv.treated, conv.holdout) == (1.0, 0.0)
    assert conv.low < 0 < conv.high  # Newcombe: -0.12 to 1
    assert not revenue.estimable
    assert not row.conclusive
