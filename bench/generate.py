"""Synthetic population speed: profiles/s and events/s of ``martech generate``.

Baseline measured in the same run: DuckDB storing the generated Arrow tables as plain tables
(``CREATE TABLE … AS SELECT * FROM arrow``), i.e. the cost of merely keeping that much data.
Also times ``write_store`` (the real store: identities, indexes) and ``write_files`` (Parquet).

    .venv/bin/python bench/generate.py --profiles 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import duckdb

    from martech.population import generate, write_files, write_store
    from martech.store import Store

    t = time.perf_counter()
    pop = generate(args.profiles, args.seed, as_of=datetime(2026, 1, 1, tzinfo=UTC))
    gen = time.perf_counter() - t
    n_p, n_e = pop.profiles.num_rows, pop.events.num_rows

    with tempfile.TemporaryDirectory(prefix="martech-bench-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        con = duckdb.connect(str(work / "floor.duckdb"))
        for name in ("profiles", "events", "items"):
            con.register("t", getattr(pop, name))
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM t")
            con.unregister("t")
        con.close()
        floor = time.perf_counter() - t

        t = time.perf_counter()
        with Store(work / "store.duckdb") as store:
            write_store(store, pop)
        store_s = time.perf_counter() - t

        t = time.perf_counter()
        write_files(pop, work / "files", "parquet")
        files_s = time.perf_counter() - t

    print(f"rows: {n_p:,} profiles, {n_e:,} events ({n_e / max(n_p, 1):.1f} per profile)")
    print(f"generate: {gen:6.2f}s  {n_p / gen:,.0f} profiles/s  {n_e / gen:,.0f} events/s")
    print(f"baseline (DuckDB CTAS of the tables): {floor:6.2f}s")
    print(f"generate / baseline:   {gen / floor:.2f}x")
    print(f"write_store:           {store_s:6.2f}s  ({store_s / floor:.2f}x baseline)")
    print(f"write_files (parquet): {files_s:6.2f}s")
    print(f"generate + write_store (martech generate): {gen + store_s:.2f}s")


if __name__ == "__main__":
    main()
