"""The same segments on PostgreSQL and Spark give exactly DuckDB's members.

One small population (the synthetic shop, plus hand-made profiles with hostile, unicode, list and
wrongly-typed traits, and computed traits) is loaded into the DuckDB store, a real PostgreSQL
server (``MARTECH_TEST_PG_DSN``; traits as ``jsonb``) and local Spark temp views (traits as JSON
text, read with Spark 4's VARIANT functions). Every example segment plus segments over the odd
traits are compiled for each dialect and the member sets compared.

Without a server these tests skip with the reason; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from martech.models import Event, Profile, RuleSegment
from martech.population import generate, write_store
from martech.segments import compile_sql, evaluate, example_segments, parse_segments
from martech.segments.rules import references
from martech.store import Store

from .conftest import pg_world

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
COMPUTED = ("rfm", "clv")
ODD = [
    Profile(id="odd-1", traits={"name": "x' OR 1=1 --", "tags": ["lake", "fly"], "age": "42"}),
    Profile(id="odd-2", traits={"name": "back\\slash 'q'", "tags": "lakeside", "age": 42.5}),
    Profile(id="odd-3", traits={"name": "Zoë 😀", "tags": [], "age": None, "loyalty_member": 1}),
    Profile(
        id="odd-4",
        traits={"name": "ω", "tags": ["3", "river"], "age": 17},
        events=[
            Event(type="purchase", item_id="nope", ts=AS_OF - timedelta(days=7), value=12.5),
            Event(type="purchase", ts=AS_OF, value=1),
            Event(type="purchase", ts=AS_OF + timedelta(seconds=1), value=1000),
        ],
    ),
]
EXTRA = {
    "hostile": {"rule": {"trait": "name", "in": ["x' OR 1=1 --", "back\\slash 'q'", "Zoë 😀"]}},
    "lake_tags": {"rule": {"trait": "tags", "contains": "lake"}},
    "teen_or_text_age": {
        "rule": {"any": [{"trait": "age", "lt": 18}, {"trait": "age", "eq": "42"}]}
    },
    "names_after_m": {"rule": {"trait": "name", "gte": "m"}},
    "names_between": {"rule": {"trait": "name", "between": ["a", "z"]}},
    "rfm_between": {"rule": {"trait": "rfm", "between": ["a", "d"]}},
    "no_age": {"rule": {"trait": "age", "is_null": True}},
    "edge_week": {
        "rule": {"event": "purchase", "window": "last 7 days", "measure": "sum", "gte": 1}
    },
    "champions": {
        "rule": {"all": [{"trait": "rfm", "eq": "champions"}, {"trait": "clv", "gt": 50}]}
    },
    "absolute": {
        "rule": {
            "event": "purchase",
            "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"},
        }
    },
    "first_a_week_ago": {"rule": {"event": "purchase", "measure": "first", "eq": 7}},
    "last_not_today": {"rule": {"event": "purchase", "measure": "last", "ne": 0}},
    "first_before": {
        "rule": {"event": "view", "measure": "first", "op": "lt", "value": "2025-12-01T00:00:00Z"}
    },
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = Path(tmp_path_factory.mktemp("dialects")) / "martech.duckdb"
    store = Store(path)
    write_store(store, generate(300, seed=11, as_of=AS_OF))
    store.upsert_profiles(ODD)
    store.append_events([(p.id, e) for p in ODD for e in p.events])
    store.con.execute(
        "INSERT INTO computed_traits (profile_id, name, value) "
        "SELECT id, 'rfm', CASE WHEN hash(id) % 3 = 0 THEN '\"champions\"' ELSE '\"other\"' END "
        "FROM profiles UNION ALL SELECT id, 'clv', (hash(id) % 100)::VARCHAR FROM profiles"
    )
    segments = example_segments() + parse_segments(EXTRA, source="extra.yml")
    expected = evaluate(store, segments, as_of=AS_OF, computed=COMPUTED)
    con = store.con
    data = {
        "profiles": con.execute("SELECT id, traits::VARCHAR FROM profiles").fetchall(),
        "events": [
            (pid, t, item, ts.replace(tzinfo=UTC), value)
            for pid, t, item, ts, value in con.execute(
                "SELECT profile_id, type, item_id, timezone('UTC', ts), value FROM events"
            ).fetchall()
        ],
        "items": con.execute("SELECT item_id, category FROM items").fetchall(),
        "computed_traits": con.execute(
            "SELECT profile_id, name, value::VARCHAR FROM computed_traits"
        ).fetchall(),
    }
    store.close()
    # the comparison only means something if the segments are not trivially empty or full
    sizes = [len(v) for v in expected.values()]
    assert sum(1 for n in sizes if 0 < n < len(data["profiles"])) >= 15
    return {"segments": segments, "expected": expected, "data": data}


def _queries(segments: list[RuleSegment], dialect: str) -> Iterator[tuple[str, str]]:
    for seg in segments:
        yield (
            seg.key,
            compile_sql(seg, segments=segments, dialect=dialect, as_of=AS_OF, computed=COMPUTED),
        )


def _has_events(seg: RuleSegment, pool: dict[str, RuleSegment]) -> bool:
    text = seg.rule.model_dump_json()
    return '"kind":"event"' in text or any(
        _has_events(pool[ref], pool) for ref, _ in references(seg.rule)
    )


@pytest.mark.postgres
def test_postgres_gives_the_same_members_as_duckdb(pg_conn: Any, world: dict[str, Any]) -> None:
    with pg_world(pg_conn, world["data"]) as cur:
        for key, sql in _queries(world["segments"], "postgres"):
            cur.execute(sql)
            got = {r[0] for r in cur.fetchall()}
            assert got == world["expected"][key], key
        # "now" queries run too; without event conditions they cannot depend on the clock
        pool = {s.key: s for s in world["segments"]}
        for seg in world["segments"]:
            sql = compile_sql(seg, segments=pool, dialect="postgres", computed=COMPUTED)
            cur.execute(sql)
            got = {r[0] for r in cur.fetchall()}
            if not _has_events(seg, pool):
                assert got == world["expected"][seg.key], seg.key


@pytest.mark.spark
def test_spark_gives_the_same_members_as_duckdb(spark: Any, world: dict[str, Any]) -> None:
    data = world["data"]
    schemas = {
        "profiles": "id string, traits string",
        "events": "profile_id string, type string, item_id string, ts timestamp, value double",
        "items": "item_id string, category string",
        "computed_traits": "profile_id string, name string, value string",
    }
    for table, schema in schemas.items():
        spark.createDataFrame(data[table], schema).createOrReplaceTempView(table)
    # One Spark job for all segments (each query planned separately is slow on 2 cores).
    pool = {s.key: s for s in world["segments"]}
    union = " UNION ALL ".join(
        f"SELECT '{key}' AS segment, profile_id FROM ({sql}) AS q{n}"
        for n, (key, sql) in enumerate(_queries(world["segments"], "spark"))
    )
    got: dict[str, set[str]] = {key: set() for key in pool}
    for row in spark.sql(union).collect():
        got[row[0]].add(row[1])
    assert got == world["expected"]
    # "now" queries run too; without event conditions they cannot depend on the clock
    clockless = [s for s in world["segments"] if not _has_events(s, pool)]
    for seg in clockless:
        sql = compile_sql(seg, segments=pool, dialect="spark", computed=COMPUTED)
        assert {r[0] for r in spark.sql(sql).collect()} == world["expected"][seg.key], seg.key
