"""Batch decisions: a whole segment decided set-based in DuckDB, stored in ``decisions``.

The same chain as :func:`~martech.personalize.decide` — personalization -> micro-segment ->
segment -> default, bucketing, holdout, consent — but each rule runs once as SQL over everyone in
scope (``Strategy.sql``), the best rule per person is picked with a window function, and content
is rendered with SQL string functions. No Python loop over people: a million profiles is a handful
of queries. Decisions are stored with ``decided_at = context.now``; deciding a placement again for
the same people replaces their earlier rows, so lift never counts a person twice.

Differences from the single-profile path, by design: batch reads the *full* event history from the
store (``Store.get_profile`` loads the latest 200 events), reads ``items`` / ``item_neighbours``
from the store rather than the context, and its reasons omit the per-level "skipped because" notes.
A personalization decision's first reason is the strategy's SQL summary (``personalization:
browse abandonment: 3 item(s) viewed and not bought``), not decide's per-person detail (which
item, how long ago); the variant, level, items, content (``{{reason}}`` is the strategy's caption,
the same in both), segment keys and holdout reason are the same
(``tests/personalize/test_batch_property.py``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .._sql import sql_json_path, sql_str
from ..errors import ConfigError
from ..models import (
    DecisionLevel,
    RecommendationVariant,
    RuleSegment,
    Segment,
    StaticVariant,
    TemplateVariant,
)
from .bucketing import bucket_sql, holdout_threshold, share_text
from .decide import DecideContext, referenced_traits
from .placements import compile_template
from .strategies import sql_in

if TYPE_CHECKING:
    from ..models import AnyVariant
    from ..store import Store

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BatchSummary:
    """What a batch decided: counts by level and tactic, holdout and suppressed, time taken."""

    placement: str
    scope: int
    decided: int
    suppressed: int
    holdout: int
    by_level: dict[str, int] = field(default_factory=dict)
    by_tactic: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: ids asked for that no stored profile has (not decided, not counted as suppressed)
    unknown: int = 0


class _Sql:
    def __init__(self, now: datetime, traits: list[str]) -> None:
        self.now = now
        self.slots: int | None = None
        self._cols = {name: f"t{i}" for i, name in enumerate(traits)}

    def ts(self, value: datetime) -> str:
        return f"TIMESTAMPTZ '{value.isoformat()}'"

    def col(self, trait: str) -> str:
        return self._cols[trait]


def decide_batch(
    store: Store,
    placement: str,
    *,
    context: DecideContext,
    segment: str | Segment | None = None,
    profile_ids: Iterable[str] | None = None,
    write: bool = True,
    progress: Progress | None = None,
) -> BatchSummary:
    """Decide ``placement`` for everyone in ``segment`` (a key: context memberships or latest
    snapshot; or a Segment definition, evaluated), or ``profile_ids``, or all profiles."""
    import pyarrow as pa

    started = time.perf_counter()
    pl = context.placement(placement)
    steps = context.chain(pl.key)
    con = store.con
    traits = sorted(referenced_traits({pl.key: pl}))
    env = _Sql(context.now, traits)
    total = len(steps) + 4
    tick = progress or (lambda _label, _done, _total: None)

    # --- scope: who is decided
    tick("scope", 0, total)
    if profile_ids is not None:
        con.register(
            "_scope_in", pa.table({"profile_id": pa.array(sorted(set(profile_ids)), pa.string())})
        )
        scope_sql = "SELECT profile_id FROM _scope_in"
    elif isinstance(segment, RuleSegment):
        from ..segments import compile_sql

        scope_sql = compile_sql(segment, as_of=context.now)
    elif isinstance(segment, str):
        members = context.memberships.get(segment)
        if members is None:
            from .decide import load_memberships

            members = load_memberships(store, [segment])[segment]
        con.register("_scope_in", pa.table({"profile_id": pa.array(sorted(members), pa.string())}))
        scope_sql = "SELECT profile_id FROM _scope_in"
    else:
        scope_sql = "SELECT id AS profile_id FROM profiles"
    # _scope_all: everyone asked for (their earlier decisions are replaced); _scope: those with
    # the placement's consent, the only people decided (the others are suppressed, as in decide)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _scope_all AS SELECT DISTINCT profile_id FROM ({scope_sql})"
    )
    _drop_registered(con)
    consent = pl.consent_key
    consent_sql = (
        f"json_extract_string(p.consent, {sql_json_path(consent)}) = 'true'" if consent else "TRUE"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _scope AS SELECT a.profile_id, "
        "(row_number() OVER ())::INTEGER AS pid "
        f"FROM _scope_all a JOIN profiles p ON p.id = a.profile_id WHERE {consent_sql}"
    )
    now = env.ts(context.now)

    # --- shared inputs (behaviour only when a personalization step reads it)
    tick("behaviour", 1, total)
    if any(s.level is DecisionLevel.personalization for s in steps):
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _beh AS
            SELECT e.profile_id, s.pid, e.type, e.item_id, e.ts
            FROM events e JOIN _scope s USING (profile_id)
            WHERE e.type IN ('view', 'add_to_cart', 'purchase') AND e.ts <= {now}"""
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _nbeh AS "
            "SELECT any_value(profile_id) AS profile_id, pid, count(*) AS n FROM _beh GROUP BY pid"
        )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _nb AS "
        "SELECT item_id, neighbour_id, score, rank FROM item_neighbours"
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _cat AS SELECT item_id, name, category, price FROM items"
    )
    # Trait columns: computed traits (pivoted in one pass over computed_traits) over stored ones
    # (each profile's traits JSON parsed once for all the paths).
    cols = ["s.profile_id"]
    pivot = ["profile_id"]
    for i, name in enumerate(traits):
        pivot.append(f"any_value(value) FILTER (WHERE name = {sql_str(name)}) AS c{i}")
        cols.append(f"coalesce(json_extract_string(c.c{i}, '$'), s.j[{i + 1}]) AS t{i}")
    paths = ", ".join(sql_json_path(name) for name in traits)
    parsed = f"json_extract_string(p.traits, [{paths}])" if traits else "NULL"
    computed_join = (
        f"""LEFT JOIN (SELECT {", ".join(pivot)} FROM computed_traits
            WHERE name IN {sql_in(traits)} GROUP BY profile_id) c
            ON c.profile_id = s.profile_id"""
        if traits
        else ""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _tw AS SELECT {", ".join(cols)}
        FROM (SELECT s.profile_id, {parsed} AS j
              FROM _scope s JOIN profiles p ON p.id = s.profile_id) s {computed_join}"""
    )
    seg_keys = sorted({r.segment for r in pl.rules if r.segment})
    keys: list[str] = []
    ids: list[str] = []
    for key in seg_keys:
        members = context.memberships.get(key, frozenset())
        keys.extend([key] * len(members))
        ids.extend(members)
    con.register(
        "_members_in",
        pa.table(
            {"segment_key": pa.array(keys, pa.string()), "profile_id": pa.array(ids, pa.string())}
        ),
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _members AS "
        "SELECT m.* FROM _members_in m JOIN _scope USING (profile_id)"
    )
    _drop_registered(con)

    # --- one query per rule, most specific level first
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _cand (rk INTEGER, profile_id VARCHAR, items VARCHAR[], "
        "reason VARCHAR, caption VARCHAR)"
    )
    for rk, step in enumerate(steps):
        tick(f"{step.level.value}: {step.strategy.name}", 2 + rk, total)
        variant = step.variant
        env.slots = variant.slots if isinstance(variant, RecommendationVariant) else None
        sql = step.strategy.sql(step.rule, step.params, env)
        if env.slots is None:  # as decide(): a variant that shows no items records none
            sql = f"SELECT profile_id, []::VARCHAR[] AS items, reason, caption FROM ({sql}) q"
        elif step.strategy.sql_keeps_slots:  # already catalogue items only, at most slots
            sql = f"SELECT profile_id, items, reason, caption FROM ({sql}) q WHERE len(items) > 0"
        else:  # a plugin's full ranked lists: drop non-catalogue items, keep the slots
            sql = f"""SELECT profile_id,
                    list(item_id ORDER BY ord)[1:{env.slots}] AS items,
                    any_value(reason) AS reason, any_value(caption) AS caption
                FROM (SELECT profile_id, reason, caption, unnest(items) AS item_id,
                             generate_subscripts(items, 1) AS ord FROM ({sql}) q) u
                SEMI JOIN _cat USING (item_id) GROUP BY profile_id"""
        con.execute(
            f"INSERT INTO _cand SELECT {rk}, profile_id, items, reason, caption FROM ({sql}) x"
        )

    # --- pick, bucket, hold out, render
    tick("assemble", 2 + len(steps), total)
    default = pl.variant(pl.default or "")
    con.register(
        "_steps_in",
        pa.table(
            {
                "rk": pa.array(list(range(len(steps))), pa.int32()),
                "variant_id": [s.variant.id for s in steps],
                "level": [s.level.value for s in steps],
                "tactic": [s.strategy.name for s in steps],
                "trait": pa.array([s.rule.trait for s in steps], pa.string()),
            }
        ),
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _steps AS SELECT * FROM _steps_in")
    _drop_registered(con)
    threshold = holdout_threshold(pl.holdout)
    seed_note = sql_str(f" of {pl.seed!r}")
    trait_col = (
        "CASE st.trait "
        + " ".join(
            f"WHEN {sql_str(t)} THEN w.{env.col(t)}"
            for t in {s.rule.trait for s in steps if s.rule.trait}
        )
        + " END"
        if any(s.rule.trait for s in steps)
        else "NULL"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _dec AS
        WITH best AS (SELECT *
            FROM _cand QUALIFY row_number() OVER (PARTITION BY profile_id ORDER BY rk) = 1),
        base AS (
            SELECT s.profile_id, {bucket_sql("s.profile_id", pl.seed)} AS bucket, b.items, b.reason,
                   b.caption, st.variant_id AS rvar, st.level AS rlevel, st.tactic AS rtactic,
                   CASE WHEN st.trait IS NOT NULL THEN st.trait || '='
                       || {trait_col} END AS trait_key
            FROM _scope s
            LEFT JOIN best b ON b.profile_id = s.profile_id
            LEFT JOIN _steps st ON st.rk = b.rk
            LEFT JOIN _tw w ON w.profile_id = s.profile_id),
        segs AS (SELECT profile_id, list(segment_key ORDER BY segment_key) AS keys
            FROM _members GROUP BY ALL)
        SELECT base.profile_id, base.bucket, base.bucket < {threshold} AS holdout,
               CASE WHEN base.bucket < {threshold} OR rvar IS NULL
                   THEN {sql_str(default.id)} ELSE rvar END AS variant_id,
               CASE WHEN base.bucket < {threshold} OR rvar IS NULL
                   THEN 'default' ELSE rlevel END AS level,
               coalesce(rtactic, 'default') AS tactic,
               CASE WHEN base.bucket < {threshold} THEN []::VARCHAR[] ELSE coalesce(items,
                   []::VARCHAR[]) END AS items,
               caption,
               list_concat(coalesce(segs.keys, []::VARCHAR[]),
                           CASE WHEN trait_key IS NULL
                               THEN []::VARCHAR[] ELSE [trait_key] END) AS segment_keys,
               CASE WHEN base.bucket < {threshold}
                    THEN ['holdout: bucket ' || base.bucket || {seed_note}
                        || ' < {threshold} ({share_text(pl.holdout)} holdout) gets the default; '
                          || 'would have shown '
                          || coalesce(rvar || ' (' || rtactic || ')', 'the default too')]
                    WHEN rvar IS NULL THEN ['default: no rule matched', 'bucket '
                        || base.bucket || {seed_note}]
                    ELSE [rlevel || ': ' || reason, 'bucket ' || base.bucket
                        || {seed_note}] END AS reasons
        FROM base LEFT JOIN segs USING (profile_id)"""
    )
    # A view: the INSERT below computes content once, straight into ``decisions``.
    content = " ".join(f"WHEN {sql_str(v.id)} THEN {_content_sql(v, env)}" for v in pl.variants)
    names = (
        """SELECT profile_id, string_agg(coalesce(nullif(k.name, ''), u.item_id),
                ', ' ORDER BY ord) AS names
            FROM (SELECT profile_id, unnest(items) AS item_id, generate_subscripts(items,
                1) AS ord FROM _dec) u
            LEFT JOIN _cat k USING (item_id) GROUP BY ALL"""
        if any(isinstance(v, RecommendationVariant) for v in pl.variants)
        else "SELECT NULL::VARCHAR AS profile_id, NULL::VARCHAR AS names WHERE FALSE"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW _final AS
        WITH names AS ({names})
        SELECT d.profile_id, {sql_str(pl.key)} AS placement, d.variant_id, d.level, d.bucket,
            d.holdout,
               d.segment_keys, d.reasons, CASE d.variant_id {content} END AS content,
               {now} AS decided_at, d.tactic, {sql_str(pl.seed)} AS experiment, d.items
        FROM _dec d LEFT JOIN names n USING (profile_id) LEFT JOIN _tw w USING (profile_id)"""
    )
    scope_n = int(con.execute("SELECT count(*) FROM _scope_all").fetchall()[0][0])
    unknown = 0
    if profile_ids is not None or isinstance(segment, str):
        # Ids given, or a stored membership, may name profiles the store no longer has (all
        # profiles, or a rule evaluated now, cannot): counted apart from the suppressed.
        unknown = int(
            con.execute(
                "SELECT count(*) FROM _scope_all a "
                "WHERE NOT EXISTS (SELECT 1 FROM profiles p WHERE p.id = a.profile_id)"
            ).fetchall()[0][0]
        )
    if write:
        tick("store", 3 + len(steps), total)
        with store.transaction():
            con.execute(
                "DELETE FROM decisions WHERE placement = ? "
                "AND profile_id IN (SELECT profile_id FROM _scope_all)",
                [pl.key],
            )
            con.execute(
                "INSERT INTO decisions (profile_id, placement, variant_id, level, bucket, holdout, "
                "segment_keys, reasons, content, decided_at, tactic, experiment, items) "
                "SELECT * FROM _final"
            )
    # _final is one row per _dec row: count from _dec rather than re-render the content
    by_level = dict(
        con.execute("SELECT level, count(*) FROM _dec GROUP BY ALL ORDER BY ALL").fetchall()
    )
    by_tactic = dict(
        con.execute(
            "SELECT tactic, count(*) FROM _dec WHERE NOT holdout GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    )
    holdout = int(con.execute("SELECT count(*) FROM _dec WHERE holdout").fetchall()[0][0])
    decided = sum(by_level.values())
    tick("done", total, total)
    return BatchSummary(
        placement=pl.key,
        scope=scope_n,
        decided=decided,
        suppressed=scope_n - decided - unknown,
        unknown=unknown,
        holdout=holdout,
        by_level=by_level,
        by_tactic=by_tactic,
        seconds=time.perf_counter() - started,
    )


def batch_frame(store: Store) -> list[tuple[object, ...]]:
    """The rows of the last batch (profile_id, variant_id, level, bucket, holdout, content, items,
    tactic), for tests and ``--json``."""
    return store.con.execute(
        "SELECT profile_id, variant_id, level, bucket, holdout, content, items, tactic "
        "FROM _final ORDER BY profile_id"
    ).fetchall()


def _content_sql(variant: AnyVariant, env: _Sql) -> str:
    if isinstance(variant, StaticVariant):
        return sql_str(variant.content)
    parts: list[str] = []
    for literal, token in compile_template(variant.template):
        if literal:
            parts.append(sql_str(literal))
        if token is None:
            continue
        if isinstance(variant, TemplateVariant):
            parts.append(
                f"coalesce(nullif(w.{env.col(token)}, ''), "
                f"{sql_str(variant.defaults.get(token, ''))})"
            )
        elif token == "items":
            parts.append("coalesce(n.names, '')")
        elif token == "reason":
            parts.append("coalesce(d.caption, '')")
        else:  # refused at load time; kept explicit
            raise ConfigError(f"variant {variant.id!r}: unknown token {token!r}")
    return " || ".join(parts) if parts else "''"


def _drop_registered(con: object) -> None:
    import duckdb

    assert isinstance(con, duckdb.DuckDBPyConnection)
    for name in ("_scope_in", "_members_in", "_steps_in"):
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)
