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
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from martech.models import Event, Profile
from martech.segments import evaluate, members, parse_segments
from martech.segments.reference import reference_members
from martech.store import Store

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
