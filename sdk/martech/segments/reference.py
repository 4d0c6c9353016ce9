"""A pure-Python evaluator of segment rules: the specification the SQL compiler is tested against.

Deliberately simple and slow (one profile, one condition at a time); it shares nothing with the
compiler except the definitions, so a bug in one shows up as a disagreement in the differential
tests (``tests/segments/test_differential.py``). Semantics: see :mod:`martech.segments.rules`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import SegmentDefinitionError
from ..models import (
    All,
    Any_,
    Event,
    EventCondition,
    Not,
    Profile,
    RuleSegment,
    SegmentRef,
    TraitCondition,
)
from .rules import as_timestamp, event_value_is_timestamp, is_number

_MISSING = object()


def reference_members(
    profiles: Iterable[Profile],
    segment: RuleSegment,
    *,
    segments: Mapping[str, RuleSegment] | Iterable[RuleSegment] = (),
    as_of: datetime,
    categories: Mapping[str, str | None] | None = None,
    computed: Mapping[str, Mapping[str, Any]] | None = None,
) -> set[str]:
    """Ids of the profiles in ``segment`` at ``as_of``.

    :param profiles: Profiles with their full event history in ``events``.
    :param segments: Segments that references resolve to.
    :param categories: item_id -> category (the catalogue), for category conditions.
    :param computed: trait name -> {profile id -> JSON value}: traits read from computed_traits
        (a profile missing from the inner mapping has no value).
    """
    pool = dict(segments) if isinstance(segments, Mapping) else {s.key: s for s in segments}
    pool.setdefault(segment.key, segment)
    ctx = _Context(as_of.astimezone(UTC), pool, categories or {}, computed or {})
    return {p.id for p in profiles if ctx.matches(p, segment.rule, ())}


class _Context:
    def __init__(
        self,
        as_of: datetime,
        segments: Mapping[str, RuleSegment],
        categories: Mapping[str, str | None],
        computed: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.as_of = as_of
        self.segments = segments
        self.categories = categories
        self.computed = computed

    def matches(self, profile: Profile, cond: Any, stack: tuple[str, ...]) -> bool:
        if isinstance(cond, All):
            return all(self.matches(profile, c, stack) for c in cond.all)
        if isinstance(cond, Any_):
            return any(self.matches(profile, c, stack) for c in cond.any)
        if isinstance(cond, Not):
            return not self.matches(profile, cond.not_, stack)
        if isinstance(cond, SegmentRef):
            if cond.segment in stack:
                raise SegmentDefinitionError(f"segment reference cycle through {cond.segment!r}")
            target = self.segments[cond.segment]
            return self.matches(profile, target.rule, (*stack, cond.segment))
        if isinstance(cond, TraitCondition):
            return trait_matches(self.trait_value(profile, cond.trait), cond.op, cond.value)
        if isinstance(cond, EventCondition):
            return self.event_matches(profile.events, cond)
        raise TypeError(type(cond).__name__)

    def trait_value(self, profile: Profile, name: str) -> Any:
        if name in self.computed:
            return self.computed[name].get(profile.id, _MISSING)
        return profile.traits.get(name, _MISSING)

    # ---- events

    def event_matches(self, events: list[Event], cond: EventCondition) -> bool:
        chosen = [e for e in events if self.selected(e, cond)]
        values = cond.value if cond.op == "between" else [cond.value]
        assert isinstance(values, list)
        if cond.measure == "count":
            return _compare(cond.op, float(len(chosen)), [float(v) for v in values])  # type: ignore[arg-type]
        if cond.measure == "sum":
            total = sum(e.value for e in chosen if e.value is not None)
            return _compare(cond.op, float(total), [float(v) for v in values])  # type: ignore[arg-type]
        if not chosen:
            return False
        moment = min(e.ts for e in chosen) if cond.measure == "first" else max(e.ts for e in chosen)
        if event_value_is_timestamp(cond):
            return _compare(cond.op, moment, [as_timestamp(v) for v in values])
        # days ago in whole days (rounded down), as days_since_purchase counts them
        days = (self.as_of - moment) // timedelta(days=1)
        return _compare(cond.op, days, [int(v) for v in values])  # type: ignore[arg-type]

    def selected(self, e: Event, cond: EventCondition) -> bool:
        if e.type != cond.event or e.ts > self.as_of:
            return False
        if cond.item_id is not None and e.item_id != cond.item_id:
            return False
        if cond.category is not None and (
            e.item_id is None or self.categories.get(e.item_id) != cond.category
        ):
            return False
        w = cond.window
        if w is not None:
            if w.days is not None and not e.ts > self.as_of - timedelta(days=w.days):
                return False
            if w.start is not None and e.ts < w.start:
                return False
            if w.end is not None and e.ts >= w.end:
                return False
        return True


def _compare(op: str, left: Any, values: list[Any]) -> bool:
    if op == "between":
        return bool(values[0] <= left <= values[1])
    right = values[0]
    result = {
        "eq": left == right,
        "ne": left != right,
        "gt": left > right,
        "gte": left >= right,
        "lt": left < right,
        "lte": left <= right,
    }[op]
    return bool(result)


def _kind(value: Any) -> str:
    if value is _MISSING or value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _equals(trait: Any, wanted: Any) -> bool:
    kind = _kind(trait)
    if isinstance(wanted, bool):
        return kind == "boolean" and trait is wanted
    if is_number(wanted):
        return kind == "number" and float(trait) == float(wanted)
    return kind == "string" and trait == wanted


def trait_matches(trait: Any, op: str, value: Any) -> bool:
    """One trait condition on one trait value (``_MISSING`` when the profile lacks it)."""
    present = _kind(trait) != "null"
    if op == "exists":
        return present
    if op == "is_null":
        return not present
    if op == "eq":
        return _equals(trait, value)
    if op == "ne":
        return present and not _equals(trait, value)
    if op == "in":
        return any(_equals(trait, v) for v in value)
    if op == "not_in":
        return present and not any(_equals(trait, v) for v in value)
    if op == "contains":
        if isinstance(trait, list):
            return any(_element_text(e) == value for e in trait)
        return isinstance(trait, str) and value in trait
    sample = value[0] if isinstance(value, list) else value
    values = value if isinstance(value, list) else [value]
    if is_number(sample):
        if _kind(trait) != "number":
            return False
        return _compare(op, float(trait), [float(v) for v in values])
    if _kind(trait) != "string":
        return False
    return _compare(op, trait, values)


def _element_text(element: Any) -> str | None:
    """How SQL sees a list element when testing ``contains``: its scalar text."""
    if isinstance(element, str):
        return element
    if isinstance(element, bool):
        return "true" if element else "false"
    if isinstance(element, int):
        return str(element)
    return None  # floats, nested values: text forms differ between engines; never generated
