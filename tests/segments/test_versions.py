"""A segment's version covers the segments it references: membership of ``vip`` that reads
``{segment: buyers}`` changes when ``buyers``' rule does, and its version must say so (snapshots
report ``version_changed``, ``segments list`` shows it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from martech.errors import SegmentDefinitionError
from martech.models import RuleSegment, SegmentRef, TraitCondition
from martech.segments import parse_segments
from martech.segments.rules import resolve_versions
from martech.segments.snapshots import take_snapshots


def _defs(**rules: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "vip": {"rule": {"all": [{"segment": "buyers"}, {"trait": "tier", "eq": "gold"}]}},
        "buyers": {"rule": {"segment": "active"}},  # vip -> buyers -> active
        "active": {"rule": {"event": "view", "window": "last 30 days"}},
        "uk": {"rule": {"trait": "country", "eq": "GB"}},  # referenced by no one
        "not_vip": {"rule": {"not": {"segment": "vip"}}},
    }
    base.update({k: {"rule": r} for k, r in rules.items()})
    return base


def _versions(**rules: Any) -> dict[str, str]:
    return {s.key: s.version for s in parse_segments(_defs(**rules))}


BEFORE = _versions()


@pytest.mark.parametrize(
    ("changed", "rule", "moved"),
    [
        ("buyers", {"segment": "active", "kind": "segment"}, set()),  # same rule, spelled out
        (
            "buyers",
            {"all": [{"segment": "active"}, {"trait": "x", "eq": 1}]},
            {"buyers", "vip", "not_vip"},
        ),
        (
            "active",
            {"event": "view", "window": "last 7 days"},
            {"active", "buyers", "vip", "not_vip"},
        ),
        ("uk", {"trait": "country", "eq": "IE"}, {"uk"}),
        ("vip", {"segment": "buyers"}, {"vip", "not_vip"}),
    ],
    ids=["buyers-unchanged", "buyers-direct", "active-transitive", "unrelated", "vip-itself"],
)
def test_a_version_changes_exactly_when_its_definition_or_a_referenced_one_does(
    changed: str, rule: dict[str, Any], moved: set[str]
) -> None:
    after = _versions(**{changed: rule})
    assert {k for k in BEFORE if after[k] != BEFORE[k]} == moved


def test_a_referenced_segments_name_and_minimum_size_do_not_move_the_version() -> None:
    defs = _defs()
    defs["buyers"] = {**defs["buyers"], "name": "Buyers", "min_size": 500}
    after = {s.key: s.version for s in parse_segments(defs)}
    assert after == BEFORE


def test_a_segment_without_references_keeps_its_definition_hash() -> None:
    # Snapshots stored before references counted keep matching: only referrers move.
    alone = RuleSegment(key="uk", rule=TraitCondition(trait="country", op="eq", value="GB"))
    assert BEFORE["uk"] == alone.version
    parsed = {s.key: s for s in parse_segments(_defs())}
    assert parsed["uk"] == alone


def test_resolving_segments_built_in_python_gives_the_versions_parsing_gives() -> None:
    built = [RuleSegment.model_validate({"key": k, **d}) for k, d in _normalized(_defs()).items()]
    assert {s.key: s.version for s in resolve_versions(built)} == BEFORE
    # Given without the segments it names, a reference is an error, as evaluating it is.
    with pytest.raises(SegmentDefinitionError, match="unknown segment 'buyers'"):
        resolve_versions([s for s in built if s.key == "vip"])


def _normalized(defs: dict[str, Any]) -> dict[str, Any]:
    return {s.key: s.model_dump(by_alias=True, exclude={"version"}) for s in parse_segments(defs)}


def test_a_reference_cycle_is_still_refused() -> None:
    with pytest.raises(SegmentDefinitionError, match="segment reference cycle"):
        parse_segments(_defs(active={"segment": "vip"}))
    a = RuleSegment(key="a", rule=SegmentRef(segment="b"))
    b = RuleSegment(key="b", rule=SegmentRef(segment="a"))
    with pytest.raises(SegmentDefinitionError, match="segment reference cycle"):
        resolve_versions([a, b])


def test_a_snapshot_reports_the_version_changed_when_a_referenced_rule_did(martech_store):
    # Segments built in Python, never parsed: take_snapshots resolves them itself.
    as_of = datetime(2026, 6, 1, tzinfo=UTC)

    def segments(country: str) -> list[RuleSegment]:
        return [
            RuleSegment(key="vip", rule=SegmentRef(segment="here")),
            RuleSegment(key="here", rule=TraitCondition(trait="country", op="eq", value=country)),
        ]

    first = {r.key: r for r in take_snapshots(martech_store, segments("GB"), as_of=as_of)}
    again = {r.key: r for r in take_snapshots(martech_store, segments("GB"), as_of=as_of)}
    moved = {r.key: r for r in take_snapshots(martech_store, segments("IE"), as_of=as_of)}
    assert not again["vip"].version_changed
    assert again["vip"].version == first["vip"].version
    assert moved["here"].version_changed
    assert moved["vip"].version_changed


def test_segments_list_shows_the_referrer_s_new_version(tmp_path, capsys):
    from martech.cli import main

    path = tmp_path / "segments.yml"

    def listed(active_days: int) -> dict[str, str]:
        path.write_text(
            "segments:\n"
            "  vip: {rule: {segment: buyers}}\n"
            "  buyers: {rule: {segment: active}}\n"
            f"  active: {{rule: {{event: view, window: last {active_days} days}}}}\n"
            "  uk: {rule: {trait: country, eq: GB}}\n"
        )
        assert main(["segments", "list", "--file", str(path), "--json"]) == 0
        return {row["key"]: row["version"] for row in json.loads(capsys.readouterr().out)}

    before, after = listed(30), listed(7)
    assert {k for k in before if before[k] != after[k]} == {"vip", "buyers", "active"}
