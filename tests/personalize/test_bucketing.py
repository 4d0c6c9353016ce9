from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from martech.personalize.bucketing import BUCKETS, bucket, bucket_sql, holdout_threshold, in_holdout


def test_bucket_is_stable_and_in_range() -> None:
    assert bucket("p1", "exp") == bucket("p1", "exp")
    assert all(0 <= bucket(f"p{i}", "exp") < BUCKETS for i in range(500))


def test_bucket_depends_on_the_experiment_seed() -> None:
    same = sum(bucket(f"p{i}", "a") == bucket(f"p{i}", "b") for i in range(1000))
    assert same < 10


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=20),
    seed=st.text(max_size=10),
)
def test_sql_bucket_equals_python_bucket(ids: list[str], seed: str) -> None:
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT {bucket_sql('u', seed)} FROM unnest(?::VARCHAR[]) AS t(u)", [ids]
    ).fetchall()
    assert [r[0] for r in rows] == [bucket(i, seed) for i in ids]


def test_holdout_share_is_respected_in_aggregate() -> None:
    held = sum(in_holdout(bucket(f"p{i}", "exp"), 0.1) for i in range(20_000))
    assert 1800 < held < 2200
    assert holdout_threshold(0.0) == 0
    assert holdout_threshold(1.0) == BUCKETS
