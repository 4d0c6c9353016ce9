"""Lift's intervals against published values, and the holdout share on 100,000 ids."""

from __future__ import annotations

import math
import statistics

import pytest

from martech.personalize.bucketing import BUCKETS, bucket, holdout_threshold, in_holdout
from martech.personalize.lift import _mean, _rate, _z, wilson

Z = _z(0.95)


def test_z_is_the_normal_quantile() -> None:
    assert abs(Z - 1.959964) < 1e-6
    assert _z(0.9) == pytest.approx(1.644854, abs=1e-6)


def test_wilson_matches_the_textbook_example() -> None:
    # 81 of 263 (Wilson 1927 / Newcombe 1998, Table I): 0.2553 to 0.3662
    low, high = wilson(81, 263, Z)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


@pytest.mark.parametrize(
    ("x1", "n1", "x0", "n0", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (5, 56, 0, 29, -0.0381, 0.1926),
    ],
)
def test_the_difference_interval_is_newcombes_method_10(
    x1: int, n1: int, x0: int, n0: int, low: float, high: float
) -> None:
    m = _rate(x1, n1, x0, n0, Z, "conversion")
    assert m.diff == pytest.approx(x1 / n1 - x0 / n0)
    assert (round(m.low, 4), round(m.high, 4)) == (low, high)


def test_revenue_interval_is_welchs_normal_approximation() -> None:
    treated = [0.0] * 40 + [80.0, 120.0, 35.5, 60.0, 99.0]
    held = [0.0] * 20 + [50.0, 70.0]
    m = _mean(
        sum(treated),
        sum(v * v for v in treated),
        sum(1 for v in treated if v),
        len(treated),
        sum(held),
        sum(v * v for v in held),
        sum(1 for v in held if v),
        len(held),
        Z,
        "revenue_per_recipient",
    )
    diff = statistics.fmean(treated) - statistics.fmean(held)
    se = math.sqrt(
        statistics.variance(treated) / len(treated) + statistics.variance(held) / len(held)
    )
    assert m.diff == pytest.approx(diff)
    assert (m.low, m.high) == (pytest.approx(diff - Z * se), pytest.approx(diff + Z * se))
    assert m.estimable


@pytest.mark.parametrize("share", [0.01, 0.1, 0.25, 0.5, 0.9])
def test_the_holdout_share_holds_on_100k_ids_within_binomial_bounds(share: float) -> None:
    n = 100_000
    held = sum(in_holdout(bucket(f"user-{i}", "exp-1"), share) for i in range(n))
    p = holdout_threshold(share) / BUCKETS
    sd = math.sqrt(n * p * (1 - p))
    assert abs(held - n * p) < 4.5 * sd, (held, n * p, sd)


def test_buckets_are_uniform_on_100k_ids() -> None:
    # 10 bands of 1,000 buckets: a chi-square with 9 degrees of freedom, p = 0.001 at 27.88
    n = 100_000
    bands = [0] * 10
    for i in range(n):
        bands[bucket(f"{i}", "seed") // 1000] += 1
    chi2 = sum((b - n / 10) ** 2 / (n / 10) for b in bands)
    assert chi2 < 27.88, bands
