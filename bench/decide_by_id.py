"""Bench: ``decide(profile_id)`` against a store, nothing preloaded — what ``martech decide ID``
and a web request handler do: read the profile and its latest events, then its computed traits.

    .venv/bin/python bench/decide_by_id.py bench/.data/personalize-1000000-2026-20000.duckdb

Give it a store built by ``bench/personalize.py`` (or any store with computed traits); it opens
the store for writing (a store from an older schema is migrated first, timed separately) and
prints the median and p99 latency per shipped placement over ``--sample`` random profiles.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--sample", type=int, default=200)
    args = parser.parse_args()

    from martech.personalize.decide import DecideContext, decide
    from martech.store import Store

    t0 = time.perf_counter()
    with Store(args.store) as store:
        print(f"open (incl. any migration) {time.perf_counter() - t0:.2f}s; schema "
              f"{store.schema_version}; profiles {store.count('profiles'):,}")  # fmt: skip
        ctx = DecideContext.from_store(store)
        ids = [
            r[0]
            for r in store.con.execute(
                f"SELECT id FROM profiles USING SAMPLE {int(args.sample)} (reservoir, 7)"
            ).fetchall()
        ]
        for placement in ("home_hero", "email_hero", "recs_email"):
            times = []
            for pid in ids:
                t = time.perf_counter()
                decide(pid, placement, context=ctx)
                times.append(time.perf_counter() - t)
            times.sort()
            p50, p99 = times[len(times) // 2], times[max(0, int(len(times) * 0.99) - 1)]
            print(f"decide(profile_id, {placement!r}): median {p50 * 1000:.2f} ms, "
                  f"p99 {p99 * 1000:.2f} ms over {len(ids)} profiles")  # fmt: skip


if __name__ == "__main__":
    main()
