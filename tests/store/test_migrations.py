"""A store written by every older schema version opens with its data, once and again; a store
from a newer martech is refused and left as it was. The fixtures are built the way the
migrations themselves build a store: schema 1's statements up to the version, then its rows."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from martech.errors import SchemaVersionError
from martech.store import MIGRATIONS, SCHEMA_VERSION, Store


def old_store(path: Path, version: int) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    for v in range(1, version + 1):
        for step in MIGRATIONS[v]:
            for sql in [step] if isinstance(step, str) else step(con):
                con.execute(sql)
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(version)])
    con.execute(
        "INSERT INTO profiles (id, traits, consent) VALUES "
        """('p1', '{"city": "Oslo"}', '{"email": true}'), ('p2', '{}', '{"sms": false}')"""
    )
    con.execute(
        "INSERT INTO identities VALUES ('email', 'a@example.com', 'p1'), "
        "('phone', '+4791234567', 'p2'), ('crm', 'C-1', 'p2')"
    )
    con.execute("INSERT INTO profile_aliases VALUES ('old1', 'p1')")
    con.execute(
        "INSERT INTO events VALUES ('p1', 'view', 'i1', '2026-01-01 10:00:00+00', 2.5, NULL)"
    )
    con.execute("INSERT INTO checkpoints (source, cursor) VALUES ('pull:x', 'c42')")
    con.execute(
        "INSERT INTO sync_ledger (destination, audience, profile_id, state, payload_hash, "
        "batch_id, run_id) VALUES ('esp', 'a', 'p1', 'present', 'h1', '0', 'r0')"
    )
    if version >= 3:
        con.execute(
            "INSERT INTO sync_batches (run_id, batch, op, items, sent, rejected, requests) "
            "VALUES ('r1', 0, 'add', 1, 1, 0, 1), ('r1', 1, 'add', 1, 0, 1, 1)"
        )
        con.execute(
            "INSERT INTO sync_ledger_log (run_id, batch, op, profile_id, state) "
            "VALUES ('r1', 1, 'add', 'p2', 'rejected')"
        )
    con.close()
    return path


def contents(store: Store) -> list[object]:
    q = store.con.execute
    return [
        q("SELECT id, traits::VARCHAR, consent::VARCHAR FROM profiles ORDER BY id").fetchall(),
        q("SELECT kind, value, profile_id FROM identities ORDER BY ALL").fetchall(),
        q("SELECT * FROM profile_aliases").fetchall(),
        q("SELECT profile_id, type, item_id, timezone('UTC', ts), value FROM events").fetchall(),
        q("SELECT source, cursor FROM checkpoints").fetchall(),
        q(
            "SELECT destination, audience, profile_id, state, payload_hash FROM sync_ledger"
        ).fetchall(),
    ]


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_a_store_of_every_older_version_opens_with_its_data(tmp_path: Path, version: int) -> None:
    path = old_store(tmp_path / f"v{version}.duckdb", version)
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        first = contents(store)
        assert first[0][0][0] == "p1"
        assert len(first[0]) == 2
        assert len(first[1]) == 3
        assert first[4] == [("pull:x", "c42")]
        assert first[5] == [("esp", "a", "p1", "present", "h1")]
        assert not store.con.execute(
            "SELECT * FROM duckdb_constraints() WHERE table_name = 'sync_ledger' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()
        assert store.get_profile("old1").id == "p1"  # the alias still leads to its profile
        assert store.resolve("phone", "+47 912 34 567") == "p2"
        if version in (3, 4):  # schema 5 marks batches without log rows folded
            folded = store.con.execute(
                "SELECT batch, folded FROM sync_batches ORDER BY batch"
            ).fetchall()
            assert folded == [(0, True), (1, False)]
        # The migrated store takes new writes as a new one does: identities stay unique.
        store.upsert_profiles(
            pa.table({"id": ["p3"], "identities": ['{"email": "A@example.com", "crm": "C-2"}']})
        )
        assert store.get_profile("p3").id == "p1"  # merged on the stored email
    with Store(path) as store:  # again: nothing left to migrate, nothing changed
        assert store.schema_version == SCHEMA_VERSION
        assert contents(store)[1:] == [
            sorted([*first[1], ("crm", "C-2", "p1")]),
            [*first[2], ("p3", "p1")],
            *first[3:],
        ]
    with Store(path, read_only=True) as store:
        assert store.schema_version == SCHEMA_VERSION


def test_an_older_store_opened_read_only_is_migrated_once_then_read(tmp_path: Path) -> None:
    path = old_store(tmp_path / "v2.duckdb", 2)
    with Store(path, read_only=True) as store:
        assert store.read_only
        assert store.schema_version == SCHEMA_VERSION
        assert store.get_profile("p1").traits == {"city": "Oslo"}


@pytest.mark.parametrize("read_only", [False, True])
def test_a_store_from_a_newer_martech_is_refused_and_left_byte_for_byte(
    tmp_path: Path, read_only: bool
) -> None:
    path = old_store(tmp_path / "new.duckdb", SCHEMA_VERSION)
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    con.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    files = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}"):
        Store(path, read_only=read_only)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    # ... and not left locked: the newer martech can open it right away.
    duckdb.connect(str(path)).close()
