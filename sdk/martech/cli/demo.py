"""``martech demo``: the whole product on a synthetic shop, the bundled emulators and a local store.

No keys and no network: every vendor is an emulator served on 127.0.0.1 for the length of the demo.
Each step prints what it did; ``--json`` prints one summary object instead.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import ConfigError
from ._demo_steps import step_audit, step_personalize, step_pull, step_sync
from .app import console, print_json, print_table


@dataclass
class DemoRun:
    """What the steps share: the store, the moment, the emulators, and the summary being built.

    Emulators started with :meth:`emulator` stay up for the later steps (the sync finds the
    contacts the pull created) and stop when ``servers`` closes, whatever happened.
    """

    store: Any
    as_of: datetime
    seed: int
    profiles: int
    out: Console
    servers: ExitStack = field(default_factory=ExitStack)
    summary: dict[str, Any] = field(default_factory=dict)
    segments: dict[str, Any] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    population: Any = None
    emulators: dict[str, tuple[Any, str]] = field(default_factory=dict)

    def emulator(self, name: str, *, records: int = 0) -> tuple[Any, str]:
        """``name``'s emulator on 127.0.0.1 (started on first use): (emulator, base URL)."""
        if name not in self.emulators:
            from ..sandbox import serve

            served = serve(name, records=records, seed=self.seed)
            self.emulators[name] = self.servers.enter_context(served)
        return self.emulators[name]


Step = Callable[[DemoRun], None]


def step_population(run: DemoRun) -> None:
    """A synthetic shop: profiles, a catalogue, and two years of behaviour."""
    from ..population import generate, write_store

    started = time.perf_counter()
    population = generate(run.profiles, run.seed, as_of=run.as_of)
    run.population = population
    written = write_store(run.store, population)
    elapsed = time.perf_counter() - started
    run.summary["population"] = {**written, "seconds": round(elapsed, 2)}
    run.out.print(
        f"generated {written['profiles_inserted']:,} profiles, {written['events']:,} events "
        f"over {written['items']:,} items in {elapsed:.1f}s (seed {run.seed})"
    )


def step_traits(run: DemoRun) -> None:
    """Computed traits in SQL: RFM, CLV, lifecycle stage, churn risk, engagement."""
    from ..segments.traits import compute_traits

    runs = compute_traits(run.store, as_of=run.as_of)
    run.summary["traits"] = [r.name for r in runs]
    dist = run.store.con.execute(
        "SELECT value ->> '$' AS stage, count(*) FROM computed_traits "
        "WHERE name = 'lifecycle_stage' GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
    run.out.print(f"computed {len(runs)} traits: " + ", ".join(r.name for r in runs))
    run.out.print("lifecycle stages: " + ", ".join(f"{s} {n:,}" for s, n in dist))


def step_segments(run: DemoRun) -> None:
    """The example segments, evaluated in DuckDB, and the governance summary."""
    from ..segments import evaluate, example_segments
    from ..segments.governance import governance_report, summary_lines

    segments = example_segments()
    run.segments = {s.key: s for s in segments}
    started = time.perf_counter()
    run.members = evaluate(run.store, segments, as_of=run.as_of)
    elapsed = time.perf_counter() - started
    table = Table("segment", "members", "definition version", box=None, pad_edge=False)
    for key, ids in run.members.items():
        table.add_row(key, f"{len(ids):,}", run.segments[key].version)
    print_table(table, out=run.out)
    run.out.print(f"evaluated {len(segments)} segments in {elapsed * 1000:.0f} ms")
    report = governance_report(run.store, segments, as_of=run.as_of)
    run.out.print("[bold]governance[/]")
    for line in summary_lines(report):
        run.out.print("  " + line)
    run.summary["segments"] = {k: len(v) for k, v in run.members.items()}
    run.summary["governance_warnings"] = report.warnings


STEPS: list[tuple[str, Step]] = [
    ("1. A synthetic shop in the embedded store", step_population),
    ("2. Computed traits", step_traits),
    ("3. Segments and their governance", step_segments),
    ("4. Pull: HubSpot and Mailchimp into the store", step_pull),
    ("5. Sync: segments to Mailchimp, HubSpot and Meta", step_sync),
    ("6. Personalization: Gary at each level", step_personalize),
    ("7. Audit: what smartcontent really does", step_audit),
]


#: Written into the folder the demo creates: only a folder holding it is deleted on the next run.
DEMO_MARKER = ".martech-demo"
#: What an older demo left (before the marker): a folder holding only these is the demo's too.
_DEMO_FILES = frozenset({"martech.duckdb", "martech.duckdb.wal", DEMO_MARKER})


def _fresh_demo_dir(home: Path) -> None:
    """Empty ``home`` for a new run, but only if the demo made it: ``--dir .`` or ``--dir`` at
    a real store must never delete anything."""
    if home.is_file():
        raise ConfigError(f"--dir: {home} is a file; give a folder for the demo store")
    if home.exists():
        contents = {p.name for p in home.iterdir()}
        if contents and DEMO_MARKER not in contents and not contents <= _DEMO_FILES:
            raise ConfigError(
                f"--dir: {home} holds files the demo did not make, and each run recreates its "
                "folder; give a new or empty folder (the default is .martech-demo)"
            )
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / DEMO_MARKER).write_text("made by martech demo: deleted and recreated on each run\n")


def demo(
    profiles: int = typer.Option(5_000, "--profiles", min=100, help="Size of the synthetic shop."),
    seed: int = typer.Option(7, "--seed", help="Seed for the population (same seed, same demo)."),
    home: Path = typer.Option(
        Path(".martech-demo"),
        "--dir",
        help="Folder for the demo store, recreated each run: a new or empty folder, or one an "
        "earlier demo made.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary, nothing else."),
) -> None:
    """Run the whole product on a synthetic shop and local vendor emulators: no keys, no network."""
    from ..store import Store

    out = Console(quiet=True) if as_json else console
    _fresh_demo_dir(home)
    now = datetime.now(UTC)
    as_of = datetime(now.year, now.month, now.day, tzinfo=UTC)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    with Store(home / "martech.duckdb") as store, ExitStack() as servers:
        run = DemoRun(
            store=store, as_of=as_of, seed=seed, profiles=profiles, out=out, servers=servers
        )
        for title, step in STEPS:
            out.rule(f"[bold]{title}")
            step_started = time.perf_counter()
            step(run)
            seconds[step.__name__.removeprefix("step_")] = round(
                time.perf_counter() - step_started, 2
            )
    # Every emulator has stopped here: the ExitStack closed, on success or error.
    total = time.perf_counter() - started
    run.summary["seconds"] = {**seconds, "total": round(total, 2)}
    run.summary["home"] = str(home)
    out.rule()
    out.print(
        f"done in {total:.1f}s; every emulator has stopped; the store is in {home}/ "
        f"(martech --home {home} profiles show p0000001)"
    )
    out.print(
        f"try next: martech --home {home} sync status · martech sandbox serve hubspot · "
        "martech audit --help"
    )
    if as_json:
        print_json(run.summary)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
