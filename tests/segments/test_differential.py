"""Differential test: compiled SQL on a real DuckDB store == the pure-Python reference evaluator.

Hypothesis generates a small world per example (0-10 profiles with unicode / hostile / null /
missing / typed traits, event histories including empty ones, events exactly on window edges and
one microsecond either side, events after ``as_of``, items with and without a category) and
``SEGMENTS_PER_WORLD`` random definitions (nested all/any/not, trait and event conditions of every
operator and measure, relative and absolute windows, references to earlier segments). Every
segment is evaluated in SQL (all at once through ``evaluate``, and the last one also alone through
``members``) and by :mod:`martech.segments.reference`; the member sets must be identical.

Default run: ``EXAMPLES`` worlds x ``SEGMENTS_PER_WORLD`` segments = 600 generated cases (the test
asserts at least 500 ran). One store is reused for all examples (tables cleared per world), so the
run stays within a few seconds.

The same kind of worlds (plus hostile trait values, traits read from ``computed_traits``, a fixed
world of every hostile value against every probe, and a world of events around the real clock,
queried without ``as_of``) run on DuckDB, on PostgreSQL (``-m postgres``, ``MARTECH_TEST_PG_DSN``)
and on local Spark (``-m spark``), all worlds in one population and a few queries, each compared
with the reference; without a server those two skip with the reason (fail under ``CI=true``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from martech.models import Event, Profile
from martech.segments import evaluate, members, parse_segments
from martech.segments.compile import compile_many
from martech.segments.reference import reference_members
from martech.store import Store

from .conftest import pg_world

EXAMPLES = 100
SEGMENTS_PER_WORLD = 6
AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
WINDOW_DAYS = (1, 2, 7)
EVENT_TYPES = ("purchase", "view")
ITEMS = {"i1": "reels", "i2": "rods", "i3": None}  # i4 is not in the catalogue at all
TRAITS = ("a", "b", "tags")
STRINGS = ("", "x", "X", "é", "ß", "😀", "x' OR 1=1 --", 'q"uote', "back\\slash", "US", "usa")

# ---------------------------------------------------------------------------------- world

# Moments at and around every boundary the rules can draw.
# Exact window edges are listed twice: they are where an off-by-one would hide.
_edges = [AS_OF, AS_OF, AS_OF - US, AS_OF + US, AS_OF + timedelta(days=3)]
for _d in WINDOW_DAYS:
    for _delta in (-US, timedelta(0), timedelta(0), US):
        _edges.append(AS_OF - timedelta(days=_d) + _delta)
MOMENTS = tuple(_edges)
ABSOLUTE = (AS_OF - timedelta(days=7), AS_OF - timedelta(days=2), AS_OF - timedelta(days=1))

numbers = st.sampled_from([0, 1, 2, 3, -1, 2.5, -0.5, 1.0, 10**6, 2**53 + 1])
scalars = st.one_of(st.sampled_from(STRINGS), numbers, st.booleans(), st.none())
trait_values = st.one_of(
    scalars, st.lists(st.sampled_from((*STRINGS[:6], "3")), max_size=3), st.just({"k": 1})
)


@st.composite
def profiles(draw: Any, pid: str) -> Profile:
    traits = {name: draw(trait_values) for name in draw(st.sets(st.sampled_from(TRAITS)))}
    events = draw(
        st.lists(
            st.builds(
                Event,
                type=st.sampled_from(EVENT_TYPES),
                item_id=st.sampled_from(["i1", "i2", "i3", "i4", None]),
                ts=st.sampled_from(MOMENTS),
                value=st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.0, 2.5, 10.0, -1.5])),
            ),
            max_size=8,
        )
    )
    return Profile(id=pid, traits=traits, events=events)


@st.composite
def worlds(draw: Any) -> tuple[list[Profile], list[dict[str, Any]]]:
    n = draw(st.integers(0, 10))
    people = [draw(profiles(f"p{i}-é")) for i in range(n)]
    definitions: list[dict[str, Any]] = []
    for k in range(SEGMENTS_PER_WORLD):
        earlier = [f"s{j}" for j in range(k)]
        definitions.append({"key": f"s{k}", "rule": draw(conditions(earlier, depth=0))})
    return people, definitions


# ---------------------------------------------------------------------------------- rules


@st.composite
def trait_conditions(draw: Any) -> dict[str, Any]:
    name = draw(st.sampled_from(TRAITS))
    op = draw(
        st.sampled_from(
            [
                "eq",
                "ne",
                "in",
                "not_in",
                "gt",
                "gte",
                "lt",
                "lte",
                "between",
                "contains",
                "exists",
                "is_null",
            ]
        )
    )
    plain = st.one_of(st.sampled_from(STRINGS), numbers, st.booleans())
    if op in ("exists", "is_null"):
        return {"trait": name, "op": op}
    if op in ("eq", "ne"):
        return {"trait": name, op: draw(plain)}  # short form
    if op in ("in", "not_in"):
        return {"trait": name, "op": op, "value": draw(st.lists(plain, max_size=3))}
    if op == "contains":
        return {"trait": name, "op": op, "value": draw(st.sampled_from((*STRINGS, "3")))}
    ordered = st.one_of(st.sampled_from(STRINGS), numbers)
    if op == "between":
        low = draw(ordered)
        high = draw(st.sampled_from(STRINGS) if isinstance(low, str) else numbers)
        return {"trait": name, "op": op, "value": sorted([low, high])}  # reversed is refused
    return {"trait": name, "op": op, "value": draw(ordered)}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


@st.composite
def event_conditions(draw: Any) -> dict[str, Any]:
    cond: dict[str, Any] = {"event": draw(st.sampled_from(EVENT_TYPES))}
    measure = draw(st.sampled_from(["count", "sum", "first", "last"]))
    cond["measure"] = measure
    scope = draw(st.sampled_from(["none", "none", "item", "category"]))
    if scope == "item":
        cond["item"] = draw(st.sampled_from(["i1", "i3", "i4"]))
    elif scope == "category":
        cond["category"] = draw(st.sampled_from(["reels", "rods", "tents"]))
    window = draw(
        st.sampled_from(["none", "relative", "relative", "sugar", "absolute", "open_end"])
    )
    if window == "relative":
        cond["window"] = draw(st.sampled_from(WINDOW_DAYS))
    elif window == "sugar":
        cond["window"] = f"last {draw(st.sampled_from(WINDOW_DAYS))} days"
    elif window == "absolute":
        start, end = sorted(draw(st.lists(st.sampled_from(ABSOLUTE), min_size=2, max_size=2)))
        cond["window"] = {"start": _iso(start), "end": _iso(end)}
    elif window == "open_end":
        cond["window"] = {"start": _iso(draw(st.sampled_from(ABSOLUTE)))}
    op = draw(st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "between"]))
    if measure == "count":
        values = st.integers(0, 3)
    elif measure == "sum":
        values = st.sampled_from([0, 0.5, 1, 2.5, 10, -1.5])
    elif draw(st.booleans()):
        values = st.sampled_from([0, 1, 2, 7])  # days ago
    else:
        values = st.sampled_from([_iso(m) for m in MOMENTS])
    if op == "between":
        cond.update(op=op, value=sorted(draw(st.lists(values, min_size=2, max_size=2))))
    else:
        cond.update(op=op, value=draw(values))
    return cond


@st.composite
def conditions(draw: Any, earlier: list[str], depth: int) -> dict[str, Any]:
    kinds = ["trait", "event", "event"] + (["segment"] if earlier else [])
    if depth < 3:
        kinds += ["all", "any", "not"]
    kind = draw(st.sampled_from(kinds))
    if kind == "trait":
        return draw(trait_conditions())
    if kind == "event":
        return draw(event_conditions())
    if kind == "segment":
        return {"segment": draw(st.sampled_from(earlier))}
    if kind == "not":
        return {"not": draw(conditions(earlier, depth + 1))}
    children = draw(st.lists(conditions(earlier, depth + 1), max_size=3))
    return {kind: children}


# ---------------------------------------------------------------------------------- store


def _load(store: Store, people: list[Profile]) -> None:
    con = store.con
    for table in ("profiles", "events", "items"):
        con.execute(f"DELETE FROM {table}")
    items = pa.table(
        {"item_id": list(ITEMS), "category": list(ITEMS.values())},
        schema=pa.schema([("item_id", pa.string()), ("category", pa.string())]),
    )
    con.register("_items", items)
    con.execute("INSERT INTO items (item_id, category) SELECT item_id, category FROM _items")
    con.unregister("_items")
    if not people:
        return
    prof = pa.table(
        {
            "id": [p.id for p in people],
            "traits": [orjson.dumps(p.traits).decode() for p in people],
        }
    )
    con.register("_p", prof)
    con.execute("INSERT INTO profiles (id, traits) SELECT id, traits::JSON FROM _p")
    con.unregister("_p")
    rows = [(p.id, e) for p in people for e in p.events]
    if rows:
        ev = pa.table(
            {
                "profile_id": [pid for pid, _ in rows],
                "type": [e.type for _, e in rows],
                "item_id": [e.item_id for _, e in rows],
                "ts": pa.array([e.ts for _, e in rows], pa.timestamp("us", tz="UTC")),
                "value": pa.array([e.value for _, e in rows], pa.float64()),
            }
        )
        con.register("_e", ev)
        con.execute(
            "INSERT INTO events (profile_id, type, item_id, ts, value) "
            "SELECT profile_id, type, item_id, ts, value FROM _e"
        )
        con.unregister("_e")


def test_compiled_sql_gives_exactly_the_reference_members(martech_store: Store) -> None:
    cases = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(world=worlds())
    def check(world: tuple[list[Profile], list[dict[str, Any]]]) -> None:
        nonlocal cases
        people, definitions = world
        segments = parse_segments({"segments": definitions}, source="generated.yml")
        _load(martech_store, people)
        got = evaluate(martech_store, segments, as_of=AS_OF, computed=())
        for seg in segments:
            expected = reference_members(
                people, seg, segments=segments, as_of=AS_OF, categories=ITEMS
            )
            assert got[seg.key] == expected, (seg.key, seg.rule.model_dump(by_alias=True))
            cases += 1
        last = segments[-1]
        alone = members(martech_store, last, segments=segments, as_of=AS_OF, computed=())
        assert alone == got[last.key]

    check()
    assert cases >= 500, f"only {cases} generated cases ran"


# ------------------------------------------------------------------ other dialects, same worlds

DIALECT_WORLDS = 60
COMPUTED = ("c",)  # the worlds' trait "c" goes to computed_traits
#: people, their segments, and None (evaluated at AS_OF) or the moment the world was made
#: (evaluated without as_of, on the database's clock).
World = tuple[list[Profile], list[Any], datetime | None]
# Values that only a warehouse can get wrong: LIKE wildcards, quotes and escapes in its literals,
# lists mixing strings with numbers, booleans, nulls and nested values.
HOSTILE = ("%", "_", "a%", "x_", "O'Brien", "two\nlines", "tab\there", "\\", "''", "--")
dialect_values = st.one_of(
    trait_values,
    st.sampled_from(HOSTILE),
    st.lists(
        st.one_of(
            st.sampled_from((*STRINGS[:6], *HOSTILE[:4], "3")),
            st.sampled_from([3, -1, 2**53 + 1, 1.0, 2.5, True, False, None, {"k": 1}, ["x"]]),
        ),
        max_size=4,
    ),
)


def _collect_worlds(count: int) -> list[World]:
    """``count`` generated worlds (fixed seed): people with hostile traits and their segments."""
    found: list[World] = []

    @st.composite
    def hostile_people(draw: Any, people: list[Profile]) -> list[Profile]:
        out = []
        for p in people:
            extra = {"h": draw(dialect_values)} if draw(st.booleans()) else {}
            if draw(st.booleans()):  # read from computed_traits (COMPUTED), not from traits
                extra["c"] = draw(dialect_values)
            out.append(p.model_copy(update={"traits": {**p.traits, **extra}}))
        return out

    @st.composite
    def dialect_worlds(draw: Any) -> tuple[list[Profile], list[dict[str, Any]]]:
        people, definitions = draw(worlds())
        people = draw(hostile_people(people))
        hostile = st.sampled_from((*HOSTILE, "x", "lake", "1", "1.0", "2.5", "3", "true"))
        for k in range(2):  # conditions on the hostile trait, beside the generated ones
            op = draw(st.sampled_from(["contains", "eq", "in", "not_in", "gte", "lt"]))
            value: Any = draw(hostile)
            if op in ("in", "not_in"):
                value = draw(st.lists(hostile, min_size=1, max_size=3))
            definitions.append({"key": f"h{k}", "rule": {"trait": "h", "op": op, "value": value}})
        for k in range(2):
            definitions.append({"key": f"c{k}", "rule": {**draw(trait_conditions()), "trait": "c"}})
        return people, definitions

    @settings(
        max_examples=count,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(world=dialect_worlds())
    def collect(world: tuple[list[Profile], list[dict[str, Any]]]) -> None:
        people, definitions = world
        segments = parse_segments({"segments": definitions}, source="generated.yml")
        found.append((people, segments, None))

    collect()
    return [_fixed_world(), *found, _clock_world(datetime.now(UTC))]


def _fixed_world() -> World:
    """Every hostile value against every probe: what random worlds may take long to pair up."""
    values: list[Any] = [
        *HOSTILE,
        [1.0, 2.0],
        [2.5, "x"],
        ["lake", {"k": 1}],
        [3, True, None],
        [2**53 + 1],
        [2**64 - 1],  # DECIMAL(20,0) in a Spark VARIANT, as 1.0 is DECIMAL(1,0)
        "1.0",
        1.0,
        3,
        True,
    ]
    people = [Profile(id=f"f{n}", traits={"h": v}) for n, v in enumerate(values)]
    probes = (
        *HOSTILE,
        "1",
        "1.0",
        "2",
        "2.5",
        "3",
        "true",
        "lake",
        '{"k":1}',
        "9007199254740993",
        str(2**64 - 1),
    )
    definitions = []
    for n, probe in enumerate(probes):
        for op in ("contains", "eq", "gt"):
            definitions.append(
                {"key": f"{op}{n}", "rule": {"trait": "h", "op": op, "value": probe}}
            )
    segments = parse_segments({"segments": definitions}, source="fixed.yml")
    return people, segments, None


def _clock_world(now: datetime) -> World:
    """Events some days and two hours either side of "now": queries without as_of use the
    database's clock (CURRENT_TIMESTAMP minus hours), which must draw the same lines."""
    margin = timedelta(hours=2)
    people = []
    for days in (0, 1, 2, 6, 7, 8):
        for side in (-margin, margin):
            ts = now - timedelta(days=days) + side
            if ts < now:
                events = [Event(type="purchase", ts=ts, value=1.0)]
                people.append(
                    Profile(id=f"d{days}{'+' if side > timedelta(0) else '-'}", events=events)
                )
    people.append(Profile(id="none"))
    definitions: list[dict[str, Any]] = []
    for days in (1, 2, 7):
        definitions.append({"event": "purchase", "window": days})
        definitions.append({"event": "purchase", "window": days, "measure": "sum", "gte": 1})
    for op, value in (("lt", 2), ("gte", 7), ("eq", 1), ("ne", 6), ("between", [1, 7])):
        for measure in ("first", "last"):
            definitions.append({"event": "purchase", "measure": measure, "op": op, "value": value})
    segments = parse_segments(
        {"segments": [{"key": f"now{n}", "rule": r} for n, r in enumerate(definitions)]},
        source="clock.yml",
    )
    return people, segments, now


def _rows(world_list: list[World]) -> dict[str, list[tuple[Any, ...]]]:
    """Every world's people in one population (ids prefixed ``w<n>/``), as table rows."""
    data: dict[str, list[tuple[Any, ...]]] = {
        "profiles": [],
        "events": [],
        "items": [],
        "computed_traits": [],
    }
    data["items"] = list(ITEMS.items())
    for n, (people, _, _) in enumerate(world_list):
        for p in people:
            pid = f"w{n}/{p.id}"
            traits = {k: v for k, v in p.traits.items() if k not in COMPUTED}
            data["profiles"].append((pid, orjson.dumps(traits).decode()))
            for name in COMPUTED:
                if name in p.traits:
                    value = orjson.dumps(p.traits[name]).decode()
                    data["computed_traits"].append((pid, name, value))
            for e in p.events:
                data["events"].append((pid, e.type, e.item_id, e.ts.astimezone(UTC), e.value))
    return data


def _expected(world_list: list[World]) -> dict[tuple[int, str], set[str]]:
    out = {}
    for n, (people, segments, clock) in enumerate(world_list):
        for seg in segments:
            computed = {c: {p.id: p.traits[c] for p in people if c in p.traits} for c in COMPUTED}
            ids = reference_members(
                people,
                seg,
                segments=segments,
                as_of=clock or AS_OF,
                categories=ITEMS,
                computed=computed,
            )
            out[(n, seg.key)] = {f"w{n}/{i}" for i in ids}
    return out


def _world_queries(world_list: list[World], dialect: str) -> list[str]:
    """One query per world: ``w, profile_id, s0, s1, …`` (booleans) over the whole population.

    Only the world's own people are compared (others are strangers to its segments)."""
    return [
        f"SELECT {n} AS w, q.* FROM ("
        + compile_many(
            segments,
            segments=segments,
            dialect=dialect,
            as_of=AS_OF if clock is None else None,
            computed=COMPUTED,
        )
        + ") AS q"
        for n, (_, segments, clock) in enumerate(world_list)
    ]


def _compare(world_list: list[World], rows: Iterable[tuple[Any, ...]]) -> int:
    got: dict[tuple[int, str], set[str]] = {}
    for n, (_, segments, _) in enumerate(world_list):
        for seg in segments:
            got[(n, seg.key)] = set()
    for row in rows:
        n, pid, flags = row[0], row[1], row[2:]
        if not pid.startswith(f"w{n}/"):
            continue
        for seg, flag in zip(world_list[n][1], flags, strict=False):
            if flag:
                got[(n, seg.key)].add(pid)
    expected = _expected(world_list)
    for key, want in expected.items():
        n = key[0]
        assert got[key] == want, (
            key,
            world_list[n][1][[s.key for s in world_list[n][1]].index(key[1])].rule.model_dump(
                by_alias=True
            ),
            sorted(got[key] ^ want),
        )
    return len(expected)


@pytest.mark.postgres
def test_postgres_gives_exactly_the_reference_members(pg_conn: Any) -> None:
    world_list = _collect_worlds(DIALECT_WORLDS)
    data = _rows(world_list)
    rows: list[tuple[Any, ...]] = []
    with pg_world(pg_conn, data) as cur:
        for sql in _world_queries(world_list, "postgres"):
            cur.execute(sql)
            rows.extend(cur.fetchall())
    assert _compare(world_list, rows) >= 400


@pytest.mark.spark
def test_spark_gives_exactly_the_reference_members(spark: Any) -> None:
    world_list = _collect_worlds(DIALECT_WORLDS)
    data = _rows(world_list)
    schemas = {
        "profiles": "id string, traits string",
        "events": "profile_id string, type string, item_id string, ts timestamp, value double",
        "items": "item_id string, category string",
    }
    for table, schema in schemas.items():
        spark.createDataFrame(data[table], schema).createOrReplaceTempView(table)
    spark.createDataFrame(
        data["computed_traits"], "profile_id string, name string, value string"
    ).createOrReplaceTempView("computed_traits")
    rows: list[tuple[Any, ...]] = []
    queries = _world_queries(world_list, "spark")
    # A few Spark jobs, not one per world; a UNION needs the same number of segment columns.
    by_width: dict[int, list[str]] = {}
    for (_, segments, _), sql in zip(world_list, queries, strict=True):
        by_width.setdefault(len(segments), []).append(sql)
    for same in by_width.values():
        for start in range(0, len(same), 20):
            union = " UNION ALL ".join(same[start : start + 20])
            rows.extend(tuple(r) for r in spark.sql(union).collect())
    assert _compare(world_list, rows) >= 400


def test_duckdb_gives_exactly_the_reference_members_on_the_dialect_worlds() -> None:
    """The worlds the warehouse tests use (fewer random ones: the DuckDB differential above
    covers those), on DuckDB: the three engines meet in the reference."""
    world_list = _collect_worlds(DIALECT_WORLDS // 3)
    data = _rows(world_list)
    con = duckdb.connect()
    con.execute("CREATE TABLE profiles (id VARCHAR, traits JSON)")
    con.execute(
        "CREATE TABLE events (profile_id VARCHAR, type VARCHAR, item_id VARCHAR, "
        "ts TIMESTAMPTZ, value DOUBLE)"
    )
    con.execute("CREATE TABLE items (item_id VARCHAR, category VARCHAR)")
    con.execute("CREATE TABLE computed_traits (profile_id VARCHAR, name VARCHAR, value JSON)")
    for table in ("profiles", "events", "items", "computed_traits"):
        if data[table]:
            marks = ", ".join("?" * len(data[table][0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", data[table])
    rows = [
        row for sql in _world_queries(world_list, "duckdb") for row in con.execute(sql).fetchall()
    ]
    assert _compare(world_list, rows) >= 200
