"""decide(): the fallback chain, holdout, consent, determinism."""

from __future__ import annotations

import pytest

from martech.models import DecisionLevel, Profile
from martech.personalize.bucketing import bucket
from martech.personalize.decide import decide, decide_outcome, suppressed

from .conftest import HERO, STRATEGIES, ev, make_context, person

GARY = {
    "interest": "fishing",
    "skill_level": "beginner",
    "water_type": "lake",
    "first_name": "Gary",
}


def test_personalization_wins_when_the_person_has_the_data() -> None:
    d = decide(person([ev("view", "R1", hours=8)], **GARY), "hero", context=make_context())
    assert d.level is DecisionLevel.personalization
    assert d.variant_id == "viewed"
    assert d.content == "Still thinking about these? Lake Spin Reel"


def test_micro_segment_when_no_recent_behaviour_with_the_reason() -> None:
    d = decide(person([ev("view", "R1", days=9)], **GARY), "hero", context=make_context())
    assert d.level is DecisionLevel.micro_segment
    assert d.content == "Gary, lake kit"
    assert d.reasons[0] == "micro_segment: cell skill_level=beginner + water_type=lake"
    assert any("personalization (browse_abandonment) skipped" in r for r in d.reasons)


def test_segment_when_the_cell_does_not_match() -> None:
    d = decide(person(**{**GARY, "water_type": "river"}), "hero", context=make_context())
    assert d.level is DecisionLevel.segment
    assert d.variant_id == "fishing"
    assert any("cell wants water_type=lake, this person has river" in r for r in d.reasons)
    assert d.segment_keys == ["interest=fishing"]


def test_a_profile_with_no_events_and_no_traits_gets_the_default_with_reasons() -> None:
    d = decide(person(), "hero", context=make_context())
    assert d.level is DecisionLevel.default
    assert d.variant_id == "generic"
    assert d.reasons[0] == "default: no rule matched"
    assert len(d.reasons) == 5  # three skipped levels, then the bucket


def test_a_skipped_step_names_its_strategy_only_when_it_differs_from_the_level() -> None:
    d = decide(person(), "hero", context=make_context())
    skipped = [r for r in d.reasons if " skipped: " in r]
    assert skipped[0].startswith("personalization (browse_abandonment) skipped: ")
    assert skipped[1].startswith("micro_segment (cell) skipped: ")
    assert skipped[2] == "segment skipped: no interest for this person"


def test_template_falls_back_to_the_token_default() -> None:
    traits = {k: v for k, v in GARY.items() if k != "first_name"}
    d = decide(person(**traits), "hero", context=make_context())
    assert d.content == "Hi, lake kit"


def test_holdout_gets_the_default_and_records_what_it_would_have_had() -> None:
    ctx = make_context({**HERO, "holdout": 1.0})
    out = decide_outcome(person([ev("view", "R1", hours=8)], **GARY), "hero", context=ctx)
    d = out.decision
    assert d.holdout
    assert d.variant_id == "generic"
    assert d.level is DecisionLevel.default
    assert out.tactic == "browse_abandonment"
    assert "would have shown viewed (browse_abandonment)" in d.reasons[0]


def test_no_consent_suppresses_the_decision_with_the_reason() -> None:
    p = Profile(id="x", traits=GARY, consent={"email": False})
    d = decide(p, "hero", context=make_context())
    assert suppressed(d)
    assert d.content == ""
    assert "email consent withdrawn" in d.reasons[0]
    missing = decide(Profile(id="y", traits=GARY), "hero", context=make_context())
    assert suppressed(missing)
    assert "not given" in missing.reasons[0]


def test_web_placements_need_no_channel_consent() -> None:
    web = {**HERO, "key": "web", "channel": "web"}
    d = decide(Profile(id="z", traits=GARY), "web", context=make_context(web))
    assert not suppressed(d)
    assert d.level is DecisionLevel.micro_segment


def test_the_same_profile_and_configuration_give_the_same_decision() -> None:
    p = person([ev("view", "R1", hours=8)], **GARY)
    first = decide(p, "hero", context=make_context())
    again = decide(p, "hero", context=make_context())
    assert first == again
    assert first.bucket == bucket("gary", "hero")


def test_segment_membership_rule_reads_the_context_memberships() -> None:
    seg = {
        "key": "s",
        "channel": "email",
        "holdout": 0.0,
        "default": "d",
        "variants": [
            {"id": "d", "kind": "static", "content": "d"},
            {"id": "vip", "kind": "static", "content": "vip"},
        ],
        "rules": [{"variant": "vip", "segment": "high_value"}],
    }
    ctx = make_context(seg, memberships={"high_value": frozenset({"gary"})})
    assert decide(person(), "s", context=ctx).variant_id == "vip"
    other = decide(person(pid="other"), "s", context=ctx)
    assert other.variant_id == "d"
    assert any("not a member of segment 'high_value'" in r for r in other.reasons)


def test_a_placement_object_is_decided_with_its_own_rules_not_the_contexts_of_that_key() -> None:
    from martech.errors import ConfigError
    from martech.personalize.placements import parse_placements

    ctx = make_context()
    gary = person(interest="fishing")
    assert decide(gary, "hero", context=ctx).variant_id == "fishing"
    other = parse_placements([{**HERO, "rules": [], "default": "kit"}])["hero"]
    d = decide(gary, other, context=ctx)
    assert (d.variant_id, d.level.value, d.content) == ("kit", "default", "Hi, lake kit")
    assert decide(gary, ctx.placements["hero"], context=ctx).variant_id == "fishing"
    unknown = parse_placements([{**HERO, "key": "elsewhere"}])["elsewhere"]
    assert decide(gary, unknown, context=ctx).variant_id == "fishing"
    mine = {"id": "mine", "kind": "recommendation", "strategy": "mine"}
    bad = parse_placements(
        [
            {
                **HERO,
                "key": "x",
                "variants": [*HERO["variants"], mine],
                "rules": [{"variant": "mine"}],
            }
        ],
        strategies={**STRATEGIES, "mine": STRATEGIES["co_occurrence"]},
    )["x"]
    with pytest.raises(ConfigError, match=r"placements\.x\.variants\[4\]\.strategy"):
        decide(gary, bad, context=ctx)
