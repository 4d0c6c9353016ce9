"""Micro-segments: the conjunction cells of several attributes, small cells rolled up.

``cells(store, ["skill_level", "water_type", "preferred_tackle", "budget_tier"], min_size=50)``
counts every combination of values in one ``GROUP BY ROLLUP`` query (so every prefix level is
counted in the same pass), then works bottom-up: a cell below ``min_size`` is merged into its
parent (the same values without the last attribute); the parent's *remainder* — the members of
all its small children — is reported as a cell of its own if it is big enough, else it moves up
again. The reported cells partition the population: everyone is in exactly one cell, except
the final remainder that stays below the minimum even at the top (``unplaced``), for whom a
coarser segment or the default has to do.

Attributes are stored traits (``profiles.traits``) or computed traits (``computed_traits``,
see :mod:`martech.segments.traits`); a missing value is a value of its own (``None``). Any cell
can be turned into a :class:`~martech.models.RuleSegment` with :meth:`CellReport.segment`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, JsonValue

from ..errors import ConfigError
from ..models import RuleSegment

if TYPE_CHECKING:
    from ..store import Store

_ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ATTRIBUTES = 8

Values = tuple[tuple[str, JsonValue], ...]
#: A cell's values as the JSON text SQL grouped by: Python would take True for 1 (equal, same
#: hash), and ``eq: true`` does not match 1.
Keys = tuple[tuple[str, str | None], ...]


class Cell(BaseModel, frozen=True, extra="forbid"):
    """One reported micro-segment: a prefix of attribute values and the members it holds."""

    key: str = Field(description="Slug usable as a segment key, e.g. beginner-lake-spinning.")
    label: str = Field(description="attr=value pairs, for people.")
    values: dict[str, JsonValue] = Field(description="Attribute -> value (None: missing).")
    depth: int = Field(description="How many attributes the cell fixes (0: everyone else).")
    size: int
    remainder: bool = Field(
        default=False,
        description="True when some sub-cells are reported separately: the cell holds only "
        "the members of its small sub-cells.",
    )
    members_of: list[dict[str, JsonValue]] = Field(
        default_factory=list,
        description="For a remainder: the full-depth value combinations it holds.",
    )


class RollUp(BaseModel, frozen=True, extra="forbid"):
    """A full-depth cell below the minimum and the reported cell its members went to."""

    label: str
    values: dict[str, JsonValue]
    size: int
    into: str | None = Field(description="Key of the reported cell, or None when unplaced.")


class CellReport(BaseModel, frozen=True, extra="forbid"):
    """Reported cells (largest first), what was rolled up where, and who could not be placed."""

    attributes: list[str]
    min_size: int
    population: int
    cells: list[Cell]
    rolled_up: list[RollUp]
    unplaced: int = Field(description="Profiles left in a remainder below min_size at the top.")
    missing: list[str] = Field(
        default_factory=list,
        description="Attributes no profile has (every value missing): likely a typo.",
    )

    def cell(self, key: str) -> Cell:
        """The reported cell with this key; the error lists the keys there are."""
        for c in self.cells:
            if c.key == key:
                return c
        known = ", ".join(c.key for c in self.cells[:20]) or "none"
        raise ConfigError(f"cell {key!r}: no such cell; cells: {known}")

    def segment(self, key: str, *, segment_key: str | None = None) -> RuleSegment:
        """The cell as a RuleSegment with exactly the cell's members (as of the same data)."""
        cell = self.cell(key)
        rule: dict[str, Any]
        if not cell.remainder:
            rule = _conjunction(cell.values)
        else:
            rule = {"kind": "any", "any": [_conjunction(v) for v in cell.members_of]}
        return RuleSegment.model_validate(
            {
                "key": segment_key or cell.key,
                "name": cell.label,
                "description": f"Micro-segment cell of {', '.join(self.attributes)} "
                f"({cell.size} profiles when saved).",
                "min_size": self.min_size,
                "rule": rule,
            }
        )


def _condition(attr: str, value: JsonValue) -> dict[str, Any]:
    if value is None:
        return {"kind": "trait", "trait": attr, "op": "is_null"}
    return {"kind": "trait", "trait": attr, "op": "eq", "value": value}


def _conjunction(values: dict[str, JsonValue]) -> dict[str, Any]:
    conditions = [_condition(a, v) for a, v in values.items()]
    return conditions[0] if len(conditions) == 1 else {"kind": "all", "all": conditions}


def _decode(keys: Keys) -> Values:
    import orjson

    return tuple((a, None if v is None else orjson.loads(v)) for a, v in keys)


def _label(values: Values) -> str:
    if not values:
        return "(everyone else)"
    return " · ".join(f"{a}={'—' if v is None else v}" for a, v in values)


def _slug(values: Values, remainder: bool) -> str:
    parts = [re.sub(r"[^a-z0-9_]+", "_", str(v).lower()).strip("_") or "x" for _, v in values]
    parts = ["none" if v is None else p for (_, v), p in zip(values, parts, strict=True)]
    if remainder or not parts:
        parts.append("rest")
    return "-".join(parts)


def cells(
    store: Store,
    by: Sequence[str],
    *,
    min_size: int = 1,
    computed: Collection[str] | None = None,
) -> CellReport:
    """Count the conjunction cells of ``by`` and roll small ones up; see the module docstring.

    ``computed`` names attributes read from ``computed_traits`` (default: every trait
    materialized in the store); the others come from the profile's stored traits.
    """

    attrs = [a.strip() for a in by if a.strip()]
    if not attrs:
        raise ConfigError(
            "--by: expected one or more attribute names, e.g. skill_level,budget_tier"
        )
    if len(attrs) > MAX_ATTRIBUTES:
        raise ConfigError(f"--by: at most {MAX_ATTRIBUTES} attributes, got {len(attrs)}")
    for a in attrs:
        if not _ATTR.match(a):
            raise ConfigError(f"--by: {a!r} is not an attribute name (letters, digits, _)")
    if len(set(attrs)) != len(attrs):
        raise ConfigError("--by: an attribute is listed twice")
    if min_size < 1:
        raise ConfigError(f"--min-size: expected a positive number, got {min_size}")
    if computed is None:
        from .traits import computed_names

        computed = computed_names(store)

    columns, joins, params = [], [], []
    for i, a in enumerate(attrs):
        if a in computed:
            joins.append(
                f"LEFT JOIN computed_traits c{i} ON c{i}.profile_id = p.id AND c{i}.name = ?"
            )
            params.append(a)
            columns.append(f"c{i}.value AS j{i}")
        else:
            columns.append(f"json_extract(p.traits, '$.\"{a}\"') AS j{i}")
    cols = ", ".join(f"a{i}" for i in range(len(attrs)))
    grouped = ", ".join(f"{_grouped(f'j{i}')} AS a{i}" for i in range(len(attrs)))
    sql = (
        f"WITH raw AS (SELECT {', '.join(columns)} FROM profiles p {' '.join(joins)}), "
        f"base AS (SELECT {grouped} FROM raw) "
        f"SELECT {cols}, GROUPING({cols}) AS g, count(*) AS n FROM base GROUP BY ROLLUP ({cols})"
    )
    rows = store.con.execute(sql, params).fetchall()
    n_attrs = len(attrs)
    counts: dict[Keys, int] = {}
    for row in rows:
        grouping, n = int(row[n_attrs]), int(row[n_attrs + 1])
        depth = n_attrs - bin(grouping).count("1")
        values: Keys = tuple((attrs[i], row[i]) for i in range(depth))
        for attr, value in _decode(values):
            if isinstance(value, list | dict):
                kind = "a list" if isinstance(value, list) else "an object"
                raise ConfigError(
                    f"--by: {attr!r} holds {kind} for some profiles; cells group by single "
                    "values (text, number, true/false)"
                )
        counts[values] = n
    population = counts.get((), 0)
    report = _roll_up(attrs, min_size, population, counts)
    leaves = [v for v in counts if len(v) == n_attrs]
    missing = [a for i, a in enumerate(attrs) if leaves and all(v[i][1] is None for v in leaves)]
    return report.model_copy(update={"missing": missing}) if missing else report


def _grouped(value: str) -> str:
    """SQL: a JSON value as the text cells group by; NULL when missing or JSON null.

    A number is grouped by its value, as ``eq`` compares numbers: 10 and 10.0 are one cell
    (written ``10``). Integral values within 2^53 print as integers, others as DuckDB's shortest
    double text, which orjson reads back.
    """
    number = f"TRY_CAST({value} AS DOUBLE)"
    return (
        f"CASE WHEN json_type({value}) IN ('BIGINT', 'UBIGINT', 'HUGEINT', 'DOUBLE') THEN "
        f"CASE WHEN {number} = trunc({number}) AND abs({number}) < 9007199254740992 "
        f"THEN CAST(CAST({number} AS BIGINT) AS VARCHAR) ELSE CAST({number} AS VARCHAR) END "
        f"ELSE NULLIF(CAST({value} AS VARCHAR), 'null') END"
    )


def _roll_up(
    attrs: list[str], min_size: int, population: int, counts: dict[Keys, int]
) -> CellReport:
    n_attrs = len(attrs)
    reported: list[Cell] = []
    used: set[str] = set()

    def report(keys: Keys, size: int, members: list[Keys], remainder: bool) -> str:
        values = _decode(keys)
        key = base = _slug(values, remainder)
        n = 1
        while key in used:  # two values can slug alike ("Lake" and "lake")
            n += 1
            key = f"{base}-{n}"
        used.add(key)
        reported.append(
            Cell(
                key=key,
                label=_label(values) + (" (other)" if remainder and values else ""),
                values=dict(values),
                depth=len(values),
                size=size,
                remainder=remainder,
                members_of=[dict(_decode(m)) for m in members] if remainder else [],
            )
        )
        return key

    # prefix -> the full-depth cells (and their sizes) waiting to be placed there
    pending: dict[Keys, list[tuple[Keys, int]]] = {}
    small: list[tuple[Keys, int]] = []
    for leaf in sorted((v for v in counts if len(v) == n_attrs), key=lambda v: -counts[v]):
        if counts[leaf] >= min_size:
            report(leaf, counts[leaf], [], remainder=False)
        else:
            small.append((leaf, counts[leaf]))
            pending.setdefault(leaf[:-1], []).append((leaf, counts[leaf]))
    destination: dict[Keys, str | None] = {}
    unplaced = 0
    for depth in range(n_attrs - 1, -1, -1):
        for prefix in sorted((p for p in pending if len(p) == depth), key=repr):
            members = pending.pop(prefix)
            size = sum(n for _, n in members)
            if size >= min_size:
                key = report(prefix, size, [m for m, _ in members], size < counts[prefix])
                destination.update((m, key) for m, _ in members)
            elif depth == 0:
                unplaced = size
                destination.update((m, None) for m, _ in members)
            else:
                pending.setdefault(prefix[:-1], []).extend(members)
    rolled = [
        RollUp(
            label=_label(_decode(leaf)), values=dict(_decode(leaf)), size=n, into=destination[leaf]
        )
        for leaf, n in small
    ]
    reported.sort(key=lambda c: (-c.size, c.key))
    return CellReport(
        attributes=attrs,
        min_size=min_size,
        population=population,
        cells=reported,
        rolled_up=rolled,
        unplaced=unplaced,
    )
