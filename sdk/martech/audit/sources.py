"""Where probe profiles come from: the synthetic population, the store, or a file.

Probes are built from these profiles, so the tool only sees what such a population contains. A
catalogue (item -> category), when there is one, lets the audit swap items *within* a category.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ValidationError
from ..models import CHANNELS, Profile

#: Profiles drawn from any source (the audit samples its probes from these).
DEFAULT_PROFILES = 1000
#: The synthetic population's default seed (independent of the audit's --seed).
POPULATION_SEED = 7
IDENTITY_COLUMNS = ("email", "phone")


@dataclass(frozen=True)
class ProbePopulation:
    profiles: list[Profile]
    categories: dict[str, str | None]
    label: str


def synthetic(profiles: int = DEFAULT_PROFILES, seed: int = POPULATION_SEED) -> ProbePopulation:
    """The synthetic shop population (``martech generate``) as probe material."""
    from datetime import UTC, datetime

    from ..population import generate, to_profiles

    # A fixed as_of keeps the audit reproducible across days.
    pop = generate(profiles, seed, as_of=datetime(2026, 1, 1, tzinfo=UTC))
    return ProbePopulation(
        profiles=to_profiles(pop, profiles),
        categories=_categories(pop.items),
        label=f"synthetic shop population ({profiles} profiles, seed {seed})",
    )


def _categories(items: Any) -> dict[str, str | None]:
    cols = items.column_names
    if "item_id" not in cols or "category" not in cols:
        return {}
    return dict(zip(items["item_id"].to_pylist(), items["category"].to_pylist(), strict=True))


def from_store(store: Any, limit: int = DEFAULT_PROFILES, seed: int = 0) -> ProbePopulation:
    """Up to ``limit`` profiles from the store (sampled by seed), with events and catalogue."""
    from ..store import fetch_scalar

    ids = [r[0] for r in store.con.execute("SELECT id FROM profiles ORDER BY id").fetchall()]
    if not ids:
        raise ConfigError(
            "--population store: the store has no profiles (martech generate, or import)"
        )
    rng = random.Random(seed)
    chosen = ids if len(ids) <= limit else sorted(rng.sample(ids, limit))
    profiles = [p for p in (store.get_profile(i) for i in chosen) if p is not None]
    rows = store.con.execute("SELECT item_id, category FROM items").fetchall()
    total = fetch_scalar(store.con, "SELECT count(*) FROM profiles")
    return ProbePopulation(
        profiles=profiles,
        categories={r[0]: r[1] for r in rows},
        label=f"store ({len(profiles)} of {total} profiles)",
    )


def from_file(path: str | Path, limit: int = DEFAULT_PROFILES) -> ProbePopulation:
    """Profile JSON lines (martech.Profile), CSV or Parquet (one column per trait)."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"--population {p}: file not found")
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        profiles = _jsonl(p, limit)
    elif suffix == ".csv":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        # Ids and phone numbers are text, even when they look like numbers ("+4915…").
        text = {c: pa.string() for c in ("id", *IDENTITY_COLUMNS)}
        table = pacsv.read_csv(p, convert_options=pacsv.ConvertOptions(column_types=text))
        profiles = _rows(table.slice(0, limit).to_pylist(), p)
    elif suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        profiles = _rows(pq.read_table(p).slice(0, limit).to_pylist(), p)
    else:
        raise ConfigError(f"--population {p}: expected .jsonl, .csv or .parquet (or 'store')")
    if not profiles:
        raise ConfigError(f"--population {p}: no profiles in the file")
    return ProbePopulation(
        profiles=profiles, categories={}, label=f"{p.name} ({len(profiles)} profiles)"
    )


def _jsonl(p: Path, limit: int) -> list[Profile]:
    from pydantic import ValidationError as PydanticError

    out: list[Profile] = []
    with p.open() as fh:
        for n, line in enumerate(fh, 1):
            if len(out) >= limit:
                break
            if not line.strip():
                continue
            try:
                out.append(Profile.model_validate_json(line))
            except PydanticError as exc:
                err = exc.errors()[0]
                where = ".".join(str(x) for x in err["loc"])
                raise ValidationError(
                    f"--population {p}: line {n}: {where}: {err['msg']} (expected a Profile)",
                    field=where,
                ) from None
    return out


def _rows(rows: Sequence[dict[str, Any]], p: Path) -> list[Profile]:
    import orjson

    if rows and "id" not in rows[0]:
        raise ValidationError(f"--population {p}: an 'id' column is required", field="id")
    out: list[Profile] = []
    for row in rows:
        if isinstance(row.get("traits"), str):  # the store's shape: JSON text columns
            out.append(
                Profile(
                    id=str(row["id"]),
                    traits=orjson.loads(row["traits"]),
                    identities=orjson.loads(row.get("identities") or "{}"),
                )
            )
            continue
        identities = {k: str(row[k]) for k in IDENTITY_COLUMNS if row.get(k)}
        consent = {
            k.removeprefix("consent_"): bool(v)
            for k, v in row.items()
            if k.startswith("consent_") and k.removeprefix("consent_") in CHANNELS and v is not None
        }
        traits = {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in row.items()
            if k not in ("id", *IDENTITY_COLUMNS) and not k.startswith("consent") and v is not None
        }
        out.append(
            Profile(id=str(row["id"]), identities=identities, traits=traits, consent=consent)
        )
    return out


def resolve(source: Any, *, seed: int = 0) -> ProbePopulation:
    """None (synthetic), 'store', a path, a ProbePopulation, a martech Population, or Profiles."""
    if source is None:
        return synthetic()
    if isinstance(source, ProbePopulation):
        return source
    if isinstance(source, str) and source == "store":
        from ..cli.app import open_store

        store = open_store(read_only=True)
        try:
            return from_store(store, seed=seed)
        finally:
            store.close()
    if isinstance(source, str | Path):
        return from_file(source)
    if hasattr(source, "profiles") and hasattr(source, "items") and hasattr(source, "events"):
        from ..population import to_profiles

        n = min(DEFAULT_PROFILES, source.profiles.num_rows)
        return ProbePopulation(to_profiles(source, n), _categories(source.items), "population")
    profiles = list(source)
    if not all(isinstance(p, Profile) for p in profiles):
        raise ConfigError("population: expected martech.Profile objects")
    return ProbePopulation(profiles, {}, f"{len(profiles)} given profiles")
