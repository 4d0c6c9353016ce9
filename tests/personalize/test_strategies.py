"""Each built-in strategy on hand-built people, through decide() (the public path)."""

from __future__ import annotations

import pytest

from martech.errors import ConfigError
from martech.models import DecisionLevel
from martech.personalize.decide import decide, decide_outcome
from martech.store import Store

from .conftest import ev, make_context, person


def _rec(strategy: str, **params: float) -> dict:
    return {
        "key": "p",
        "channel": "email",
        "holdout": 0.0,
        "default": "d",
        "variants": [
            {"id": "d", "kind": "static", "content": "default"},
            {
                "id": "r",
                "kind": "recommendation",
                "strategy": strategy,
                "slots": 3,
                "template": "{{reason}}: {{items}}",
            },
        ],
        "rules": [{"variant": "r", "params": params}],
    }


def test_co_occurrence_scores_neighbours_of_recent_items_and_skips_what_was_bought() -> None:
    ctx = make_context(_rec("co_occurrence"))
    p = person(
        [ev("view", "R1", hours=5), ev("view", "D1", hours=4), ev("purchase", "L1", hours=3)]
    )
    out = decide_outcome(p, "p", context=ctx)
    assert out.decision.level is DecisionLevel.personalization
    # R1: 9 (via D1) + 7 (via L1) = 16; D1: 9 (via R1) + 3 (via L1) = 12; R3: 5; R2: 2 (cut by
    # 3 slots). L1 was bought, so it is never recommended although it neighbours R1 and D1.
    assert out.items == ("R1", "D1", "R3")
    assert out.decision.content == "Picked for you: Lake Spin Reel, Spinning Rod, Pro Spin Reel"


def test_co_occurrence_falls_back_with_too_few_events() -> None:
    ctx = make_context(_rec("co_occurrence", min_events=3))
    d = decide(person([ev("view", "R1", hours=5)]), "p", context=ctx)
    assert d.level is DecisionLevel.default
    assert d.variant_id == "d"
    assert any("1 behavioural event(s)" in r and "at least 3" in r for r in d.reasons)


def test_an_item_missing_from_the_catalogue_is_dropped_with_a_reason_then_falls_back() -> None:
    ctx = make_context(_rec("because_you_viewed"))
    d = decide(person([ev("view", "T1", hours=1)]), "p", context=ctx)
    assert d.level is DecisionLevel.default
    assert any("dropped 1 item(s) not in the catalogue: GHOST" in r for r in d.reasons)


def test_browse_abandonment_lists_recent_views_not_bought_since() -> None:
    ctx = make_context(_rec("browse_abandonment", window_days=2))
    events = [
        ev("view", "R1", hours=10),
        ev("view", "R2", hours=12),
        ev("purchase", "R2", hours=11),
        ev("view", "R3", days=5),
    ]
    out = decide_outcome(person(events), "p", context=ctx)
    assert out.items == ("R1",)
    assert "browse abandonment: viewed Lake Spin Reel 10 h ago" in out.decision.reasons[0]


def test_cart_abandonment_excludes_what_was_bought_since_and_too_recent_adds() -> None:
    ctx = make_context(_rec("cart_abandonment", window_days=3, min_age_hours=1))
    events = [
        ev("add_to_cart", "R1", hours=20),
        ev("add_to_cart", "D1", hours=30),
        ev("purchase", "D1", hours=29),
        ev("add_to_cart", "L1", minutes=10),
    ]
    out = decide_outcome(person(events), "p", context=ctx)
    assert out.items == ("R1",)
    only_bought = decide(person(events[1:3]), "p", context=ctx)
    assert only_bought.level is DecisionLevel.default
    assert any("1 carted item(s) bought since" in r for r in only_bought.reasons)


def test_post_purchase_recommends_related_items_with_review_timing() -> None:
    ctx = make_context(_rec("post_purchase", review_after_days=7))
    out = decide_outcome(person([ev("purchase", "R1", days=2)]), "p", context=ctx)
    assert out.items == ("D1", "L1", "R3")
    assert "review request due in 5 day(s)" in out.decision.reasons[0]
    assert "care tips for reels" in out.decision.reasons[0]
    late = decide(person([ev("purchase", "R1", days=40)]), "p", context=ctx)
    assert late.level is DecisionLevel.default


def test_order_cross_sell_puts_complements_before_upgrades_and_drops_cheaper_same_category() -> (
    None
):
    ctx = make_context(_rec("order_cross_sell"))
    out = decide_outcome(person([ev("purchase", "R1", hours=1)]), "p", context=ctx)
    # D1, L1 are other categories (cross-sell); R3 pricier reel (upsell); R2 cheaper reel dropped
    assert out.items == ("D1", "L1", "R3")


def test_because_you_viewed_names_the_item() -> None:
    ctx = make_context(_rec("because_you_viewed"))
    out = decide_outcome(
        person([ev("view", "R2", hours=3), ev("view", "D1", days=3)]), "p", context=ctx
    )
    assert out.items == ("R1", "L1")
    assert out.decision.content.startswith("Because you viewed Budget Spin Reel: ")


def test_unknown_strategy_parameter_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown parameter 'windw_days'"):
        make_context(_rec("browse_abandonment", windw_days=2))


def test_unknown_strategy_is_a_config_error_listing_installed() -> None:
    with pytest.raises(ConfigError, match=r"unknown strategy 'magic'.*co_occurrence"):
        make_context(_rec("magic"))


@pytest.mark.parametrize(
    ("strategy", "param", "value"),
    [
        ("browse_abandonment", "window_days", 1e6),
        ("cart_abandonment", "min_age_hours", 1e9),
        ("post_purchase", "review_after_days", 1e9),
        ("order_cross_sell", "order_minutes", 1e13),
        ("because_you_viewed", "window_days", 1e12),
    ],
)
def test_a_time_parameter_past_a_century_is_a_config_error_not_an_overflow(
    strategy: str, param: str, value: float
) -> None:
    # now - 1,000,000 days is before year 1: decide raised OverflowError and the batch SQL a
    # conversion error; the parameter is refused at load, naming its field.
    with pytest.raises(ConfigError, match=rf"rules\[0\]\.params\.{param} .*at most"):
        make_context(_rec(strategy, **{param: value}))
    assert make_context(_rec(strategy, **{param: 36500}))  # a century is fine


def test_a_century_long_window_decides_in_both_paths(martech_store: Store) -> None:
    from martech.models import Profile
    from martech.personalize.batch import batch_frame, decide_batch
    from martech.personalize.decide import DecideContext
    from martech.personalize.placements import parse_placements

    from .conftest import AS_OF, STRATEGIES

    martech_store.upsert_profiles([Profile(id="x", events=[ev("view", "R1", days=20000)])])
    martech_store.con.execute("INSERT INTO items VALUES ('R1', 'Reel', 'reels', 1.0, NULL)")
    body = _rec("browse_abandonment", window_days=36500)
    body["channel"] = "web"
    ctx = DecideContext(
        placements=parse_placements([body]),
        catalogue={"R1": ("Reel", "reels", 1.0)},
        strategies=STRATEGIES,
        now=AS_OF,
        store=martech_store,
    )
    decide_batch(martech_store, "p", context=ctx, write=False)
    [row] = batch_frame(martech_store)
    d = decide("x", "p", context=ctx)
    assert (d.variant_id, d.level.value) == (row[1], row[2]) == ("r", "personalization")
