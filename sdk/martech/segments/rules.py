"""Segment definitions: ``segments.yml`` (YAML or JSON) or Python objects -> ``RuleSegment`` list.

The file form is written for marketers::

    segments:
      vip:
        name: VIP customers
        min_size: 100
        rule:
          all:
            - {trait: country, op: eq, value: US}
            - {trait: age, gte: 30}                      # operator as key: same as op/value
            - {event: purchase, measure: count, op: gte, value: 3, window: last 90 days}
            - {event: view, category: reels, window: last 7 days}   # count >= 1 by default
            - {not: {segment: lapsed}}

Top level is ``segments:`` holding a mapping ``key -> definition`` or a list of definitions
with ``key``; a bare mapping or list works too. Any other top-level key is an error, and so is a
key given twice in one mapping (YAML would silently keep the last). Sugar accepted here (and
only here, so the model stays one canonical shape): ``window: "last 30 days"`` /
``"last 2 weeks"`` / ``30``, ``item:`` for ``item_id``, ``exists: false`` for ``is_null``.

Every error names the path inside the file (``segments.yml: vip.rule.all[2].op: …``) and what was
expected. A rule that is valid but names a trait or event type the store has never held is a
warning, not an error (:mod:`martech.segments.lint`). References to other segments must exist
and must not form a cycle; both are checked for the whole file, so a definition that parses is
one that compiles.

Semantics (the SQL compiler and the pure-Python reference evaluator both implement these):

- Trait values are typed by the JSON they hold. A number value compares with number traits only
  (numerically), a string with string traits (code-point order), a boolean with boolean traits;
  a trait of another type, or missing, does not match. ``ne`` / ``not_in`` need the trait to be
  present (not null): use ``not: {…eq…}`` to include people without the trait.
  ``contains`` takes a string: a list trait holding that string, or a string trait containing it.
  A list's integer and boolean elements match by their text (``3`` holds ``"3"``); float and
  nested elements never match (engines spell ``1.0`` as ``1.0`` or ``1``).
  ``exists`` = present and not JSON null; ``is_null`` = its complement. ``between`` is inclusive.
- Event conditions only see events at or before ``as_of`` (default: now). A relative window
  ``last N days`` is ``(as_of - N days, as_of]``; an absolute window is ``[start, end)``.
  ``count`` / ``sum`` (of ``value``) are 0 for people without matching events. ``first`` / ``last``
  compare the first / last matching occurrence: a number value means *days ago* in whole days,
  rounded down as the ``days_since_purchase`` trait counts them (``last eq 30`` = 30 days and
  up to 24 hours ago; ``last lt 30`` = within ``last 30 days``; ``last gte 180`` = not in the
  ``last 180 days``), a timestamp value compares the moment itself; people without matching
  events never match.
- ``all: []`` is everyone, ``any: []`` is no one, ``not`` is the complement within the population.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import errors
from ..errors import SegmentDefinitionError
from ..models import (
    TRAIT_OPS,
    All,
    Any_,
    Condition,
    EventCondition,
    Not,
    RuleSegment,
    SegmentRef,
    TraitCondition,
    Window,
)

EVENT_OPS: tuple[str, ...] = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
MEASURES: tuple[str, ...] = ("count", "sum", "first", "last")
#: Longest window / days ago: a century (further back is no calendar date in SQL or Python).
MAX_DAYS = 36_500
#: Trait names are used inside JSON paths; keep them to a safe alphabet.
TRAIT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")
_WINDOW = re.compile(r"^\s*last\s+(\d+)\s+(day|days|week|weeks)\s*$", re.IGNORECASE)
_SEGMENT_FIELDS = ("key", "name", "description", "min_size", "rule", "kind")
_TRAIT_FIELDS = ("trait", "op", "value", "kind")
_EVENT_FIELDS = (
    "event",
    "measure",
    "item",
    "item_id",
    "category",
    "window",
    "op",
    "value",
    "kind",
)


def _fail(source: str, path: str, message: str) -> SegmentDefinitionError:
    where = f"{source}: {path}" if path else source
    return SegmentDefinitionError(f"{where}: {message}", field=path or None)


def type_name(value: Any) -> str:
    """What a YAML/JSON value is, in the words of an error message (``a mapping``, ``a number``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__


def is_number(value: Any) -> bool:
    """A JSON number (booleans are not numbers, whatever Python says)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


# ------------------------------------------------------------------------------------ loading


def load_segments(path: str | Path) -> list[RuleSegment]:
    """Read a ``segments.yml`` / ``.yaml`` / ``.json`` file; see :func:`parse_segments`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SegmentDefinitionError(f"{path}: no such file", field=None) from None
    except OSError as exc:
        raise SegmentDefinitionError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_segments(parse_config_text(text, path.name), source=path.name)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int, first: int | None) -> None:
        super().__init__(key)
        self.key, self.line, self.first = key, line, first


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key, 0, None)
        out[key] = value
    return out


def _unique_key_loader() -> Any:
    """A SafeLoader that refuses a key given twice in one mapping (safe_load keeps the last)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                first: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                        continue
                    key = self.construct_object(key_node, deep=deep)
                    line = key_node.start_mark.line + 1
                    if key in first:
                        raise _DuplicateKey(key, line, first[key])
                    first[key] = line
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def parse_config_text(
    text: str, source: str, error: type[errors.ValidationError] = SegmentDefinitionError
) -> Any:
    """A YAML (or, for ``*.json``, JSON) document, refusing a key given twice in one mapping.
    Any problem is one ``error`` line naming ``source`` and, for YAML, the line and column."""
    if source.endswith(".json"):
        import json

        try:
            return json.loads(text, object_pairs_hook=_refuse_duplicates)
        except _DuplicateKey as dup:
            raise error(
                f"{source}: key {dup.key!r} appears twice in one object; keys must be unique "
                "(a JSON reader keeps only the last)"
            ) from None
        except ValueError as exc:
            raise error(f"{source}: not valid JSON: {exc}") from None
    import yaml

    try:
        return yaml.load(text, Loader=_unique_key_loader())  # a SafeLoader subclass
    except _DuplicateKey as dup:
        raise error(
            f"{source}: line {dup.line}: key {dup.key!r} given twice in one mapping (first at "
            f"line {dup.first}); keys must be unique, YAML would keep only the last",
            field=str(dup.key),
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise error(f"{source}: not valid YAML{where}: {problem}") from None


def parse_segments(data: Any, *, source: str = "segments.yml") -> list[RuleSegment]:
    """Definitions (parsed YAML/JSON data, a YAML/JSON string, or RuleSegment objects) -> segments.

    Checks every definition, duplicate keys, references to unknown segments and reference
    cycles; raises :class:`SegmentDefinitionError` naming the path inside ``source``.
    """
    if isinstance(data, str):
        data = parse_config_text(data, source)
    segments = [seg for seg in _iter_definitions(data, source)]
    seen: dict[str, int] = {}
    for seg in segments:
        if seg.key in seen:
            raise _fail(source, seg.key, "defined twice; segment keys must be unique")
        seen[seg.key] = 1
    return resolve_versions(segments, source=source)


def _iter_definitions(data: Any, source: str) -> Iterator[RuleSegment]:
    if data is None:
        return
    if isinstance(data, RuleSegment):
        yield data
        return
    if isinstance(data, Mapping):
        _check_top_level(data, source)
    if isinstance(data, Mapping) and set(data) == {"segments"}:
        data = data["segments"]
        if data is None:
            return
    if isinstance(data, Mapping):
        for key, body in data.items():
            if isinstance(body, RuleSegment):
                yield body
                continue
            if not isinstance(body, Mapping):
                raise _fail(
                    source,
                    str(key),
                    f"expected a segment definition (mapping), got {type_name(body)}",
                )
            if "key" in body and body["key"] != key:
                raise _fail(source, f"{key}.key", f"{body['key']!r} differs from the entry's key")
            yield _segment(str(key), body, source, str(key))
        return
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        for index, body in enumerate(data):
            if isinstance(body, RuleSegment):
                yield body
                continue
            path = f"[{index}]"
            if not isinstance(body, Mapping):
                raise _fail(source, path, f"expected a segment definition, got {type_name(body)}")
            key = body.get("key")
            if not isinstance(key, str):
                raise _fail(source, f"{path}.key", "missing; every segment needs a key")
            yield _segment(key, body, source, key)
        return
    raise _fail(
        source,
        "",
        f"expected a mapping 'segments: {{key: definition}}' or a list, got {type_name(data)}",
    )


def _looks_like_definitions(body: Any) -> bool:
    """A mapping of definitions (``{a: {rule: …}}``) rather than one definition."""
    return (
        isinstance(body, Mapping)
        and "rule" not in body
        and bool(body)
        and all(isinstance(v, Mapping) for v in body.values())
        and any("rule" in v for v in body.values())
    )


def _check_top_level(data: Mapping[Any, Any], source: str) -> None:
    """The only top-level key is ``segments`` (or the file is a bare ``key -> definition``)."""
    import difflib

    for key, body in data.items():
        if key == "segments" or (isinstance(body, Mapping) and "rule" in body):
            continue
        misspelt = difflib.get_close_matches(str(key), ["segments"], n=1, cutoff=0.75)
        if "segments" in data or misspelt or _looks_like_definitions(body):
            raise _fail(source, str(key), "unknown top-level key; expected segments")


def _segment(key: str, body: Mapping[str, Any], source: str, path: str) -> RuleSegment:
    unknown = [f for f in body if f not in _SEGMENT_FIELDS]
    if unknown:
        raise _fail(
            source,
            f"{path}.{unknown[0]}",
            f"unknown field; expected one of {', '.join(_SEGMENT_FIELDS[:-1])}",
        )
    if not re.match(r"^[a-z0-9][a-z0-9_\-]*$", key):
        raise _fail(
            source, path, f"bad segment key {key!r}; use lowercase letters, digits, '_' and '-'"
        )
    if body.get("kind", "rule") != "rule":
        raise _fail(
            source, f"{path}.kind", f"unknown segment kind {body['kind']!r}; expected 'rule'"
        )
    if "rule" not in body:
        raise _fail(source, f"{path}.rule", "missing; a segment needs a rule (all / any / not / …)")
    rule = _condition(body["rule"], source, f"{path}.rule")
    fields: dict[str, Any] = {"key": key, "rule": rule}
    for name in ("name", "description"):
        if name in body and body[name] is not None:
            if not isinstance(body[name], str):
                raise _fail(source, f"{path}.{name}", f"expected text, got {type_name(body[name])}")
            fields[name] = body[name]
    if "min_size" in body:
        size = body["min_size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _fail(source, f"{path}.min_size", f"expected a whole number >= 0, got {size!r}")
        fields["min_size"] = size
    return RuleSegment(**fields)


# --------------------------------------------------------------------------------- conditions


def _condition(raw: Any, source: str, path: str) -> Condition:
    if isinstance(raw, All | Any_ | Not | TraitCondition | EventCondition | SegmentRef):
        return check_condition(raw, source, path)
    if not isinstance(raw, Mapping):
        raise _fail(source, path, f"expected a condition (mapping), got {type_name(raw)}")
    raw = {k: v for k, v in raw.items() if not (k == "kind" and v in ("all", "any", "not"))}
    heads = [k for k in ("all", "any", "not", "trait", "event", "segment") if k in raw]
    if len(heads) != 1:
        what = "several of " if heads else "none of "
        raise _fail(
            source,
            path,
            f"a condition needs exactly one of all, any, not, trait, event, segment "
            f"(found {what}{', '.join(heads) or 'them'})",
        )
    head = heads[0]
    if head in ("all", "any", "not"):
        extra = [k for k in raw if k != head]
        if extra:
            raise _fail(source, f"{path}.{extra[0]}", f"unexpected beside '{head}'")
    if head in ("all", "any"):
        items = raw[head]
        if not isinstance(items, list):
            raise _fail(
                source, f"{path}.{head}", f"expected a list of conditions, got {type_name(items)}"
            )
        children = [_condition(c, source, f"{path}.{head}[{i}]") for i, c in enumerate(items)]
        return All(all=children) if head == "all" else Any_(any=children)
    if head == "not":
        inner = raw["not"]
        if isinstance(inner, list):
            raise _fail(
                source, f"{path}.not", "expected one condition; wrap several in 'all' or 'any'"
            )
        return Not(not_=_condition(inner, source, f"{path}.not"))
    if head == "segment":
        extra = [k for k in raw if k not in ("segment", "kind")]
        if extra:
            raise _fail(source, f"{path}.{extra[0]}", "unexpected beside 'segment'")
        ref = raw["segment"]
        if not isinstance(ref, str) or not ref:
            raise _fail(source, f"{path}.segment", f"expected a segment key, got {type_name(ref)}")
        return SegmentRef(segment=ref)
    if head == "trait":
        return _trait(raw, source, path)
    return _event(raw, source, path)


def _op_and_value(
    raw: Mapping[str, Any], fields: Sequence[str], ops: Sequence[str], source: str, path: str
) -> tuple[Any, Any, bool]:
    """(op, value, value_given), accepting ``{op: gte, value: 3}`` or ``{gte: 3}``."""
    shorthand = [k for k in raw if k in ops and k not in fields]
    unknown = [k for k in raw if k not in fields and k not in ops]
    if unknown:
        raise _fail(
            source,
            f"{path}.{unknown[0]}",
            f"unknown field; expected one of {', '.join(f for f in fields if f != 'kind')} "
            f"(or an operator as key: {', '.join(ops)})",
        )
    if shorthand:
        if len(shorthand) > 1 or "op" in raw or "value" in raw:
            raise _fail(
                source,
                f"{path}.{shorthand[-1]}",
                "give one operator: either 'op'/'value' or one operator key",
            )
        op = shorthand[0]
        _representable_value(raw[op], source, f"{path}.{op}")
        return op, raw[op], True
    _representable_value(raw.get("value"), source, f"{path}.value")
    return raw.get("op"), raw.get("value"), "value" in raw


def _representable_value(value: Any, source: str, path: str) -> None:
    """YAML's .inf and .nan, and integers past 64 bits, hold in Python but in no SQL engine."""
    from ..models import _representable

    try:
        _representable(value)
    except ValueError as exc:
        raise _fail(source, path, str(exc).removeprefix("value: ")) from None


def _check_op(op: Any, ops: Sequence[str], source: str, path: str) -> str:
    if not isinstance(op, str) or op not in ops:
        shown = repr(op) if isinstance(op, str) else type_name(op)
        raise _fail(
            source, f"{path}.op", f"unknown operator {shown}; expected one of {', '.join(ops)}"
        )
    return op


def _trait(raw: Mapping[str, Any], source: str, path: str) -> TraitCondition:
    op, value, given = _op_and_value(raw, _TRAIT_FIELDS, TRAIT_OPS, source, path)
    if op is None:
        raise _fail(source, f"{path}.op", f"missing; expected one of {', '.join(TRAIT_OPS)}")
    op = _check_op(op, TRAIT_OPS, source, path)
    name = raw["trait"]
    if op in ("exists", "is_null") and given:
        if not isinstance(value, bool):
            raise _fail(source, f"{path}.{op}", f"expected true or false, got {type_name(value)}")
        if not value:
            op = "is_null" if op == "exists" else "exists"
        value = None
    condition = (
        TraitCondition(trait=name, op=op, value=value)
        if _trait_ok(name, op, value, given, source, path)
        else None
    )
    assert condition is not None
    return condition


def _trait_ok(name: Any, op: str, value: Any, given: bool, source: str, path: str) -> bool:
    if not isinstance(name, str) or not TRAIT_NAME.match(name):
        raise _fail(
            source,
            f"{path}.trait",
            f"bad trait name {name!r}; use letters, digits, '_' and '-'",
        )
    where = f"{path}.value"
    if op in ("exists", "is_null"):
        return True
    if value is None:
        raise _fail(source, where, f"missing; operator {op!r} needs a value")
    if op in ("eq", "ne"):
        if not (isinstance(value, str | bool) or is_number(value)):
            raise _fail(
                source, where, f"expected a string, number or boolean, got {type_name(value)}"
            )
    elif op in ("gt", "gte", "lt", "lte"):
        if not (isinstance(value, str) or is_number(value)):
            raise _fail(
                source,
                where,
                f"operator {op!r} compares numbers or strings, got {type_name(value)}",
            )
    elif op == "between":
        if not (isinstance(value, list) and len(value) == 2):
            raise _fail(source, where, "expected a list of two values [low, high]")
        if not (all(is_number(v) for v in value) or all(isinstance(v, str) for v in value)):
            raise _fail(source, where, "expected two numbers or two strings [low, high]")
        _low_first(value, value, source, where)
    elif op in ("in", "not_in"):
        if not isinstance(value, list):
            raise _fail(source, where, f"operator {op!r} expects a list, got {type_name(value)}")
        for i, v in enumerate(value):
            if not (isinstance(v, str | bool) or is_number(v)):
                raise _fail(
                    source,
                    f"{where}[{i}]",
                    f"expected a string, number or boolean, got {type_name(v)}",
                )
    elif op == "contains" and not isinstance(value, str):
        raise _fail(source, where, f"operator 'contains' expects a string, got {type_name(value)}")
    return True


def _low_first(value: list[Any], ordered: list[Any], source: str, path: str) -> None:
    """``between [high, low]`` matches no one: refused, with the pair the other way round."""
    if ordered[0] > ordered[1]:
        raise _fail(
            source,
            path,
            f"between takes [low, high]; {value[0]!r} is above {value[1]!r}, so nothing would "
            f"match: write [{value[1]!r}, {value[0]!r}]",
        )


def parse_window(raw: Any, source: str = "segments.yml", path: str = "window") -> Window | None:
    """``"last 30 days"`` / ``"last 2 weeks"`` / ``30`` / ``{days: 30}`` / ``{start:, end:}``."""
    window = _parse_window(raw, source, path)
    if window is not None and window.days is not None and window.days > MAX_DAYS:
        raise _fail(source, path, f"at most {MAX_DAYS:,} days (a century), got {window.days:,}")
    return window


def _parse_window(raw: Any, source: str, path: str) -> Window | None:
    if raw is None or isinstance(raw, Window):
        return raw
    if is_number(raw) and isinstance(raw, int) and raw > 0:
        return Window(days=raw)
    if isinstance(raw, str):
        match = _WINDOW.match(raw)
        if not match:
            raise _fail(
                source, path, f"cannot read {raw!r}; expected e.g. 'last 30 days' or 'last 2 weeks'"
            )
        n = int(match.group(1))
        days = n * 7 if match.group(2).lower().startswith("week") else n
        if days <= 0:
            raise _fail(source, path, "a window must cover at least one day")
        return Window(days=days)
    if isinstance(raw, Mapping):
        unknown = [k for k in raw if k not in ("days", "start", "end")]
        if unknown:
            raise _fail(
                source, f"{path}.{unknown[0]}", "unknown field; expected days, or start/end"
            )
        from pydantic import ValidationError

        try:
            return Window(**raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise _fail(source, f"{path}.{loc}" if loc else path, str(err["msg"])) from None
    raise _fail(
        source,
        path,
        f"expected 'last N days', a number of days or {{start, end}}, got {type_name(raw)}",
    )


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _event(raw: Mapping[str, Any], source: str, path: str) -> EventCondition:
    op, value, given = _op_and_value(raw, _EVENT_FIELDS, EVENT_OPS, source, path)
    op = "gte" if op is None else _check_op(op, EVENT_OPS, source, path)
    measure = raw.get("measure", "count")
    if measure not in MEASURES:
        raise _fail(
            source,
            f"{path}.measure",
            f"unknown measure {measure!r}; expected one of {', '.join(MEASURES)}",
        )
    event = raw["event"]
    if not isinstance(event, str) or not event:
        raise _fail(
            source,
            f"{path}.event",
            f"expected an event type such as purchase, got {type_name(event)}",
        )
    if "item" in raw and "item_id" in raw:
        raise _fail(source, f"{path}.item", "give 'item' or 'item_id', not both")
    item = raw.get("item", raw.get("item_id"))
    for field, v in (("item", item), ("category", raw.get("category"))):
        if v is not None and not isinstance(v, str):
            raise _fail(source, f"{path}.{field}", f"expected text, got {type_name(v)}")
    window = parse_window(raw.get("window"), source, f"{path}.window")
    if not given:
        if measure in ("first", "last"):
            raise _fail(
                source,
                f"{path}.value",
                f"missing; measure {measure!r} needs days ago or a timestamp",
            )
        value = 1
    _event_value_ok(measure, op, value, source, f"{path}.value")
    return EventCondition(
        event=event,
        measure=measure,
        item_id=item,
        category=raw.get("category"),
        window=window,
        op=op,
        value=value,
    )


def _event_value_ok(measure: str, op: str, value: Any, source: str, path: str) -> None:
    values = value if op == "between" else [value]
    if op == "between" and not (isinstance(value, list) and len(value) == 2):
        raise _fail(source, path, "expected a list of two values [low, high]")
    if measure in ("count", "sum"):
        if not all(is_number(v) for v in values):
            raise _fail(source, path, f"measure {measure!r} compares with a number, got {value!r}")
        if op == "between":
            _low_first(value, values, source, path)
        return
    kinds = {"number" if is_number(v) else "timestamp" if _timestamp(v) else "bad" for v in values}
    if "bad" in kinds or len(kinds) != 1:
        raise _fail(
            source,
            path,
            f"measure {measure!r} compares with days ago (a number) or a timestamp with "
            f"timezone such as 2024-01-31T00:00:00Z, got {value!r}",
        )
    if kinds == {"number"} and any(v < 0 for v in values):
        raise _fail(source, path, "days ago cannot be negative")
    if kinds == {"number"} and any(v > MAX_DAYS for v in values):
        raise _fail(source, path, f"days ago: at most {MAX_DAYS:,} (a century), got {value!r}")
    if kinds == {"number"} and any(float(v) != int(v) for v in values):
        raise _fail(source, path, f"days ago counts whole days (0, 1, 2, …), got {value!r}")
    if op == "between":
        _low_first(value, values if kinds == {"number"} else [_timestamp(v) for v in values],
                   source, path)  # fmt: skip


def check_condition(cond: Condition, source: str = "segments.yml", path: str = "rule") -> Condition:
    """Validate a condition built in Python with the same rules as the file form."""
    if isinstance(cond, All):
        for i, c in enumerate(cond.all):
            check_condition(c, source, f"{path}.all[{i}]")
    elif isinstance(cond, Any_):
        for i, c in enumerate(cond.any):
            check_condition(c, source, f"{path}.any[{i}]")
    elif isinstance(cond, Not):
        check_condition(cond.not_, source, f"{path}.not")
    elif isinstance(cond, TraitCondition):
        _trait_ok(cond.trait, cond.op, cond.value, cond.value is not None, source, path)
    elif isinstance(cond, EventCondition):
        parse_window(cond.window, source, f"{path}.window")
        _event_value_ok(cond.measure, cond.op, cond.value, source, f"{path}.value")
    return cond


def event_value_is_timestamp(cond: EventCondition) -> bool:
    """For first/last: is the value a moment (vs days ago)?"""
    value = cond.value[0] if isinstance(cond.value, list) else cond.value
    return not is_number(value)


def as_timestamp(value: Any) -> datetime:
    """An event condition's timestamp value as an aware UTC datetime."""
    from datetime import UTC

    parsed = _timestamp(value)
    if parsed is None:
        raise SegmentDefinitionError(f"expected a timestamp with timezone, got {value!r}")
    return parsed.astimezone(UTC)


# ---------------------------------------------------------------------------------- references


def leaves(cond: Condition, path: str = "rule") -> Iterator[tuple[Condition, str]]:
    """Every condition of a tree that is not all / any / not, with its path in the file."""
    if isinstance(cond, All):
        for i, child in enumerate(cond.all):
            yield from leaves(child, f"{path}.all[{i}]")
    elif isinstance(cond, Any_):
        for i, child in enumerate(cond.any):
            yield from leaves(child, f"{path}.any[{i}]")
    elif isinstance(cond, Not):
        yield from leaves(cond.not_, f"{path}.not")
    else:
        yield cond, path


def references(cond: Condition) -> Iterator[tuple[str, str]]:
    """(segment key, path) of every SegmentRef in a condition tree."""
    for leaf, path in leaves(cond):
        if isinstance(leaf, SegmentRef):
            yield leaf.segment, f"{path}.segment"


def check_references(segments: Iterable[RuleSegment], *, source: str = "segments.yml") -> None:
    """Every referenced segment exists and no segment reaches itself through references."""
    by_key = {s.key: s for s in segments}
    for seg in by_key.values():
        for ref, path in references(seg.rule):
            if ref not in by_key:
                known = ", ".join(sorted(by_key)) or "none"
                raise _fail(
                    source, f"{seg.key}.{path}", f"unknown segment {ref!r}; defined: {known}"
                )
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(key: str, stack: list[str]) -> None:
        state[key] = 1
        for ref, _ in references(by_key[key].rule):
            if state.get(ref) == 1:
                cycle = [*stack[stack.index(ref) :], key, ref] if ref in stack else [key, ref]
                raise _fail(source, key, "segment reference cycle " + " -> ".join(cycle))
            if state.get(ref) is None:
                visit(ref, [*stack, key])
        state[key] = 2

    for key in by_key:
        if state.get(key) is None:
            visit(key, [])


def resolve_versions(
    segments: Iterable[RuleSegment], *, source: str = "segments"
) -> list[RuleSegment]:
    """``segments`` (same order), each a copy whose ``version`` also covers the segments its
    rule references, transitively: ``vip`` reading ``{segment: buyers}`` gets a new version when
    ``buyers``' rule changes, as its membership may. A segment referencing none is unchanged.

    :raises SegmentDefinitionError: a reference to a segment not among ``segments``, or a cycle.
    """
    seg_list = list(segments)
    by_key = {s.key: s for s in seg_list}
    check_references(by_key.values(), source=source)  # so the walk below ends
    done: dict[str, RuleSegment] = {}

    def resolved(key: str) -> RuleSegment:
        if key not in done:
            seg = by_key[key]
            refs = sorted({ref for ref, _ in references(seg.rule)})
            copy = seg.model_copy()
            copy._referenced = tuple((ref, resolved(ref).version) for ref in refs)
            done[key] = copy
        return done[key]

    # (A key given twice is refused by parse_segments; here the last one is the one resolved.)
    return [resolved(s.key) if s is by_key[s.key] else s for s in seg_list]


def dependency_order(
    wanted: Iterable[RuleSegment], known: Mapping[str, RuleSegment]
) -> dict[str, RuleSegment]:
    """``wanted`` plus every segment they reference (transitively), checked for cycles."""
    out: dict[str, RuleSegment] = {}
    todo = list(wanted)
    pool = dict(known)
    for seg in todo:
        pool.setdefault(seg.key, seg)
    while todo:
        seg = todo.pop()
        if seg.key in out:
            continue
        out[seg.key] = seg
        for ref, path in references(seg.rule):
            if ref not in pool:
                raise SegmentDefinitionError(
                    f"{seg.key}.{path}: unknown segment {ref!r}; "
                    "give it along with the segments that name it",
                    field=f"{seg.key}.{path}",
                )
            todo.append(pool[ref])
    check_references(out.values(), source="segments")
    return out
