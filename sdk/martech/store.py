"""The embedded store: one DuckDB file holding profiles, identities, events and martech's state.

Default location ``.martech/martech.duckdb`` under the working directory; ``MARTECH_HOME`` (or the
CLI's ``--home``) moves the folder. Bulk writes go through Arrow tables, never a row-by-row loop.

DuckDB allows one read-write process per file; any number of ``read_only`` processes may read while
no writer holds it. A second writer gets :class:`StoreLockedError`, never a corrupted file.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson

from ._sql import sql_ident
from .errors import SchemaVersionError, StoreError, StoreLockedError, ValidationError
from .models import Event, Profile

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

SCHEMA_VERSION = 7

#: A migration step: a statement, or a function of the connection that returns statements
#: (for a step that depends on what the file holds, such as the columns of a table it rebuilds).
MigrationStep: TypeAlias = "str | Callable[[duckdb.DuckDBPyConnection], list[str]]"

#: version -> the steps that bring the schema from version-1 to version.
MIGRATIONS: dict[int, list[MigrationStep]] = {
    1: [
        """CREATE TABLE profiles (
            id VARCHAR PRIMARY KEY,
            traits JSON NOT NULL DEFAULT '{}',
            consent JSON NOT NULL DEFAULT '{}',
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        # kind: email | phone | <connector name>; value normalized (email lowercased, phone E.164)
        """CREATE TABLE identities (
            kind VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            profile_id VARCHAR NOT NULL,
            PRIMARY KEY (kind, value)
        )""",
        # A profile id merged into another (same email/phone/external id) -> the surviving id.
        """CREATE TABLE profile_aliases (
            alias VARCHAR PRIMARY KEY,
            profile_id VARCHAR NOT NULL
        )""",
        """CREATE TABLE events (
            profile_id VARCHAR NOT NULL,
            type VARCHAR NOT NULL,
            item_id VARCHAR,
            ts TIMESTAMPTZ NOT NULL,
            value DOUBLE,
            properties JSON
        )""",
        """CREATE TABLE items (
            item_id VARCHAR PRIMARY KEY,
            name VARCHAR,
            category VARCHAR,
            price DOUBLE,
            properties JSON
        )""",
        # A computed trait per profile; traits are materialized here by `martech traits compute`.
        """CREATE TABLE computed_traits (
            profile_id VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            value JSON,
            computed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (profile_id, name)
        )""",
        """CREATE TABLE segment_snapshots (
            snapshot_id BIGINT PRIMARY KEY,
            segment_key VARCHAR NOT NULL,
            version VARCHAR NOT NULL,
            taken_at TIMESTAMPTZ NOT NULL,
            member_count BIGINT NOT NULL,
            members_hash VARCHAR NOT NULL
        )""",
        """CREATE TABLE segment_members (
            snapshot_id BIGINT NOT NULL,
            profile_id VARCHAR NOT NULL
        )""",
        # One row per (destination, audience, member): what this tool last sent, batch by batch.
        """CREATE TABLE sync_ledger (
            destination VARCHAR NOT NULL,
            audience VARCHAR NOT NULL,
            profile_id VARCHAR NOT NULL,
            state VARCHAR NOT NULL,
            payload_hash VARCHAR,
            batch_id VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (destination, audience, profile_id)
        )""",
        """CREATE TABLE sync_runs (
            run_id VARCHAR PRIMARY KEY,
            destination VARCHAR NOT NULL,
            audience VARCHAR NOT NULL,
            segment_key VARCHAR,
            mode VARCHAR NOT NULL,
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            status VARCHAR NOT NULL,
            summary JSON
        )""",
        """CREATE TABLE checkpoints (
            source VARCHAR PRIMARY KEY,
            cursor VARCHAR,
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        """CREATE TABLE decisions (
            profile_id VARCHAR NOT NULL,
            placement VARCHAR NOT NULL,
            variant_id VARCHAR NOT NULL,
            level VARCHAR NOT NULL,
            bucket INTEGER NOT NULL,
            holdout BOOLEAN NOT NULL,
            segment_keys VARCHAR[],
            reasons VARCHAR[],
            content VARCHAR,
            decided_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
    ],
    # personalize: which tactic (strategy) a decision used or, for the holdout, would have used;
    # the recommended items; item-to-item co-occurrence counts and the top neighbours per item.
    2: [
        "ALTER TABLE decisions ADD COLUMN tactic VARCHAR",
        "ALTER TABLE decisions ADD COLUMN experiment VARCHAR",
        "ALTER TABLE decisions ADD COLUMN items VARCHAR[]",
        """CREATE TABLE item_pairs (
            item_a VARCHAR NOT NULL,
            item_b VARCHAR NOT NULL,
            n BIGINT NOT NULL,
            PRIMARY KEY (item_a, item_b)
        )""",
        """CREATE TABLE item_neighbours (
            item_id VARCHAR NOT NULL,
            neighbour_id VARCHAR NOT NULL,
            score BIGINT NOT NULL,
            rank INTEGER NOT NULL,
            PRIMARY KEY (item_id, neighbour_id)
        )""",
    ],
    # sync: a run's intent (its planned items, batch by batch, written before anything is sent),
    # an append-only per-batch ledger log folded into sync_ledger when a run ends, one row per
    # committed batch, and the highest batch a run may have started (to find in-flight batches).
    3: [
        """CREATE TABLE sync_plan_items (
            run_id VARCHAR NOT NULL,
            batch BIGINT NOT NULL,
            op VARCHAR NOT NULL,
            profile_id VARCHAR NOT NULL,
            payload_hash VARCHAR
        )""",
        """CREATE TABLE sync_ledger_log (
            run_id VARCHAR NOT NULL,
            batch BIGINT NOT NULL,
            op VARCHAR NOT NULL,
            profile_id VARCHAR NOT NULL,
            state VARCHAR NOT NULL,
            payload_hash VARCHAR,
            reason VARCHAR,
            logged_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        """CREATE TABLE sync_batches (
            run_id VARCHAR NOT NULL,
            batch BIGINT NOT NULL,
            op VARCHAR NOT NULL,
            items INTEGER NOT NULL,
            sent INTEGER NOT NULL,
            rejected INTEGER NOT NULL,
            requests INTEGER NOT NULL,
            committed_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        "ALTER TABLE sync_runs ADD COLUMN started_upto BIGINT DEFAULT -1",
        "ALTER TABLE sync_runs ADD COLUMN resume_after TIMESTAMPTZ",
    ],
    # One person's computed traits (decide(profile_id), profiles show): the primary key
    # (profile_id, name) serves only lookups naming both, so this read was a scan of every
    # profile's traits (~90 ms at 1M profiles; ~1.5 ms with this index).
    4: ["CREATE INDEX computed_traits_profile ON computed_traits (profile_id)"],
    # sync: the ledger log keeps only refused items; a committed batch's other items are read
    # from the run's plan when it is folded, and ``folded`` marks the batches already folded.
    # Batches an older martech already folded (their log rows are gone) are marked folded.
    5: [
        "ALTER TABLE sync_batches ADD COLUMN folded BOOLEAN DEFAULT false",
        """UPDATE sync_batches SET folded = NOT EXISTS (
               SELECT 1 FROM sync_ledger_log l
               WHERE l.run_id = sync_batches.run_id AND l.batch = sync_batches.batch)""",
    ],
    # identities without its primary key. DuckDB never used that index for a lookup (it
    # covers two columns, so `kind = ? AND value = ?` scanned the table with or without it),
    # while keeping it cost a bulk load ~110 MB of index per million profiles, built on insert
    # and written at the checkpoint. (kind, value) stays unique: every write goes through
    # _bulk.upsert_profiles, which inserts only identities not yet stored. DuckDB cannot drop
    # a key in place, so the table is rebuilt, with every column it has (one a user added
    # included) and every row.
    6: [lambda con: _rebuilt_without_key(con, "identities")],
    # sync_ledger without its primary key, for the same reason: keeping the index made the
    # fold of a 1M-member sync 2.9 s (an index insert per row) where appending is 1.4 s, and no
    # read used it (reads join on profile_id). (destination, audience, profile_id) stays unique:
    # every write goes through sync.ledger.replace_rows, which deletes the rows it replaces.
    7: [lambda con: _rebuilt_without_key(con, "sync_ledger")],
}


def _rebuilt_without_key(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Statements that rebuild ``table`` as it is, columns, types, NOT NULLs and defaults
    included, but without its primary key, keeping every row."""
    columns = con.execute(
        "SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    defs = ", ".join(
        sql_ident(name)
        + f" {dtype}"
        + ("" if nullable else " NOT NULL")
        + ("" if default is None else f" DEFAULT {default}")
        for name, dtype, nullable, default in columns
    )
    names = ", ".join(sql_ident(name) for name, *_ in columns)
    new = sql_ident(f"{table}_rebuilt")
    return [
        f"CREATE TABLE {new} ({defs})",
        f"INSERT INTO {new} ({names}) SELECT {names} FROM {sql_ident(table)}",
        f"DROP TABLE {sql_ident(table)}",
        f"ALTER TABLE {new} RENAME TO {sql_ident(table)}",
    ]


#: version -> tables its migration rebuilds (DROP and re-CREATE): an index a user made on one
#: would go with the old table, so it is created again on the new one, in the same transaction.
_REBUILT_TABLES: dict[int, tuple[str, ...]] = {6: ("identities",), 7: ("sync_ledger",)}


def fetch_one(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> tuple[Any, ...] | None:
    """The first row of a query, fully consumed (DuckDB 2 keeps a half-read result open)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def fetch_scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The first column of the first row, or None."""
    row = fetch_one(con, sql, params)
    return None if row is None else row[0]


def _index_statements(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> list[str]:
    """The CREATE INDEX statements of ``tables``' indexes (a primary key is not one of them)."""
    if not tables:
        return []
    rows = con.execute(
        "SELECT sql FROM duckdb_indexes() WHERE schema_name = 'main' "
        "AND list_contains(?, table_name) AND sql IS NOT NULL ORDER BY index_name",
        [list(tables)],
    ).fetchall()
    return [str(r[0]) for r in rows]


#: One lock per store file, for the write transactions of this process (see Store.transaction).
_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.RLock:
    key = str(path.resolve())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


def default_home() -> Path:
    """``$MARTECH_HOME`` (a leading ``~`` is the user's home) or ``./.martech``."""
    return Path(os.environ.get("MARTECH_HOME") or Path.cwd() / ".martech").expanduser()


def default_path() -> Path:
    return default_home() / "martech.duckdb"


@dataclass(frozen=True)
class UpsertCounts:
    """What a bulk upsert did: profiles inserted and updated, and ids merged into another
    profile (an incoming id, or a stored profile, found to be a person already stored under
    another id: its data, events and identities moved there, its id kept as an alias)."""

    inserted: int = 0
    updated: int = 0
    merged: int = 0
    #: Rows that repeated an id given earlier in the same batch (folded into it, later wins).
    repeated: int = 0
    #: Identity values left out as unusable (an email that is not one, a phone that is no
    #: number); the profiles are stored without them.
    unusable_identities: int = 0
    #: Identity values left out as placeholders: one value carried by more than
    #: ``_bulk.MAX_PROFILES_PER_IDENTITY`` profiles of the batch (noemail@example.com), which
    #: would have merged them all into one. The profiles are stored without it.
    placeholder_identities: int = 0


@dataclass(frozen=True)
class AppendCounts:
    """What a bulk event append did: events added, and rows skipped as repeating an event
    (same profile, type, item and time) given earlier in the same batch."""

    inserted: int = 0
    #: Rows repeating an event of the batch; counted only when the append was asked to skip
    #: them (``append_events_from(..., first_by=...)``).
    repeated: int = 0


#: The value in a DuckDB conversion error: ``Input: "…"`` (up to `` when casting`` or the end)
#: and ``string '…'`` (up to `` to <TYPE>``).
_QUOTED_INPUT = re.compile(r"Input: \".*?\"(?= when casting|\s*$)|string '.*?'(?= to \w)")


@contextmanager
def _refused_as_invalid(what: str) -> Iterator[None]:
    """DuckDB refusing the data itself (a value that does not convert, malformed JSON, a NULL
    where one is not allowed) is bad input: a ValidationError, its message redacted (DuckDB
    quotes the value, which may be an email)."""
    import duckdb

    try:
        yield
    except (duckdb.ConversionException, duckdb.ConstraintException) as exc:
        from .http.redact import redact

        # DuckDB quotes what it could not read: any trait, a name or address, a national phone
        # number that redact (made for log lines) keeps. Leave the value out, keep the why.
        message = _QUOTED_INPUT.sub("(value not shown)", str(exc).splitlines()[0])
        message = redact(message)
        raise ValidationError(f"{what}: the data was refused: {message}") from exc


class Store:
    """A martech store in one DuckDB file. Use as a context manager, or call :meth:`close`.

    One Store (one DuckDB connection) serves one thread at a time. Threads each open their own
    Store on the same file: they share one database, and their write transactions take turns.
    """

    def __init__(
        self, path: str | Path | None = None, *, read_only: bool = False, wait: float = 0.0
    ) -> None:
        """Open (creating and migrating if needed) the store at ``path``.

        DuckDB locks the file per process: one writer, or any number of ``read_only`` readers.
        If another process holds it, retry for up to ``wait`` seconds, then raise
        :class:`StoreLockedError`.
        """
        # A leading ~ (MARTECH_HOME="~/martech" from an env file) is the user's home, as DuckDB
        # reads it too: unexpanded, the folder was made as a literal "~" in the working directory.
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise StoreError(f"no store at {self.path}; run `martech generate` or `martech import`")
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way (--home naming a file), no permission
                why = exc.strerror or str(exc)
                if isinstance(exc, (FileExistsError, NotADirectoryError)):
                    why = "a file is in the way (a folder is expected)"
                raise StoreError(
                    f"cannot make the store's folder {self.path.parent}: {why}; "
                    "check --home / MARTECH_HOME"
                ) from None
        self._lock = _write_lock(self.path)
        self._depth = 0  # transaction() nesting: only the outermost begins and commits
        self._open(wait)
        try:
            self._migrate(wait)
            if not read_only:
                from ._bulk import _ensure_udfs

                # Registered outside any transaction: one registered inside a transaction that
                # rolls back is gone from DuckDB's catalog but cannot be registered again.
                _ensure_udfs(self.con)
        except BaseException:
            self.con.close()  # release the file: a refused store must not stay locked
            raise

    def _open(self, wait: float) -> None:
        """Connect to the file, retrying for up to ``wait`` seconds while another process holds
        its lock."""
        import time

        import duckdb

        read_only = self.read_only
        deadline = time.monotonic() + max(0.0, wait)
        for attempt in range(10_000):  # bounded; the deadline ends it much sooner
            try:
                self.con: duckdb.DuckDBPyConnection = duckdb.connect(
                    str(self.path), read_only=read_only
                )
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise StoreError(f"cannot open {self.path}: {exc}") from None
                if time.monotonic() >= deadline:
                    raise StoreLockedError(
                        f"{self.path} is locked by another process "
                        f"({'a writer' if read_only else 'a writer or readers'}); "
                        "try again when it finishes"
                    ) from None
                time.sleep(min(0.05 * (attempt + 1), 0.5))
            except duckdb.Error as exc:
                if "different configuration" in str(exc):
                    # DuckDB opens one file once per process, with one read_only setting.
                    raise StoreError(
                        f"cannot open {self.path} {'read-only' if read_only else 'for writing'}: "
                        "this process already has it open the other way; use that Store, or "
                        "close it first"
                    ) from None
                raise StoreError(f"cannot open {self.path}: not a martech store ({exc})") from None

    def _stored_version(self) -> int:
        """The file's schema version (0 for a file without martech's tables)."""
        has_meta = fetch_scalar(
            self.con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        )
        return self.schema_version if has_meta else 0

    # ------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    @property
    def schema_version(self) -> int:
        value = fetch_scalar(self.con, "SELECT value FROM meta WHERE key = 'schema_version'")
        return int(value) if value is not None else 0

    def _migrate(self, wait: float) -> None:
        current = self._stored_version()
        if current > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.path} has schema version {current}, this martech knows up to "
                f"{SCHEMA_VERSION}; upgrade martech (pip install -U martech)"
            )
        if current == SCHEMA_VERSION:
            return
        if self.read_only and current == 0:  # no martech tables: a read never creates them
            raise StoreError(
                f"{self.path} needs a migration to schema {SCHEMA_VERSION}; "
                "open it once for writing"
            )
        if self.read_only:
            # A store from an older martech, opened to read (`profiles show` after an upgrade):
            # migrate it once for writing, then read. Not while another process has it open.
            self.con.close()
            try:
                Store(self.path, wait=wait).close()
            except StoreLockedError:
                raise StoreLockedError(
                    f"{self.path} comes from an older martech and needs a migration to schema "
                    f"{SCHEMA_VERSION}, but another process has it open; try again when it "
                    "finishes"
                ) from None
            self._open(wait)
            return
        self._apply_migrations(current)  # all or nothing: a failure leaves the old version

    def _apply_migrations(self, current: int) -> None:
        import duckdb

        with self.transaction():
            if current == 0:
                self.con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                # An index the user made on a table this migration rebuilds comes back with it.
                indexes = _index_statements(self.con, _REBUILT_TABLES.get(version, ()))
                statements = [
                    sql
                    for step in MIGRATIONS[version]
                    for sql in ([step] if isinstance(step, str) else step(self.con))
                ]
                for statement in [*statements, *indexes]:
                    try:
                        self.con.execute(statement)
                    except duckdb.Error as exc:
                        raise StoreError(
                            f"{self.path}: migration to schema {version} failed, nothing was "
                            f"changed: {str(exc).splitlines()[0]}"
                        ) from None
            self.con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: a crash or an exception inside leaves the store as it was.

        One at a time per store file within a process: two Store objects on one file (threads
        of one program) share a single DuckDB database, where two overlapping upserts could
        each add the same new identity, as nothing but the upsert keeps identities unique.

        Nested (``upsert_profiles`` and ``append_events`` inside your own ``with
        store.transaction():``), the inner one joins the outer: it commits or rolls back all.
        """
        with self._lock:
            if self._depth:  # inside this store's transaction already: part of it
                self._depth += 1
                try:
                    yield self.con
                finally:
                    self._depth -= 1
                return
            self.con.execute("BEGIN TRANSACTION")
            self._depth = 1
            try:
                yield self.con
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            self.con.execute("COMMIT")

    @contextmanager
    def _bulk_load(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """:meth:`transaction` for one large load, checkpointed as it commits.

        DuckDB writes a big insert's row groups straight to the file from several threads,
        which leaves a few of them part-filled; the checkpoint after it would merge those
        ("vacuum"), rewriting the freshly written data (~1 s per million profiles) to reclaim
        no deleted row at all. So the load's own checkpoint runs without vacuuming; later
        checkpoints vacuum as usual once rows are deleted.
        """
        import duckdb

        with self._lock:  # the setting is the database's: one load changes it at a time
            tasks = int(fetch_scalar(self.con, "SELECT current_setting('max_vacuum_tasks')"))
            self.con.execute("SET max_vacuum_tasks = 0")
            restore = f"SET max_vacuum_tasks = {tasks}"  # as it was, not the default
            try:
                with self.transaction() as con:
                    yield con
                # The load is committed (in the WAL) either way: a checkpoint that fails only
                # leaves the write to the next one, and must not report the import as failed.
                with suppress(duckdb.Error):
                    self.con.execute("CHECKPOINT")
            except BaseException:
                # The load's own error is the one to report, even if the database it broke
                # (DuckDB invalidates one after a fatal error) refuses the setting as well.
                with suppress(duckdb.Error):
                    self.con.execute(restore)
                raise
            self.con.execute(restore)

    # ---------------------------------------------------------------------------- bulk writes

    def upsert_profiles(self, table: pa.Table | Iterable[Profile]) -> UpsertCounts:
        """Insert or update profiles in bulk, and resolve their identities.

        ``table`` is an Arrow table with columns ``id`` (string) and optionally ``traits`` and
        ``consent`` (JSON text) and ``identities`` (JSON text, kind -> value); or Profiles, whose
        ``events`` are appended too, in the same transaction. Traits of an existing profile are
        merged (new values win). A profile whose email, phone or external id already belongs to
        another profile is merged into that one; a value more than
        ``_bulk.MAX_PROFILES_PER_IDENTITY`` (100) profiles of the batch carry is a placeholder
        (noemail@example.com), left out rather than merged on (``placeholder_identities``).
        """
        import pyarrow as pa

        from ._bulk import append_events, upsert_profiles

        events: list[tuple[str, Event]] = []
        if not isinstance(table, pa.Table):
            profiles = list(table)
            events = [(p.id, e) for p in profiles for e in p.events]  # stored with them
            table = profiles_to_arrow(profiles)
        with _refused_as_invalid("upsert_profiles"), self.transaction():
            counts = upsert_profiles(self.con, table)
            if events:
                append_events(self.con, events_to_arrow(events))
            return counts

    def append_events(self, table: pa.Table | Iterable[tuple[str, Event]]) -> int:
        """Append events in bulk: Arrow columns profile_id, type, item_id, ts, value, properties.

        Events whose profile id is an alias merged into another profile are re-pointed to it.
        Exact duplicates of stored events (same profile, type, item and timestamp) are skipped,
        so re-importing a file is harmless; rows within one call are all added (two views of
        an item in the same second are two views), where a file import keeps one of them (see
        :meth:`append_events_from`). Returns the number of events added.
        """
        import pyarrow as pa

        if not isinstance(table, pa.Table):
            table = events_to_arrow(table)
        from ._bulk import append_events

        with _refused_as_invalid("append_events"), self.transaction():
            return append_events(self.con, table).inserted

    def upsert_profiles_from(self, relation: str, *, normalized: bool = False) -> UpsertCounts:
        """:meth:`upsert_profiles` from a table or view on :attr:`con` (same columns), so a file
        read by DuckDB never round-trips through Python. A table whose ``traits`` and ``consent``
        are typed JSON, and ``identities`` JSON or a STRUCT (a field per kind), is read in place,
        not copied; later rows win. ``normalized``: every identity is already in its stored form
        (emails lowercased and valid, phones E.164, others trimmed and not empty), so it is not
        checked again."""
        from ._bulk import upsert_profiles

        with self._bulk_load():
            return upsert_profiles(self.con, relation, normalized=normalized)

    def append_events_from(self, relation: str, *, first_by: str | None = None) -> AppendCounts:
        """:meth:`append_events` from a table or view on :attr:`con` (same columns).

        ``first_by``: a column of ``relation`` giving its rows' order (a file's row number).
        Rows repeating an event given earlier in that order (same profile, type, item and
        time) are then skipped as duplicates of stored events are, the first one kept, so that
        importing a file is importing each of its events once. Without it, every row is added.
        """
        from ._bulk import append_events

        with self._bulk_load():
            return append_events(self.con, relation, first_by=first_by)

    # ---------------------------------------------------------------------------------- reads

    def resolve(self, kind: str, value: str) -> str | None:
        """The profile id that owns identity ``kind=value`` (normalized), or None."""
        from .identity import normalize_identity

        normalized = normalize_identity(kind, value)
        if normalized is None:
            return None
        owner = fetch_scalar(
            self.con,
            "SELECT profile_id FROM identities WHERE kind = ? AND value = ?",
            [kind, normalized],
        )
        return None if owner is None else str(owner)

    def all_identities(self, profile_id: str, *, first_only: bool = False) -> list[tuple[str, str]]:
        """Every (kind, value) the profile holds, by kind and value: a person merged from two
        records can hold two emails. ``first_only``: the smallest value of each kind."""
        value = "min(value)" if first_only else "value"
        group = "GROUP BY kind" if first_only else ""
        rows = self.con.execute(
            f"SELECT kind, {value} AS v FROM identities WHERE profile_id = ? {group} "
            "ORDER BY kind, v",
            [profile_id],
        ).fetchall()
        return [(str(k), str(v)) for k, v in rows]

    def get_profile(
        self, profile_id: str, *, events: int = 200, identities: bool = True
    ) -> Profile | None:
        """One profile with its identities and its latest ``events`` events; an id that was
        merged into another profile gives that profile (its ``id`` says which).

        ``identities=False`` skips them (empty ``identities``): identities has no index by profile
        id, so that lookup is a scan, the slowest part of the read on a large store.
        """
        row = fetch_one(
            self.con,
            "SELECT id, traits, consent FROM profiles WHERE id = coalesce("
            "(SELECT profile_id FROM profile_aliases WHERE alias = ?), ?)",
            [profile_id, profile_id],
        )
        if row is None:
            return None
        profile_id = row[0]  # an id merged into another profile reads as that profile
        # One value per kind, the one a sync sends (the smallest); all_identities has them all.
        ids = dict(self.all_identities(profile_id, first_only=True)) if identities else {}
        rows = self.con.execute(
            "SELECT type, item_id, timezone('UTC', ts), value, properties FROM events "
            "WHERE profile_id = ? "
            "ORDER BY ts DESC LIMIT ?",
            [profile_id, events],
        ).fetchall()
        return Profile(
            id=row[0],
            identities=ids,
            traits=orjson.loads(row[1]),
            consent=orjson.loads(row[2]),
            events=[
                Event(
                    type=t,
                    item_id=i,
                    ts=ts.replace(tzinfo=UTC),  # naive UTC from timezone(): no pytz needed
                    value=v,
                    properties=orjson.loads(p) if p else {},
                )
                for t, i, ts, v, p in reversed(rows)
            ],
        )

    def count(self, table: str) -> int:
        """Rows in one of the store's tables."""
        if table not in _TABLES:
            raise StoreError(f"unknown table {table!r}; expected one of {', '.join(_TABLES)}")
        return int(fetch_scalar(self.con, f"SELECT count(*) FROM {table}"))

    def summary(self) -> dict[str, Any]:
        """Row counts of the main tables, for `martech demo` and `martech profiles count`."""
        return {t: self.count(t) for t in ("profiles", "identities", "events", "items")}


_TABLES = (
    "profiles",
    "identities",
    "profile_aliases",
    "events",
    "items",
    "computed_traits",
    "segment_snapshots",
    "segment_members",
    "sync_ledger",
    "sync_runs",
    "checkpoints",
    "decisions",
    "item_pairs",
    "item_neighbours",
)


def profiles_to_arrow(profiles: Iterable[Profile]) -> pa.Table:
    """Profiles -> the Arrow shape :meth:`Store.upsert_profiles` takes."""
    import pyarrow as pa

    ids, traits, consent, identities = [], [], [], []
    for p in profiles:
        ids.append(p.id)
        traits.append(orjson.dumps(p.traits).decode())
        consent.append(orjson.dumps(p.consent).decode())
        identities.append(orjson.dumps(p.identities).decode())
    return pa.table(
        {"id": ids, "traits": traits, "consent": consent, "identities": identities},
        schema=PROFILE_SCHEMA(),
    )


def events_to_arrow(events: Iterable[tuple[str, Event]]) -> pa.Table:
    """(profile_id, Event) pairs -> the Arrow shape :meth:`Store.append_events` takes."""
    import pyarrow as pa

    cols: dict[str, list[Any]] = {k: [] for k in EVENT_SCHEMA().names}
    for profile_id, e in events:
        cols["profile_id"].append(profile_id)
        cols["type"].append(e.type)
        cols["item_id"].append(e.item_id)
        cols["ts"].append(e.ts)
        cols["value"].append(e.value)
        cols["properties"].append(orjson.dumps(e.properties).decode() if e.properties else None)
    return pa.table(cols, schema=EVENT_SCHEMA())


def PROFILE_SCHEMA() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("traits", pa.string()),
            ("consent", pa.string()),
            ("identities", pa.string()),
        ]
    )


def EVENT_SCHEMA() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("profile_id", pa.string()),
            ("type", pa.string()),
            ("item_id", pa.string()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("value", pa.float64()),
            ("properties", pa.string()),
        ]
    )
