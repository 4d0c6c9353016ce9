"""The audit's statistics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from martech.audit import stats


def test_fisher_all_changes_in_treatment_is_one_over_the_number_of_arrangements():
    # 3 changes, all in the 3 treatment pairs, out of 6 pairs: 1 / C(6, 3)
    assert stats.fisher_greater(3, 3, 0, 3) == pytest.approx(1 / 20)


def test_fisher_is_one_when_treatment_changes_no_more_than_controls():
    assert stats.fisher_greater(0, 10, 5, 10) == pytest.approx(1.0)
    assert stats.fisher_greater(5, 10, 5, 10) > 0.5


def test_fisher_detects_forty_of_forty_against_a_silent_control():
    assert stats.fisher_greater(40, 40, 0, 100) < 1e-20


def test_holm_multiplies_the_smallest_by_m_and_stays_monotone():
    adjusted = stats.holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adjusted["a"] == pytest.approx(0.03)
    assert adjusted["c"] == pytest.approx(0.06)
    assert adjusted["b"] == pytest.approx(0.06)  # 0.04 * 1 < 0.06: monotone


def test_binom_cdf_matches_closed_forms():
    assert stats.binom_cdf(0, 10, 0.25) == pytest.approx(0.75**10)
    assert stats.binom_cdf(10, 10, 0.3) == pytest.approx(1.0)
    assert stats.binom_cdf(1, 2, 0.5) == pytest.approx(0.75)


def test_wilson_interval_contains_the_estimate_and_is_bounded():
    low, high = stats.wilson(26, 40)
    assert 0 <= low < 26 / 40 < high <= 1
    assert stats.wilson(0, 0) == (0.0, 1.0)


def test_entropy_and_conditional_entropy_in_bits():
    assert stats.entropy(["a", "b", "a", "b"]) == pytest.approx(1.0)
    assert stats.entropy(["a"] * 5) == 0.0
    outputs = ["x", "y", "x", "y"]
    assert stats.conditional_entropy(outputs, ["1", "2", "1", "2"]) == 0.0  # determined
    assert stats.conditional_entropy(outputs, ["1", "1", "1", "1"]) == pytest.approx(1.0)
    assert stats.entropy(list("abcd")) == pytest.approx(math.log2(4))


def test_class_sizes_and_median():
    assert stats.class_sizes(["a", "a", "b", "c", "c", "c"]) == [3, 2, 1]
    assert stats.median([3, 2, 1]) == 2.0
    assert stats.median([1, 2, 3, 4]) == 2.5
