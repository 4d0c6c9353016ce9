"""``martech generate``: a synthetic shop population, into the store or into files."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from ..errors import ConfigError
from .app import (
    console,
    err_console,
    interactive,
    open_store,
    parse_as_of,
    plural,
    print_json,
)


def _parse_as_of(value: str | None) -> datetime | None:
    return parse_as_of(value)


def _check_out(out: Path) -> None:
    """--out is a folder (made if missing): refuse a file, or a path under one, before any work."""
    for folder in (out, *out.parents):
        if folder.exists():
            if folder == out and not folder.is_dir():
                raise ConfigError(
                    f"--out {out} is a file; give a folder: generate writes profiles, events "
                    "and items files into it"
                )
            if not folder.is_dir():
                raise ConfigError(f"--out {out}: {folder} is a file, so it cannot hold a folder")
            return


def _check_no_other_people(store: Any, population: Any) -> None:
    """Refuse to write a synthetic shop over different people under the same ids.

    The generator reuses p0000001, … for other people when the seed, the day (--as-of) or the
    size changes; upserting them would merge strangers who share an id, an email or a phone into
    one profile. Re-running the same shop finds every identity already on its own profile.
    """
    from ..store import fetch_scalar

    if not fetch_scalar(store.con, "SELECT count(*) FROM profiles"):
        return
    store.con.register("_martech_generated", population.profiles.select(["id", "identities"]))
    try:
        clash = fetch_scalar(
            store.con,
            """
            WITH gen AS (
                SELECT COALESCE(a.profile_id, g.id) AS id, k.kind,
                       json_extract_string(g.identities, '$.' || k.kind) AS value
                FROM _martech_generated AS g
                CROSS JOIN (VALUES ('email'), ('phone')) AS k(kind)
                LEFT JOIN profile_aliases AS a ON a.alias = g.id
            )
            SELECT min(gen.id) FROM gen
            LEFT JOIN identities AS i ON i.kind = gen.kind AND i.value = gen.value
            WHERE gen.value IS NOT NULL AND (
                i.profile_id <> gen.id
                OR (i.profile_id IS NULL AND gen.id IN (SELECT id FROM profiles))
            )
            """,
        )
    finally:
        store.con.unregister("_martech_generated")
    if clash is not None:
        raise ConfigError(
            f"{store.path}: profile {clash} and others there are not this shop's people (another "
            "--seed, --as-of or --profiles made them, or an import); writing over them would "
            "merge different people into one profile. Use another --home (or MARTECH_HOME) or "
            "delete that store; re-running the same --seed, --as-of and --profiles is harmless"
        )


def generate(
    profiles: int = typer.Option(10_000, "--profiles", "-n", min=0, help="How many people."),
    seed: int = typer.Option(7, "--seed", help="Random seed; the same seed gives the same data."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Generate as if today were DATE (UTC). Default: today 00:00 UTC."
    ),
    items: int = typer.Option(500, "--items", min=40, help="Catalogue size."),
    out: Path | None = typer.Option(
        None, "--out", help="Write files to this folder instead of the store."
    ),
    file_format: str = typer.Option("parquet", "--format", help="File format: parquet or jsonl."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary, nothing else."),
) -> None:
    """Generate a deterministic synthetic shop population (profiles, items, events)."""
    from ..population import generate as make
    from ..population import write_files, write_store

    if file_format not in ("parquet", "jsonl"):
        raise ConfigError(f"--format: expected parquet or jsonl, got {file_format!r}")
    when = _parse_as_of(as_of)
    if out is not None:
        _check_out(out)
    show = interactive() and not as_json
    timings: dict[str, float] = {}
    result: dict[str, Any] = {}

    def step(label: str, fn: Any) -> Any:
        t = time.perf_counter()
        if show:
            with err_console.status(label):
                value = fn()
        else:
            value = fn()
        timings[label] = round(time.perf_counter() - t, 3)
        return value

    population = step("generating", lambda: make(profiles, seed, as_of=when, items=items))
    result.update(population.summary())
    if out is not None:
        paths = step("writing files", lambda: write_files(population, out, file_format))  # type: ignore[arg-type]
        result["files"] = {k: str(v) for k, v in paths.items()}
    else:

        def to_store() -> dict[str, int]:
            with open_store(create=True) as store:
                _check_no_other_people(store, population)
                return write_store(store, population)

        result["store"] = step("writing the store", to_store)
    result["seconds"] = timings
    if as_json:
        print_json(result)
        return
    total = sum(timings.values())
    console.print(
        f"generated {plural(result['profiles'], 'profile')}, "
        f"{plural(result['events'], 'event')}, {plural(result['items'], 'item')} "
        f"(seed {seed}, as of {population.as_of:%Y-%m-%d}) "
        f"in {total:.1f}s",
        soft_wrap=True,
    )
    if out is not None:
        for name, path in result["files"].items():
            console.print(f"  {name:<9} {escape(path)}")
    else:
        store = result["store"]
        console.print(
            f"  store: {plural(store['profiles_inserted'], 'profile')} inserted, "
            f"{store['profiles_updated']:,} updated, {plural(store['events'], 'event')} added"
        )


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
