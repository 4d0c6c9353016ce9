"""The compiler on a real DuckDB store: values stay data, typing, windows at their edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlglot
from sqlglot import exp

from martech.errors import SegmentDefinitionError
from martech.models import Event, Profile
from martech.segments import DIALECTS, compile_sql, evaluate, members, parse_segments
from martech.store import Store

AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE = "x' OR 1=1 --"
WEIRD = ['a"); DROP TABLE profiles; --', "back\\slash'", "😀 Zoë Ωmega", "%_*", "\n\t"]


def _load(store: Store, people: list[Profile]) -> None:
    store.upsert_profiles(people)
    store.append_events([(p.id, e) for p in people for e in p.events])


def _one(rule: dict, **segments: dict) -> tuple:
    defs = {"s": {"rule": rule}, **{k: {"rule": r} for k, r in segments.items()}}
    parsed = parse_segments(defs)
    return parsed[0], parsed


def _members(store: Store, rule: dict, **kw: object) -> set[str]:
    seg, pool = _one(rule)
    return members(store, seg, segments=pool, as_of=AS_OF, **kw)  # type: ignore[arg-type]


def test_hostile_and_unicode_values_are_data_not_sql(martech_store: Store) -> None:
    people = [
        Profile(id="hostile", traits={"name": HOSTILE}),
        Profile(id="plain", traits={"name": "x"}),
        *[Profile(id=f"w{i}", traits={"name": w}) for i, w in enumerate(WEIRD)],
    ]
    _load(martech_store, people)
    assert _members(martech_store, {"trait": "name", "eq": HOSTILE}) == {"hostile"}
    for i, w in enumerate(WEIRD):
        assert _members(martech_store, {"trait": "name", "eq": w}) == {f"w{i}"}
    assert _members(martech_store, {"trait": "name", "contains": "1=1"}) == {"hostile"}
    assert martech_store.count("profiles") == len(people)  # nothing dropped
    seg, _ = _one({"trait": "name", "in": [HOSTILE, *WEIRD]})
    for dialect in DIALECTS:
        tree = sqlglot.parse_one(compile_sql(seg, dialect=dialect), read=dialect)
        literals = {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}
        assert HOSTILE in literals, dialect  # the value survives as exactly one string literal
        assert all(w in literals for w in WEIRD if "\\" not in w), dialect


def test_hostile_event_type_item_and_category_are_data(martech_store: Store) -> None:
    ts = AS_OF - timedelta(hours=1)
    martech_store.con.execute(
        "INSERT INTO items (item_id, category) VALUES (?, ?)", [HOSTILE, "re'els"]
    )
    people = [
        Profile(id="a", events=[Event(type=HOSTILE, item_id=HOSTILE, ts=ts)]),
        Profile(id="b", events=[Event(type="view", item_id="other", ts=ts)]),
    ]
    _load(martech_store, people)
    assert _members(martech_store, {"event": HOSTILE}) == {"a"}
    assert _members(martech_store, {"event": HOSTILE, "item": HOSTILE}) == {"a"}
    assert _members(martech_store, {"event": HOSTILE, "category": "re'els"}) == {"a"}
    assert _members(martech_store, {"event": "view", "category": "re'els"}) == set()


def test_values_compare_by_their_json_type(martech_store: Store) -> None:
    people = [
        Profile(id="num", traits={"age": 42, "vip": True, "tags": ["lake", "fly"]}),
        Profile(id="float", traits={"age": 42.0}),
        Profile(id="text", traits={"age": "42", "vip": "true", "tags": "lakeside"}),
        Profile(id="null", traits={"age": None}),
        Profile(id="none", traits={}),
        Profile(id="nine", traits={"age": 9, "code": "b"}),
        Profile(id="code", traits={"code": "a10"}),
    ]
    _load(martech_store, people)
    assert _members(martech_store, {"trait": "age", "eq": 42}) == {"num", "float"}
    assert _members(martech_store, {"trait": "age", "eq": "42"}) == {"text"}
    assert _members(martech_store, {"trait": "age", "gt": 10}) == {"num", "float"}  # numerically
    assert _members(martech_store, {"trait": "code", "gt": "a9"}) == {"nine"}  # as strings
    assert _members(martech_store, {"trait": "vip", "eq": True}) == {"num"}
    assert _members(martech_store, {"trait": "tags", "contains": "lake"}) == {"num", "text"}
    assert _members(martech_store, {"trait": "age", "exists": True}) == {
        "num",
        "float",
        "text",
        "nine",
    }
    assert _members(martech_store, {"trait": "age", "op": "is_null"}) == {"null", "none", "code"}
    # ne needs the trait present; not/eq includes people without it
    assert _members(martech_store, {"trait": "age", "ne": 42}) == {"text", "nine"}
    assert _members(martech_store, {"not": {"trait": "age", "eq": 42}}) == {
        "text",
        "null",
        "none",
        "nine",
        "code",
    }
    assert _members(martech_store, {"trait": "age", "in": [9, "42"]}) == {"nine", "text"}
    assert _members(martech_store, {"trait": "age", "between": [9, 42]}) == {"num", "float", "nine"}


def test_relative_windows_are_half_open_at_as_of(martech_store: Store) -> None:
    edge = AS_OF - timedelta(days=7)
    people = [
        Profile(id="on_edge", events=[Event(type="view", ts=edge)]),
        Profile(id="inside", events=[Event(type="view", ts=edge + timedelta(microseconds=1))]),
        Profile(id="at_as_of", events=[Event(type="view", ts=AS_OF)]),
        Profile(id="future", events=[Event(type="view", ts=AS_OF + timedelta(microseconds=1))]),
        Profile(id="nothing"),
    ]
    _load(martech_store, people)
    within = _members(martech_store, {"event": "view", "window": "last 7 days"})
    assert within == {"inside", "at_as_of"}
    # count eq 0 is everyone else, including people without any event
    zero = _members(
        martech_store, {"event": "view", "window": "last 1 week", "op": "eq", "value": 0}
    )
    assert zero == {"on_edge", "future", "nothing"}
    # events after as_of never count, with or without a window
    assert _members(martech_store, {"event": "view"}) == {"on_edge", "inside", "at_as_of"}


def test_absolute_windows_include_start_and_exclude_end(martech_store: Store) -> None:
    start, end = AS_OF - timedelta(days=10), AS_OF - timedelta(days=5)
    people = [
        Profile(id="start", events=[Event(type="purchase", ts=start, value=5)]),
        Profile(id="end", events=[Event(type="purchase", ts=end, value=5)]),
    ]
    _load(martech_store, people)
    window = {"start": start.isoformat(), "end": end.isoformat()}
    assert _members(martech_store, {"event": "purchase", "window": window}) == {"start"}


def test_sum_first_and_last_measures(martech_store: Store) -> None:
    day = timedelta(days=1)
    people = [
        Profile(
            id="regular",
            events=[
                Event(type="purchase", ts=AS_OF - 40 * day, value=100),
                Event(type="purchase", ts=AS_OF - 10 * day, value=50.5),
                Event(type="purchase", ts=AS_OF - 2 * day, value=None),
            ],
        ),
        Profile(id="once", events=[Event(type="purchase", ts=AS_OF - 200 * day, value=20)]),
        Profile(id="never"),
    ]
    _load(martech_store, people)
    assert _members(martech_store, {"event": "purchase", "measure": "sum", "gte": 150.5}) == {
        "regular"
    }
    assert _members(martech_store, {"event": "purchase", "measure": "sum", "eq": 0}) == {"never"}
    lapsed = {"event": "purchase", "measure": "last", "op": "gt", "value": 180}
    assert _members(martech_store, lapsed) == {"once"}  # never-buyers have no last purchase
    recent = {"event": "purchase", "measure": "last", "op": "lte", "value": 2}
    assert _members(martech_store, recent) == {"regular"}  # exactly 2 days ago counts
    first = {"event": "purchase", "measure": "first", "lt": (AS_OF - 100 * day).isoformat()}
    assert _members(martech_store, first) == {"once"}
    between = {"event": "purchase", "measure": "first", "between": [30, 50]}
    assert _members(martech_store, between) == {"regular"}


def test_computed_traits_are_read_from_their_table(martech_store: Store) -> None:
    _load(
        martech_store,
        [Profile(id="a", traits={"rfm": "stored"}), Profile(id="b", traits={"rfm": "champions"})],
    )
    martech_store.con.execute(
        "INSERT INTO computed_traits (profile_id, name, value) VALUES "
        "('a', 'rfm', '\"champions\"'), ('b', 'rfm', '\"at_risk\"'), ('a', 'clv', '250.5')"
    )
    seg, _pool = _one({"all": [{"trait": "rfm", "eq": "champions"}, {"trait": "clv", "gt": 100}]})
    assert members(martech_store, seg, as_of=AS_OF) == {"a"}  # default: names in the table
    assert members(martech_store, seg, as_of=AS_OF, computed=()) == set()  # read profiles.traits
    sql = compile_sql(seg, computed=["rfm", "clv"])
    assert "computed_traits" in sql


def test_references_inline_and_evaluate_matches_members(martech_store: Store) -> None:
    ts = AS_OF - timedelta(days=1)
    _load(
        martech_store,
        [
            Profile(id="a", traits={"country": "US"}, events=[Event(type="purchase", ts=ts)]),
            Profile(id="b", traits={"country": "US"}),
            Profile(id="c", traits={"country": "FR"}, events=[Event(type="purchase", ts=ts)]),
        ],
    )
    segs = parse_segments(
        {
            "buyers": {"rule": {"event": "purchase"}},
            "us": {"rule": {"trait": "country", "eq": "US"}},
            "us_buyers": {"rule": {"all": [{"segment": "buyers"}, {"segment": "us"}]}},
            "us_non_buyers": {"rule": {"all": [{"segment": "us"}, {"not": {"segment": "buyers"}}]}},
        }
    )
    result = evaluate(martech_store, segs, as_of=AS_OF)
    assert result == {
        "buyers": {"a", "c"},
        "us": {"a", "b"},
        "us_buyers": {"a"},
        "us_non_buyers": {"b"},
    }
    for seg in segs:
        assert members(martech_store, seg, segments=segs, as_of=AS_OF) == result[seg.key]
    assert evaluate(martech_store, segs, as_of=AS_OF, only=["us_buyers"]) == {"us_buyers": {"a"}}
    with pytest.raises(SegmentDefinitionError, match="unknown segment 'buyers'"):
        members(martech_store, segs[2], as_of=AS_OF)


def test_as_of_none_means_the_databases_now(martech_store: Store) -> None:
    now = datetime.now(UTC)
    _load(
        martech_store,
        [
            Profile(id="recent", events=[Event(type="view", ts=now - timedelta(days=2))]),
            Profile(id="old", events=[Event(type="view", ts=now - timedelta(days=40))]),
        ],
    )
    seg, _ = _one({"event": "view", "window": "last 30 days"})
    sql = compile_sql(seg)
    assert "CURRENT_TIMESTAMP" in sql
    rows = martech_store.con.execute(sql).fetchall()
    assert {r[0] for r in rows} == {"recent"}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_dialect_renders_sql_its_parser_accepts(dialect: str) -> None:
    segs = parse_segments(
        {
            "base": {"rule": {"trait": "country", "in": ["US", "CA"]}},
            "s": {
                "rule": {
                    "all": [
                        {"segment": "base"},
                        {"trait": "tags", "contains": "lake"},
                        {"trait": "age", "between": [18, 30]},
                        {"event": "purchase", "measure": "sum", "gte": 100, "window": 30},
                        {"event": "view", "category": "reels", "measure": "last", "lte": 7},
                        {"not": {"trait": "rfm", "eq": "lost"}},
                    ]
                }
            },
        }
    )
    sql = compile_sql(segs[1], segments=segs, dialect=dialect, computed=["rfm"])
    tree = sqlglot.parse_one(sql, read=dialect)
    assert tree.find(exp.Select) is not None
    assert "computed_traits" in sql
    assert "events" in sql


def test_unknown_dialect_and_naive_as_of_are_refused() -> None:
    seg, _ = _one({"event": "view"})
    with pytest.raises(SegmentDefinitionError, match="unknown dialect 'oracle'"):
        compile_sql(seg, dialect="oracle")
    with pytest.raises(SegmentDefinitionError, match="timezone-aware"):
        compile_sql(seg, as_of=datetime(2026, 1, 1))


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "name", ['a"b', "back\\slash", "tab\there"], ids=["quote", "backslash", "control"]
)
def test_a_trait_name_a_json_path_cannot_quote_is_refused_on_every_dialect(
    dialect: str, name: str
) -> None:
    """segments.yml refuses such names; a RuleSegment built in Python reached the compiler, where
    DuckDB failed with a JSON path error while PostgreSQL ran the query."""
    from martech.models import RuleSegment, TraitCondition

    seg = RuleSegment(key="s", rule=TraitCondition(trait=name, op="exists"))
    with pytest.raises(SegmentDefinitionError, match="trait name"):
        compile_sql(seg, dialect=dialect, as_of=AS_OF)
