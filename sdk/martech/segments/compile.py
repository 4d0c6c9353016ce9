"""Rule segments -> SQL, built as SQLGlot expressions (user values only ever become literals).

One query answers one segment (or, for :func:`martech.segments.evaluate`, many at once)::

    WITH ev AS (                      -- one scan of events for every event condition involved
      SELECT e.profile_id,
             SUM(CASE WHEN e.type = 'purchase' AND e.ts > <as_of - 90d> THEN 1 ELSE 0 END)
               AS e0_count,
             MAX(CASE WHEN e.type = 'view' AND i.category = 'reels' THEN e.ts END) AS e1_last, …
      FROM events e [LEFT JOIN items i ON i.item_id = e.item_id]
      WHERE e.type IN (…) AND e.ts <= <as_of>
      GROUP BY e.profile_id),
    base AS (                         -- each trait used is read from the JSON once per profile
      SELECT p.id AS profile_id, <trait country> AS t0, …, ct0.value AS c0
      FROM profiles p LEFT JOIN computed_traits ct0 ON ct0.profile_id = p.id AND ct0.name = 'rfm')
    SELECT base.profile_id FROM base LEFT JOIN ev ON ev.profile_id = base.profile_id
    WHERE <condition tree>

Every leaf condition is ``COALESCE(…, FALSE)``, so ``not`` is an exact complement (no SQL NULL
logic leaks into membership). Segment references inline the referenced segment's condition.
The JSON access differs per warehouse (see the ``_Json`` classes); the rest is generic SQLGlot
rendered for the target dialect. Expected warehouse column types: ``traits`` / ``value`` JSON
(DuckDB), ``jsonb`` (PostgreSQL), ``VARIANT`` (Snowflake), ``JSON`` (BigQuery), JSON text (Spark).
The semantics are documented in :mod:`martech.segments.rules`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import SegmentDefinitionError
from ..models import All, Any_, EventCondition, Not, RuleSegment, SegmentRef, TraitCondition, Window
from .rules import as_timestamp, dependency_order, event_value_is_timestamp, is_number

if TYPE_CHECKING:
    from sqlglot import exp

DIALECTS: tuple[str, ...] = ("duckdb", "postgres", "snowflake", "bigquery", "spark")
_FRACTION = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)")


def _strings_only(value: str) -> bool:
    """``contains`` text that a float or nested list element could spell ('2.5', '{"k":1}'):
    such elements never match (their text differs between engines), so only strings may."""
    return bool(_FRACTION.fullmatch(value)) or value.startswith(("{", "["))


# ------------------------------------------------------------------------------ JSON per dialect


def _fn(name: str, *args: exp.Expr) -> exp.Expr:
    from sqlglot import exp

    return exp.Anonymous(this=name, expressions=list(args))


def _lit(value: str) -> exp.Expr:
    from sqlglot import exp

    return exp.Literal.string(value)


class _Json:
    """How one warehouse reads a JSON value: type tests, text, number, array membership."""

    numeric_types: tuple[str, ...] = ()
    string_type = ""
    boolean_type = ""
    array_type = ""

    def prepare(self, doc: exp.Expr, keys: list[str]) -> exp.Expr:
        """The traits document, prepared once per profile (e.g. parsed)."""
        return doc

    def fragment(self, prepared: exp.Expr, keys: list[str], key: str) -> exp.Expr:
        raise NotImplementedError

    def value(self, column: exp.Expr) -> exp.Expr:
        """A whole JSON value (computed_traits.value) as a fragment."""
        return column

    def type_of(self, f: exp.Expr) -> exp.Expr:
        raise NotImplementedError

    def is_type(self, f: exp.Expr, kind: str) -> exp.Expr:
        from sqlglot import exp

        if kind == "number":
            return exp.In(this=self.type_of(f), expressions=[_lit(t) for t in self.numeric_types])
        name = {"string": self.string_type, "boolean": self.boolean_type, "array": self.array_type}
        return exp.EQ(this=self.type_of(f), expression=_lit(name[kind]))

    def present(self, f: exp.Expr) -> exp.Expr:
        raise NotImplementedError

    def text(self, f: exp.Expr) -> exp.Expr:
        raise NotImplementedError

    def number(self, f: exp.Expr) -> exp.Expr:
        from sqlglot import exp

        return exp.cast(self.text(f), exp.DataType.build("double"))

    def array_has(self, f: exp.Expr, value: str) -> exp.Expr:
        raise NotImplementedError

    def ordered(self, text: exp.Expr) -> exp.Expr:
        """Text compared by code point (byte order), whatever the database's collation."""
        return text


class _DuckJson(_Json):
    numeric_types = ("BIGINT", "UBIGINT", "DOUBLE", "HUGEINT")
    string_type, boolean_type, array_type = "VARCHAR", "BOOLEAN", "ARRAY"

    def prepare(self, doc: exp.Expr, keys: list[str]) -> exp.Expr:
        from sqlglot import exp

        # One parse per profile for all keys: json_extract(doc, ['$."a"', '$."b"']) -> JSON[].
        return _fn("json_extract", doc, exp.Array(expressions=[_lit(f'$."{k}"') for k in keys]))

    def fragment(self, prepared: exp.Expr, keys: list[str], key: str) -> exp.Expr:
        from sqlglot import exp

        # 0-based here; SQLGlot renders DuckDB's 1-based index.
        return exp.Bracket(this=prepared, expressions=[exp.Literal.number(keys.index(key))])

    def type_of(self, f: exp.Expr) -> exp.Expr:
        return _fn("json_type", f)

    def present(self, f: exp.Expr) -> exp.Expr:
        from sqlglot import exp

        return exp.NEQ(this=self.type_of(f), expression=_lit("NULL"))

    def text(self, f: exp.Expr) -> exp.Expr:
        return _fn("json_extract_string", f, _lit("$"))

    def array_has(self, f: exp.Expr, value: str) -> exp.Expr:
        from sqlglot import exp

        if _strings_only(value):
            # Element text would also match a float or nested element (2.5 reads '2.5'):
            # compare the elements' JSON, where only the string "2.5" is '"2.5"'.
            elements = exp.cast(
                _fn("json_extract", f, _lit("$[*]")),
                exp.DataType.build("varchar[]", dialect="duckdb"),
            )
            return _fn("list_contains", elements, _lit(json.dumps(value, ensure_ascii=False)))
        # Float element texts always hold a '.' ('1.0', '100000000000000000000.0') and nested
        # ones start with '{' or '[': any other text only matches a string, integer or boolean.
        return _fn("list_contains", _fn("json_extract_string", f, _lit("$[*]")), _lit(value))


class _PostgresJson(_Json):
    numeric_types = ("number",)
    string_type, boolean_type, array_type = "string", "boolean", "array"

    def fragment(self, prepared: exp.Expr, keys: list[str], key: str) -> exp.Expr:
        return _fn("jsonb_extract_path", prepared, _lit(key))

    def type_of(self, f: exp.Expr) -> exp.Expr:
        return _fn("jsonb_typeof", f)

    def present(self, f: exp.Expr) -> exp.Expr:
        from sqlglot import exp

        return exp.NEQ(this=self.type_of(f), expression=_lit("null"))

    def text(self, f: exp.Expr) -> exp.Expr:
        from sqlglot import exp

        return exp.JSONBExtractScalar(this=f, expression=_lit("{}"))

    def array_has(self, f: exp.Expr, value: str) -> exp.Expr:
        from sqlglot import exp

        if _strings_only(value):
            # Element text would also match a float or nested element (2.5 reads '2.5'): only
            # the string "2.5" is contained as ["2.5"].
            return exp.and_(
                self.is_type(f, "array"),
                exp.ArrayContainsAll(
                    this=f,
                    expression=exp.cast(_lit(json.dumps([value])), exp.DataType.build("jsonb")),
                ),
            )
        elements = exp.select(exp.Literal.number(1)).from_(
            exp.Table(
                this=_fn("jsonb_array_elements_text", f),
                alias=exp.TableAlias(this=exp.to_identifier("x"), columns=[exp.to_identifier("v")]),
            )
        )
        elements = elements.where(exp.EQ(this=exp.column("v", table="x"), expression=_lit(value)))
        # CASE keeps jsonb_array_elements_text away from non-arrays (it would raise).
        return exp.Case(
            ifs=[exp.If(this=self.is_type(f, "array"), true=exp.Exists(this=elements))],
            default=exp.false(),
        )

    def ordered(self, text: exp.Expr) -> exp.Expr:
        from sqlglot import exp

        # Bracketed: PostgreSQL reads `x COLLATE "C" BETWEEN a COLLATE "C" AND …` as a syntax
        # error; `(x COLLATE "C") BETWEEN (a COLLATE "C") AND (…)` is what it accepts.
        return exp.paren(
            exp.Collate(this=text, expression=exp.Identifier(this="C", quoted=True)), copy=False
        )


class _SparkJson(_Json):
    """Spark 4 VARIANT functions over JSON text columns."""

    numeric_types = ("BIGINT", "INT", "SMALLINT", "TINYINT", "DOUBLE", "FLOAT")
    string_type, boolean_type, array_type = "STRING", "BOOLEAN", "ARRAY<VARIANT>"

    def prepare(self, doc: exp.Expr, keys: list[str]) -> exp.Expr:
        return _fn("parse_json", doc)

    def fragment(self, prepared: exp.Expr, keys: list[str], key: str) -> exp.Expr:
        return _fn("variant_get", prepared, _lit(f'$["{key}"]'))

    def value(self, column: exp.Expr) -> exp.Expr:
        return _fn("parse_json", column)

    def type_of(self, f: exp.Expr) -> exp.Expr:
        return _fn("schema_of_variant", f)

    def is_type(self, f: exp.Expr, kind: str) -> exp.Expr:
        from sqlglot import exp

        if kind == "number":  # DECIMAL(p,s) carries its precision in the name
            return exp.or_(
                super().is_type(f, kind),
                exp.Like(this=self.type_of(f), expression=_lit("DECIMAL%")),
            )
        if kind == "array":
            return exp.Like(this=self.type_of(f), expression=_lit("ARRAY%"))
        return super().is_type(f, kind)

    def present(self, f: exp.Expr) -> exp.Expr:
        from sqlglot import exp

        return exp.and_(
            exp.Not(this=exp.Is(this=f, expression=exp.Null())),
            exp.Not(this=_fn("is_variant_null", f)),
        )

    def text(self, f: exp.Expr) -> exp.Expr:
        return _fn("try_variant_get", f, _lit("$"), _lit("string"))

    def number(self, f: exp.Expr) -> exp.Expr:
        return _fn("try_variant_get", f, _lit("$"), _lit("double"))

    def array_has(self, f: exp.Expr, value: str) -> exp.Expr:
        from sqlglot import exp

        # Only string, integer and boolean elements match by their text: a float element's text
        # differs between engines (Spark reads 1.0 as DECIMAL(1,0) '1', DuckDB as '1.0'). An
        # integer beyond BIGINT is DECIMAL(19..38,0); a float with 19 digits before the point is
        # written with an exponent (DOUBLE) by JSON writers.
        x = exp.to_identifier("x")
        kind = _fn("schema_of_variant", exp.column(x.copy()))
        integral = [f"DECIMAL({p},0)" for p in range(19, 39)]
        matches = exp.and_(
            exp.In(
                this=kind,
                expressions=[
                    _lit(t)
                    for t in (
                        "STRING",
                        "BOOLEAN",
                        "BIGINT",
                        "INT",
                        "SMALLINT",
                        "TINYINT",
                        *integral,
                    )
                ],
            ),
            exp.EQ(
                this=_fn("try_variant_get", exp.column(x.copy()), _lit("$"), _lit("string")),
                expression=_lit(value),
            ),
        )
        return _fn(
            "exists",
            _fn("try_variant_get", f, _lit("$"), _lit("array<variant>")),
            exp.Lambda(this=matches, expressions=[x]),
        )


class _SnowflakeJson(_Json):
    """VARIANT columns. Generated from Snowflake's documented functions; not run in our tests."""

    numeric_types = ("INTEGER", "DECIMAL", "DOUBLE")
    string_type, boolean_type, array_type = "VARCHAR", "BOOLEAN", "ARRAY"

    def fragment(self, prepared: exp.Expr, keys: list[str], key: str) -> exp.Expr:
        return _fn("get", prepared, _lit(key))

    def type_of(self, f: exp.Expr) -> exp.Expr:
        return _fn("typeof", f)

    def present(self, f: exp.Expr) -> exp.Expr:
        from sqlglot import exp

        return exp.Not(this=_fn("is_null_value", f))

    def text(self, f: exp.Expr) -> exp.Expr:
        return _fn("to_varchar", f)

    def number(self, f: exp.Expr) -> exp.Expr:
        return _fn("to_double", f)

    def array_has(self, f: exp.Expr, value: str) -> exp.Expr:
        return _fn("array_contains", _fn("to_variant", _lit(value)), f)


class _BigQueryJson(_Json):
    """JSON columns. Generated from BigQuery's documented functions; not run in our tests."""

    numeric_types = ("number",)
    string_type, boolean_type, array_type = "string", "boolean", "array"

    def fragment(self, prepared: exp.Expr, keys: list[str], key: str) -> exp.Expr:
        return _fn("json_query", prepared, _lit(f'$."{key}"'))

    def type_of(self, f: exp.Expr) -> exp.Expr:
        return _fn("json_type", f)

    def present(self, f: exp.Expr) -> exp.Expr:
        from sqlglot import exp

        return exp.NEQ(this=self.type_of(f), expression=_lit("null"))

    def text(self, f: exp.Expr) -> exp.Expr:
        return _fn("json_value", f)

    def number(self, f: exp.Expr) -> exp.Expr:
        return _fn("lax_float64", f)

    def array_has(self, f: exp.Expr, value: str) -> exp.Expr:
        from sqlglot import exp

        return exp.In(this=_lit(value), unnest=exp.Unnest(expressions=[_fn("json_value_array", f)]))


_JSON: dict[str, type[_Json]] = {
    "duckdb": _DuckJson,
    "postgres": _PostgresJson,
    "spark": _SparkJson,
    "snowflake": _SnowflakeJson,
    "bigquery": _BigQueryJson,
}


# ------------------------------------------------------------------------------------ compiler


@dataclass
class _Plan:
    """What one query needs: traits to read, computed traits to join, event measures to sum up."""

    dialect: str
    as_of: datetime | None
    computed: frozenset[str]
    segments: Mapping[str, RuleSegment]
    json: _Json
    trait_keys: list[str] = field(default_factory=list)
    computed_keys: list[str] = field(default_factory=list)
    sources: dict[tuple[Any, ...], str] = field(default_factory=dict)
    measures: dict[str, set[str]] = field(default_factory=dict)
    needs_items: bool = False
    inlined: dict[str, exp.Expr] = field(default_factory=dict)

    # ---- time

    def now(self) -> exp.Expr:
        from sqlglot import exp

        if self.as_of is None:
            return exp.CurrentTimestamp()
        return _ts(self.as_of)

    def days_before(self, days: int) -> exp.Expr:
        from sqlglot import exp

        if self.as_of is None:
            # Hours, not days: a day interval is calendar arithmetic in the session's time zone
            # on some engines (23 or 25 hours across a DST change), while `--as-of` and `eval`
            # subtract exact 24-hour days.
            return exp.Sub(
                this=exp.CurrentTimestamp(),
                expression=exp.Interval(this=_lit(str(days * 24)), unit=exp.Var(this="HOUR")),
            )
        return _ts(self.as_of - timedelta(days=days))

    # ---- conditions

    def condition(self, cond: Any) -> exp.Expr:
        from sqlglot import exp

        if isinstance(cond, All):
            if not cond.all:
                return exp.true()
            return exp.and_(*[exp.paren(self.condition(c), copy=False) for c in cond.all])
        if isinstance(cond, Any_):
            if not cond.any:
                return exp.false()
            return exp.or_(*[exp.paren(self.condition(c), copy=False) for c in cond.any])
        if isinstance(cond, Not):
            return exp.Not(this=exp.paren(self.condition(cond.not_), copy=False))
        if isinstance(cond, SegmentRef):
            return self.reference(cond.segment)
        if isinstance(cond, TraitCondition):
            return _never_null(self.trait(cond))
        if isinstance(cond, EventCondition):
            return _never_null(self.event(cond))
        raise SegmentDefinitionError(f"cannot compile condition of type {type(cond).__name__}")

    def reference(self, key: str) -> exp.Expr:
        from sqlglot import exp

        if key not in self.inlined:
            target = self.segments.get(key)
            if target is None:
                raise SegmentDefinitionError(
                    f"unknown segment {key!r}; give it along with the segments that name it"
                )
            self.inlined[key] = exp.paren(self.condition(target.rule), copy=False)
        return self.inlined[key].copy()

    def fragment(self, name: str) -> exp.Expr:
        from sqlglot import exp

        if name in self.computed:
            if name not in self.computed_keys:
                self.computed_keys.append(name)
            return exp.column(f"c{self.computed_keys.index(name)}", table="base")
        if name not in self.trait_keys:
            if '"' in name or "\\" in name or not name.isprintable():
                # It is read through a quoted JSON path ($."name", $["name"]) on most engines:
                # DuckDB fails on it with a JSON path error, PostgreSQL does not.
                raise SegmentDefinitionError(
                    f"trait name {name!r}: a trait name cannot hold '\"', '\\' or control "
                    "characters; use letters, digits, '_' and '-'",
                    field="trait",
                )
            self.trait_keys.append(name)
        return exp.column(f"t{self.trait_keys.index(name)}", table="base")

    def trait(self, cond: TraitCondition) -> exp.Expr:
        from sqlglot import exp

        f = self.fragment(cond.trait)
        j = self.json
        op, value = cond.op, cond.value
        if op == "exists":
            return j.present(f)
        if op == "is_null":
            return exp.Not(this=_never_null(j.present(f)))
        if op in ("eq", "ne"):
            eq = _never_null(self.equals(f, [value]))
            return eq if op == "eq" else exp.and_(j.present(f), exp.Not(this=eq))
        if op in ("in", "not_in"):
            assert isinstance(value, list)
            hit = _never_null(self.equals(f, value))
            return hit if op == "in" else exp.and_(j.present(f), exp.Not(this=hit))
        if op == "contains":
            assert isinstance(value, str)
            in_text = exp.GT(
                this=exp.StrPosition(this=j.text(f), substr=_lit(value)),
                expression=exp.Literal.number(0),
            )
            return exp.or_(
                exp.and_(j.is_type(f, "array"), j.array_has(f, value)),
                exp.and_(j.is_type(f, "string"), in_text),
            )
        # ordering: gt / gte / lt / lte / between on numbers or strings
        sample = value[0] if isinstance(value, list) else value
        if is_number(sample):
            left, typed = j.number(f), j.is_type(f, "number")
            lits = [_num(v) for v in (value if isinstance(value, list) else [value])]
        else:
            left, typed = j.ordered(j.text(f)), j.is_type(f, "string")
            lits = [
                j.ordered(_lit(str(v))) for v in (value if isinstance(value, list) else [value])
            ]
        if op == "between":
            compare: exp.Expr = exp.Between(this=left, low=lits[0], high=lits[1])
        else:
            compare = _compare(op, left, lits[0])
        # CASE: only cast/compare values of the right JSON type.
        return exp.Case(ifs=[exp.If(this=typed, true=compare)], default=exp.false())

    def equals(self, f: exp.Expr, values: list[Any]) -> exp.Expr:
        from sqlglot import exp

        j = self.json
        parts: list[exp.Expr] = []
        strings = [v for v in values if isinstance(v, str)]
        numbers = [v for v in values if is_number(v)]
        booleans = sorted({v for v in values if isinstance(v, bool)})
        if strings:
            parts.append(
                exp.Case(
                    ifs=[
                        exp.If(
                            this=j.is_type(f, "string"),
                            true=exp.In(this=j.text(f), expressions=[_lit(s) for s in strings]),
                        )
                    ],
                    default=exp.false(),
                )
            )
        if numbers:
            parts.append(
                exp.Case(
                    ifs=[
                        exp.If(
                            this=j.is_type(f, "number"),
                            true=exp.In(this=j.number(f), expressions=[_num(n) for n in numbers]),
                        )
                    ],
                    default=exp.false(),
                )
            )
        if booleans:
            parts.append(
                exp.and_(
                    j.is_type(f, "boolean"),
                    exp.In(
                        this=j.text(f),
                        expressions=[_lit("true" if b else "false") for b in booleans],
                    ),
                )
            )
        if not parts:
            return exp.false()
        return exp.or_(*[exp.paren(p, copy=False) for p in parts])

    def event(self, cond: EventCondition) -> exp.Expr:
        from sqlglot import exp

        key = (cond.event, cond.item_id, cond.category, _window_key(cond.window))
        alias = self.sources.setdefault(key, f"e{len(self.sources)}")
        self.measures.setdefault(alias, set()).add(cond.measure)
        if cond.category is not None:
            self.needs_items = True
        column = exp.column(f"{alias}_{cond.measure}", table="ev")
        values = cond.value if cond.op == "between" else [cond.value]
        assert isinstance(values, list)
        if cond.measure in ("count", "sum"):
            left = exp.Coalesce(this=column, expressions=[exp.Literal.number(0)])
            lits = [_num(v) for v in values]
            return _compare_all(cond.op, left, lits)
        if event_value_is_timestamp(cond):
            return _compare_all(cond.op, column, [_ts(as_timestamp(v)) for v in values])
        # Days ago in whole days, floor((as_of - ts) / 24 h) as days_since_purchase counts them:
        # days >= N  <=>  ts <= as_of - N days, and days <= N  <=>  ts > as_of - (N + 1) days.
        low, high = (_whole_days(v) for v in (values if cond.op == "between" else values * 2))
        at_least = {"gte": low, "gt": low + 1, "eq": low, "ne": low, "between": low}
        at_most = {"lte": high, "lt": high - 1, "eq": high, "ne": high, "between": high}
        parts: list[exp.Expr] = []
        if cond.op in at_least:
            cutoff = self.days_before(at_least[cond.op])
            parts.append(exp.LTE(this=column.copy(), expression=cutoff))
        if cond.op in at_most:
            cutoff = self.days_before(at_most[cond.op] + 1)
            parts.append(exp.GT(this=column.copy(), expression=cutoff))
        within = exp.and_(*parts)
        return exp.Not(this=exp.paren(within, copy=False)) if cond.op == "ne" else within

    # ---- assembly

    def events_cte(self) -> exp.Select | None:
        from sqlglot import exp

        if not self.sources:
            return None
        e_type, e_ts = exp.column("type", table="e"), exp.column("ts", table="e")
        select = exp.select(exp.column("profile_id", table="e"))
        for (event, item, category, window), alias in self.sources.items():
            filters: list[exp.Expr] = [exp.EQ(this=e_type.copy(), expression=_lit(event))]
            if item is not None:
                filters.append(exp.EQ(this=exp.column("item_id", table="e"), expression=_lit(item)))
            if category is not None:
                filters.append(
                    exp.EQ(this=exp.column("category", table="i"), expression=_lit(category))
                )
            filters.extend(self.window_filters(window, e_ts))
            cond = exp.and_(*filters)
            for measure in sorted(self.measures[alias]):
                if measure == "count":
                    agg: exp.Expr = exp.Sum(
                        this=exp.Case(
                            ifs=[exp.If(this=cond.copy(), true=exp.Literal.number(1))],
                            default=exp.Literal.number(0),
                        )
                    )
                else:
                    inner = exp.column("value" if measure == "sum" else "ts", table="e")
                    case = exp.Case(ifs=[exp.If(this=cond.copy(), true=inner)])
                    fn = {"sum": exp.Sum, "first": exp.Min, "last": exp.Max}[measure]
                    agg = fn(this=case)
                select = select.select(exp.alias_(agg, f"{alias}_{measure}"), copy=False)
        select = select.from_(exp.table_("events", alias="e"), copy=False)
        if self.needs_items:
            # One row per item, whatever the catalogue holds (a warehouse keeps no primary key,
            # and a row per locale or version is common): a duplicated item would count its
            # events twice in every measure of this query.
            items = exp.alias_(
                exp.select(
                    exp.column("item_id"),
                    exp.alias_(exp.Min(this=exp.column("category")), "category"),
                )
                .from_("items")
                .group_by("item_id")
                .subquery(),
                "i",
            )
            select = select.join(
                items,
                on=exp.EQ(
                    this=exp.column("item_id", table="i"),
                    expression=exp.column("item_id", table="e"),
                ),
                join_type="left",
                copy=False,
            )
        types = sorted({key[0] for key in self.sources})
        select = select.where(
            exp.and_(
                exp.In(this=e_type.copy(), expressions=[_lit(t) for t in types]),
                exp.LTE(this=e_ts.copy(), expression=self.now()),
            ),
            copy=False,
        )
        return select.group_by(exp.column("profile_id", table="e"), copy=False)

    def window_filters(self, window: tuple[Any, ...] | None, ts: exp.Expr) -> list[exp.Expr]:
        from sqlglot import exp

        if window is None:
            return []
        days, start, end = window
        out: list[exp.Expr] = []
        if days is not None:
            out.append(exp.GT(this=ts.copy(), expression=self.days_before(days)))
        if start is not None:
            out.append(exp.GTE(this=ts.copy(), expression=_ts(start)))
        if end is not None:
            out.append(exp.LT(this=ts.copy(), expression=_ts(end)))
        return out

    def base_cte(self) -> exp.Select:
        from sqlglot import exp

        inner = exp.select(exp.column("id", table="p"))
        if self.trait_keys:
            prepared = self.json.prepare(exp.column("traits", table="p"), self.trait_keys)
            inner = inner.select(exp.alias_(prepared, "tj"), copy=False)
        inner = inner.from_(exp.table_("profiles", alias="p"), copy=False)
        outer = exp.select(exp.alias_(exp.column("id", table="p"), "profile_id"))
        tj = exp.column("tj", table="p")
        for n, key in enumerate(self.trait_keys):
            outer = outer.select(
                exp.alias_(self.json.fragment(tj.copy(), self.trait_keys, key), f"t{n}"), copy=False
            )
        for n, _ in enumerate(self.computed_keys):
            value = self.json.value(exp.column("value", table=f"ct{n}"))
            outer = outer.select(exp.alias_(value, f"c{n}"), copy=False)
        outer = outer.from_(inner.subquery("p", copy=False), copy=False)
        for n, name in enumerate(self.computed_keys):
            ct = f"ct{n}"
            outer = outer.join(
                exp.table_("computed_traits", alias=ct),
                on=exp.and_(
                    exp.EQ(
                        this=exp.column("profile_id", table=ct),
                        expression=exp.column("id", table="p"),
                    ),
                    exp.EQ(this=exp.column("name", table=ct), expression=_lit(name)),
                ),
                join_type="left",
                copy=False,
            )
        return outer

    def query(self, columns: list[exp.Expr], where: exp.Expr | None) -> exp.Select:
        from sqlglot import exp

        select = exp.select(*columns).from_(exp.table_("base"))
        ev = self.events_cte()
        if ev is not None:
            select = select.join(
                exp.table_("ev"),
                on=exp.EQ(
                    this=exp.column("profile_id", table="ev"),
                    expression=exp.column("profile_id", table="base"),
                ),
                join_type="left",
                copy=False,
            )
            select = select.with_("ev", as_=ev, copy=False)
        select = select.with_("base", as_=self.base_cte(), copy=False)
        if where is not None:
            select = select.where(where, copy=False)
        return select


# ---------------------------------------------------------------------------------- expressions


def _never_null(e: exp.Expr) -> exp.Expr:
    from sqlglot import exp

    return exp.Coalesce(this=exp.paren(e, copy=False), expressions=[exp.false()])


def _num(value: Any) -> exp.Expr:
    from sqlglot import exp

    return exp.cast(exp.Literal.number(repr(float(value))), exp.DataType.build("double"))


def _ts(moment: datetime) -> exp.Expr:
    from sqlglot import exp

    utc = moment.astimezone(UTC)
    # Four-digit year: strftime's %Y gives '99' for year 99, which PostgreSQL refuses.
    text = f"{utc.year:04d}-" + utc.strftime("%m-%d %H:%M:%S.%f+00:00")
    return exp.cast(_lit(text), exp.DataType.build("timestamptz"))


def _compare(op: str, left: exp.Expr, right: exp.Expr) -> exp.Expr:
    from sqlglot import exp

    cls = {"eq": exp.EQ, "ne": exp.NEQ, "gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE}
    return cls[op](this=left, expression=right)


def _compare_all(op: str, left: exp.Expr, lits: list[exp.Expr]) -> exp.Expr:
    from sqlglot import exp

    if op == "between":
        return exp.Between(this=left, low=lits[0], high=lits[1])
    return _compare(op, left, lits[0])


def _whole_days(value: Any) -> int:
    if not is_number(value) or float(value) != int(value):
        raise SegmentDefinitionError(f"days ago must be a whole number, got {value!r}")
    return int(value)


def _window_key(window: Window | None) -> tuple[Any, ...] | None:
    if window is None:
        return None
    return (window.days, window.start, window.end)


def _pool(segments: Mapping[str, RuleSegment] | Iterable[RuleSegment]) -> dict[str, RuleSegment]:
    if isinstance(segments, Mapping):
        return dict(segments)
    return {s.key: s for s in segments}


def _check_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise SegmentDefinitionError(
            f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECTS)}", field="dialect"
        )


def _plan(
    segments: Mapping[str, RuleSegment],
    *,
    dialect: str,
    as_of: datetime | None,
    computed: Collection[str],
) -> _Plan:
    _check_dialect(dialect)
    if as_of is not None and (as_of.tzinfo is None or as_of.utcoffset() is None):
        raise SegmentDefinitionError("as_of must be timezone-aware (e.g. 2024-01-31T00:00:00Z)")
    return _Plan(
        dialect=dialect,
        as_of=None if as_of is None else as_of.astimezone(UTC),
        computed=frozenset(computed),
        segments=segments,
        json=_JSON[dialect](),
    )


def compile_expression(
    segment: RuleSegment,
    *,
    segments: Mapping[str, RuleSegment] | Iterable[RuleSegment] = {},
    dialect: str = "duckdb",
    as_of: datetime | None = None,
    computed: Collection[str] = (),
) -> exp.Select:
    """The SQLGlot expression of :func:`compile_sql` (to embed or inspect)."""
    known = dependency_order([segment], {**_pool(segments), segment.key: segment})
    plan = _plan(known, dialect=dialect, as_of=as_of, computed=computed)
    from sqlglot import exp

    where = plan.condition(segment.rule)
    return plan.query([exp.column("profile_id", table="base")], where)


def compile_sql(
    segment: RuleSegment,
    *,
    segments: Mapping[str, RuleSegment] | Iterable[RuleSegment] = {},
    dialect: str = "duckdb",
    as_of: datetime | None = None,
    computed: Collection[str] = (),
    pretty: bool = False,
) -> str:
    """``SELECT profile_id …`` for one segment, in ``dialect`` (duckdb, postgres, snowflake,
    bigquery, spark). ``segments`` resolves references; trait names in ``computed`` read the
    ``computed_traits`` table. ``as_of`` None means "now" in the database's clock.
    """
    expression = compile_expression(
        segment, segments=segments, dialect=dialect, as_of=as_of, computed=computed
    )
    return expression.sql(dialect=dialect, pretty=pretty)


def compile_many(
    wanted: list[RuleSegment],
    *,
    segments: Mapping[str, RuleSegment] | Iterable[RuleSegment] = {},
    dialect: str = "duckdb",
    as_of: datetime | None = None,
    computed: Collection[str] = (),
) -> str:
    """One query with ``profile_id`` and one boolean column ``s0, s1, …`` per wanted segment.

    Events are scanned once and each trait read once for all of them: this is what makes
    evaluating twenty segments cost about as much as evaluating one.
    """
    from sqlglot import exp

    pool = {**_pool(segments), **{s.key: s for s in wanted}}
    known = dependency_order(wanted, pool)
    plan = _plan(known, dialect=dialect, as_of=as_of, computed=computed)
    columns: list[exp.Expr] = [exp.column("profile_id", table="base")]
    for n, seg in enumerate(wanted):
        columns.append(exp.alias_(plan.reference(seg.key), f"s{n}"))
    return plan.query(columns, None).sql(dialect=dialect)
