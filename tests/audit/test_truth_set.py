"""The audit labels every reference tool correctly, within the default budget."""

from __future__ import annotations

import pytest
from truth_set import build

from martech import Level
from martech.audit import audit_target
from martech.audit.engine import DEFAULT_BUDGET


def _references(pop):  # built per test: rotation and exploration carry state
    return {r.name: r for r in build(pop)}


NAMES = [
    "broadcast", "rotation", "hash_bucketing", "growthbook_experiment", "liquid_tokens",
    "liquid_on_segment", "growthbook_targeting", "growthbook_segment_experiment", "rfm_tiers",
    "category_affinity", "micro_segments", "recommender", "popular_fallback", "exploration",
    "recently_viewed", "shuffled_recommender", "cart_abandonment", "item_rule", "tracking_link",
]  # fmt: skip


def test_truth_set_covers_every_level_and_at_least_twelve_tools(probe_population):
    refs = build(probe_population)
    assert len(refs) >= 12
    assert {r.expected for r in refs} == set(Level)
    assert sorted(r.name for r in refs) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_audit_labels_reference_tool(probe_population, name):
    ref = _references(probe_population)[name]
    report = audit_target(ref.fn, population=probe_population, seed=0)
    assert report.level == ref.expected, (ref.what, report.reason, report.notes)
    assert report.calls <= DEFAULT_BUDGET
    assert report.confidence >= 0.6


def test_ai_personalization_connector_is_labelled_segmentation(probe_population):
    report = audit_target("connector:smartcontent", population=probe_population, seed=0)
    assert report.level == Level.segmentation
    assert report.claimed == Level.personalization
    assert report.overclaim
    assert "country" in report.traits
    assert report.token_traits == ["first_name"]
    assert report.calls <= DEFAULT_BUDGET


def test_popular_fallback_reports_the_share_that_got_it(probe_population):
    ref = _references(probe_population)["popular_fallback"]
    report = audit_target(ref.fn, population=probe_population, seed=0)
    assert report.stats["fallback"] is True
    no_history = report.stats["no_history_in_sample"]
    assert report.stats["fallback_share"] == pytest.approx(no_history, abs=0.02)
    assert any("fallback" in n for n in report.notes)


def test_exploration_noise_is_reported_but_does_not_pull_the_label_down(probe_population):
    ref = _references(probe_population)["exploration"]
    report = audit_target(ref.fn, population=probe_population, seed=0)
    assert report.stats["noise_floor"]["changed"] > 0
    assert report.level == Level.personalization
    assert any("noise" in n for n in report.notes)
