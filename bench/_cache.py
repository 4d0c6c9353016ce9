"""Bench stores built once and kept in ``bench/.data/`` (git-ignored), shared by the bench scripts.

A store is complete only once its ``.ok`` marker is written, so an interrupted build is redone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / ".data"


def timed(label: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn``, print how long ``label`` took, return its result."""
    started = time.perf_counter()
    result = fn()
    print(f"{label} in {time.perf_counter() - started:.1f} s")
    return result


def cached_store(
    name: str, profiles: int, *, seed: int, as_of: datetime, prepare: Callable[[Any], None]
) -> Path:
    """``DATA/<name>.duckdb``: the synthetic population written to a store, then ``prepare(store)``
    (traits, neighbours, hold-outs…). Built on first use, reused after."""
    from martech.population import generate, write_store
    from martech.store import Store

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"{name}.duckdb"
    done = path.with_suffix(".ok")
    if path.exists() and done.exists():
        return path
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    population = generate(profiles, seed=seed, as_of=as_of)
    print(f"generated {population.summary()} in {time.perf_counter() - started:.1f} s")
    with Store(path) as store:
        started = time.perf_counter()
        write_store(store, population)
        print(f"wrote the store in {time.perf_counter() - started:.1f} s")
        del population  # the store holds it now; free the memory before prepare()
        prepare(store)
        store.con.execute("CHECKPOINT")
    done.write_text("ok\n")
    return path
