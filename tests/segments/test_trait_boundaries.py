"""Day boundaries of the computed traits: whole days, one definition for every trait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from martech.models import Event, Profile
from martech.segments.traits import compute_traits, trait_values

AS_OF = datetime(2026, 6, 1, 12, tzinfo=UTC)


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def one_order(pid: str, days: float) -> Profile:
    return Profile(id=pid, events=[Event(type="purchase", ts=ago(days), value=10)])


@pytest.mark.parametrize(
    ("days", "stage"),
    [
        (30.0, "new"),
        (30.5, "new"),  # 30 whole days ago: days_since_purchase 30, new_days 30
        (31.0, "active"),
        (90.0, "active"),
        (90.99, "active"),  # days_since_purchase 90 = active_days
        (91.0, "lapsing"),
        (180.5, "lapsing"),
        (181.0, "lapsed"),
    ],
)
def test_lifecycle_stage_counts_whole_days_as_days_since_purchase_does(martech_store, days, stage):
    martech_store.upsert_profiles([one_order("p", days)])
    compute_traits(martech_store, ["lifecycle_stage", "days_since_purchase"], as_of=AS_OF)
    assert trait_values(martech_store, "days_since_purchase")["p"] == int(days)
    assert trait_values(martech_store, "lifecycle_stage")["p"] == stage


def test_lifecycle_stage_agrees_with_days_since_purchase_and_order_count(martech_store):
    profiles = [one_order(f"p{i}", i * 0.37) for i in range(600)]
    profiles += [
        Profile(
            id=f"r{i}",
            events=[
                Event(type="purchase", ts=ago(i * 0.41), value=5),
                Event(type="purchase", ts=ago(i * 0.41 + 3.3), value=5),
            ],
        )
        for i in range(500)
    ]
    martech_store.upsert_profiles(profiles)
    names = ["lifecycle_stage", "days_since_purchase", "order_count"]
    compute_traits(martech_store, names, as_of=AS_OF)
    stage, since, orders = (trait_values(martech_store, n) for n in names)
    for pid, got in stage.items():
        d = since[pid]
        if orders[pid] == 1 and d <= 30:
            want = "new"
        elif d <= 90:
            want = "active"
        elif d <= 180:
            want = "lapsing"
        else:
            want = "lapsed"
        assert got == want, (pid, d, orders[pid])


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_trait_windows_are_exact_days_whatever_the_session_time_zone(martech_store, zone):
    """opener_days / engagement_days are 24-hour days, as a segment's ``window: last N days``.

    DuckDB subtracts ``INTERVAL 90 DAY`` in the session's zone (the machine's by default), where
    the 90 days before 1 June span the spring DST change and last 89 days 23 hours.
    """
    from martech.segments import members, parse_segments

    inside = AS_OF - timedelta(days=90) + timedelta(minutes=30)
    outside = AS_OF - timedelta(days=90) - timedelta(minutes=30)
    martech_store.upsert_profiles(
        [
            Profile(id="in", events=[Event(type="email_open", ts=inside)]),
            Profile(id="out", events=[Event(type="email_open", ts=outside)]),
        ]
    )
    martech_store.con.execute(f"SET TimeZone = '{zone}'")
    compute_traits(martech_store, ["email_opener", "engagement_score"], as_of=AS_OF,
                   params={"engagement_scale": 0.001})  # fmt: skip
    assert trait_values(martech_store, "email_opener") == {"in": "active", "out": "inactive"}
    assert trait_values(martech_store, "engagement_score") == {"in": 100, "out": 0}
    (seg,) = parse_segments({"o": {"rule": {"event": "email_open", "window": "last 90 days"}}})
    assert members(martech_store, seg, as_of=AS_OF) == {"in"}


def test_events_of_ids_without_a_profile_neither_get_traits_nor_move_the_quintiles(martech_store):
    """An event may name an id no profile has (events loaded before profiles, a deleted profile):
    it is no one's purchase for the RFM ranks, the CLV median gap or the counts a run reports."""
    martech_store.upsert_profiles([one_order("old", 20), one_order("recent", 2)])
    martech_store.append_events(
        [(f"ghost{i}", Event(type="purchase", ts=ago(1), value=1000)) for i in range(8)]
    )
    names = ["recency_score", "monetary_score", "rfm_segment", "churn_risk", "days_since_purchase"]
    runs = compute_traits(martech_store, names, as_of=AS_OF)
    assert {r.name: r.profiles for r in runs} == dict.fromkeys(names, 2)
    assert trait_values(martech_store, "recency_score") == {"old": 1, "recent": 5}
    held = martech_store.con.execute("SELECT DISTINCT profile_id FROM computed_traits").fetchall()
    assert {r[0] for r in held} == {"old", "recent"}


def test_an_order_without_a_value_is_not_an_order_of_zero_in_the_average(martech_store):
    """A purchase tracked without an amount counts as an order, not as 0 in the AOV behind
    predicted_clv (two orders of 100 and one unknown: AOV 100, not 66.67)."""
    history = ((1, 100), (31, None), (61, 100))
    orders = [Event(type="purchase", ts=ago(d), value=v) for d, v in history]
    martech_store.upsert_profiles([Profile(id="p", events=orders)])
    compute_traits(martech_store, ["predicted_clv", "order_count", "historic_clv"], as_of=AS_OF)
    assert trait_values(martech_store, "order_count") == {"p": 3}
    assert trait_values(martech_store, "historic_clv") == {"p": 200.0}
    # gap 30 days, nothing overdue: AOV x 365 / 30
    predicted = trait_values(martech_store, "predicted_clv")["p"]
    assert predicted == pytest.approx(100 * 365 / 30, abs=0.01)


def test_orders_all_without_a_value_predict_zero_not_null(martech_store):
    orders = [Event(type="purchase", ts=ago(d)) for d in (1, 31)]
    martech_store.upsert_profiles([Profile(id="p", events=orders), one_order("q", 5)])
    compute_traits(martech_store, ["predicted_clv", "clv_tier"], as_of=AS_OF)
    assert trait_values(martech_store, "predicted_clv")["p"] == 0.0
    assert trait_values(martech_store, "clv_tier") == {"p": "low", "q": "top"}


def test_a_click_counts_as_an_open_for_email_opener(martech_store):
    """A click proves the email was opened even when the open pixel never loaded (images
    blocked), as ESPs count it; the clicker was 'inactive' (or 'unreached' without a send)."""
    martech_store.upsert_profiles(
        [
            Profile(
                id="clicker",
                events=[
                    Event(type="email_send", ts=ago(10)),
                    Event(type="email_click", ts=ago(9)),
                ],
            ),
            Profile(id="click_only", events=[Event(type="email_click", ts=ago(3))]),
            Profile(id="old_click", events=[Event(type="email_click", ts=ago(200))]),
            Profile(id="sent", events=[Event(type="email_send", ts=ago(3))]),
        ]
    )
    compute_traits(martech_store, ["email_opener"], as_of=AS_OF)
    assert trait_values(martech_store, "email_opener") == {
        "clicker": "active",
        "click_only": "active",
        "old_click": "inactive",
        "sent": "inactive",
    }


@pytest.mark.parametrize(
    "key", ["new_days", "opener_days", "engagement_days", "clv_horizon_days", "lapsing_days"]
)
def test_day_params_past_a_century_are_refused_naming_the_key(martech_store, key):
    from martech.errors import ConfigError

    params = {"new_days": 30, "active_days": 90, "lapsing_days": 180, key: 10**6}
    if key == "new_days":
        params.update(active_days=10**6, lapsing_days=10**6 + 1)
    with pytest.raises(ConfigError, match=rf"trait params: {key}: .*36500"):
        compute_traits(martech_store, as_of=AS_OF, params=params)


def test_a_failing_trait_says_which_traits_of_the_run_were_updated(martech_store):
    """Each trait is replaced in its own transaction: when one fails, the error says which
    were already updated and which keep their earlier values, so a mixed store is not silent."""
    from martech.errors import StoreError
    from martech.segments.traits import SqlTrait, registered_traits

    builtin = registered_traits()
    broken = SqlTrait(name="broken", description="", kind="integer", build=lambda a, p: "SELECT x")
    traits = {"order_count": builtin["order_count"], "broken": broken,
              "purchaser": builtin["purchaser"]}  # fmt: skip
    martech_store.upsert_profiles([one_order("p", 3)])
    with pytest.raises(StoreError) as err:
        compute_traits(martech_store, ["order_count", "broken", "purchaser"], traits=traits,
                       as_of=AS_OF)  # fmt: skip
    message = str(err.value)
    assert "trait 'broken': computing it failed" in message
    assert "order_count was updated" in message
    assert "purchaser keeps its earlier values" in message
    assert trait_values(martech_store, "order_count") == {"p": 1}
    assert trait_values(martech_store, "purchaser") == {}
