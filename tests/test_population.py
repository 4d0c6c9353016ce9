"""The synthetic population: contract shape, determinism, realism and the planted structure."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import phonenumbers
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from martech.cli import main
from martech.models import EVENT_TYPES, Profile
from martech.population import (
    TRAIT_NAMES,
    default_as_of,
    generate,
    to_profiles,
    write_files,
    write_store,
)
from martech.store import Store

AS_OF = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture(scope="module")
def pop():
    return generate(3000, 11, as_of=AS_OF)


def store_hash(path: Path) -> str:
    """A content hash of everything generate writes (order-independent of storage)."""
    queries = [
        "SELECT id, traits::VARCHAR, consent::VARCHAR FROM profiles ORDER BY id",
        "SELECT kind, value, profile_id FROM identities ORDER BY ALL",
        "SELECT * FROM items ORDER BY item_id",
        "SELECT profile_id, type, item_id, epoch_us(ts), value, properties::VARCHAR FROM events "
        "ORDER BY ALL",
    ]
    digest = hashlib.sha256()
    with Store(path, read_only=True) as store:
        for q in queries:
            digest.update(repr(store.con.execute(q).fetchall()).encode())
    return digest.hexdigest()


def test_same_seed_and_as_of_give_identical_tables(pop):
    again = generate(3000, 11, as_of=AS_OF)
    assert again.profiles.equals(pop.profiles)
    assert again.events.equals(pop.events)
    assert again.items.equals(pop.items)


def test_another_seed_gives_other_people(pop):
    other = generate(3000, 12, as_of=AS_OF)
    assert not other.profiles.equals(pop.profiles)
    assert not other.events.equals(pop.events)


def test_default_as_of_is_today_midnight_utc():
    as_of = default_as_of()
    now = datetime.now(UTC)
    assert (as_of.tzinfo, as_of.hour, as_of.minute, as_of.date()) == (UTC, 0, 0, now.date())
    assert generate(50, 1).as_of == as_of


def test_traits_follow_the_contract(pop):
    rows = pop.profiles.to_pylist()
    interests = {"fishing", "camping", "hiking", "cycling", "running"}
    for row in rows:
        traits = orjson.loads(row["traits"])
        fishing = traits["interest"] == "fishing"
        expected = set(TRAIT_NAMES) - (set() if fishing else {"water_type", "preferred_tackle"})
        assert set(traits) == expected
        assert traits["interest"] in interests
        assert isinstance(traits["age"], int)
        assert 18 <= traits["age"] <= 84
        assert isinstance(traits["loyalty_member"], bool)
        assert len(traits["country"]) == 2
        assert traits["skill_level"] in {"beginner", "intermediate", "expert"}
        assert traits["budget_tier"] in {"budget", "mid", "premium"}
        assert datetime.fromisoformat(traits["signup_date"]).date() < AS_OF.date()
        if fishing:
            assert traits["water_type"] in {"lake", "river", "sea"}
            assert traits["preferred_tackle"] in {"spinning", "baitcasting", "fly"}
        consent = orjson.loads(row["consent"])
        assert set(consent) == {"email", "sms", "push", "ad"}


def test_identities_email_always_phone_sixty_percent_valid_e164(pop):
    ids = [orjson.loads(r) for r in pop.profiles["identities"].to_pylist()]
    assert all("@" in i["email"] for i in ids)
    assert len({i["email"] for i in ids}) == len(ids)
    phones = [i["phone"] for i in ids if "phone" in i]
    assert 0.55 < len(phones) / len(ids) < 0.65
    assert len(set(phones)) == len(phones)
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in phones[:300])


def test_events_are_known_types_in_the_past_about_ten_per_profile(pop):
    ev = pop.events
    assert set(pc.unique(ev["type"]).to_pylist()) <= EVENT_TYPES
    assert pc.max(ev["ts"]).as_py() < AS_OF
    assert 8 < ev.num_rows / pop.profiles.num_rows < 12
    purchases = ev.filter(pc.equal(ev["type"], "purchase"))
    values = purchases["value"].to_numpy()
    assert purchases.num_rows > 0
    assert (values > 0).all()
    assert pc.all(pc.is_valid(purchases["item_id"])).as_py()


def test_no_event_repeats_the_store_key_so_an_import_of_the_files_keeps_every_row(pop):
    """(person, type, item, time) is the store's event key: an import keeps the first of rows
    repeating it. A zero-length activity window used to stack a person's sessions on one
    instant (~1% of the events), which `generate` stored and an import of its files dropped."""
    ev = pop.events
    keys = set(
        zip(
            ev["profile_id"].to_pylist(),
            ev["type"].to_pylist(),
            ev["item_id"].to_pylist(),
            ev["ts"].to_pylist(),
            strict=True,
        )
    )
    assert len(keys) == ev.num_rows


def test_first_time_repeat_and_lapsed_customers_exist(pop):
    import duckdb

    con = duckdb.connect()
    con.register("ev", pop.events)
    buyers = dict(
        con.execute(
            "SELECT n > 1, count(*) FROM (SELECT profile_id, count(*) n FROM ev "
            "WHERE type = 'purchase' GROUP BY 1) GROUP BY 1"
        ).fetchall()
    )
    assert buyers[False] > 50
    assert buyers[True] > 50
    recency = con.execute(
        "SELECT count(*) FILTER (WHERE last < TIMESTAMPTZ '2026-11-23' - INTERVAL 180 DAY), "
        "count(*) FILTER (WHERE last > TIMESTAMPTZ '2026-11-23' - INTERVAL 30 DAY) "
        "FROM (SELECT profile_id, max(ts) last FROM ev WHERE type = 'session_start' GROUP BY 1)"
    ).fetchall()[0]
    assert recency[0] > 100
    assert recency[1] > 100


def test_views_concentrate_in_the_persons_interest(pop):
    import duckdb

    con = duckdb.connect()
    con.register("ev", pop.events)
    con.register("p", pop.profiles)
    con.register("items", pop.items)
    share = con.execute(
        "SELECT avg((i.properties::JSON->>'interest' = p.traits::JSON->>'interest')::INT) "
        "FROM ev e JOIN items i USING (item_id) JOIN p ON p.id = e.profile_id WHERE e.type = 'view'"
    ).fetchall()[0][0]
    assert share > 0.75


def test_fishing_reel_and_rod_views_lean_to_the_persons_tackle(pop):
    import duckdb

    con = duckdb.connect()
    con.register("ev", pop.events)
    con.register("p", pop.profiles)
    con.register("items", pop.items)
    match = con.execute(
        "SELECT avg((i.properties::JSON->>'tackle' = p.traits::JSON->>'preferred_tackle')::INT) "
        "FROM ev e JOIN items i USING (item_id) JOIN p ON p.id = e.profile_id "
        "WHERE e.type = 'view' AND i.category IN ('reels', 'rods')"
    ).fetchall()[0][0]
    assert match > 0.6  # three tackles: no lean would give about 1/3


def test_item_to_item_co_occurrence_beats_most_popular(pop):
    """Hide each person's last viewed item; co-views of their other items find it more often."""
    import duckdb

    con = duckdb.connect()
    con.register("ev", pop.events)
    con.execute(
        "CREATE TABLE v AS SELECT profile_id, item_id, ts, "
        "row_number() OVER (PARTITION BY profile_id ORDER BY ts DESC, item_id) AS r "
        "FROM ev WHERE type = 'view'"
    )
    con.execute("CREATE TABLE train AS SELECT DISTINCT profile_id, item_id FROM v WHERE r > 1")
    con.execute("CREATE TABLE test AS SELECT profile_id, item_id FROM v WHERE r = 1")
    popular = con.execute(
        "WITH top AS (SELECT item_id FROM train GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 10) "
        "SELECT avg((t.item_id IN (SELECT item_id FROM top))::INT) FROM test t "
        "WHERE t.profile_id IN (SELECT profile_id FROM train)"
    ).fetchall()[0][0]
    co = con.execute(
        """WITH pairs AS (
             SELECT a.item_id AS a, b.item_id AS b, count(*) AS n FROM train a
             JOIN train b ON a.profile_id = b.profile_id AND a.item_id <> b.item_id GROUP BY 1, 2
           ), scores AS (
             SELECT t.profile_id, p.b AS item_id, sum(p.n) AS s FROM train t
             JOIN pairs p ON p.a = t.item_id GROUP BY 1, 2
           ), top AS (
             SELECT profile_id, item_id FROM scores
             QUALIFY row_number() OVER (PARTITION BY profile_id ORDER BY s DESC, item_id) <= 10
           )
           SELECT avg((EXISTS (SELECT 1 FROM top WHERE top.profile_id = t.profile_id
                                AND top.item_id = t.item_id))::INT)
           FROM test t WHERE t.profile_id IN (SELECT profile_id FROM train)"""
    ).fetchall()[0][0]
    assert co > 2 * popular


def test_unsubscribed_people_have_no_email_consent(pop):
    unsub = set(
        pop.events.filter(pc.equal(pop.events["type"], "email_unsubscribe"))[
            "profile_id"
        ].to_pylist()
    )
    assert unsub
    consent = {
        r["id"]: orjson.loads(r["consent"])["email"]
        for r in pop.profiles.to_pylist()
        if r["id"] in unsub
    }
    assert not any(consent.values())


def test_to_profiles_gives_valid_profiles_with_their_events(pop):
    profiles = to_profiles(pop, limit=20)
    assert [p.id for p in profiles] == pop.profiles["id"].to_pylist()[:20]
    assert all(isinstance(p, Profile) for p in profiles)
    expected = pc.sum(pc.is_in(pop.events["profile_id"], pop.profiles["id"][:20])).as_py()
    assert sum(len(p.events) for p in profiles) == expected
    assert all(e.ts.tzinfo is not None for p in profiles for e in p.events)


def test_write_store_fills_profiles_identities_events_items_and_is_idempotent(pop, martech_store):
    first = write_store(martech_store, pop)
    assert first["profiles_inserted"] == 3000
    assert first["events"] == pop.events.num_rows
    assert martech_store.summary() == {
        "profiles": 3000,
        "identities": pc.sum(pc.count_substring(pop.profiles["identities"], '"')).as_py() // 4,
        "events": pop.events.num_rows,
        "items": 500,
    }
    again = write_store(martech_store, pop)
    assert (again["profiles_inserted"], again["profiles_updated"], again["events"]) == (0, 3000, 0)
    assert martech_store.count("events") == pop.events.num_rows


def test_write_files_parquet_and_jsonl(pop, tmp_path):
    paths = write_files(pop, tmp_path / "pq", "parquet")
    assert pq.read_table(paths["events"]).num_rows == pop.events.num_rows
    flat = pq.read_table(paths["profiles"])
    assert {"id", "email", "phone", "interest", "consent_email"} <= set(flat.column_names)
    paths = write_files(pop, tmp_path / "js", "jsonl")
    lines = paths["events"].read_text().splitlines()
    assert len(lines) == pop.events.num_rows
    assert orjson.loads(lines[0])["ts"].endswith("Z")


def test_cli_generate_twice_gives_identical_stores(tmp_path, capsys):
    args = ["generate", "--profiles", "2000", "--seed", "7", "--as-of", "2026-11-23", "--json"]
    assert main(["--home", str(tmp_path / "a"), *args]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["profiles"] == 2000
    assert out["store"]["profiles_inserted"] == 2000
    assert main(["--home", str(tmp_path / "b"), *args]) == 0
    capsys.readouterr()
    a, b = tmp_path / "a" / "martech.duckdb", tmp_path / "b" / "martech.duckdb"
    assert store_hash(a) == store_hash(b)
    assert main(["--home", str(tmp_path / "c"), *args[:4], "8", *args[5:]]) == 0
    assert store_hash(tmp_path / "c" / "martech.duckdb") != store_hash(a)


def test_cli_generate_to_files_and_bad_options(tmp_path, capsys):
    code = main(["generate", "-n", "300", "--out", str(tmp_path / "f"), "--format", "jsonl"])
    assert code == 0
    assert (tmp_path / "f" / "profiles.jsonl").exists()
    assert "300 profiles" in capsys.readouterr().out
    assert main(["generate", "-n", "10", "--format", "csv", "--out", str(tmp_path)]) != 0
    assert "--format" in capsys.readouterr().err
    assert main(["generate", "-n", "10", "--as-of", "2026-01-01T10:00"]) != 0
    assert "time zone" in capsys.readouterr().err


@pytest.mark.slow
def test_generate_100k_twice_gives_identical_stores(tmp_path):
    args = ["generate", "--profiles", "100000", "--seed", "7", "--json"]
    assert main(["--home", str(tmp_path / "a"), *args]) == 0
    assert main(["--home", str(tmp_path / "b"), *args]) == 0
    a, b = tmp_path / "a" / "martech.duckdb", tmp_path / "b" / "martech.duckdb"
    assert store_hash(a) == store_hash(b)


def test_parquet_row_groups_let_readers_scan_in_parallel():
    from martech.population import _row_group

    assert -(-1_000_000 // _row_group(1_000_000)) >= 7  # a 1M-profile file has ~8 row groups
    assert _row_group(10_000_000) == 1 << 20  # never above 1M rows per group
    assert _row_group(1_000) == 1 << 17  # small files stay one group
