"""``martech segments cells`` (micro-segments) and ``martech segments report`` (governance).

Both are added to the ``segments`` sub-app defined in :mod:`martech.cli.segments`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import ConfigError
from .app import (
    check_output_file,
    console,
    err_console,
    open_store,
    plural,
    print_json,
    print_table,
)
from .segments import EXAMPLES_OPTION, FILE_OPTION

if TYPE_CHECKING:
    from ..models import RuleSegment
    from ..segments.cells import CellReport


def _settings() -> Any:
    from ..config import load_settings

    return load_settings()


def _segments_file(path: Path | None) -> Path:
    if path is not None:
        return path
    for name in ("segments.yml", "segments.yaml", "segments.json"):
        if Path(name).exists():
            return Path(name)
    return Path(_settings().segments.file)


def cells_command(
    by: str = typer.Option(
        ..., "--by", help="Comma-separated attributes (traits or computed traits), e.g. a,b,c."
    ),
    min_size: int = typer.Option(
        50, "--min-size", min=1, help="Cells below this are rolled up to their parent."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    save: str = typer.Option(
        None, "--save", help="Save the cell with this key as a segment in the segments file."
    ),
    save_as: str = typer.Option(None, "--as", help="Segment key for --save (default: cell key)."),
    print_yaml: bool = typer.Option(
        False, "--print-yaml", help="With --save: print the segment as YAML, write nothing."
    ),
    file: Path | None = FILE_OPTION,
) -> None:
    """Micro-segments: conjunction cells of several attributes, small ones rolled up."""
    from ..segments.cells import cells

    with open_store(read_only=True) as store:
        report = cells(store, by.split(","), min_size=min_size)
    for name in report.missing:
        err_console.print(
            f"[yellow]warning:[/] --by {escape(name)}: no profile has a value for this "
            "attribute (stored or computed trait), so its column is all missing; a typo?",
            soft_wrap=True,
        )
    if save:
        segment = report.segment(save, segment_key=save_as)
        text = segment_yaml(segment)
        if print_yaml:
            typer.echo(text, nl=False)
            return
        target = _segments_file(file)
        append_segment(target, segment)
        err_console.print(
            escape(f"saved cell {save!r} as segment {segment.key!r} in {target}"), soft_wrap=True
        )
        return
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    _print_cells(report)


def _print_cells(report: CellReport) -> None:
    table = Table("cell key", *report.attributes, "members", "share")
    for c in report.cells:
        share = c.size / report.population if report.population else 0.0
        shown = [
            "[dim]—[/]" if c.values[a] is None else escape(str(c.values[a]))
            for a in report.attributes[: c.depth]
        ]
        rest = "[dim](other)[/]" if c.remainder else "[dim]*[/]"
        shown += [rest] + ["[dim]*[/]"] * (len(report.attributes) - c.depth - 1)
        table.add_row(
            escape(c.key), *shown[: len(report.attributes)], f"{c.size:,}", f"{share:.1%}"
        )
    print_table(table)
    console.print(
        f"{plural(len(report.cells), 'cell')} of at least {report.min_size:,} over "
        f"{plural(report.population, 'profile')}; "
        f"{plural(len(report.rolled_up), 'smaller cell')} rolled up"
        + (f"; {plural(report.unplaced, 'profile')} unplaced" if report.unplaced else "")
    )
    for r in report.rolled_up[:30]:
        into = escape(r.into or "(unplaced: below the minimum even at the top)")
        console.print(f"  rolled up: {escape(r.label)} ({r.size:,}) -> {into}")
    if len(report.rolled_up) > 30:
        console.print(f"  … and {len(report.rolled_up) - 30} more (see --json)")


def _strip_kind(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_kind(v) for k, v in node.items() if k != "kind"}
    if isinstance(node, list):
        return [_strip_kind(v) for v in node]
    return node


def segment_yaml(segment: RuleSegment) -> str:
    """A segment as a ``segments:`` YAML document, in the hand-written file form."""
    import yaml

    body = {
        "name": segment.name,
        "description": segment.description,
        "min_size": segment.min_size,
        "rule": _strip_kind(segment.rule.model_dump(mode="json", by_alias=True)),
    }
    text: str = yaml.safe_dump(
        {"segments": {segment.key: body}}, sort_keys=False, allow_unicode=True, width=100
    )
    return text


def append_segment(path: Path, segment: RuleSegment) -> None:
    """Append ``segment`` to a segments file, keeping its comments; verified by re-parsing."""
    from ..segments import load_segments, parse_segments

    text = segment_yaml(segment)
    if not path.exists():
        path.write_text(text, encoding="utf-8")
        return
    existing = path.read_text(encoding="utf-8")
    before = {s.key for s in load_segments(path)}
    if segment.key in before:
        raise ConfigError(f"{path}: segment {segment.key!r} exists already; pick another --as KEY")
    # the entry as dumped sits two spaces under "segments:", the usual layout of the file
    entry = text.split("\n", 1)[1]
    candidate = existing.rstrip("\n") + "\n" + entry
    try:
        after = {s.key for s in parse_segments(candidate, source=str(path))}
    except Exception:
        after = set()
    if after != before | {segment.key}:
        raise ConfigError(f"{path}: cannot append safely to this layout; add it by hand:\n{text}")
    path.write_text(candidate, encoding="utf-8")


def report_command(
    html: Path = typer.Option(None, "--html", help="Also write a self-contained HTML report."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    file: Path | None = FILE_OPTION,
    examples: bool = EXAMPLES_OPTION,
    as_of: str = typer.Option(None, "--as-of", help="Evaluate as of this moment (default now)."),
    max_active: int = typer.Option(
        None, "--max-active", min=1, help="Override segments.max_active from martech.toml."
    ),
    near_duplicate: float = typer.Option(
        0.9, "--near-duplicate", min=0.01, max=1.0, help="Jaccard at or above = near-duplicates."
    ),
) -> None:
    """Governance: sizes, shares, overlaps, near-duplicates, unassigned, too many segments."""
    from ..segments.governance import governance_report
    from ..segments.governance_html import render_html
    from .segments import check_against_store, parse_as_of, print_warnings, read_definitions

    if html is not None:
        check_output_file(html, "--html", example="report.html")
    settings = _settings()
    segments = read_definitions(file, examples)
    with open_store(read_only=True) as store:
        report = governance_report(
            store,
            segments,
            as_of=parse_as_of(as_of),
            max_active=max_active or settings.segments.max_active,
            near_duplicate=near_duplicate,
        )
        print_warnings(check_against_store(store, segments, parse_as_of(as_of)))
    if html is not None:
        html.write_text(render_html(report), encoding="utf-8")
        err_console.print(f"wrote {html}", markup=False)
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    _print_report(report)


def _print_report(report: Any) -> None:
    table = Table("segment", "members", "share", "only here", "min size", "flag")
    for s in sorted(report.segments, key=lambda s: (-s.size, s.key)):
        flag = "[yellow]empty[/]" if s.size == 0 else "[yellow]below min[/]" if s.below_min else ""
        minimum = f"{s.min_size:,}" if s.min_size else "[dim]-[/]"
        table.add_row(
            escape(s.key), f"{s.size:,}", f"{s.share:.1%}", f"{s.exclusive:,}", minimum, flag
        )
    print_table(table)
    console.print(
        f"{plural(report.active, 'segment')} (max {report.max_active}) over "
        f"{plural(report.population, 'profile')}; {report.unassigned:,} "
        f"({report.unassigned_share:.1%}) in no segment"
    )
    for o in report.overlaps[:5]:
        console.print(
            f"  overlap {escape(o.a)} / {escape(o.b)}: {o.intersection:,} shared, "
            f"Jaccard {o.jaccard:.2f}"
        )
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}")


def register(app: typer.Typer) -> None:
    from .segments import segments_app

    segments_app.command("cells")(cells_command)
    segments_app.command("report")(report_command)
