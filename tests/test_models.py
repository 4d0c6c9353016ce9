"""The data model: validation errors name the field; shapes are as DESIGN.md fixes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from martech import (
    Decision,
    DecisionLevel,
    Event,
    Level,
    Profile,
    RuleSegment,
    StaticVariant,
    TemplateVariant,
    TraitCondition,
)
from martech.models import check_event_type


def _field(exc: pydantic.ValidationError) -> str:
    return ".".join(str(p) for p in exc.errors()[0]["loc"])


def test_profile_without_id_names_the_field():
    with pytest.raises(pydantic.ValidationError) as info:
        Profile.model_validate({"traits": {}})
    assert _field(info.value) == "id"


def test_empty_profile_id_is_refused():
    with pytest.raises(pydantic.ValidationError) as info:
        Profile(id="")
    assert _field(info.value) == "id"


def test_naive_timestamp_is_refused_with_a_hint():
    with pytest.raises(pydantic.ValidationError) as info:
        Event(type="view", ts=datetime(2026, 1, 1))
    assert _field(info.value) == "ts"
    assert "timezone-aware" in str(info.value)


def test_aware_timestamps_are_stored_as_utc():
    ts = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert Event(type="view", ts=ts).ts == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_unknown_event_type_is_refused_only_in_strict_mode():
    check_event_type("teleport", strict=False)
    with pytest.raises(ValueError, match="teleport"):
        check_event_type("teleport", strict=True)
    check_event_type("purchase", strict=True)


def test_unknown_fields_in_our_definitions_are_an_error():
    with pytest.raises(pydantic.ValidationError) as info:
        Profile(id="p1", trait={"x": 1})  # type: ignore[call-arg]
    assert _field(info.value) == "trait"


def test_unknown_consent_channel_is_refused():
    with pytest.raises(pydantic.ValidationError, match="carrier_pigeon"):
        Profile(id="p1", consent={"carrier_pigeon": True})


def test_vendor_fields_survive_in_traits():
    p = Profile(id="p1", traits={"hs_lead_status": "NEW", "nested": {"a": [1, 2]}})
    assert Profile.model_validate_json(p.model_dump_json()) == p


def test_levels_are_ordered_by_how_individual_they_are():
    assert (
        Level.broadcast
        < Level.random
        < Level.token_only
        < Level.segmentation
        < Level.micro_segmentation
        < Level.personalization
    )
    assert max(Level.segmentation, Level.random) is Level.segmentation
    assert Level("segmentation") >= Level.segmentation


def test_segment_version_is_a_hash_of_the_definition_only():
    rule = TraitCondition(trait="country", op="eq", value="US")
    a = RuleSegment(key="us", name="US", rule=rule)
    b = RuleSegment(key="us", name="United States", description="renamed", rule=rule)
    c = RuleSegment(key="us", rule=TraitCondition(trait="country", op="eq", value="CA"))
    assert a.version == b.version
    assert a.version != c.version


@pytest.mark.parametrize(
    ("op", "value", "message"),
    [("in", "US", "list"), ("between", [1], "two values"), ("eq", None, "expects a value")],
    ids=["in-needs-list", "between-needs-pair", "eq-needs-value"],
)
def test_trait_condition_value_must_fit_its_operator(op, value, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        TraitCondition(trait="age", op=op, value=value)


def test_rule_segment_round_trips_through_json():
    seg = RuleSegment.model_validate(
        {
            "key": "vip",
            "rule": {
                "kind": "all",
                "all": [
                    {"kind": "trait", "trait": "country", "op": "in", "value": ["US", "CA"]},
                    {"kind": "not", "not": {"kind": "segment", "segment": "lapsed"}},
                    {
                        "kind": "event",
                        "event": "purchase",
                        "op": "gte",
                        "value": 3,
                        "window": {"days": 90},
                    },
                ],
            },
        }
    )
    again = RuleSegment.model_validate_json(seg.model_dump_json(by_alias=True))
    assert again == seg
    assert again.version == seg.version


def test_decision_bucket_and_level():
    d = Decision(
        profile_id="p1",
        placement="hero",
        variant_id="v1",
        content="hi",
        level=DecisionLevel.segment,
        bucket=42,
        reasons=["in segment fishing"],
    )
    assert d.level == "segment"
    with pytest.raises(pydantic.ValidationError):
        Decision(profile_id="p", placement="h", variant_id="v", content="", level="guess", bucket=0)


def test_variants_are_tagged():
    s = StaticVariant(id="a", channel="web", placement="hero", content="Hello")
    t = TemplateVariant(id="b", channel="email", placement="hero", template="Hi {{first_name}}")
    assert (s.kind, t.kind) == ("static", "template")
    with pytest.raises(pydantic.ValidationError):
        StaticVariant(id="a", channel="fax", placement="hero", content="x")  # type: ignore[arg-type]


@given(st.dictionaries(st.text(min_size=1), st.text()))
def test_identities_round_trip(identities):
    p = Profile(id="x", identities=identities)
    assert Profile.model_validate_json(p.model_dump_json()).identities == identities
