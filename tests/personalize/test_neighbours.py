from __future__ import annotations

from datetime import timedelta

import pyarrow as pa

from martech.personalize.neighbours import load_neighbours, refresh_neighbours
from martech.population import generate, write_store
from martech.store import Store

from .conftest import AS_OF


def _pairs(store: Store) -> list[tuple]:
    return store.con.execute("SELECT * FROM item_pairs ORDER BY ALL").fetchall()


def test_incremental_refresh_equals_a_full_rebuild(martech_store: Store) -> None:
    pop = generate(400, seed=5, as_of=AS_OF)
    write_store(martech_store, pop)
    first = refresh_neighbours(martech_store)
    assert first.full
    assert first.pairs > 0
    # new behaviour after the watermark: one known person views two new items, a new person too
    new = pa.table(
        {
            "profile_id": ["p0000001", "p0000001", "p0000002", "p0000002"],
            "type": ["view", "purchase", "view", "view"],
            "item_id": ["SKU-00001", "SKU-00002", "SKU-00003", "SKU-00001"],
            "ts": pa.array(
                [AS_OF + timedelta(hours=h) for h in (1, 2, 3, 4)], pa.timestamp("us", tz="UTC")
            ),
            "value": pa.array([None, 30.0, None, None], pa.float64()),
            "properties": pa.array([None] * 4, pa.string()),
        }
    )
    martech_store.append_events(new)
    inc = refresh_neighbours(martech_store)
    assert not inc.full
    assert inc.profiles == 2
    incremental = _pairs(martech_store)
    refresh_neighbours(martech_store, full=True)
    assert incremental == _pairs(martech_store)
    again = refresh_neighbours(martech_store)
    assert again.profiles == 0
    assert _pairs(martech_store) == incremental


def test_neighbours_are_ranked_by_count_then_item_id(martech_store: Store) -> None:
    write_store(martech_store, generate(300, seed=2, as_of=AS_OF))
    refresh_neighbours(martech_store, top_n=5)
    nb = load_neighbours(martech_store)
    assert nb
    assert all(len(v) <= 5 for v in nb.values())
    for lst in nb.values():
        keys = [(-s, i) for i, s in lst]
        assert keys == sorted(keys)
