"""``martech traits``: list the registered computed traits and materialize them in the store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from ..errors import ConfigError
from .app import console, open_store, print_json, print_table

traits_app = typer.Typer(
    help="Computed traits (RFM, CLV, lifecycle stage, churn risk, …).", no_args_is_help=True
)


def parse_as_of(value: str | None) -> datetime | None:
    """``--as-of`` as an aware datetime: ISO 8601, a date means midnight UTC."""
    from .app import parse_as_of as parse

    return parse(value)


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set: expected key=value (e.g. active_days=60), got {pair!r}")
        out[key.strip()] = raw.strip()
    return out


@traits_app.command("list")
def list_traits(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List registered computed traits, their value type, and how many profiles have each."""
    from ..plugins import registry
    from ..segments.traits import registered_traits

    traits = registered_traits()
    counts: dict[str, int] = {}
    try:
        with open_store(read_only=True) as store:
            counts = dict(
                store.con.execute(
                    "SELECT name, count(*) FROM computed_traits GROUP BY name"
                ).fetchall()
            )
    except Exception:  # no store yet: list what exists without counts
        counts = {}
    rows: list[dict[str, Any]] = [
        {
            "name": t.name,
            "kind": t.kind,
            "description": t.description,
            "values": list(t.values),
            "plugin": registry().owners.get(("traits", t.name)),
            "materialized": counts.get(t.name, 0),
        }
        for t in traits.values()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("trait", "kind", "profiles", "description")
    for r in rows:
        table.add_row(  # plugin text: shown as written, never read as markup
            Text(r["name"]), Text(r["kind"]), f"{r['materialized']:,}", Text(r["description"])
        )
    print_table(table)


@traits_app.command("compute")
def compute(
    names: list[str] = typer.Argument(None, help="Traits to compute (default: all)."),
    as_of: str = typer.Option(None, "--as-of", help="Compute as of this moment (default: now)."),
    sets: list[str] = typer.Option(
        [], "--set", help="Override a parameter, e.g. --set active_days=60 (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Materialize computed traits into the store, one set-based SQL pass per trait."""
    from ..segments.traits import compute_traits

    moment = parse_as_of(as_of)
    with open_store() as store:
        runs = compute_traits(store, names or None, as_of=moment, params=_parse_sets(sets))
    if as_json:
        print_json([{"name": r.name, "profiles": r.profiles, "seconds": r.seconds} for r in runs])
        return
    for r in runs:
        console.print(f"{r.name:<22} {r.profiles:>10,} profiles  {r.seconds:6.2f} s")


def register(app: typer.Typer) -> None:
    app.add_typer(traits_app, name="traits")
