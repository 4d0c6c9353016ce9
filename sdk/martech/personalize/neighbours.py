"""Item-to-item co-occurrence, computed in SQL on the store and refreshed incrementally.

Two items co-occur when the same person viewed, carted or bought both. ``item_pairs`` holds, for
each ordered pair, the number of people who interacted with both; ``item_neighbours`` keeps the top
``top_n`` per item (ties broken by item id, so the order is deterministic). Counts are integers, so
the Python and SQL paths of a recommender sum scores exactly and agree on ties.

Incremental refresh: only people with behaviour newer than the last refresh (a watermark kept in
``checkpoints``) are re-read; the pairs their new items create are added to the counts. A person's
item set only grows, so adding the new pairs is exact. Events that arrive with a timestamp *older*
than the watermark are not seen by an incremental refresh; ``refresh_neighbours(full=True)``
rebuilds from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..store import fetch_scalar

if TYPE_CHECKING:
    from ..store import Store

BEHAVIOUR = ("view", "add_to_cart", "purchase")
_CHECKPOINT = "personalize:item_pairs"
_BEH_SQL = "type IN ('view', 'add_to_cart', 'purchase') AND item_id IS NOT NULL"


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh did: full or incremental, people re-read, pairs now stored."""

    full: bool
    profiles: int
    pairs: int
    neighbours: int


def refresh_neighbours(store: Store, *, top_n: int = 20, full: bool = False) -> RefreshResult:
    """Bring ``item_pairs`` and ``item_neighbours`` up to date with the events in the store."""
    con = store.con
    watermark = fetch_scalar(con, "SELECT cursor FROM checkpoints WHERE source = ?", [_CHECKPOINT])
    latest = fetch_scalar(con, f"SELECT max(ts)::VARCHAR FROM events WHERE {_BEH_SQL}")
    full = full or watermark is None
    with store.transaction():
        if full:
            con.execute("DELETE FROM item_pairs")
            con.execute(
                f"""INSERT INTO item_pairs
                WITH pi AS (SELECT DISTINCT profile_id, item_id FROM events WHERE {_BEH_SQL})
                SELECT a.item_id, b.item_id, count(*) FROM pi a
                JOIN pi b ON a.profile_id = b.profile_id AND a.item_id <> b.item_id
                GROUP BY ALL"""
            )
            profiles = int(
                fetch_scalar(con, f"SELECT count(DISTINCT profile_id) FROM events WHERE {_BEH_SQL}")
                or 0
            )
        else:
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _nb_affected AS
                SELECT DISTINCT profile_id FROM events WHERE {_BEH_SQL} AND ts > ?::TIMESTAMPTZ""",
                [watermark],
            )
            profiles = int(fetch_scalar(con, "SELECT count(*) FROM _nb_affected") or 0)
            if profiles:
                con.execute(
                    f"""INSERT INTO item_pairs
                    WITH new_pi AS (
                        SELECT DISTINCT e.profile_id, e.item_id FROM events e
                        JOIN _nb_affected USING (profile_id) WHERE {_BEH_SQL}),
                    old_pi AS (
                        SELECT DISTINCT e.profile_id, e.item_id FROM events e
                        JOIN _nb_affected USING (profile_id)
                        WHERE {_BEH_SQL} AND e.ts <= ?::TIMESTAMPTZ),
                    new_pairs AS (
                        SELECT a.profile_id, a.item_id AS item_a, b.item_id AS item_b
                        FROM new_pi a JOIN new_pi b
                        ON a.profile_id = b.profile_id AND a.item_id <> b.item_id),
                    old_pairs AS (
                        SELECT a.profile_id, a.item_id AS item_a, b.item_id AS item_b
                        FROM old_pi a JOIN old_pi b
                        ON a.profile_id = b.profile_id AND a.item_id <> b.item_id),
                    delta AS (SELECT * FROM new_pairs EXCEPT SELECT * FROM old_pairs)
                    SELECT item_a, item_b, count(*) FROM delta GROUP BY ALL
                    ON CONFLICT (item_a, item_b) DO UPDATE SET n = item_pairs.n + excluded.n""",
                    [watermark],
                )
            con.execute("DROP TABLE IF EXISTS _nb_affected")
        con.execute("DELETE FROM item_neighbours")
        con.execute(
            """INSERT INTO item_neighbours
            SELECT item_a, item_b, n, rk FROM (
                SELECT item_a, item_b, n,
                       row_number() OVER (PARTITION BY item_a ORDER BY n DESC, item_b) AS rk
                FROM item_pairs) WHERE rk <= ?""",
            [top_n],
        )
        if latest is not None:
            con.execute(
                "INSERT OR REPLACE INTO checkpoints (source, cursor, updated_at) "
                "VALUES (?, ?, now())",
                [_CHECKPOINT, latest],
            )
    return RefreshResult(
        full=full,
        profiles=profiles,
        pairs=store.count("item_pairs"),
        neighbours=store.count("item_neighbours"),
    )


def load_neighbours(store: Store) -> dict[str, tuple[tuple[str, int], ...]]:
    """``item_neighbours`` as item -> ((neighbour, score), …) best first."""
    rows = store.con.execute(
        "SELECT item_id, list(struct_pack(n := neighbour_id, s := score) ORDER BY rank) "
        "FROM item_neighbours GROUP BY item_id"
    ).fetchall()
    return {item: tuple((d["n"], int(d["s"])) for d in lst) for item, lst in rows}
