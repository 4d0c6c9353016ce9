"""The embedded store: bulk upserts, identity merge, aliases, idempotence, locking, migrations."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

import martech.store as store_module
from martech.errors import SchemaVersionError, StoreError, StoreLockedError
from martech.models import Event, Profile
from martech.store import Store

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def profiles(*rows: tuple[str, dict, dict]) -> pa.Table:
    """(id, identities, traits) rows in the store's Arrow shape."""
    import orjson

    return pa.table(
        {
            "id": [r[0] for r in rows],
            "traits": [orjson.dumps(r[2]).decode() for r in rows],
            "consent": ["{}" for _ in rows],
            "identities": [orjson.dumps(r[1]).decode() for r in rows],
        }
    )


def test_bulk_upsert_counts_inserted_then_updated_and_merges_traits(martech_store):
    first = martech_store.upsert_profiles(
        profiles(("a", {"email": "a@x.io"}, {"plan": "free", "city": "Oslo"}), ("b", {}, {}))
    )
    assert (first.inserted, first.updated) == (2, 0)
    again = martech_store.upsert_profiles(profiles(("a", {}, {"plan": "pro"}), ("c", {}, {"x": 1})))
    assert (again.inserted, again.updated) == (1, 1)
    assert martech_store.get_profile("a").traits == {"plan": "pro", "city": "Oslo"}
    assert martech_store.count("profiles") == 3


def test_upsert_accepts_profile_objects_and_normalizes_identities(martech_store):
    martech_store.upsert_profiles(
        [Profile(id="p1", identities={"email": " Ann@X.io ", "phone": "(415) 555-0123"})]
    )
    assert martech_store.resolve("email", "ann@x.io") == "p1"
    assert martech_store.resolve("phone", "+1 415-555-0123") == "p1"
    assert martech_store.resolve("email", "nobody@x.io") is None


@pytest.mark.parametrize(
    ("kind", "first", "second"),
    [
        ("email", "Sam@x.io", "sam@x.io"),
        ("phone", "+14155550123", "(415) 555-0123"),
        ("hubspot", "901", "901"),
    ],
)
def test_profiles_sharing_an_identity_merge_across_batches(martech_store, kind, first, second):
    martech_store.upsert_profiles(profiles(("s1", {kind: first}, {"city": "Oslo"})))
    counts = martech_store.upsert_profiles(profiles(("s2", {kind: second}, {"age": 40})))
    assert counts.updated == 1
    assert martech_store.count("profiles") == 1
    assert martech_store.get_profile("s1").traits == {"city": "Oslo", "age": 40}
    assert martech_store.get_profile("s2").id == "s1"  # s2 is an alias of s1 now
    assert counts.merged == 1
    assert martech_store.resolve(kind, second) == "s1"


def test_a_stored_profile_merging_away_keeps_its_data_and_its_opt_out(martech_store):
    """B turns out to be A (B now carries A's email): B's traits fill A's gaps, A's own values
    win, and B's opt-out survives the merge, so a sync never emails the address that said no."""
    a_traits, b_traits = {"city": "Oslo", "tier": "gold"}, {"city": "Berlin", "age": 40}
    martech_store.upsert_profiles(
        [
            Profile(id="A", identities={"email": "a@x.com"}, traits=a_traits,
                    consent={"email": True, "sms": True}),
            Profile(id="B", identities={"email": "b@x.com"}, traits=b_traits,
                    consent={"email": False, "push": True}),
        ]
    )  # fmt: skip
    counts = martech_store.upsert_profiles(
        [Profile(id="B", identities={"email": "a@x.com", "phone": "+14155552690"})]
    )
    assert counts.merged == 1
    merged = martech_store.get_profile("B")
    assert merged.id == "A"
    assert merged.traits == {"city": "Oslo", "tier": "gold", "age": 40}
    assert merged.consent == {"email": False, "sms": True, "push": True}
    assert martech_store.resolve("email", "b@x.com") == "A"
    assert martech_store.resolve("phone", "+14155552690") == "A"
    assert martech_store.count("profiles") == 1


def test_a_chain_of_shared_identities_in_one_batch_is_one_person(martech_store):
    """X and Y share an email, Y and Z a phone: all three are one profile, and nothing of Z
    (its traits, the events stored under its id) is lost on the way."""
    martech_store.append_events([("Z", Event(type="purchase", item_id="i1", ts=T0))])
    martech_store.upsert_profiles(
        profiles(
            ("X", {"email": "e1@x.com"}, {"xn": "xx"}),
            ("Y", {"email": "e1@x.com", "phone": "+14155552691"}, {"yn": "yy"}),
            ("Z", {"phone": "+14155552691"}, {"zn": "zz"}),
        )
    )
    assert martech_store.count("profiles") == 1
    person = martech_store.get_profile("Z")
    assert person.id == "X"
    assert person.traits == {"xn": "xx", "yn": "yy", "zn": "zz"}
    assert [e.type for e in person.events] == ["purchase"]
    aliases = martech_store.con.execute("SELECT * FROM profile_aliases ORDER BY 1").fetchall()
    assert aliases == [("Y", "X"), ("Z", "X")]  # one hop each
    # events arriving later under any old id land on X, and a re-import adds nothing twice
    martech_store.append_events(
        [("Y", Event(type="view", item_id="i2", ts=T0 + timedelta(hours=1)))]
    )
    martech_store.append_events([("Z", Event(type="purchase", item_id="i1", ts=T0))])
    assert [e.type for e in martech_store.get_profile("X").events] == ["purchase", "view"]


def test_two_stored_people_one_batch_shows_to_be_one_merge(martech_store):
    """A and B are stored apart; a new row carries A's email and B's phone: the three are one
    person, under the smallest stored id, and B's id becomes an alias."""
    martech_store.upsert_profiles(
        profiles(("A", {"email": "a@x.com"}, {"a": 1}), ("B", {"phone": "+14155552692"}, {"b": 2}))
    )
    counts = martech_store.upsert_profiles(
        profiles(("N", {"email": "a@x.com", "phone": "+14155552692"}, {"n": 3}))
    )
    assert martech_store.count("profiles") == 1
    assert counts.merged == 2  # N (new) and B (stored) went into A
    assert martech_store.get_profile("B").traits == {"a": 1, "b": 2, "n": 3}
    assert martech_store.resolve("phone", "+14155552692") == "A"


def test_a_bulk_upsert_takes_what_it_is_given_and_names_what_is_missing(martech_store):
    """traits and consent may be left out; no id column is an error naming it; a failing
    statement's own error comes out, not DuckDB's "transaction is aborted" that followed it."""
    import duckdb

    from martech.errors import ValidationError

    martech_store.upsert_profiles(pa.table({"id": ["t1"], "traits": ['{"b": 1}']}))
    assert martech_store.get_profile("t1").traits == {"b": 1}
    with pytest.raises(ValidationError, match="expected an 'id' column") as info:
        martech_store.upsert_profiles(pa.table({"key": ["t2"]}))
    assert info.value.field == "id"
    with pytest.raises(ValidationError, match=r"upsert_profiles: the data was refused: .*JSON"):
        martech_store.upsert_profiles(pa.table({"id": ["t3"], "traits": ["{not json"]}))
    with pytest.raises(ValidationError, match=r"append_events: the data was refused") as info:
        martech_store.append_events(
            pa.table(
                {
                    "profile_id": ["t1"],
                    "type": pa.array([None], pa.string()),
                    "ts": pa.array([T0], pa.timestamp("us", tz="UTC")),
                }
            )
        )
    assert isinstance(info.value.__cause__, duckdb.ConstraintException)
    assert martech_store.count("profiles") == 1  # nothing of the failed calls was written


@pytest.mark.parametrize("placeholder", ["+10000000000", "+15555550100"])
def test_a_placeholder_phone_shared_by_many_merges_nobody(martech_store, placeholder):
    # E.164-shaped but no real number: within one batch, then against stored profiles.
    martech_store.upsert_profiles(
        profiles(*[(f"p{i}", {"email": f"p{i}@x.io", "phone": placeholder}, {}) for i in range(3)])
    )
    martech_store.upsert_profiles(profiles(("p9", {"phone": placeholder}, {"late": True})))
    assert martech_store.count("profiles") == 4
    assert martech_store.resolve("phone", placeholder) is None
    assert martech_store.resolve("email", "p1@x.io") == "p1"


def test_a_real_phone_shared_in_a_batch_still_merges_in_its_canonical_form(martech_store):
    martech_store.upsert_profiles(
        profiles(("a", {"phone": "+4402079460000"}, {}), ("b", {"phone": "+4402079460000"}, {}))
    )
    assert martech_store.count("profiles") == 1
    assert martech_store.resolve("phone", "+442079460000") == "a"


def test_duplicates_inside_one_batch_merge_into_the_smallest_id(martech_store):
    counts = martech_store.upsert_profiles(
        profiles(
            ("z9", {"email": "dup@x.io"}, {"a": 1}),
            ("m5", {"email": "DUP@x.io", "phone": "+14155550123"}, {"b": 2}),
            ("q1", {"email": "other@x.io"}, {}),
        )
    )
    assert counts.inserted == 2
    assert martech_store.get_profile("m5").traits == {"a": 1, "b": 2}
    assert martech_store.resolve("phone", "+14155550123") == "m5"
    assert martech_store.count("profiles") == 2


def test_one_id_twice_in_a_batch_is_one_profile_the_later_row_winning(martech_store):
    counts = martech_store.upsert_profiles(
        profiles(
            ("a", {"email": "a@x.io"}, {"plan": "free", "city": "Oslo"}),
            ("b", {"phone": "+14155550123"}, {}),
            ("a", {"email": "A@x.io", "phone": "+14155550199"}, {"plan": "pro"}),
        )
    )
    assert (counts.inserted, counts.updated) == (2, 0)
    assert martech_store.get_profile("a").traits == {"plan": "pro", "city": "Oslo"}
    assert martech_store.get_profile("a").identities == {
        "email": "a@x.io", "phone": "+14155550199",
    }  # fmt: skip
    assert martech_store.count("identities") == 3


@pytest.mark.parametrize("json_type", ["VARCHAR", "JSON"])
def test_upsert_from_a_table_text_or_json_merges_in_row_order(martech_store, json_type):
    martech_store.con.execute(
        f"""CREATE TEMP TABLE incoming AS SELECT * FROM (VALUES
              ('b', '{{"n": 1, "city": "Oslo"}}'::{json_type}, '{{}}'::{json_type},
               '{{"email": "b@x.io"}}'::{json_type}),
              ('a', '{{"n": 2}}', '{{"email": true}}', '{{"email": "B@x.io"}}'),
              ('c', NULL, NULL, NULL))
            t(id, traits, consent, identities)"""
    )
    counts = martech_store.upsert_profiles_from("incoming")
    assert (counts.inserted, counts.updated) == (2, 0)
    a = martech_store.get_profile("a")
    assert (a.traits, a.consent, a.identities) == (
        {"n": 2, "city": "Oslo"}, {"email": True}, {"email": "b@x.io"},
    )  # fmt: skip
    assert martech_store.get_profile("c").traits == {}


def test_a_bulk_load_gives_back_the_users_vacuum_setting(martech_store):
    """A bulk load checkpoints without vacuuming; the setting it changes for that comes back as
    it was, after a load and after a failed one (not to DuckDB's default)."""
    import duckdb

    setting = "SELECT current_setting('max_vacuum_tasks')"
    martech_store.con.execute("SET max_vacuum_tasks = 7")
    martech_store.con.execute(
        "CREATE TEMP TABLE incoming AS SELECT 'a' AS id, NULL AS traits, NULL AS consent, "
        '\'{"email": "a@x.io"}\' AS identities'
    )
    martech_store.upsert_profiles_from("incoming")
    assert martech_store.con.execute(setting).fetchall() == [(7,)]
    with pytest.raises(duckdb.Error):
        martech_store.upsert_profiles_from("no_such_table")
    assert martech_store.con.execute(setting).fetchall() == [(7,)]
    assert martech_store.resolve("email", "a@x.io") == "a"


def test_a_failed_bulk_load_reports_its_own_error_not_the_setting_it_restores(martech_store):
    """After a fatal error DuckDB refuses every statement, restoring the setting included: the
    error raised is still the load's, the one that says what went wrong."""
    import duckdb

    class Invalidated:  # the store's connection, refusing the restore as a broken database does
        def __init__(self, con):
            self._con = con

        def __getattr__(self, name):
            return getattr(self._con, name)

        def execute(self, sql, *args):
            if sql.startswith("SET max_vacuum_tasks = 7"):
                raise duckdb.FatalException("database has been invalidated")
            return self._con.execute(sql, *args)

    martech_store.con.execute("SET max_vacuum_tasks = 7")
    real = martech_store.con
    martech_store.con = Invalidated(real)
    try:
        with pytest.raises(duckdb.CatalogException, match="no_such_table"):
            martech_store.upsert_profiles_from("no_such_table")
    finally:
        martech_store.con = real


def test_events_follow_a_merged_alias(martech_store):
    martech_store.upsert_profiles(profiles(("keep", {"email": "k@x.io"}, {})))
    martech_store.upsert_profiles(profiles(("gone", {}, {})))
    martech_store.append_events([("gone", Event(type="view", item_id="i1", ts=T0))])
    # "gone" turns out to be the same person: its stored events move to "keep" ...
    martech_store.upsert_profiles(profiles(("gone", {"email": "K@x.io"}, {})))
    # ... and events arriving later under the old id land there too.
    martech_store.append_events([("gone", Event(type="purchase", ts=T0 + timedelta(hours=1)))])
    keep = martech_store.get_profile("keep")
    assert [e.type for e in keep.events] == ["view", "purchase"]
    assert martech_store.get_profile("gone").id == "keep"  # the old id finds the person
    owners = martech_store.con.execute("SELECT DISTINCT profile_id FROM events").fetchall()
    assert owners == [("keep",)]


def test_reappending_the_same_events_adds_nothing(martech_store):
    events = [
        ("a", Event(type="view", item_id="i1", ts=T0)),
        ("a", Event(type="purchase", item_id="i1", ts=T0, value=20.0)),
        ("b", Event(type="email_open", ts=T0)),
    ]
    assert martech_store.append_events(events) == 3
    assert martech_store.append_events(events) == 0
    assert martech_store.append_events([*events, ("b", Event(type="view", ts=T0))]) == 1
    assert martech_store.count("events") == 4


def test_get_profile_returns_aware_utc_events_in_time_order(martech_store):
    martech_store.upsert_profiles([Profile(id="a")])
    later, earlier = T0 + timedelta(days=1), T0
    martech_store.append_events(
        [
            ("a", Event(type="view", ts=later, properties={"page": "/x"})),
            ("a", Event(type="view", ts=earlier)),
        ]
    )
    events = martech_store.get_profile("a").events
    assert [e.ts for e in events] == [earlier, later]
    assert events[1].properties == {"page": "/x"}


def test_a_failed_transaction_leaves_the_store_unchanged(martech_store):
    martech_store.upsert_profiles([Profile(id="a")])

    def fail() -> None:
        with martech_store.transaction() as con:
            con.execute("DELETE FROM profiles")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail()
    assert martech_store.count("profiles") == 1


def test_a_failed_upsert_leaves_the_store_writable(martech_store):
    from martech.errors import ValidationError

    bad = pa.table({"id": ["a"], "traits": ["{not json"], "consent": ["{}"],
                    "identities": ['{"phone": "(415) 555-0123"}']})  # fmt: skip
    with pytest.raises(ValidationError):
        martech_store.upsert_profiles(bad)
    martech_store.upsert_profiles(profiles(("a", {"phone": "(415) 555-0123"}, {})))
    assert martech_store.resolve("phone", "+14155550123") == "a"


def test_count_refuses_unknown_tables(martech_store):
    with pytest.raises(StoreError, match="unknown table 'nope'"):
        martech_store.count("nope")


def test_read_only_on_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no store at"):
        Store(tmp_path / "missing.duckdb", read_only=True)


@contextmanager
def holder(path: Path, *, read_only: bool, raw: bool = False) -> Iterator[None]:
    """Another process holding the store open until the block ends (``raw``: a plain DuckDB
    connection, which neither creates nor migrates anything)."""
    opener = (
        f"import duckdb; s = duckdb.connect({str(path)!r}, read_only={read_only})"
        if raw
        else f"from martech.store import Store; s = Store({str(path)!r}, read_only={read_only})"
    )
    code = f"import sys; {opener}; print('ready', flush=True); sys.stdin.read()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def test_a_second_writer_gets_store_locked_error(tmp_path):
    path = tmp_path / "m.duckdb"
    with Store(path) as s:
        s.upsert_profiles([Profile(id="a")])
    with holder(path, read_only=False):
        with pytest.raises(StoreLockedError, match="locked by another process"):
            Store(path)
        with pytest.raises(StoreLockedError):
            Store(path, read_only=True)
    with Store(path) as s:  # the lock is gone with the other process; nothing was corrupted
        assert s.count("profiles") == 1


def test_concurrent_readers_share_the_store_and_block_a_writer(tmp_path):
    path = tmp_path / "m.duckdb"
    with Store(path) as s:
        s.upsert_profiles([Profile(id="a"), Profile(id="b")])
    with holder(path, read_only=True):
        with Store(path, read_only=True) as reader:
            assert reader.count("profiles") == 2
        with pytest.raises(StoreLockedError):
            Store(path)


def test_a_store_from_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "m.duckdb"
    with Store(path) as s:
        s.con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError, match="schema version 99"):
        Store(path)
    with pytest.raises(SchemaVersionError):
        Store(path, read_only=True)


def test_migrations_are_contiguous_and_reach_the_current_version():
    assert sorted(store_module.MIGRATIONS) == list(range(1, store_module.SCHEMA_VERSION + 1))


def test_an_older_store_is_migrated_in_place_keeping_its_data(tmp_path, monkeypatch):
    path = tmp_path / "m.duckdb"
    with Store(path) as s:
        s.upsert_profiles([Profile(id="a", traits={"x": 1})])
        old = s.schema_version
    new = old + 1
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", new)
    monkeypatch.setitem(
        store_module.MIGRATIONS,
        new,
        ["CREATE TABLE extra (x INTEGER)", "INSERT INTO extra VALUES (7)"],
    )
    with Store(path, read_only=True) as s:  # reading after an upgrade migrates first
        assert s.read_only
        assert s.schema_version == new
    with Store(path) as s:
        assert s.schema_version == new
        assert s.con.execute("SELECT x FROM extra").fetchall() == [(7,)]
        assert s.get_profile("a").traits == {"x": 1}
    with Store(path) as s:  # migrating twice is a no-op
        assert s.con.execute("SELECT count(*) FROM extra").fetchall() == [(1,)]


def older_store(path, monkeypatch, version: int, *statements: str) -> None:
    """A store at schema ``version`` holding what ``statements`` insert."""
    with monkeypatch.context() as m:
        m.setattr(store_module, "SCHEMA_VERSION", version)
        with Store(path) as s:
            for statement in statements:
                s.con.execute(statement)


def test_a_schema_3_store_gains_the_computed_traits_profile_index(tmp_path, monkeypatch):
    path = tmp_path / "m.duckdb"
    older_store(
        path,
        monkeypatch,
        3,
        "INSERT INTO computed_traits (profile_id, name, value) VALUES "
        "('a', 'rfm', '\"gold\"'), ('a', 'orders', '3'), ('b', 'rfm', '\"lapsed\"')",
    )
    indexes = "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'computed_traits'"
    with Store(path) as s:
        assert s.schema_version == store_module.SCHEMA_VERSION
        assert s.con.execute(indexes).fetchall() == [("computed_traits_profile",)]
        rows = s.con.execute(
            "SELECT name, value FROM computed_traits WHERE profile_id = ? ORDER BY name", ["a"]
        ).fetchall()
        assert rows == [("orders", "3"), ("rfm", '"gold"')]


def test_schema_5_marks_the_batches_an_older_martech_folded(tmp_path, monkeypatch):
    path = tmp_path / "m.duckdb"
    # batch 0 was folded (its log rows deleted); batch 1 was committed, then the run died
    older_store(
        path,
        monkeypatch,
        4,
        "INSERT INTO sync_batches (run_id, batch, op, items, sent, rejected, requests) "
        "VALUES ('r', 0, 'add', 2, 2, 0, 1), ('r', 1, 'add', 2, 2, 0, 1)",
        "INSERT INTO sync_ledger_log (run_id, batch, op, profile_id, state) "
        "VALUES ('r', 1, 'add', 'a', 'present'), ('r', 1, 'add', 'b', 'present')",
    )
    with Store(path) as s:
        folded = s.con.execute("SELECT batch, folded FROM sync_batches ORDER BY batch").fetchall()
    assert folded == [(0, True), (1, False)]


def test_schema_6_keeps_every_identity_and_drops_only_the_key(tmp_path, monkeypatch):
    path = tmp_path / "m.duckdb"
    older_store(
        path,
        monkeypatch,
        5,
        "INSERT INTO identities VALUES ('email', 'a@x.io', 'a'), ('phone', '+14155550100', 'a'), "
        "('email', 'b@x.io', 'b')",
    )
    keys = (
        "SELECT count(*) FROM duckdb_constraints() "
        "WHERE table_name = 'identities' AND constraint_type = 'PRIMARY KEY'"
    )
    with Store(path) as s:
        assert s.con.execute(keys).fetchall() == [(0,)]
        assert s.resolve("email", "b@x.io") == "b"
        assert s.resolve("phone", "+1 415 555 0100") == "a"
        assert s.count("identities") == 3


def test_schema_6_keeps_an_index_of_the_users_own_on_identities(tmp_path, monkeypatch):
    """The migration rebuilds identities without its key: an index the user made on it (the
    lookup by profile id is a scan without one) comes back with the table."""
    path = tmp_path / "m.duckdb"
    older_store(
        path,
        monkeypatch,
        5,
        "INSERT INTO identities VALUES ('email', 'a@x.io', 'a'), ('email', 'b@x.io', 'b')",
        "CREATE INDEX my_profile_index ON identities (profile_id)",
    )
    with Store(path) as s:
        names = s.con.execute(
            "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'identities'"
        ).fetchall()
        assert names == [("my_profile_index",)]
        assert s.count("identities") == 2
        assert s.resolve("email", "b@x.io") == "b"


def test_schema_6_keeps_a_column_of_the_users_own_on_identities(tmp_path, monkeypatch):
    """DuckDB cannot drop a key in place, so the table is rebuilt: a column the user added
    comes back with its values, its default and its NOT NULLs, beside martech's own."""
    path = tmp_path / "m.duckdb"
    older_store(
        path,
        monkeypatch,
        5,
        "ALTER TABLE identities ADD COLUMN source VARCHAR DEFAULT 'crm'",
        "INSERT INTO identities VALUES ('email', 'a@x.io', 'a', 'shop'), "
        "('email', 'b@x.io', 'b', 'crm')",
    )
    with Store(path) as s:
        columns = s.con.execute(
            "SELECT column_name, is_nullable, column_default FROM duckdb_columns() "
            "WHERE table_name = 'identities' ORDER BY column_index"
        ).fetchall()
        assert columns == [
            ("kind", False, None),
            ("value", False, None),
            ("profile_id", False, None),
            ("source", True, "'crm'"),
        ]
        rows = s.con.execute("SELECT value, source FROM identities ORDER BY value").fetchall()
        assert rows == [("a@x.io", "shop"), ("b@x.io", "crm")]
        s.upsert_profiles([Profile(id="c", identities={"email": "c@x.io"})])
        added = s.con.execute("SELECT source FROM identities WHERE value = 'c@x.io'").fetchall()
        assert added == [("crm",)]


def test_reading_an_older_store_another_reader_holds_says_so(tmp_path, monkeypatch):
    path = tmp_path / "m.duckdb"
    older_store(path, monkeypatch, store_module.SCHEMA_VERSION - 1)
    with (
        holder(path, read_only=True, raw=True),
        pytest.raises(StoreLockedError, match="older martech and needs a migration"),
    ):
        Store(path, read_only=True)
    with Store(path, read_only=True) as s:
        assert s.schema_version == store_module.SCHEMA_VERSION


def test_reading_a_duckdb_file_that_is_no_store_changes_nothing(tmp_path):
    import duckdb

    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(StoreError, match="needs a migration"):
        Store(path, read_only=True)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables").fetchall() == [(0,)]


def test_a_failed_migration_leaves_the_old_version(tmp_path, monkeypatch):
    path = tmp_path / "m.duckdb"
    Store(path).close()
    old = store_module.SCHEMA_VERSION
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", old + 1)
    monkeypatch.setitem(store_module.MIGRATIONS, old + 1, ["CREATE TABLE t (x INT)", "NOT SQL"])
    with pytest.raises(StoreError, match=r"migration to schema .* failed, nothing was changed"):
        Store(path)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", old)
    with Store(path) as s:
        assert s.schema_version == old
        assert not s.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 't'"
        ).fetchall()[0][0]


def _shape(store: Store) -> list:
    return [
        store.con.execute(q, [t]).fetchall()
        for t in ("profiles", "identities")
        for q in (
            "SELECT column_name, data_type, column_default, is_nullable FROM duckdb_columns() "
            "WHERE table_name = ? ORDER BY column_index",
            "SELECT constraint_type, constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = ? ORDER BY ALL",
        )
    ]


@pytest.mark.parametrize("keys_after", [True, False], ids=["keys-after", "duckdb-1.1"])
def test_a_first_load_keeps_the_schema_and_its_primary_keys(tmp_path, monkeypatch, keys_after):
    import duckdb

    from martech import _bulk

    monkeypatch.setattr(_bulk, "_adds_primary_keys", lambda: keys_after)
    with Store(tmp_path / "fresh.duckdb") as fresh, Store(tmp_path / "loaded.duckdb") as loaded:
        loaded.upsert_profiles(profiles(("a", {"email": "a@x.io"}, {}), ("b", {}, {"n": 1})))
        assert _shape(loaded) == _shape(fresh)
        with pytest.raises(duckdb.ConstraintException):
            loaded.con.execute("INSERT INTO profiles (id) VALUES ('a')")
        # The next batch goes through the keyed upsert and still merges by identity.
        loaded.upsert_profiles(profiles(("c", {"email": "a@x.io"}, {"m": 2})))
        assert loaded.resolve("email", "a@x.io") == "a"
        assert loaded.count("profiles") == 2
        assert loaded.con.execute("SELECT kind, value, profile_id FROM identities").fetchall() == [
            ("email", "a@x.io", "a")
        ]


def test_identities_stay_one_row_per_identity_without_a_key(martech_store):
    """Schema 6 dropped the (kind, value) key: the upsert alone keeps each identity once, across
    batches, within a batch, and when a batch re-sends identities already stored."""
    martech_store.upsert_profiles(profiles(("a", {"email": "a@x.io", "phone": "+14155550100"}, {})))
    martech_store.upsert_profiles(
        profiles(
            ("b", {"email": "A@x.io"}, {}),  # the same email, other case: merges into a
            ("c", {"email": "c@x.io"}, {}),
            ("d", {"email": "c@x.io", "phone": "+14155550100"}, {}),  # shares both
        )
    )
    martech_store.upsert_profiles(profiles(("a", {"email": "a@x.io"}, {"again": True})))
    rows = martech_store.con.execute(
        "SELECT kind, value, count(*) FROM identities GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert rows == [("email", "a@x.io", 1), ("email", "c@x.io", 1), ("phone", "+14155550100", 1)]
    assert martech_store.resolve("phone", "+14155550100") == "a"


def test_a_first_load_keeps_an_index_of_the_users_own(martech_store):
    martech_store.con.execute("CREATE INDEX my_profile_index ON identities (profile_id)")
    martech_store.upsert_profiles(profiles(("a", {"email": "a@x.io"}, {})))
    names = martech_store.con.execute(
        "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'identities'"
    ).fetchall()
    assert names == [("my_profile_index",)]
    assert martech_store.resolve("email", "a@x.io") == "a"


def test_a_first_load_that_fails_leaves_the_empty_store_and_its_keys(tmp_path, monkeypatch):
    from martech import _bulk

    def fail(*args: object) -> None:
        raise RuntimeError("boom")

    with Store(tmp_path / "fresh.duckdb") as fresh, Store(tmp_path / "s.duckdb") as store:
        monkeypatch.setattr(_bulk, "_restore_primary_key", fail)
        with pytest.raises(RuntimeError, match="boom"):
            store.upsert_profiles(profiles(("a", {"email": "a@x.io"}, {})))
        monkeypatch.undo()
        assert (store.count("profiles"), store.count("identities")) == (0, 0)
        assert _shape(store) == _shape(fresh)
        store.upsert_profiles(profiles(("a", {"email": "a@x.io"}, {})))
        assert store.resolve("email", "A@x.io") == "a"


def test_two_stores_on_one_file_in_threads_never_store_an_identity_twice(tmp_path):
    """Two Store objects on one file share one DuckDB database. Without a lock, an upsert that
    began while another was still open did not see its new identity and added it again (schema
    6 has no key to refuse that): transactions on one file now take turns."""
    import threading
    import time

    from martech import _bulk

    path = tmp_path / "s.duckdb"
    a_inserted, b_starting = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first(store: Store) -> None:
        with store.transaction() as con:
            _bulk.upsert_profiles(con, profiles(("p", {"email": "p@x.io"}, {})))
            a_inserted.set()
            b_starting.wait(5)
            time.sleep(0.2)  # B's upsert is under way before this commits (ordering, not timing)

    def second(store: Store) -> None:
        a_inserted.wait(5)
        b_starting.set()
        store.upsert_profiles(profiles(("q", {"email": "p@x.io"}, {"n": 1})))

    with Store(path) as a, Store(path) as b:
        threads = [
            threading.Thread(target=lambda f=f, s=s: _run(f, s, errors))
            for f, s in ((first, a), (second, b))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert errors == []
        rows = a.con.execute("SELECT kind, value, profile_id FROM identities").fetchall()
        assert rows == [("email", "p@x.io", "p")]
        assert a.count("profiles") == 1
        assert a.get_profile("p").traits == {"n": 1}


def _run(fn, store, errors) -> None:
    try:
        fn(store)
    except BaseException as exc:  # surfaced by the test's assertion
        errors.append(exc)


def test_a_person_with_two_addresses_shows_both_and_reads_as_one(martech_store):
    martech_store.upsert_profiles(profiles(("A", {"email": "zed@x.io"}, {})))
    martech_store.upsert_profiles(profiles(("B", {"email": "amy@x.io"}, {})))
    martech_store.upsert_profiles(profiles(("B", {"email": "zed@x.io"}, {})))
    assert martech_store.all_identities("A") == [("email", "amy@x.io"), ("email", "zed@x.io")]
    assert martech_store.get_profile("B").identities == {"email": "amy@x.io"}  # what a sync sends


@pytest.mark.parametrize(
    ("traits", "consent", "field", "complaint"),
    [
        ('{"score": NaN}', "{}", "traits", "NaN and infinities are not JSON numbers"),
        ('{"score": -Infinity}', "{}", "traits", "NaN and infinities are not JSON numbers"),
        ("[1, 2]", "{}", "traits", "expected a JSON object"),
        ("{}", '{"whatsapp": true}', "consent", 'unknown channel "whatsapp"'),
        ("{}", '{"email": "maybe"}', "consent", "expected true or false"),
    ],
)
def test_a_bulk_upsert_refuses_what_a_read_could_not_give_back(
    martech_store, traits, consent, field, complaint
):
    """Through the SDK (Arrow), as through a file import: a profile that get_profile could not
    read back is refused, naming the profile and the field, and nothing is written."""
    from martech.errors import ValidationError

    table = pa.table({"id": ["ok", "bad"], "traits": ["{}", traits], "consent": ["{}", consent]})
    with pytest.raises(ValidationError, match=complaint) as info:
        martech_store.upsert_profiles(table)
    assert info.value.field == field
    assert "'bad'" in str(info.value)
    assert martech_store.count("profiles") == 0
    fine = pa.table({"id": ["s"], "traits": ['{"note": "NaN"}'], "consent": ['{"sms": false}']})
    martech_store.upsert_profiles(fine)  # the word in a string is just a word
    assert martech_store.get_profile("s").traits == {"note": "NaN"}


def test_events_without_a_time_zone_are_refused(martech_store):
    from martech.errors import ValidationError

    naive = pa.table(
        {
            "profile_id": ["p1"],
            "type": ["view"],
            "ts": pa.array([datetime(2026, 1, 5, 10)], pa.timestamp("us")),
        }
    )
    with pytest.raises(ValidationError, match="ts: expected timestamps with a time zone") as info:
        martech_store.append_events(naive)
    assert info.value.field == "ts"
    with pytest.raises(ValidationError, match="ts missing"):
        martech_store.append_events(pa.table({"profile_id": ["p1"], "type": ["view"]}))
    assert martech_store.count("events") == 0
    bare = naive.set_column(2, "ts", pa.array([datetime(2026, 1, 5, 10, tzinfo=UTC)]))
    assert martech_store.append_events(bare) == 1  # item_id, value, properties may be left out


def test_profiles_bring_their_events_and_a_transaction_can_hold_several_writes(martech_store):
    """Profile.events are stored with the profile; the public writes inside your own
    transaction join it, so a failure after them undoes them all."""
    martech_store.upsert_profiles(
        [Profile(id="a", events=[Event(type="purchase", item_id="i1", ts=T0, value=5.0)])]
    )
    assert [e.type for e in martech_store.get_profile("a").events] == ["purchase"]

    def both_then_fail() -> None:
        with martech_store.transaction():
            martech_store.upsert_profiles([Profile(id="b")])
            martech_store.append_events([("b", Event(type="view", ts=T0))])
            raise RuntimeError("after both")

    with pytest.raises(RuntimeError, match="after both"):
        both_then_fail()
    assert martech_store.get_profile("b") is None
    assert martech_store.count("events") == 1
    with martech_store.transaction():
        martech_store.upsert_profiles([Profile(id="b")])
        martech_store.append_events([("b", Event(type="view", ts=T0))])
    assert martech_store.count("events") == 2


def test_a_blocking_call_inside_an_event_loop_says_to_await_instead():
    import asyncio
    import warnings

    from martech.errors import ConfigError
    from martech.http import run_sync

    async def work() -> int:
        return 1

    async def app() -> None:
        with pytest.raises(ConfigError, match="inside a running event loop; await"):
            run_sync(work())

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine never awaited would warn
        asyncio.run(app())
    assert run_sync(work()) == 1


def test_opening_a_store_read_only_that_this_process_writes_says_so(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path), pytest.raises(StoreError, match="already has it open the other way"):
        Store(path, read_only=True)


def test_identities_that_are_no_identity_are_counted_not_silently_dropped(martech_store):
    counts = martech_store.upsert_profiles(
        [Profile(id="e", identities={"email": "not-an-email", "phone": "12", "shop": "s-1"})]
    )
    assert counts.unusable_identities == 2
    assert martech_store.all_identities("e") == [("shop", "s-1")]
