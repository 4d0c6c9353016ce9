"""Rules checked against the data: a typo that would silently empty a segment becomes a warning.

A definition can be valid and still select no one because it names something the store has
never held: ``{event: purchse}``, ``{trait: contry}``, or ``{trait: age, eq: "61"}`` where every
stored ``age`` is a number (a string never equals a number; see :mod:`martech.segments.rules`).
:func:`store_vocabulary` reads what the store holds in one query (trait keys with their JSON
types, computed trait names with theirs, event types); :func:`lint_segments` compares every
trait and event condition with it, without running a segment::

    vocab = store_vocabulary(store)
    for warning in lint_segments(segments, vocab, source="segments.yml"):
        print(warning)   # segments.yml: b.rule.trait: no stored profile has trait 'contry'; …

These are warnings, not errors: a trait no one has *yet* can be intended.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..models import EventCondition, RuleSegment, TraitCondition
from .rules import is_number, leaves

if TYPE_CHECKING:
    from ..store import Store

#: DuckDB ``json_type`` names -> the JSON type names used in messages.
_JSON_TYPES = {
    "VARCHAR": "string",
    "BIGINT": "number",
    "UBIGINT": "number",
    "HUGEINT": "number",
    "DOUBLE": "number",
    "BOOLEAN": "boolean",
    "ARRAY": "list",
    "OBJECT": "object",
    "NULL": "null",
}
_PLURAL = {"string": "strings", "number": "numbers", "boolean": "booleans", "list": "lists"}


@dataclass(frozen=True)
class StoreVocabulary:
    """What the store holds: trait names -> JSON types seen, computed traits, event types."""

    traits: dict[str, frozenset[str]] = field(default_factory=dict)
    computed: dict[str, frozenset[str]] = field(default_factory=dict)
    events: frozenset[str] = frozenset()
    profiles: int = 0
    #: computed trait name -> the latest ``as_of`` it was computed for
    computed_at: dict[str, datetime] = field(default_factory=dict)

    def trait_types(self, name: str) -> frozenset[str] | None:
        """JSON types a trait holds (computed traits win, as in evaluation); None if unknown."""
        if name in self.computed:
            return self.computed[name]
        return self.traits.get(name)


@dataclass(frozen=True)
class SegmentWarning:
    """One suspicious condition: the segment, the field inside its rule, and why."""

    segment: str
    path: str
    message: str
    #: unknown_trait | unknown_event | type_mismatch | unknown_value | computed_after_as_of
    kind: str
    reason: str  # a few words for a table row: "no profile has trait 'contry'"

    def __str__(self) -> str:
        return f"segment {self.segment!r}: {self.path}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {
            "segment": self.segment,
            "path": self.path,
            "kind": self.kind,
            "message": self.message,
        }


def store_vocabulary(store: Store) -> StoreVocabulary:
    """Trait keys and types, computed traits and event types in the store: one query.

    ``json_group_structure`` merges the shape of every profile's traits in one pass (much
    cheaper than one row per key and profile); a trait holding values of several JSON types
    comes back as ``JSON`` and its type is then not checked.
    """
    import orjson

    rows = store.con.execute(
        """
        SELECT 'traits' AS what, CAST(json_group_structure(traits) AS VARCHAR) AS name,
               count(*) AS n, NULL::TIMESTAMPTZ AS at
          FROM profiles
        UNION ALL
        SELECT 'computed', name, CAST(json_group_structure(value) AS VARCHAR), max(computed_at)
          FROM computed_traits GROUP BY name
        UNION ALL
        SELECT DISTINCT 'event', type, NULL, NULL FROM events
        """
    ).fetchall()
    traits: dict[str, frozenset[str]] = {}
    computed: dict[str, frozenset[str]] = {}
    events: set[str] = set()
    computed_at: dict[str, datetime] = {}
    profiles = 0
    for what, name, extra, at in rows:
        if what == "traits":
            profiles = int(extra)
            shape = orjson.loads(name) if name else {}
            if isinstance(shape, dict):
                traits = {str(k): _types(v) for k, v in shape.items()}
        elif what == "computed":
            computed[str(name)] = _types(orjson.loads(extra) if extra else "NULL")
            computed_at[str(name)] = at
        else:
            events.add(str(name))
    return StoreVocabulary(
        traits=traits,
        computed=computed,
        events=frozenset(events),
        profiles=profiles,
        computed_at=computed_at,
    )


def _types(shape: Any) -> frozenset[str]:
    """A ``json_group_structure`` shape -> JSON type names; empty when the types are mixed."""
    if isinstance(shape, list):
        return frozenset({"list"})
    if isinstance(shape, dict):
        return frozenset({"object"})
    kind = _JSON_TYPES.get(str(shape))
    return frozenset({kind}) if kind else frozenset()


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    return "string" if isinstance(value, str) else "other"


def _close(name: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.7)
    return f"; did you mean {match[0]!r}?" if match else ""


def _wanted_types(cond: TraitCondition) -> set[str] | None:
    """JSON types of stored trait the condition can match; None when any type can."""
    op, value = cond.op, cond.value
    if op in ("exists", "is_null"):
        return None
    if op == "contains":
        return {"string", "list"}
    values = value if isinstance(value, list) else [value]
    return {_value_type(v) for v in values}


def _type_hint(value: Any, held: set[str]) -> str:
    values = value if isinstance(value, list) else [value]
    if held == {"number"} and all(isinstance(v, str) for v in values):
        try:
            [float(v) for v in values]
        except ValueError:
            return ""
        return "; write the number without quotes"
    if held == {"string"} and all(is_number(v) or isinstance(v, bool) for v in values):
        return "; quote the value to compare text"
    if held == {"boolean"} and all(str(v).lower() in ("true", "false") for v in values):
        return "; write true or false without quotes"
    if held == {"list"}:
        return "; use op: contains to test a list"
    return ""


def _check_trait(
    cond: TraitCondition, vocab: StoreVocabulary, registered: Collection[str]
) -> tuple[str, str, str, str] | None:
    types = vocab.trait_types(cond.trait)
    if types is None:
        if not vocab.profiles:
            return None
        known = set(vocab.traits) | set(vocab.computed)
        hint = (
            "; it is a computed trait: run `martech traits compute` first"
            if cond.trait in registered
            else _close(cond.trait, known)
        )
        return (
            "trait",
            f"no stored profile has trait {cond.trait!r} and no computed trait has that "
            f"name, so this condition never matches{hint}",
            "unknown_trait",
            f"no profile has trait {cond.trait!r}",
        )
    held = set(types) - {"null"}
    unknown_value = _check_value(cond, vocab, registered)
    if unknown_value is not None:
        return unknown_value
    wanted = _wanted_types(cond)
    if wanted is None or not held or wanted & held:
        return None
    shown = " and ".join(sorted(_PLURAL.get(t, t) for t in held))
    given = "/".join(sorted(wanted))
    value = cond.value
    return (
        "value",
        f"compares the {given} {value!r} with trait {cond.trait!r}, which holds {shown}: "
        f"a value of another JSON type never matches, so this condition never does"
        f"{_type_hint(value, held)}",
        "type_mismatch",
        f"{value!r} vs {'/'.join(sorted(held))} trait {cond.trait!r}",
    )


def _check_value(
    cond: TraitCondition, vocab: StoreVocabulary, registered: Collection[str]
) -> tuple[str, str, str, str] | None:
    """eq / in / ne / not_in on a materialized categorical computed trait, none of whose values
    it takes."""
    trait = registered.get(cond.trait) if isinstance(registered, Mapping) else None
    takes: tuple[str, ...] = tuple(getattr(trait, "values", ()) or ())
    if not takes or cond.trait not in vocab.computed or cond.op not in ("eq", "in", "ne", "not_in"):
        return None
    given = cond.value if isinstance(cond.value, list) else [cond.value]
    if any(v in takes for v in given if isinstance(v, str)):
        return None
    strings = [v for v in given if isinstance(v, str)]
    hint = _close(strings[0], takes) if strings else ""
    effect = "never matches" if cond.op in ("eq", "in") else "matches everyone the trait applies to"
    shadowed = (
        f"; profiles also hold a stored trait {cond.trait!r} (e.g. from a CRM), which segments "
        "do not read while the computed one is materialized"
        if cond.trait in vocab.traits
        else ""
    )
    shown = given[0] if len(given) == 1 else given
    return (
        "value",
        f"computed trait {cond.trait!r} takes only {', '.join(takes)}; {shown!r} is none of "
        f"them, so this condition {effect}{hint}{shadowed}",
        "unknown_value",
        f"{cond.trait!r} is never {shown!r}",
    )


def _check_moment(
    cond: TraitCondition, vocab: StoreVocabulary, as_of: datetime | None
) -> tuple[str, str, str, str] | None:
    at = vocab.computed_at.get(cond.trait)
    if as_of is None or at is None or at <= as_of:
        return None
    day = "%Y-%m-%d %H:%M UTC"
    computed, wanted = at.astimezone(UTC).strftime(day), as_of.astimezone(UTC).strftime(day)
    return (
        "trait",
        f"computed trait {cond.trait!r} was computed as of {computed}, after the {wanted} "
        "this evaluation is for, so it counts events this evaluation does not see; run "
        f"`martech traits compute --as-of {as_of.astimezone(UTC).isoformat()}` first for a "
        "backtest",
        "computed_after_as_of",
        f"{cond.trait!r} computed as of {computed}",
    )


def lint_segments(
    segments: Iterable[RuleSegment],
    vocab: StoreVocabulary,
    *,
    registered: Collection[str] = (),
    as_of: datetime | None = None,
) -> list[SegmentWarning]:
    """Warnings for conditions naming an unknown trait or event type, or a mismatched type.

    ``registered`` names the computed traits plugins provide (for a hint when one is not
    materialized yet); given as the registry mapping (:func:`~martech.segments.traits.
    registered_traits`), a categorical trait's ``values`` are checked too: ``eq: customer`` on
    the computed ``lifecycle_stage`` never matches, even when a CRM's stored trait of that name
    holds it. Trait checks are skipped when the store holds no profiles, event checks
    when it holds no events: an empty store says nothing about typos. With ``as_of`` (the
    moment segments are evaluated at), a computed trait materialized for a later moment is a
    warning: it counts events the evaluation does not see (a backtest mixing two moments).
    """
    out: list[SegmentWarning] = []
    for seg in segments:
        for cond, path in leaves(seg.rule):
            if isinstance(cond, TraitCondition):
                found = _check_trait(cond, vocab, registered) or _check_moment(cond, vocab, as_of)
                if found is not None:
                    fld, message, kind, reason = found
                    out.append(SegmentWarning(seg.key, f"{path}.{fld}", message, kind, reason))
            elif (
                isinstance(cond, EventCondition) and vocab.events and cond.event not in vocab.events
            ):
                message = (
                    f"the store has no events of type {cond.event!r}, so this condition "
                    f"{_event_effect(cond)}{_close(cond.event, vocab.events)}"
                )
                reason = f"no {cond.event!r} events in the store"
                out.append(
                    SegmentWarning(seg.key, f"{path}.event", message, "unknown_event", reason)
                )
    return out


def _event_effect(cond: EventCondition) -> str:
    if cond.measure in ("first", "last"):
        return "never matches"
    return f"sees a {cond.measure} of 0 for everyone"
