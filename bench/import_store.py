"""Import profiles + events from Parquet into the store, against DuckDB reading the same files.

The floor is DuckDB doing nothing but ``CREATE TABLE … AS SELECT * FROM read_parquet(…)`` for both
files into a fresh database file. Ours is ``martech import profiles`` + ``martech import events``
(mapping, validation, identity resolution, reject bookkeeping, upsert) into a fresh store.

    .venv/bin/python bench/import_store.py --profiles 1000000      # ~10M events
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    args = parser.parse_args()

    import duckdb

    from martech.population import generate, write_files
    from martech.store import Store
    from martech_plugins.files.importer import import_file

    work = args.dir or Path(tempfile.mkdtemp(prefix="martech-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    files = work / f"files-{args.profiles}-{args.seed}"
    if not (files / "events.parquet").exists():
        t = time.perf_counter()
        pop = generate(args.profiles, args.seed, as_of=datetime(2026, 1, 1, tzinfo=UTC))
        write_files(pop, files, "parquet")
        print(f"prepared {files} in {time.perf_counter() - t:.1f}s (not timed below)")
        del pop
    profiles, events = files / "profiles.parquet", files / "events.parquet"

    floor_db = work / "floor.duckdb"
    floor_db.unlink(missing_ok=True)
    t = time.perf_counter()
    con = duckdb.connect(str(floor_db))
    con.execute(f"CREATE TABLE profiles AS SELECT * FROM read_parquet('{profiles}')")
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{events}')")
    n_profiles = con.execute("SELECT count(*) FROM profiles").fetchall()[0][0]
    n_events = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    con.close()
    floor = time.perf_counter() - t

    store_db = work / "store.duckdb"
    store_db.unlink(missing_ok=True)
    t = time.perf_counter()
    with Store(store_db) as store:
        tp = time.perf_counter()
        ps = import_file(store, "profiles", profiles)
        tp = time.perf_counter() - tp
        te = time.perf_counter()
        es = import_file(store, "events", events)
        te = time.perf_counter() - te
    ours = time.perf_counter() - t
    if (ps.imported, es.imported) != (n_profiles, n_events):
        raise SystemExit(f"import lost rows: {ps} {es}")

    print(f"rows: {n_profiles:,} profiles, {n_events:,} events")
    print(f"floor (DuckDB CREATE TABLE AS read_parquet): {floor:6.2f}s")
    print(f"martech import (profiles {tp:.2f}s + events {te:.2f}s): {ours:6.2f}s")
    print(f"ratio ours/floor: {ours / floor:.2f}x  (goal: <= 2x)")
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
