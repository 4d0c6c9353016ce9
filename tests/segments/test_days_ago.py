"""``first`` / ``last`` compared with days ago count whole days, as ``days_since_purchase`` does.

``{event: purchase, measure: last, op: OP, value: N}`` and ``{trait: days_since_purchase, op: OP,
value: N}`` select the same purchasers for every operator, in SQL and in the reference evaluator.
Compared to the exact instant, ``eq`` (a follow-up 30 days after the last order) and ``ne``
matched no one but an order placed to the microsecond N x 24 h before ``as_of``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from martech.models import Event, Profile
from martech.segments import members, parse_segments
from martech.segments.reference import reference_members
from martech.segments.traits import compute_traits, trait_values

AS_OF = datetime(2026, 6, 1, 12, tzinfo=UTC)
US = timedelta(microseconds=1)
# Ages around the whole-day edges of 29-31 days, and a repeat buyer (last is what counts).
AGES = [timedelta(days=d) + delta for d in (0, 29, 30, 31) for delta in (-US, 0 * US, US)]
AGES += [timedelta(days=30, hours=12), timedelta(days=29, hours=23), timedelta(hours=5)]

PEOPLE = [
    Profile(id=f"p{i}", events=[Event(type="purchase", ts=AS_OF - age, value=1)])
    for i, age in enumerate(a for a in AGES if a >= timedelta(0))
] + [
    Profile(
        id="repeat",
        events=[
            Event(type="purchase", ts=AS_OF - timedelta(days=30, hours=6), value=1),
            Event(type="purchase", ts=AS_OF - timedelta(days=90), value=1),
        ],
    ),
    Profile(id="never"),
]

CASES = [
    ("eq", 30),
    ("ne", 30),
    ("lt", 30),
    ("lte", 30),
    ("gt", 30),
    ("gte", 30),
    ("between", [29, 30]),
    ("between", [30, 30]),
    ("eq", 0),
    ("lte", 0),
]


@pytest.fixture
def store(martech_store):
    martech_store.upsert_profiles(PEOPLE)
    compute_traits(martech_store, ["days_since_purchase"], as_of=AS_OF)
    return martech_store


@pytest.mark.parametrize(("op", "value"), CASES)
def test_last_days_ago_selects_as_days_since_purchase_does(store, op, value):
    since = trait_values(store, "days_since_purchase")
    (by_trait,) = parse_segments({"t": {"rule": {"trait": "days_since_purchase", op: value}}})
    (by_event,) = parse_segments(
        {"e": {"rule": {"event": "purchase", "measure": "last", op: value}}}
    )
    want = members(store, by_trait, as_of=AS_OF)
    assert want, f"no purchaser has days_since_purchase {op} {value}: {since}"
    assert members(store, by_event, as_of=AS_OF) == want
    assert reference_members(PEOPLE, by_event, as_of=AS_OF) == want


def test_a_follow_up_thirty_days_after_the_last_order_finds_those_customers(store):
    (seg,) = parse_segments({"f": {"rule": {"event": "purchase", "measure": "last", "eq": 30}}})
    got = members(store, seg, as_of=AS_OF)
    since = trait_values(store, "days_since_purchase")
    assert got == {p for p, d in since.items() if d == 30}
    assert "repeat" in got
    assert len(got) >= 4


def test_first_between_days_ago_includes_the_whole_last_day(store):
    (seg,) = parse_segments(
        {"f": {"rule": {"event": "purchase", "measure": "first", "between": [89, 90]}}}
    )
    # the repeat buyer's first order is exactly 90 days ago; 90 days and 23 hours is still 90
    assert members(store, seg, as_of=AS_OF) == {"repeat"}
    later = AS_OF + timedelta(hours=23)
    assert members(store, seg, as_of=later) == {"repeat"}
    assert reference_members(PEOPLE, seg, as_of=later) == {"repeat"}
    assert members(store, seg, as_of=AS_OF + timedelta(days=1)) == set()
