"""Computed traits: RFM, CLV, lifecycle, purchaser flags, openers, engagement, churn risk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from martech.errors import ConfigError, StoreError
from martech.models import Event, Profile
from martech.segments.traits import (
    SqlTrait,
    TraitParams,
    compute_traits,
    computed_names,
    registered_traits,
    trait_distribution,
    trait_values,
)

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def buy(days: float, value: float) -> Event:
    return Event(type="purchase", ts=ago(days), value=value)


# Purchase histories chosen so every method in the builtin docstring is exercised.
SHOP = [
    # three recent orders 30 days apart, recent opener
    Profile(
        id="loyal",
        events=[buy(5, 100), buy(35, 80), buy(65, 120), Event(type="email_open", ts=ago(3))],
    ),
    # one recent small order
    Profile(id="newbie", events=[buy(10, 30)]),
    # two big orders long ago, 100 days apart, 200 days since the last: one gap overdue
    Profile(
        id="sleeper",
        events=[buy(200, 500), buy(300, 400), Event(type="email_send", ts=ago(20))],
    ),
    # browses, never buys
    Profile(
        id="browser", events=[Event(type="view", ts=ago(1)), Event(type="email_send", ts=ago(5))]
    ),
    # two orders 280 days apart, last one 120 days ago
    Profile(id="slow", events=[buy(120, 50), buy(400, 50)]),
    # nothing at all, and an order after as_of that must be ignored
    Profile(id="future", events=[Event(type="purchase", ts=AS_OF + timedelta(days=1), value=999)]),
]


@pytest.fixture
def shop(martech_store):
    martech_store.upsert_profiles(SHOP)
    martech_store.append_events([(p.id, e) for p in SHOP for e in p.events])
    return martech_store


def computed(store, *names, **params):
    compute_traits(store, names or None, as_of=AS_OF, params=params or None)
    return {n: trait_values(store, n) for n in (names or computed_names(store))}


def test_builtin_traits_are_registered_through_the_plugin_hook():
    from martech.plugins import registry

    traits = registered_traits()
    for name in (
        "recency_score", "frequency_score", "monetary_score", "rfm_segment", "historic_clv",
        "predicted_clv", "lifecycle_stage", "purchaser", "first_time_purchaser",
        "email_opener", "engagement_score", "churn_risk",
    ):  # fmt: skip
        assert name in traits
        assert registry().owners[("traits", name)] == "traits"


def test_rfm_scores_are_quintiles_and_segments_follow_the_documented_map(shop):
    v = computed(shop, "recency_score", "frequency_score", "monetary_score", "rfm_segment")
    # four purchasers; percent_rank 0, 1/3, 2/3, 1 -> scores 1, 2, 4, 5
    assert v["recency_score"] == {"sleeper": 1, "slow": 2, "newbie": 4, "loyal": 5}
    assert v["frequency_score"] == {"newbie": 1, "sleeper": 2, "slow": 2, "loyal": 5}
    assert v["monetary_score"] == {"newbie": 1, "slow": 2, "loyal": 4, "sleeper": 5}
    assert v["rfm_segment"] == {
        "loyal": "champions",  # R5, FM round((5+4)/2)=5
        "newbie": "new_customers",  # R4, FM1
        "sleeper": "at_risk",  # R1, FM round((2+5)/2)=4
        "slow": "hibernating",  # R2, FM2
    }
    assert "browser" not in v["rfm_segment"]
    assert "future" not in v["rfm_segment"]


def test_clv_and_churn_risk_follow_the_documented_method(shop):
    v = computed(shop, "historic_clv", "predicted_clv", "churn_risk", "clv_tier")
    assert v["historic_clv"] == {
        "loyal": 300.0, "newbie": 30.0, "sleeper": 900.0, "browser": 0.0, "slow": 100.0,
        "future": 0.0,
    }  # fmt: skip
    # sleeper: gap 100 days, 200 days since last -> one gap overdue -> 1 - 1/e
    assert v["churn_risk"]["sleeper"] == pytest.approx(0.632, abs=1e-3)
    assert v["churn_risk"]["loyal"] == 0.0
    assert v["churn_risk"]["slow"] == 0.0
    # loyal: AOV 100, gap 30 days, horizon 365 -> 100 * 365/30, nothing overdue
    assert v["predicted_clv"]["loyal"] == pytest.approx(100 * 365 / 30, abs=0.01)
    # sleeper: AOV 450 * 365/100 * (1 - risk)
    assert v["predicted_clv"]["sleeper"] == pytest.approx(450 * 3.65 * (1 - 0.6321), rel=1e-3)
    # one-order newbie uses the median gap of repeat customers (30, 100, 280 -> 100)
    assert v["predicted_clv"]["newbie"] == pytest.approx(30 * 3.65, abs=0.01)
    assert v["predicted_clv"]["browser"] == 0.0
    assert v["clv_tier"]["loyal"] == "top"
    assert v["clv_tier"]["newbie"] == "low"


def test_lifecycle_stage_uses_configurable_thresholds(shop):
    stages = computed(shop, "lifecycle_stage")["lifecycle_stage"]
    assert stages == {
        "loyal": "active", "newbie": "new", "sleeper": "lapsed", "browser": "prospect",
        "slow": "lapsing", "future": "prospect",
    }  # fmt: skip
    tighter = computed(shop, "lifecycle_stage", new_days=7, active_days=7, lapsing_days=60)
    assert tighter["lifecycle_stage"]["newbie"] == "lapsing"
    assert tighter["lifecycle_stage"]["loyal"] == "active"
    assert tighter["lifecycle_stage"]["slow"] == "lapsed"


def test_inconsistent_thresholds_are_refused_with_the_rule():
    with pytest.raises(ConfigError, match="new_days <= active_days < lapsing_days"):
        compute_traits(None, ["lifecycle_stage"], params={"active_days": 200})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="trait params: opener_dayz"):
        compute_traits(None, ["email_opener"], params={"opener_dayz": 3})  # type: ignore[arg-type]


def test_purchaser_flags_and_order_counts(shop):
    v = computed(shop, "purchaser", "first_time_purchaser", "order_count")
    assert {p for p, yes in v["purchaser"].items() if yes} == {"loyal", "newbie", "sleeper", "slow"}
    assert {p for p, yes in v["first_time_purchaser"].items() if yes} == {"newbie"}
    assert v["order_count"]["loyal"] == 3
    assert v["order_count"]["future"] == 0


def test_email_openers_active_inactive_unreached_with_window(shop):
    v = computed(shop, "email_opener")["email_opener"]
    assert v["loyal"] == "active"
    assert v["sleeper"] == "inactive"
    assert v["browser"] == "inactive"
    assert v["newbie"] == "unreached"
    narrow = computed(shop, "email_opener", opener_days=2)["email_opener"]
    assert narrow["loyal"] == "inactive"


def test_engagement_score_rewards_recent_activity_and_is_bounded(shop):
    v = computed(shop, "engagement_score")["engagement_score"]
    assert all(0 <= s <= 100 for s in v.values())
    assert v["loyal"] > v["newbie"] > v["browser"] > v["sleeper"] == 0
    assert v["future"] == 0


def test_recomputing_replaces_values_and_ignores_events_after_as_of(shop):
    compute_traits(shop, ["order_count"], as_of=AS_OF)
    compute_traits(shop, ["order_count"], as_of=AS_OF + timedelta(days=2))
    values = trait_values(shop, "order_count")
    assert values["future"] == 1  # the order after AS_OF counts now
    assert shop.count("computed_traits") == len(SHOP)
    at = shop.con.execute(
        "SELECT DISTINCT timezone('UTC', computed_at) FROM computed_traits"
    ).fetchall()
    assert [r[0].replace(tzinfo=UTC) for r in at] == [AS_OF + timedelta(days=2)]


def test_unknown_trait_names_the_trait_and_lists_known_ones(shop):
    with pytest.raises(
        ConfigError, match=r"trait 'rfm': not registered; known traits: .*rfm_segment"
    ):
        compute_traits(shop, ["rfm"])


def test_a_plugin_trait_with_broken_sql_fails_with_its_name_and_leaves_old_values(shop):
    good = SqlTrait(
        name="vip",
        description="",
        kind="boolean",
        build=lambda a, p: "SELECT id AS profile_id, true AS value FROM profiles",
    )
    compute_traits(shop, traits={"vip": good})
    bad = SqlTrait(name="vip", description="", kind="boolean", build=lambda a, p: "SELECT nope")
    with pytest.raises(StoreError, match="trait 'vip': computing it failed"):
        compute_traits(shop, traits={"vip": bad})
    assert len(trait_values(shop, "vip")) == len(SHOP)


def test_distribution_counts_each_value(shop):
    computed(shop, "lifecycle_stage")
    dist = dict(trait_distribution(shop, "lifecycle_stage"))
    assert dist == {"prospect": 2, "new": 1, "active": 1, "lapsing": 1, "lapsed": 1}


def test_params_defaults_are_documented():
    for name, info in TraitParams.model_fields.items():
        assert info.description, name


def test_cli_compute_then_list(shop, tmp_path, capsys, monkeypatch):
    from martech.cli import main

    path = shop.path
    shop.close()
    monkeypatch.setenv("MARTECH_HOME", str(path.parent))
    assert main(["traits", "compute", "lifecycle_stage", "purchaser", "--as-of", "2026-06-01",
                 "--set", "active_days=100", "--json"]) == 0  # fmt: skip
    runs = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["profiles"]) for r in runs] == [
        ("lifecycle_stage", len(SHOP)), ("purchaser", len(SHOP))
    ]  # fmt: skip
    assert main(["traits", "list", "--json"]) == 0
    listed = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["lifecycle_stage"]["materialized"] == len(SHOP)
    assert listed["rfm_segment"]["materialized"] == 0
    assert "champions" in listed["rfm_segment"]["values"]
    assert main(["traits", "compute", "--set", "active_days"]) == 2
    assert "--set: expected key=value" in capsys.readouterr().err


def test_a_segment_on_rfm_segment_champions_selects_the_champions(shop):
    from martech.segments import members, parse_segments

    compute_traits(shop, ["rfm_segment", "lifecycle_stage"], as_of=AS_OF)
    (champions, active_champions) = parse_segments(
        {
            "segments": {
                "champions": {"rule": {"trait": "rfm_segment", "op": "eq", "value": "champions"}},
                "active_champions": {
                    "rule": {
                        "all": [
                            {"segment": "champions"},
                            {"trait": "lifecycle_stage", "op": "in", "value": ["active", "new"]},
                        ]
                    }
                },
            }
        }
    )
    names = computed_names(shop)
    assert members(shop, champions, as_of=AS_OF, computed=names) == {"loyal"}
    both = members(shop, active_champions, segments=[champions], as_of=AS_OF, computed=names)
    assert both == {"loyal"}
    # without naming it as computed, rfm_segment is looked up in stored traits: nobody
    assert members(shop, champions, as_of=AS_OF, computed=()) == set()


def test_recomputing_drops_profiles_the_trait_no_longer_applies_to(shop):
    def only(*ids: str) -> SqlTrait:
        listed = ", ".join(f"('{i}')" for i in ids)
        sql = f"SELECT profile_id, 1 AS value FROM (VALUES {listed}) AS v(profile_id)"
        return SqlTrait(name="flag", description="", kind="integer", build=lambda a, p: sql)

    compute_traits(shop, traits={"flag": only("loyal", "newbie", "slow")})
    compute_traits(shop, traits={"flag": only("newbie", "browser")})
    assert trait_values(shop, "flag") == {"newbie": 1, "browser": 1}


def test_a_trait_yielding_two_rows_for_one_profile_is_refused(shop):
    dup = "SELECT 'loyal' AS profile_id, 1 AS value UNION ALL SELECT 'loyal', 2"
    trait = SqlTrait(name="dup", description="", kind="integer", build=lambda a, p: dup)
    with pytest.raises(StoreError, match=r"trait 'dup': .* at most one row per profile"):
        compute_traits(shop, traits={"dup": trait})
    assert trait_values(shop, "dup") == {}
