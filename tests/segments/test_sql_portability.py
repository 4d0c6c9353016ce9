"""Compiled segment SQL that must hold on any engine, checked where it can run here (DuckDB)
or in the text every dialect gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from martech.segments import DIALECTS, compile_sql, parse_segments

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_catalogue_with_an_item_twice_does_not_count_its_events_twice() -> None:
    """Warehouses keep no primary key on items, and a row per locale is common: a category
    condition in a query must not multiply the other measures' events."""
    segments = parse_segments(
        {
            "big_spenders": {"rule": {"event": "purchase", "measure": "sum", "gte": 100}},
            "big_and_reels": {
                "rule": {
                    "all": [
                        {"event": "purchase", "measure": "sum", "gte": 100},
                        {
                            "any": [
                                {"event": "view", "category": "reels"},
                                {"trait": "x", "exists": True},
                            ]
                        },
                    ]
                }
            },
        },
        source="t.yml",
    )
    con = duckdb.connect()
    con.execute("CREATE TABLE profiles (id VARCHAR, traits JSON)")
    con.execute("CREATE TABLE events (profile_id VARCHAR, type VARCHAR, item_id VARCHAR, "
                "ts TIMESTAMPTZ, value DOUBLE)")  # fmt: skip
    con.execute("CREATE TABLE items (item_id VARCHAR, category VARCHAR)")  # no key
    con.execute("CREATE TABLE computed_traits (profile_id VARCHAR, name VARCHAR, value JSON)")
    con.execute("INSERT INTO profiles VALUES ('a', '{}')")
    ts = AS_OF - timedelta(days=3)
    con.execute(
        "INSERT INTO events VALUES ('a', 'purchase', 'tent', ?, 60), "
        "('a', 'view', 'reel', ?, NULL)",
        [ts, ts],
    )
    con.execute("INSERT INTO items VALUES ('tent', 'tents'), ('tent', 'tents'), ('reel', 'reels')")
    pool = {s.key: s for s in segments}
    for seg in segments:  # 60 spent: in neither, however often the catalogue lists the tent
        sql = compile_sql(seg, segments=pool, dialect="duckdb", as_of=AS_OF)
        assert con.execute(sql).fetchall() == [], seg.key


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_window_without_as_of_subtracts_exact_hours(dialect: str) -> None:
    """A day interval is calendar arithmetic in the session's time zone on some engines (23 or
    25 hours across a daylight-saving change); --as-of and eval subtract 24-hour days."""
    (seg,) = parse_segments(
        {"recent": {"rule": {"event": "view", "window": "last 60 days"}}}, source="t.yml"
    )
    sql = compile_sql(seg, segments={}, dialect=dialect).upper()
    assert "1440" in sql
    assert "HOUR" in sql
    assert "60 DAY" not in sql.replace("'", "")


def test_segments_sql_reads_computed_traits_where_eval_does(tmp_path) -> None:
    """Without --computed, the printed query reads the traits the store has computed from
    computed_traits, as eval does: a warehouse run of it finds the same people."""
    from martech.store import Store
    from martech.testing.process import run_cli

    home = tmp_path / "h"
    home.mkdir()
    with Store(home / "martech.duckdb") as store:
        store.con.execute(
            "INSERT INTO computed_traits (profile_id, name, value) VALUES ('a', 'rfm', '\"top\"')"
        )
    rules = tmp_path / "s.yml"
    rules.write_text("segments:\n  top:\n    rule: {trait: rfm, eq: top}\n")
    out = run_cli("--home", str(home), "segments", "sql", "top", "--file", str(rules))
    assert out.returncode == 0, out.stderr
    assert "computed_traits" in out.stdout
    bare = run_cli("--home", str(tmp_path / "none"), "segments", "sql", "top", "--file", str(rules))
    assert bare.returncode == 0, bare.stderr  # no store: the traits are read from profiles
    assert "computed_traits" not in bare.stdout


def test_evaluate_names_a_key_it_was_not_given(tmp_path) -> None:
    from martech.errors import ConfigError
    from martech.segments import evaluate
    from martech.store import Store

    (seg,) = parse_segments({"a": {"rule": {"trait": "x", "exists": True}}}, source="t.yml")
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(ConfigError, match="no segment 'typo' among those given; known: a"):
            evaluate(store, [seg], only={"typo"})
        assert evaluate(store, [seg], only={"a"}) == {"a": set()}


def test_computed_traits_refuse_a_naive_moment(tmp_path) -> None:
    from martech.errors import ConfigError
    from martech.segments.traits import compute_traits
    from martech.store import Store

    with Store(tmp_path / "s.duckdb") as store, pytest.raises(ConfigError, match="time zone"):
        compute_traits(store, as_of=datetime(2024, 1, 1))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_timestamp_literals_spell_the_year_in_four_digits(dialect: str) -> None:
    """strftime wrote year 99 as '99-01-01' and year 500 as '500-01-01': DuckDB reads both,
    Spark refuses both (CAST_INVALID_INPUT) and PostgreSQL the first."""
    (seg,) = parse_segments(
        {
            "ancient": {
                "rule": {
                    "event": "view",
                    "window": {"start": "0099-01-01T00:00:00Z", "end": "0500-01-01T00:00:00Z"},
                }
            }
        },
        source="t.yml",
    )
    sql = compile_sql(seg, dialect=dialect, as_of=AS_OF)
    assert "'0099-01-01 00:00:00.000000+00:00'" in sql
    assert "'0500-01-01 00:00:00.000000+00:00'" in sql
