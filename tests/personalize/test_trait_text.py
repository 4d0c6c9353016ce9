"""Trait values read as the same text in decide (Python) and decide_batch (DuckDB's JSON)."""

from __future__ import annotations

import math

import orjson
import pytest

from martech.models import Profile
from martech.personalize.batch import decide_batch
from martech.personalize.decide import DecideContext, decide
from martech.personalize.placements import parse_placements
from martech.personalize.strategies import _text
from martech.store import Store

from .conftest import AS_OF, STRATEGIES

VALUES = [
    1e-7,
    1.5e-7,
    1e-6,
    0.000123,
    1e15,
    1e16,
    1e20,
    1e21,
    1.5e300,
    -1.5e21,
    -0.0,
    2.0,
    0.1,
    5e-324,
    12345.678,
    [1e-7, {"a": 1e20, "b": "x"}, None, True],
    {"k": [0.5, 3]},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_text_is_what_duckdb_reads_from_the_stored_json(value: object) -> None:
    import duckdb

    con = duckdb.connect()
    stored = orjson.dumps(value).decode()
    want = con.execute("SELECT json_extract_string(?::JSON, '$')", [stored]).fetchone()
    assert want is not None
    assert _text(value) == want[0]


def test_a_non_finite_float_is_no_value_as_its_stored_json_null_is() -> None:
    assert _text(math.nan) is None
    assert _text(math.inf) is None


def test_a_float_trait_matches_a_cell_and_fills_a_template_alike_in_both_paths(
    martech_store: Store,
) -> None:
    placement = {
        "key": "p",
        "channel": "web",
        "holdout": 0,
        "default": "d",
        "variants": [
            {"id": "d", "kind": "template", "template": "n={{n}}", "defaults": {"n": "?"}},
            {"id": "c", "kind": "static", "content": "tiny"},
        ],
        "rules": [{"variant": "c", "cell": {"n": 1e-7}}],
    }
    people = [Profile(id="tiny", traits={"n": 1e-7}), Profile(id="huge", traits={"n": 1e20})]
    martech_store.upsert_profiles(people)
    ctx = DecideContext(
        placements=parse_placements([placement], strategies=STRATEGIES),
        strategies=STRATEGIES,
        now=AS_OF,
        store=martech_store,
    )
    decide_batch(martech_store, "p", context=ctx)
    stored = dict(martech_store.con.execute("SELECT profile_id, content FROM decisions").fetchall())
    single = {p.id: decide(p, "p", context=ctx).content for p in people}
    assert single == stored == {"tiny": "tiny", "huge": "n=100000000000000000000.0"}
