"""Set-based bulk writes for the store: Arrow in, SQL joins, no Python loop per row.

Private: use :meth:`martech.store.Store.upsert_profiles` and ``append_events``.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any

from ._sql import sql_ident, sql_json_path, sql_str
from .errors import StoreError, ValidationError
from .identity import default_region, normalize_email, normalize_email_sql, normalize_phone
from .store import AppendCounts, UpsertCounts, fetch_one, fetch_scalar

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

_E164 = r"\+[1-9][0-9]{7,14}"


def _phone_or_none(value: str | None) -> str | None:
    return None if value is None else normalize_phone(value)


def _email_or_none(value: str | None) -> str | None:
    return None if value is None else normalize_email(value)


def _ensure_udfs(con: duckdb.DuckDBPyConnection) -> None:
    """Register ``martech_normalize_phone`` and ``martech_normalize_email`` on ``con``.

    Only phones not already in E.164, and emails not in printable ASCII, reach Python;
    generated and vendor data mostly skip them."""
    from duckdb.func import FunctionNullHandling

    for name, func in (
        ("martech_normalize_phone", _phone_or_none),
        ("martech_normalize_email", _email_or_none),
    ):
        try:
            con.create_function(
                name,
                func,
                ["VARCHAR"],
                "VARCHAR",
                null_handling=FunctionNullHandling.SPECIAL,  # NULL for values that are not one
                side_effects=False,
            )
        except Exception as exc:  # already registered on this connection
            if "already" not in str(exc):
                raise


def _column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _is_table(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    return bool(
        fetch_scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [relation])
    )


def _unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop a registered Arrow table, unless the statement that read it failed and aborted the
    transaction: DuckDB then refuses this too, and its refusal ("transaction is aborted") would
    hide the error that says what was wrong. The next registration under the name replaces it."""
    import duckdb

    with suppress(duckdb.TransactionException):
        con.unregister(name)


def upsert_profiles(
    con: duckdb.DuckDBPyConnection, table: pa.Table | str, *, normalized: bool = False
) -> UpsertCounts:
    """Merge profiles into the store; see Store.upsert_profiles.

    ``table`` is an Arrow table, or the name of a table or view on ``con`` with the same columns.
    ``normalized``: the caller already gave each identity its stored form (emails lowercased and
    valid, phones E.164, other kinds trimmed, no empty values), as the file importer's checks do;
    they are then taken as they are instead of being checked a second time.
    ``martech_normalize_phone`` and ``martech_normalize_email`` are registered on every writable
    store's connection when it opens.
    """
    relation = table if isinstance(table, str) else "_martech_in"
    if not isinstance(table, str):
        con.register("_martech_in", table)
    try:
        types = _column_types(con, relation)
        # identities: a JSON object (kind -> value), or a STRUCT with a field per kind (a file
        # import's columns, read without building and parsing JSON text)
        struct_ids = types.get("identities", "").startswith("STRUCT(")
        ids = "NULL::JSON"
        if "identities" in types:
            ids = "identities" if struct_ids else "identities::JSON"
        # A table whose objects are JSON already is read in place (its row order is rowid);
        # anything else (Arrow, a view, JSON as text) is copied once, parsing the JSON.
        in_kind = "TABLE"
        rn = "row_number() OVER ()"
        if (
            _is_table(con, relation)
            and all(types.get(c, "JSON") == "JSON" for c in ("traits", "consent"))
            and (struct_ids or types.get("identities", "JSON") == "JSON")
        ):
            in_kind, rn = "VIEW", "rowid"
        if "id" not in types:
            raise ValidationError(
                f"upsert_profiles: expected an 'id' column (and optionally traits, consent, "
                f"identities), got {', '.join(types) or 'no columns'}",
                field="id",
            )
        # traits and consent may be left out: a profile without them has none to merge
        traits = "coalesce(traits, '{}')::JSON" if "traits" in types else "'{}'::JSON"
        consent = "coalesce(consent, '{}')::JSON" if "consent" in types else "'{}'::JSON"
        con.execute(
            f"""CREATE OR REPLACE TEMP {in_kind} _in AS
               SELECT {rn} AS rn, id, {traits} AS traits, {consent} AS consent,
                      {ids} AS identities
               FROM {relation} WHERE id IS NOT NULL AND id <> ''"""
        )
    finally:
        if not isinstance(table, str):
            _unregister(con, "_martech_in")
    # Normalized identities of the incoming rows: find the kinds once, then extract them all
    # with one json_extract_string per row (json_each is ~30x slower at a million rows).
    if struct_ids:  # the struct's fields are the kinds
        kinds = [str(r[0]) for r in con.execute("DESCRIBE SELECT identities.* FROM _in").fetchall()]
    else:
        kinds = [
            str(r[0])
            for r in con.execute(
                "SELECT DISTINCT unnest(json_keys(identities)) FROM _in "
                "WHERE identities IS NOT NULL"
            ).fetchall()
        ]
    if "phone" in kinds and not normalized:
        default_region()  # a region no one can read national numbers in: say so, up front
    if kinds:
        kinds.sort()
        names = "[" + ", ".join(sql_str(k) for k in kinds) + "]"
        if struct_ids:
            values = "[" + ", ".join(f"identities.{sql_ident(k)}::VARCHAR" for k in kinds) + "]"
        else:
            paths = ", ".join(sql_json_path(k) for k in kinds)
            values = f"json_extract_string(identities, [{paths}])"
        v = "v" if normalized else "trim(v)"
        raw = (
            f"SELECT profile_id, kind, {v} AS v FROM (SELECT id AS profile_id, "
            f"unnest({names}) AS kind, unnest({values}) AS v "
            "FROM _in WHERE identities IS NOT NULL) WHERE v IS NOT NULL"
        )
    else:
        raw = (
            "SELECT NULL::VARCHAR AS profile_id, NULL::VARCHAR AS kind, NULL::VARCHAR AS v LIMIT 0"
        )
    if not normalized:
        _check_rows(con)
    n_in, n_ids = fetch_one(con, "SELECT count(*), count(DISTINCT id) FROM _in") or (0, 0)
    # With every id once in the batch, (profile, kind) is unique: no DISTINCT needed.
    distinct = "DISTINCT" if n_in != n_ids else ""
    value = (
        "v"
        if normalized
        else f"""CASE kind
                   WHEN 'email' THEN {normalize_email_sql("v")}
                   WHEN 'phone' THEN CASE WHEN regexp_full_match(v, '{_E164}') THEN v
                                          ELSE martech_normalize_phone(v) END
                   ELSE nullif(v, '')
                 END"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _in_ids AS
            WITH raw AS ({raw})
            SELECT {distinct} profile_id, kind, {value} AS value FROM raw"""
    )
    dropped = 0
    if not normalized:
        # Values that are no identity (an email that is not one, a phone that is no number)
        # are left out, and counted, so the caller can say so. (A caller's checked values,
        # ``normalized``, are all usable.)
        dropped = int(fetch_scalar(con, "SELECT count(*) FROM _in_ids WHERE value IS NULL"))
        if dropped:
            con.execute("DELETE FROM _in_ids WHERE value IS NULL")
    # Canonical id: who each incoming id is, following shared identities as far as they go
    # (_canonical_ids); a first load into an empty store, where nothing can merge, skips that.
    empty_ids = not fetch_scalar(con, "SELECT count(*) FROM (SELECT 1 FROM identities LIMIT 1)")
    no_aliases = not fetch_scalar(
        con, "SELECT count(*) FROM (SELECT 1 FROM profile_aliases LIMIT 1)"
    )
    # Asked only when it matters. Hashes: a collision only sends the batch the general way.
    unique_in_batch = empty_ids and bool(
        fetch_scalar(con, "SELECT count(*) = count(DISTINCT hash(kind, value)) FROM _in_ids")
    )
    placeholders = 0
    if not (empty_ids and unique_in_batch):
        _check_shared_phones(con)
        placeholders = _drop_placeholders(con, aliases=not no_aliases)
    canon_kind = "TABLE"
    if empty_ids and no_aliases and unique_in_batch:
        # A first load (the common bulk case): nothing can merge, so skip the joins.
        canon_kind = "VIEW"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _canon AS SELECT {distinct} id AS incoming, id FROM _in"
        )
        n_out, n_moved = n_ids, 0
    else:
        _canonical_ids(con)
        n_out, n_moved = fetch_one(
            con, "SELECT count(DISTINCT id), count(*) FILTER (WHERE incoming <> id) FROM _canon"
        ) or (0, 0)
    res_kind = "TABLE"
    if n_in == n_out and not n_moved:
        res_kind = "VIEW"
        # The common case (fresh ids, nothing shared): no merging to do.
        con.execute("CREATE OR REPLACE TEMP VIEW _res AS SELECT id, traits, consent FROM _in")
    elif n_in == n_out:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _res AS SELECT c.id, i.traits, i.consent
               FROM _in i JOIN _canon c ON c.incoming = i.id"""
        )
    else:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _res AS
               SELECT c.id,
                      list_reduce(list(i.traits::VARCHAR ORDER BY i.rn),
                                  lambda a, b: json_merge_patch(a, b)::VARCHAR)::JSON AS traits,
                      list_reduce(list(i.consent::VARCHAR ORDER BY i.rn),
                                  lambda a, b: json_merge_patch(a, b)::VARCHAR)::JSON AS consent
               FROM _in i JOIN _canon c ON c.incoming = i.id GROUP BY c.id"""
        )
    empty_profiles = not fetch_scalar(con, "SELECT count(*) FROM (SELECT 1 FROM profiles LIMIT 1)")
    if empty_profiles:
        inserted, updated = int(n_out), 0
        restore = _drop_primary_key_while_empty(con, "profiles")
        con.execute(
            "INSERT INTO profiles (id, traits, consent) SELECT id, traits, consent FROM _res"
        )
        _restore_primary_key(con, "profiles", restore)
    else:
        row = fetch_one(
            con,
            "SELECT count(*) FILTER (WHERE p.id IS NULL), count(*) FILTER (WHERE p.id IS NOT NULL) "
            "FROM _res r LEFT JOIN profiles p ON p.id = r.id",
        )
        inserted, updated = (int(row[0]), int(row[1])) if row else (0, 0)
        con.execute(
            """INSERT INTO profiles (id, traits, consent)
               SELECT id, traits, consent FROM _res
               ON CONFLICT (id) DO UPDATE SET
                 traits = json_merge_patch(profiles.traits, excluded.traits),
                 consent = json_merge_patch(profiles.consent, excluded.consent),
                 updated_at = now()"""
        )
    if empty_ids and unique_in_batch and not n_moved:
        con.execute("INSERT INTO identities SELECT kind, value, profile_id FROM _in_ids")
    else:
        # (kind, value) is unique by this insert alone (the table has no key, see schema 6):
        # one row per identity, and none that is stored already.
        con.execute(
            """INSERT INTO identities (kind, value, profile_id)
               SELECT DISTINCT ON (n.kind, n.value) n.kind, n.value, c.id
               FROM _in_ids n JOIN _canon c ON c.incoming = n.profile_id
               WHERE NOT EXISTS (SELECT 1 FROM identities x
                                 WHERE x.kind = n.kind AND x.value = n.value)
               ORDER BY n.kind, n.value, c.id"""
        )
    # Merged ids: remember the alias, move anything stored under it, drop its row.
    if n_moved:
        # Aliases stay one hop: those pointing at a profile merging away now point further.
        con.execute(
            """UPDATE profile_aliases SET profile_id = c.id FROM _canon c
               WHERE profile_aliases.profile_id = c.incoming AND c.incoming <> c.id"""
        )
        con.execute(
            """INSERT INTO profile_aliases SELECT incoming, id FROM _canon WHERE incoming <> id
               ON CONFLICT DO NOTHING"""
        )
        con.execute(
            """UPDATE events SET profile_id = c.id FROM _canon c
               WHERE events.profile_id = c.incoming AND c.incoming <> c.id"""
        )
        con.execute(
            """UPDATE identities SET profile_id = c.id FROM _canon c
               WHERE identities.profile_id = c.incoming AND c.incoming <> c.id"""
        )
        _merge_stored(con)
        con.execute(
            "DELETE FROM profiles WHERE id IN (SELECT incoming FROM _canon WHERE incoming <> id)"
        )
    con.execute(f"DROP {res_kind} IF EXISTS _res")
    con.execute(f"DROP {canon_kind} IF EXISTS _canon")
    con.execute("DROP TABLE IF EXISTS _in_ids")
    con.execute(f"DROP {in_kind} IF EXISTS _in")
    return UpsertCounts(
        inserted=inserted,
        updated=updated,
        merged=int(n_moved),
        repeated=int(n_in - n_ids),
        unusable_identities=dropped,
        placeholder_identities=placeholders,
    )


#: A bare NaN or Infinity where a JSON value goes: DuckDB parses them, nothing else reads them.
_NON_FINITE = r"[:\[,]\s*-?(NaN|Infinity)"


def _check_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse a batch whose traits or consent a read could not give back: not a JSON object,
    a NaN or infinity in traits, a consent channel martech does not know or a consent value
    that is not true or false. The error names the profile and the field, never a value.
    (A file import checks these per row and rejects just the row; this guards every other
    writer: the SDK, pulls, plugins.)"""
    from .models import CHANNELS

    names = "|".join(CHANNELS)
    pair = rf'\s*"({names})"\s*:\s*(true|false)\s*'
    consent_ok = rf"^\s*\{{({pair}(,{pair})*)?\}}\s*$"
    # One cheap pass finds the rows worth a closer look (usually none) ...
    suspect = f"""json_type(traits) <> 'OBJECT'
        OR ((contains(traits::VARCHAR, 'NaN') OR contains(traits::VARCHAR, 'Infinity'))
            AND regexp_matches(traits::VARCHAR, '{_NON_FINITE}'))
        OR NOT regexp_full_match(consent::VARCHAR, '{consent_ok}')"""
    # ... and the first of them says what is wrong with it.
    known = "[" + ", ".join(sql_str(c) for c in CHANNELS) + "]"
    unknown = f"list_filter(json_keys(consent), lambda k: NOT list_contains({known}, k))"
    row = fetch_one(
        con,
        f"""SELECT id, CASE
                WHEN json_type(traits) <> 'OBJECT' THEN 'traits: expected a JSON object'
                WHEN regexp_matches(traits::VARCHAR, '{_NON_FINITE}')
                    THEN 'traits: NaN and infinities are not JSON numbers'
                WHEN json_type(consent) <> 'OBJECT' THEN 'consent: expected a JSON object'
                WHEN len({unknown}) > 0
                    THEN 'consent: unknown channel ' || to_json({unknown}[1])::VARCHAR
                         || '; expected one of {", ".join(CHANNELS)}'
                ELSE 'consent: expected true or false for each channel'
            END AS problem
            FROM (SELECT * FROM _in WHERE {suspect} LIMIT 1)""",
    )
    if row is not None:
        field = str(row[1]).split(":", 1)[0]
        raise ValidationError(f"profile {row[0]!r}: {row[1]}", field=field)


def _check_shared_phones(con: duckdb.DuckDBPyConnection) -> None:
    """Run the full phone check on each E.164-shaped phone that would merge two profiles.

    Phones already in E.164 skip phonenumbers when extracted (a million calls would cost ~40 s).
    But a placeholder such as ``+10000000000`` is E.164-shaped, and every profile carrying it
    would merge into one. So a phone shared within the batch, or owned by another stored
    profile, is checked now; one that is not a real number is dropped (neither stored nor merged
    on), and a real one takes its canonical form.
    """
    con.execute(
        f"""UPDATE _in_ids SET value = martech_normalize_phone(value)
            WHERE kind = 'phone' AND regexp_full_match(value, '{_E164}') AND value IN (
                SELECT value FROM _in_ids WHERE kind = 'phone'
                GROUP BY value HAVING count(DISTINCT profile_id) > 1
                UNION
                SELECT n.value FROM _in_ids n JOIN identities x
                  ON x.kind = 'phone' AND x.value = n.value AND x.profile_id <> n.profile_id
                WHERE n.kind = 'phone')"""
    )
    con.execute("DELETE FROM _in_ids WHERE value IS NULL")


#: An identity value claimed by more profiles than this in one batch is a placeholder (the
#: noemail@example.com a CRM puts where an email is required), not a person: merged on, it
#: made every profile carrying it one. People who share an address (a family) stay far below.
MAX_PROFILES_PER_IDENTITY = 100


def _drop_placeholders(con: duckdb.DuckDBPyConnection, *, aliases: bool) -> int:
    """Leave out (neither store nor merge on) each identity value that more than
    :data:`MAX_PROFILES_PER_IDENTITY` profiles would share: the batch's own, plus (with
    ``aliases``: the store has merged profiles) those its stored owner has absorbed already, so
    a placeholder arriving a few rows a day stops merging once it has merged that many. Returns
    how many values were left out of profiles. A stored owner keeps its value.

    One grouping by hash finds candidates (usually none: ~0.15 s per million identities on
    two busy cores); only those are counted exactly.
    """
    most = MAX_PROFILES_PER_IDENTITY
    # Profiles each stored owner of a value the batch carries has absorbed (0 without merges).
    owned = (
        """SELECT x.kind, x.value, count(*) AS absorbed FROM identities x
           JOIN profile_aliases a ON a.profile_id = x.profile_id
           WHERE (x.kind, x.value) IN (SELECT kind, value FROM _in_ids) GROUP BY ALL"""
        if aliases
        else "SELECT NULL::VARCHAR AS kind, NULL::VARCHAR AS value, 0 AS absorbed WHERE FALSE"
    )
    candidates = f"""SELECT hash(kind, value) AS h FROM _in_ids GROUP BY h
                     HAVING count(*) > {most}"""
    if aliases:  # count(*) bounds the distinct profiles from above: a superset, checked below
        candidates += f"""
            UNION SELECT hash(n.kind, n.value) FROM _in_ids n JOIN ({owned}) o
                ON o.kind = n.kind AND o.value = n.value
            GROUP BY ALL HAVING count(*) + any_value(o.absorbed) > {most}"""
    if not fetch_scalar(con, f"SELECT count(*) FROM ({candidates})"):
        return 0
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _shared AS
            WITH c AS (SELECT kind, value, count(DISTINCT profile_id) AS k FROM _in_ids
                       WHERE hash(kind, value) IN ({candidates}) GROUP BY kind, value)
            SELECT c.kind, c.value FROM c LEFT JOIN ({owned}) o
                ON o.kind = c.kind AND o.value = c.value
            WHERE c.k + coalesce(o.absorbed, 0) > {most}"""
    )
    n = int(fetch_scalar(con, "SELECT count(*) FROM _in_ids SEMI JOIN _shared USING (kind, value)"))
    if n:
        con.execute(
            "DELETE FROM _in_ids USING _shared s "
            "WHERE _in_ids.kind = s.kind AND _in_ids.value = s.value"
        )
    con.execute("DROP TABLE _shared")
    return n


def _table_shape(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[Any], list[Any]]:
    """A table's columns (name, type, default, nullable) and constraints (type, columns)."""
    columns = con.execute(
        "SELECT column_name, data_type, column_default, is_nullable FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    constraints = con.execute(
        "SELECT constraint_type, constraint_column_names FROM duckdb_constraints() "
        "WHERE schema_name = 'main' AND table_name = ? ORDER BY ALL",
        [table],
    ).fetchall()
    return columns, constraints


def _drop_primary_key_while_empty(
    con: duckdb.DuckDBPyConnection, table: str
) -> tuple[list[Any], list[Any]] | None:
    """Recreate the empty ``table`` without its primary key, in the caller's transaction.

    A bulk load into a keyless table plus one ``ADD PRIMARY KEY`` builds the index in one go,
    cheaper than growing it row by row. Only for a table whose constraints are a primary key and
    NOT NULLs (anything else keeps its key and loads as usual). Returns the table's shape for
    :func:`_restore_primary_key`, or None when the key was left in place.
    """
    if not _adds_primary_keys() or fetch_scalar(
        con, f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)"
    ):
        return None
    columns, constraints = _table_shape(con, table)
    kinds = {c[0] for c in constraints}
    if not kinds <= {"PRIMARY KEY", "NOT NULL"} or "PRIMARY KEY" not in kinds:
        return None
    if fetch_scalar(
        con,
        "SELECT count(*) FROM duckdb_indexes() WHERE schema_name = 'main' AND table_name = ?",
        [table],
    ):
        return None  # an index of its own would go with the table
    body = ", ".join(
        f"{sql_ident(name)} {type_}"
        + (f" DEFAULT {default}" if default is not None else "")
        + ("" if nullable else " NOT NULL")
        for name, type_, default, nullable in columns
    )
    con.execute(f"DROP TABLE {table}")
    con.execute(f"CREATE TABLE {table} ({body})")
    return columns, constraints


def _adds_primary_keys() -> bool:
    """``ALTER TABLE … ADD PRIMARY KEY`` exists from DuckDB 1.2 (martech supports 1.1 too)."""
    import duckdb

    version = tuple(int(p) for p in duckdb.__version__.split(".")[:2] if p.isdigit())
    return version >= (1, 2)


def _restore_primary_key(
    con: duckdb.DuckDBPyConnection, table: str, shape: tuple[list[Any], list[Any]] | None
) -> None:
    """Add back the key :func:`_drop_primary_key_while_empty` took off; the table must come
    back exactly as it was (columns, defaults, constraints), else the transaction fails."""
    if shape is None:
        return
    columns, constraints = shape
    (key,) = [c[1] for c in constraints if c[0] == "PRIMARY KEY"]
    con.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({', '.join(map(sql_ident, key))})")
    if _table_shape(con, table) != (columns, constraints):
        raise StoreError(f"recreating {table} for a bulk load changed its schema; nothing written")


#: Rounds of label propagation allowed when resolving who is whom; each round follows identity
#: links one step further (a chain A-B-C of shared identities needs two). Far beyond any real
#: chain; a batch still changing after it is refused rather than resolved half-way.
MAX_MERGE_ROUNDS = 64


def _canonical_ids(con: duckdb.DuckDBPyConnection) -> None:
    """``_canon (incoming, id)``: the profile each id is, following shared identities as far as
    they go (connected components), within the batch and into the store.

    The nodes are the incoming ids and the stored owners of their identities; two stored
    profiles this batch shows to be one person merge too. Who survives, by rank: the profile an
    alias was merged into, or a stored owner of one of the batch's identities ('0'); another
    stored profile ('1'); a new id ('2'); within a rank, the smallest id.
    """
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _links AS
           SELECT profile_id AS id, kind, value FROM _in_ids
           UNION
           SELECT x.profile_id AS id, x.kind, x.value
           FROM identities x SEMI JOIN _in_ids n USING (kind, value)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _lab AS
           WITH owners AS (SELECT DISTINCT x.profile_id AS id
                           FROM identities x SEMI JOIN _in_ids n USING (kind, value)),
           ids AS (SELECT id FROM _in UNION SELECT id FROM owners)
           SELECT i.id, CASE
                      WHEN a.profile_id IS NOT NULL THEN '0' || a.profile_id
                      WHEN o.id IS NOT NULL THEN '0' || i.id
                      WHEN p.id IS NOT NULL THEN '1' || i.id
                      ELSE '2' || i.id END AS label
           FROM ids i
           LEFT JOIN profile_aliases a ON a.alias = i.id
           LEFT JOIN owners o ON o.id = i.id
           LEFT JOIN profiles p ON p.id = i.id"""
    )
    proposed = """SELECT k.id, min(b.label) AS label
                  FROM _links k JOIN (SELECT k.kind, k.value, min(l.label) AS label
                                      FROM _links k JOIN _lab l USING (id) GROUP BY ALL) b
                  USING (kind, value) GROUP BY ALL"""
    for _ in range(MAX_MERGE_ROUNDS):
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _moves AS SELECT p.id, p.label
                FROM ({proposed}) p JOIN _lab l USING (id) WHERE p.label < l.label"""
        )
        if not fetch_scalar(con, "SELECT count(*) FROM _moves"):
            break
        con.execute("UPDATE _lab SET label = m.label FROM _moves m WHERE _lab.id = m.id")
    else:
        raise StoreError(
            f"identities link profiles in chains longer than {MAX_MERGE_ROUNDS} steps; "
            "nothing was written (split the batch, or check for a placeholder identity)"
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _canon AS "
        "SELECT id AS incoming, substr(label, 2) AS id FROM _lab"
    )
    for table in ("_lab", "_links", "_moves"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _merge_stored(con: duckdb.DuckDBPyConnection) -> None:
    """Fold each stored profile that is merging away into the profile it is merging into,
    before its row goes: its traits fill what the surviving profile lacks (the survivor's
    values, this batch's included, win), and its consent likewise, except that an opt-out on
    either side wins: a person who said no under one address has said no.
    """
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _gone AS
           SELECT c.id, list(p.traits::VARCHAR ORDER BY p.id) AS traits,
                  list(p.consent::VARCHAR ORDER BY p.id) AS consent
           FROM _canon c JOIN profiles p ON p.id = c.incoming
           WHERE c.incoming <> c.id GROUP BY c.id"""
    )
    # Every channel any of the merging profiles (the survivor included) has opted out of.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _off AS
           WITH involved AS (
               SELECT id, unnest(consent)::JSON AS consent FROM _gone
               UNION ALL
               SELECT p.id, p.consent FROM profiles p SEMI JOIN _gone g ON g.id = p.id),
           channels AS (
               SELECT DISTINCT id, k FROM (
                   SELECT id, consent, unnest(json_keys(consent)) AS k FROM involved)
               WHERE json_extract_string(consent, '$."' || k || '"') = 'false')
           SELECT id, json_group_object(k, false) AS off FROM channels GROUP BY id"""
    )
    con.execute(
        """UPDATE profiles SET
             traits = json_merge_patch(
                 list_reduce(g.traits, lambda a, b: json_merge_patch(a, b)::VARCHAR),
                 profiles.traits),
             consent = json_merge_patch(
                 json_merge_patch(
                     list_reduce(g.consent, lambda a, b: json_merge_patch(a, b)::VARCHAR),
                     profiles.consent),
                 coalesce(o.off, '{}')),
             updated_at = now()
           FROM _gone g LEFT JOIN _off o USING (id) WHERE profiles.id = g.id"""
    )
    con.execute("DROP TABLE IF EXISTS _gone")
    con.execute("DROP TABLE IF EXISTS _off")


def append_events(
    con: duckdb.DuckDBPyConnection, table: pa.Table | str, *, first_by: str | None = None
) -> AppendCounts:
    """Append events, re-pointing aliases and skipping exact duplicates of stored events.

    ``table`` is an Arrow table, or the name of a table or view on ``con`` with the same columns.
    ``first_by``: a column of ``table`` ordering its rows; rows repeating an event (profile after
    re-pointing, type, item, ts) given earlier in that order are skipped too, and counted.
    """
    source = table if isinstance(table, str) else "_martech_ev"
    if not isinstance(table, str):
        con.register("_martech_ev", table)
    try:
        types = _column_types(con, source)
        missing = [c for c in ("profile_id", "type", "ts") if c not in types]
        if missing:
            raise ValidationError(
                f"append_events: expected columns profile_id, type, ts (and optionally item_id, "
                f"value, properties); {', '.join(missing)} missing",
                field=missing[0],
            )
        if types["ts"] != "TIMESTAMP WITH TIME ZONE":
            # A time without its zone would be read in whatever zone the session has: the same
            # event at different instants on different machines. Event and the importer refuse
            # it too.
            raise ValidationError(
                f"append_events: ts: expected timestamps with a time zone (Arrow "
                f"timestamp(unit, tz=...), DuckDB TIMESTAMPTZ), got {types['ts']}",
                field="ts",
            )
        # item_id, value and properties may be left out
        item = "e.item_id" if "item_id" in types else "NULL::VARCHAR AS item_id"
        value = "e.value" if "value" in types else "NULL::DOUBLE AS value"
        props = (
            "e.properties::JSON AS properties"
            if "properties" in types
            else "NULL::JSON AS properties"
        )
        before = int(fetch_scalar(con, "SELECT count(*) FROM events"))
        has_existing = before > 0
        has_aliases = bool(fetch_scalar(con, "SELECT count(*) FROM profile_aliases"))
        profile = "e.profile_id"
        join = ""
        if has_aliases:
            profile = "coalesce(a.profile_id, e.profile_id)"
            join = "LEFT JOIN profile_aliases a ON a.alias = e.profile_id"
        select = (
            f"SELECT {profile} AS profile_id, e.type, {item}, e.ts, {value}, {props} "
            f"FROM {source} e {join}"
        )
        repeated = 0
        if first_by is not None:
            if first_by not in types:
                raise ValidationError(
                    f"append_events: first_by: no column {first_by!r}", field=first_by
                )
            # Counted first (one hash aggregate): the window below costs twice that, and most
            # files repeat no event. Distinct hashes of the key, all different, prove there is
            # no repeat (a fifth cheaper than distinct keys); only otherwise are keys counted.
            repeated = int(
                fetch_scalar(
                    con,
                    "SELECT count(*) - count(DISTINCT hash(profile_id, type, item_id, ts)) "
                    f"FROM ({select})",
                )
            )
            if repeated:  # or two keys share a hash
                repeated = int(
                    fetch_scalar(
                        con,
                        "SELECT count(*) - count(DISTINCT (profile_id, type, item_id, ts)) "
                        f"FROM ({select})",
                    )
                )
            if repeated:
                key = f"{profile}, e.type, {item.removesuffix(' AS item_id')}, e.ts"
                select += (
                    f" QUALIFY row_number() OVER (PARTITION BY {key} "
                    f"ORDER BY e.{sql_ident(first_by)}) = 1"
                )
        if has_existing:
            # Re-importing the same file must not double anyone's history.
            select = (
                f"SELECT * FROM ({select}) n WHERE NOT EXISTS (SELECT 1 FROM events o WHERE "
                "o.profile_id = n.profile_id AND o.type = n.type AND o.ts = n.ts AND "
                "o.item_id IS NOT DISTINCT FROM n.item_id)"
            )
        con.execute(f"INSERT INTO events {select}").fetchall()
        after = int(fetch_scalar(con, "SELECT count(*) FROM events"))
    finally:
        if not isinstance(table, str):
            _unregister(con, "_martech_ev")
    return AppendCounts(inserted=after - before, repeated=repeated)
