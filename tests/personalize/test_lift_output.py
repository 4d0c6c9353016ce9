"""lift's output says what its numbers say: no bound rounds to a 0 it excludes."""

from __future__ import annotations

import json
import math
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pytest

from martech.cli import main
from martech.errors import ConfigError
from martech.personalize.lift import lift
from martech.store import Store

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
N = 100_000


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100,000 people per arm; 5,195 treated and 5,000 held-out buy: +0.195 pp, and the 95%
    interval's lower bound is +0.0022 pp, above 0 but "+0.00" at two decimals."""
    path = tmp_path_factory.mktemp("lift_output")
    with Store(path / "martech.duckdb") as store:
        store.con.execute(
            "INSERT INTO decisions (profile_id, placement, variant_id, level, bucket, holdout, "
            "decided_at, tactic) SELECT 'p' || i, 't', 'v', 'segment', 0, i >= ?, ?, 'x' "
            "FROM range(?) r(i)",
            [N, T0, 2 * N],
        )
        store.con.execute(
            "INSERT INTO events (profile_id, type, ts, value) SELECT 'p' || i, 'purchase', "
            "?::TIMESTAMPTZ + INTERVAL 1 DAY, 40.0 FROM range(?) r(i) "
            "WHERE i < 5195 OR i BETWEEN ? AND ?",
            [T0, 2 * N, N, N + 4999],
        )
    return path


def test_a_lower_bound_just_above_0_is_not_shown_as_0(home: Path) -> None:
    with Store(home / "martech.duckdb", read_only=True) as store:
        (row,) = lift(store)
    conv = row.metrics["conversion"]
    assert 0 < conv.low < 0.00005
    assert row.conclusive
    assert row.verdict.startswith("conversion up +0.20 pp (95% CI +0.002 to +0.39)"), row.verdict


def test_the_table_shows_the_bound_the_json_holds(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MARTECH_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["lift"]) == 0
    table = capsys.readouterr().out
    assert "+0.20 [+0.002, +0.39]" in table
    assert "[+0.00," not in table
    assert main(["lift", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    conv = row["metrics"]["conversion"]
    assert 0 < conv["low"] < 0.00005
    assert row["conclusive"] is True


def test_the_verdict_names_the_confidence_it_used(home: Path) -> None:
    with Store(home / "martech.duckdb", read_only=True) as store:
        (row,) = lift(store, confidence=0.995)
    assert "the 99.5% CI (" in row.verdict
    assert "100% CI" not in row.verdict


def _arms(store: Store, n: int, outcomes: dict[str, tuple[int, int]], tactic: str = "x") -> None:
    """``n`` treated and ``n`` held out for ``tactic``; per event type, (treated, held out)
    people with one such event the day after the decision."""
    store.con.execute(
        "INSERT INTO decisions (profile_id, placement, variant_id, level, bucket, holdout, "
        "decided_at, tactic) SELECT ? || i, 't', 'v', 'segment', 0, i >= ?, ?, ? "
        "FROM range(?) r(i)",
        [tactic, n, T0, tactic, 2 * n],
    )
    for kind, (treated, held) in outcomes.items():
        store.con.execute(
            "INSERT INTO events (profile_id, type, ts, value) SELECT ? || i, ?, "
            "?::TIMESTAMPTZ + INTERVAL 1 DAY, CASE WHEN ? = 'purchase' THEN 40.0 END "
            "FROM range(?) r(i) WHERE i < ? OR i BETWEEN ? AND ?",
            [tactic, kind, T0, kind, 2 * n, treated, n, n + held - 1],
        )


def test_a_clear_rise_in_unsubscribes_or_complaints_is_in_the_verdict(
    martech_store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = {
        "purchase": (100, 100),
        "email_unsubscribe": (60, 20),
        "email_complaint": (30, 5),
    }
    _arms(martech_store, 2000, outcomes)
    (row,) = lift(martech_store)
    unsub, complaint = row.metrics["unsubscribe_rate"], row.metrics["complaint_rate"]
    assert unsub.significant
    assert complaint.significant
    assert row.verdict.startswith("no detectable conversion difference: +0.00 pp")
    assert f"; unsubscribes up +2.00 pp (95% CI {unsub.low * 100:+.2f} to" in row.verdict
    assert f"; complaints up +1.25 pp (95% CI {complaint.low * 100:+.2f} to" in row.verdict
    assert not row.conclusive  # conversion decides; the harms are said, not scored


def test_no_unsubscribe_or_complaint_note_without_a_clear_difference(martech_store: Store) -> None:
    _arms(martech_store, 2000, {"purchase": (100, 100), "email_unsubscribe": (22, 20)})
    (row,) = lift(martech_store)
    assert "unsubscribes" not in row.verdict
    assert "complaints" not in row.verdict


def test_the_table_has_every_metric_the_json_has(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MARTECH_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["lift", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert main(["lift"]) == 0
    header = capsys.readouterr().out
    for name in row["metrics"]:
        assert name.removesuffix("_rate").replace("_per_", "/") in header, name


@pytest.mark.parametrize("tactics", [["x"], ["x", "y", "z"]], ids=["one", "three"])
def test_several_tactics_carry_a_multiple_comparisons_note(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tactics: list[str],
) -> None:
    with Store(tmp_path / "martech.duckdb") as store:
        for tactic in tactics:
            _arms(store, 500, {"purchase": (30, 25)}, tactic=tactic)
    monkeypatch.setenv("MARTECH_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["lift"]) == 0
    out = capsys.readouterr().out
    if len(tactics) == 1:
        assert "tactics compared" not in out
        return
    assert "3 tactics compared, each at 95%" in out
    assert "--confidence 0.9834" in out
    assert main(["lift", "--confidence", "0.9834"]) == 0
    assert "each at 98.34%" in capsys.readouterr().out


@pytest.mark.parametrize("confidence", [0, 1, 1.5])
def test_the_confidence_must_be_between_0_and_1(martech_store: Store, confidence: float) -> None:
    with pytest.raises(ConfigError, match="confidence must be between 0 and 1"):
        lift(martech_store, confidence=confidence)


def test_json_rows_carry_the_confidence_window_and_significance_of_the_table(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MARTECH_HOME", str(home))
    assert main(["lift", "--json", "--confidence", "0.9", "--window-days", "3"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["confidence"], row["window_days"]) == (0.9, 3.0)
    conv = row["metrics"]["conversion"]
    assert conv["significant"] is True
    assert conv["significant"] == (conv["low"] > 0 or conv["high"] < 0)
    assert row["metrics"]["complaint_rate"]["significant"] is False
    assert "the 90% CI" in row["verdict"] or "(90% CI" in row["verdict"]


def test_no_detectable_difference_says_what_the_arms_could_have_detected(
    martech_store: Store,
) -> None:
    _arms(martech_store, 500, {"purchase": (30, 25)})
    (row,) = lift(martech_store)
    # textbook minimum detectable effect, 95% two-sided and 80% power, pooled rate 55 of 1,000
    z = statistics.NormalDist().inv_cdf
    mde = (z(0.975) + z(0.8)) * math.sqrt(0.055 * 0.945 * (1 / 500 + 1 / 500))
    assert f"{mde * 100:.2f}" == "4.04"
    assert row.verdict.startswith(
        "no detectable conversion difference: +1.00 pp, the 95% CI (-1.88 to +3.91) includes 0; "
        "these arms would detect a difference of ±4.04 pp or more 80% of the time"
    ), row.verdict


def test_revenue_moving_against_conversion_is_in_the_verdict(martech_store: Store) -> None:
    # More people buy, but cheaper things: 200 orders of 10.00 against 100 of 80.00.
    _arms(martech_store, 2000, {"purchase": (200, 100)})
    martech_store.con.execute(
        "UPDATE events SET value = CASE WHEN profile_id IN (SELECT profile_id FROM decisions "
        "WHERE holdout) THEN 80.0 ELSE 10.0 END"
    )
    (row,) = lift(martech_store)
    revenue = row.metrics["revenue_per_recipient"]
    assert (revenue.treated, revenue.holdout) == (1.0, 4.0)
    assert revenue.significant
    assert row.verdict.startswith("conversion up +5.00 pp (95% CI ")
    assert (
        f"; revenue per recipient down -3.00 (95% CI {revenue.low:+.2f} to {revenue.high:+.2f})"
        in row.verdict
    ), row.verdict


@pytest.mark.parametrize("buyers", [0, 200], ids=["no-one-buys", "everyone-buys"])
def test_no_one_or_everyone_converting_reads_as_no_difference(
    martech_store: Store, buyers: int
) -> None:
    _arms(martech_store, 200, {"purchase": (buyers, buyers), "view": (1, 0)})
    (row,) = lift(martech_store)
    conv = row.metrics["conversion"]
    assert conv.low < 0 < conv.high
    assert row.verdict.startswith("no detectable conversion difference: +0.00 pp")
    assert "would detect" not in row.verdict  # no spread to size a difference against
    assert not row.metrics["revenue_per_recipient"].significant
