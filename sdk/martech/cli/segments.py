"""``martech segments``: list, validate, print SQL for a warehouse, evaluate and snapshot.

Definitions come from ``segments.yml`` in the working directory, ``--file PATH``, or
``--examples`` (the packaged examples over the synthetic population). Other command modules add
commands to :data:`segments_app` (e.g. ``cells``, ``report``) and may reuse
:func:`read_definitions`, :data:`FILE_OPTION` and :data:`EXAMPLES_OPTION`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from ..errors import ConfigError, SegmentDefinitionError, StoreError
from .app import console, err_console, open_store, plural, print_json, state

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..models import RuleSegment
    from ..segments.lint import SegmentWarning
    from ..segments.traits import ComputedTrait
    from ..store import Store

segments_app = typer.Typer(
    help="Define segments in segments.yml, check them, run them, print their SQL.",
    no_args_is_help=True,
)

FILE_OPTION = typer.Option(
    None, "--file", "-f", help="Segment definitions (YAML or JSON; default ./segments.yml)."
)
EXAMPLES_OPTION = typer.Option(
    False, "--examples", help="Use martech's example segments instead of a file."
)
AS_OF_OPTION = typer.Option(
    None,
    "--as-of",
    help="Evaluate as of this moment: a date (midnight UTC) or a datetime with its time zone "
    "(default now).",
)


def read_definitions(file: Path | None, examples: bool = False) -> list[RuleSegment]:
    """The segments named by ``--file`` / ``--examples`` / ``./segments.yml``."""
    from ..segments import example_segments, load_segments

    if examples:
        if file is not None:
            raise ConfigError("give --file or --examples, not both")
        return example_segments()
    configured = getattr(state.settings, "segments", None)
    if file is None and configured is not None and Path(configured.file).exists():
        file = Path(configured.file)
    if file is None:
        for name in ("segments.yml", "segments.yaml", "segments.json"):
            if Path(name).exists():
                file = Path(name)
                break
        else:
            raise ConfigError(
                f"no segments.yml in {Path.cwd()}; pass --file PATH (or --examples to try the "
                "packaged examples)"
            )
    return load_segments(file)


def check_against_store(
    store: Store, segments: list[RuleSegment], as_of: datetime | None = None
) -> list[SegmentWarning]:
    """Warnings for rules naming a trait / event type the store never held, or a wrong type;
    with ``as_of``, for computed traits materialized for a later moment."""
    from ..errors import MartechError
    from ..segments.lint import lint_segments, store_vocabulary
    from ..segments.traits import registered_traits

    try:  # the mapping: a categorical trait's values are checked too
        registered: Mapping[str, ComputedTrait] = registered_traits()
    except MartechError:  # a broken plugin costs the hint, not the check
        registered = {}
    return lint_segments(segments, store_vocabulary(store), registered=registered, as_of=as_of)


def print_warnings(warnings: list[SegmentWarning]) -> None:
    """Each warning on stderr, naming the segment and the field in its rule."""
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {escape(str(w))}", soft_wrap=True)


def parse_as_of(value: str | None) -> datetime | None:
    """``--as-of`` text -> aware datetime (None = now)."""
    from .app import parse_as_of as parse

    moment = parse(value)
    return None if moment is None else moment.astimezone(UTC)


def _pick(segments: list[RuleSegment], key: str) -> RuleSegment:
    for seg in segments:
        if seg.key == key:
            return seg
    known = ", ".join(s.key for s in segments) or "none"
    raise SegmentDefinitionError(f"unknown segment {key!r}; defined: {known}", field="key")


@segments_app.command("list")
def list_segments(
    file: Path | None = FILE_OPTION,
    examples: bool = EXAMPLES_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the defined segments with their version and minimum size."""
    from ..segments.rules import references

    segments = read_definitions(file, examples)
    rows: list[dict[str, Any]] = [
        {
            "key": s.key,
            "name": s.name,
            "description": s.description,
            "version": s.version,
            "min_size": s.min_size,
            "uses": sorted({ref for ref, _ in references(s.rule)}),
        }
        for s in segments
    ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        uses = f"  (uses {', '.join(row['uses'])})" if row["uses"] else ""
        minimum = f"{row['min_size']:>6}" if row["min_size"] else f"{'-':>6}"
        console.print(
            f"[bold]{escape(row['key']):<24}[/] {row['version']}  min {minimum}  "
            f"{escape(row['name'] or '')}{escape(uses)}"
        )
    console.print(plural(len(rows), "segment"))


@segments_app.command("validate")
def validate(
    file: Path | None = FILE_OPTION,
    examples: bool = EXAMPLES_OPTION,
    strict: bool = typer.Option(
        False, "--strict", help="Fail (exit 2) on warnings, not only on errors."
    ),
) -> None:
    """Check definitions, references and cycles, and that every segment compiles to SQL.

    When there is a store, rules are also checked against it: a trait no profile has (and no
    computed trait), an event type never stored, or a value of another JSON type than the
    trait's is a warning, since the condition can never match.
    """
    from ..segments import compile_sql

    segments = read_definitions(file, examples)
    by_key = {s.key: s for s in segments}
    for seg in segments:
        compile_sql(seg, segments=by_key)
    warnings: list[SegmentWarning] = []
    checked = ""
    if state.store_path.exists():
        try:
            with open_store(read_only=True) as store:
                warnings = check_against_store(store, segments)
            checked = ", checked against the store"
        except StoreError as exc:
            err_console.print(f"note: rules not checked against the store: {escape(str(exc))}")
    print_warnings(warnings)
    if warnings and strict:
        raise SegmentDefinitionError(
            f"{plural(len(warnings), 'warning')}, and --strict makes warnings errors"
        )
    tail = f"; {plural(len(warnings), 'warning')}" if warnings else ""
    console.print(f"ok: {plural(len(segments), 'segment')} valid{checked}{tail}")


@segments_app.command("sql")
def sql(
    key: str = typer.Argument(..., help="Segment key."),
    dialect: str = typer.Option(
        "duckdb", "--dialect", "-d", help="duckdb | postgres | snowflake | bigquery | spark"
    ),
    file: Path | None = FILE_OPTION,
    examples: bool = EXAMPLES_OPTION,
    as_of: str | None = AS_OF_OPTION,
    computed: str = typer.Option(
        "",
        "--computed",
        help="Comma-separated trait names to read from computed_traits (default: the names the "
        "store has computed, as eval uses them).",
    ),
    pretty: bool = typer.Option(True, "--pretty/--one-line", help="Format the query."),
) -> None:
    """Print the query selecting a segment's profile ids, for the store or a warehouse."""
    from ..segments import DIALECTS, compile_sql

    if dialect not in DIALECTS:
        raise ConfigError(f"--dialect: unknown {dialect!r}; expected one of {', '.join(DIALECTS)}")
    segments = read_definitions(file, examples)
    seg = _pick(segments, key)
    names = [c.strip() for c in computed.split(",") if c.strip()]
    if not computed and state.store_path.exists():
        # The query must read computed traits where eval reads them, or a warehouse run of it
        # finds nobody with an rfm_segment.
        from ..segments import computed_trait_names

        with open_store(read_only=True) as store:
            names = sorted(computed_trait_names(store))
    text = compile_sql(
        seg,
        segments={s.key: s for s in segments},
        dialect=dialect,
        as_of=parse_as_of(as_of),
        computed=names,
        pretty=pretty,
    )
    typer.echo(text + ";")


@segments_app.command("eval")
def eval_segments(
    keys: list[str] = typer.Argument(None, help="Segment keys (default: all)."),
    file: Path | None = FILE_OPTION,
    examples: bool = EXAMPLES_OPTION,
    as_of: str | None = AS_OF_OPTION,
    save: bool = typer.Option(True, "--save/--no-save", help="Store a snapshot per segment."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Evaluate segments on the store; store snapshots and show who entered / exited."""
    from ..segments import evaluate
    from ..segments.snapshots import members_hash, take_snapshots

    segments = read_definitions(file, examples)
    wanted = list(keys) if keys else None
    for key in wanted or []:
        _pick(segments, key)
    moment = parse_as_of(as_of)
    linted = [s for s in segments if wanted is None or s.key in wanted]
    if save:
        with open_store() as store:
            total = store.count("profiles")
            warnings = check_against_store(store, linted, moment)
            reports = take_snapshots(store, segments, keys=wanted, as_of=moment)
        rows = [r.as_dict() for r in reports]
    else:
        with open_store(read_only=True) as store:
            total = store.count("profiles")
            warnings = check_against_store(store, linted, moment)
            result = evaluate(store, segments, as_of=moment, only=wanted)
        by_key = {s.key: s for s in segments}
        rows = [
            {
                "key": k,
                "version": by_key[k].version,
                "count": len(v),
                "members_hash": members_hash(v),
                "min_size": by_key[k].min_size,
                "below_min_size": len(v) < by_key[k].min_size,
            }
            for k, v in result.items()
        ]
    print_warnings(warnings)
    for row in rows:
        row["warnings"] = [w.as_dict() for w in warnings if w.segment == row["key"]]
    if as_json:
        print_json({"profiles": total, "segments": rows})
        return
    reasons = {w.segment: w.reason for w in reversed(warnings)}  # the first per segment
    for row in rows:
        share = row["count"] / total if total else 0.0
        change = ""
        if row.get("previous_id") is not None:
            change = f"  +{row['entered']:,} / -{row['exited']:,}"
            if row["version_changed"]:
                change += "  (definition changed)"
        elif save:
            change = "  (first snapshot)"
        warn = "  [yellow]below min_size[/]" if row["below_min_size"] else ""
        if row["count"] == 0 and row["key"] in reasons:
            warn = f"  [yellow]empty: {escape(reasons[row['key']])} (see warning)[/]"
        console.print(
            f"[bold]{escape(row['key']):<24}[/] {row['count']:>10,}  {share:6.1%}{change}{warn}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(segments_app, name="segments")
