"""Segment definitions: the friendly file form, Python objects, and errors that name the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.errors import SegmentDefinitionError
from martech.models import All, EventCondition, Not, RuleSegment, SegmentRef, TraitCondition, Window
from martech.segments import example_segments, load_segments, parse_segments

VIP = """
segments:
  buyers:
    rule: {event: purchase}
  vip:
    name: VIP
    description: Big US spenders
    min_size: 100
    rule:
      all:
        - {trait: country, op: eq, value: US}
        - {trait: age, gte: 30}
        - {event: purchase, measure: count, op: gte, value: 3, window: last 90 days}
        - {event: view, category: reels, window: last 2 weeks}
        - {not: {segment: buyers}}
        - {trait: email, exists: false}
"""


def test_friendly_yaml_becomes_the_condition_tree() -> None:
    buyers, vip = parse_segments(VIP)
    assert buyers.rule == EventCondition(event="purchase")
    assert vip.name == "VIP"
    assert vip.min_size == 100
    assert isinstance(vip.rule, All)
    country, age, purchases, reels, not_buyers, no_email = vip.rule.all
    assert country == TraitCondition(trait="country", op="eq", value="US")
    assert age == TraitCondition(trait="age", op="gte", value=30)
    assert purchases == EventCondition(
        event="purchase", measure="count", op="gte", value=3, window=Window(days=90)
    )
    assert reels == EventCondition(event="view", category="reels", window=Window(days=14))
    assert not_buyers == Not(not_=SegmentRef(segment="buyers"))
    assert no_email == TraitCondition(trait="email", op="is_null")


def test_json_list_form_and_python_objects_parse_to_the_same_segments(tmp_path: Path) -> None:
    path = tmp_path / "segments.json"
    path.write_text(
        '[{"key": "us", "rule": {"trait": "country", "op": "eq", "value": "US"}}]',
        encoding="utf-8",
    )
    from_json = load_segments(path)
    from_object = parse_segments(
        [RuleSegment(key="us", rule=TraitCondition(trait="country", op="eq", value="US"))]
    )
    assert from_json == from_object
    assert from_json[0].version == from_object[0].version


def test_version_changes_exactly_when_the_rule_changes() -> None:
    a = parse_segments({"s": {"name": "A", "rule": {"trait": "x", "eq": 1}}})[0]
    renamed = parse_segments({"s": {"name": "B", "rule": {"trait": "x", "op": "eq", "value": 1}}})
    other = parse_segments({"s": {"rule": {"trait": "x", "eq": 2}}})[0]
    assert a.version == renamed[0].version
    assert a.version != other.version


def test_unknown_operator_names_the_path_and_the_choices() -> None:
    text = VIP.replace("op: gte, value: 3", "op: 'gte ', value: 3")
    with pytest.raises(SegmentDefinitionError) as err:
        parse_segments(text, source="segments.yml")
    message = str(err.value)
    assert message.startswith("segments.yml: vip.rule.all[2].op: unknown operator 'gte '; expected")
    assert "eq, ne, gt, gte" in message
    assert err.value.field == "vip.rule.all[2].op"


@pytest.mark.parametrize(
    ("rule", "path", "fragment"),
    [
        ({"trait": "age", "op": "between", "value": [1]}, "s.rule.value", "two values"),
        ({"trait": "age", "op": "in", "value": "US"}, "s.rule.value", "expects a list"),
        ({"trait": "age", "op": "gt", "value": True}, "s.rule.value", "numbers or strings"),
        ({"trait": "tags", "op": "contains", "value": 3}, "s.rule.value", "expects a string"),
        ({"trait": "bad name", "op": "exists"}, "s.rule.trait", "bad trait name"),
        ({"trait": "age", "op": "eq"}, "s.rule.value", "needs a value"),
        ({"trait": "age", "colour": 1, "op": "eq", "value": 1}, "s.rule.colour", "unknown field"),
        ({"event": "purchase", "window": "last fortnight"}, "s.rule.window", "last 30 days"),
        ({"event": "purchase", "measure": "avg"}, "s.rule.measure", "unknown measure"),
        ({"event": "purchase", "measure": "sum", "value": "lots"}, "s.rule.value", "number"),
        ({"event": "purchase", "measure": "last"}, "s.rule.value", "days ago or a timestamp"),
        ({"event": "purchase", "measure": "last", "lte": "yesterday"}, "s.rule.value", "timezone"),
        ({"event": "purchase", "measure": "last", "lte": 2.5}, "s.rule.value", "whole days"),
        ({"trait": "age", "between": [40, 20]}, "s.rule.value", "write [20, 40]"),
        ({"event": "view", "window": "last 1000000 days"}, "s.rule.window", "36,500"),
        ({"event": "view", "window": {"days": 10**6}}, "s.rule.window", "36,500"),
        ({"event": "view", "measure": "last", "gt": 10**6}, "s.rule.value", "36,500"),
        ({"trait": "tier", "between": ["b", "a"]}, "s.rule.value", "write ['a', 'b']"),
        ({"event": "view", "measure": "last", "between": [30, 10]}, "s.rule.value", "[10, 30]"),
        ({"event": "view", "measure": "sum", "between": [5, 1]}, "s.rule.value", "[1, 5]"),
        (
            {
                "event": "view",
                "measure": "first",
                "between": ["2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"],
            },
            "s.rule.value",
            "above",
        ),
        ({"all": [{"trait": "a", "eq": 1}, 7]}, "s.rule.all[1]", "expected a condition"),
        ({"not": [{"trait": "a", "eq": 1}]}, "s.rule.not", "wrap several"),
        ({"trait": "a", "eq": 1, "event": "view"}, "s.rule", "exactly one of"),
        ({"any": {"trait": "a"}}, "s.rule.any", "list of conditions"),
    ],
)
def test_invalid_definitions_name_the_path(rule: dict, path: str, fragment: str) -> None:
    with pytest.raises(SegmentDefinitionError) as err:
        parse_segments({"segments": {"s": {"rule": rule}}}, source="segments.yml")
    assert str(err.value).startswith(f"segments.yml: {path}: "), str(err.value)
    assert fragment in str(err.value)


def test_segment_level_mistakes_are_reported() -> None:
    with pytest.raises(SegmentDefinitionError, match=r"s\.min_size: expected a whole number"):
        parse_segments({"s": {"min_size": -1, "rule": {"event": "view"}}})
    with pytest.raises(SegmentDefinitionError, match=r"s\.rule: missing"):
        parse_segments({"s": {"name": "no rule"}})
    with pytest.raises(SegmentDefinitionError, match=r"bad segment key 'Big Spenders'"):
        parse_segments({"Big Spenders": {"rule": {"event": "view"}}})
    with pytest.raises(SegmentDefinitionError, match=r"s\.nmae: unknown field"):
        parse_segments({"s": {"nmae": "typo", "rule": {"event": "view"}}})
    with pytest.raises(SegmentDefinitionError, match=r"\[1\]\.key: missing"):
        parse_segments([{"key": "a", "rule": {"event": "view"}}, {"rule": {"event": "view"}}])
    with pytest.raises(SegmentDefinitionError, match="defined twice"):
        parse_segments([{"key": "a", "rule": {"event": "view"}}] * 2)


def test_yaml_syntax_errors_give_the_line(tmp_path: Path) -> None:
    path = tmp_path / "segments.yml"
    path.write_text("segments:\n  a:\n    rule: {event: view\n", encoding="utf-8")
    with pytest.raises(SegmentDefinitionError, match=r"segments.yml: not valid YAML at line \d+"):
        load_segments(path)


def test_missing_file_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(SegmentDefinitionError, match="no such file"):
        load_segments(tmp_path / "segments.yml")


def test_reference_to_an_unknown_segment_names_where() -> None:
    with pytest.raises(SegmentDefinitionError) as err:
        parse_segments({"a": {"rule": {"any": [{"event": "view"}, {"segment": "ghost"}]}}})
    assert "a.rule.any[1].segment: unknown segment 'ghost'" in str(err.value)


def test_reference_cycles_are_reported_with_their_path() -> None:
    with pytest.raises(SegmentDefinitionError, match=r"cycle a -> b -> c -> a"):
        parse_segments(
            {
                "a": {"rule": {"segment": "b"}},
                "b": {"rule": {"all": [{"event": "view"}, {"segment": "c"}]}},
                "c": {"rule": {"not": {"segment": "a"}}},
            }
        )
    with pytest.raises(SegmentDefinitionError, match=r"cycle s -> s"):
        parse_segments({"s": {"rule": {"segment": "s"}}})


def test_diamond_references_are_not_cycles() -> None:
    segs = parse_segments(
        {
            "base": {"rule": {"event": "view"}},
            "left": {"rule": {"segment": "base"}},
            "right": {"rule": {"segment": "base"}},
            "top": {"rule": {"all": [{"segment": "left"}, {"segment": "right"}]}},
        }
    )
    assert [s.key for s in segs] == ["base", "left", "right", "top"]


def test_packaged_examples_parse_and_cover_the_population_story() -> None:
    keys = {s.key for s in example_segments()}
    assert len(keys) >= 12
    assert {"purchasers", "non_purchasers", "lapsed", "gary", "cart_abandoners_7d"} <= keys


def test_a_window_past_a_century_built_in_python_is_refused_by_check_condition() -> None:
    from martech.models import EventCondition, Window
    from martech.segments.rules import check_condition

    cond = EventCondition(event="view", window=Window(days=10**6))
    with pytest.raises(SegmentDefinitionError, match=r"rule\.window: at most 36,500 days"):
        check_condition(cond)
