"""``martech import profiles FILE`` and ``martech import events FILE``."""

from __future__ import annotations

from pathlib import Path

import typer

from martech.cli.app import (
    check_output_file,
    console,
    err_console,
    interactive,
    open_store,
    print_json,
)

import_app = typer.Typer(
    help="Import profiles or events from CSV, JSONL or Parquet files.", no_args_is_help=True
)

_MAP_HELP = (
    "target=column (repeatable). Targets: id, email, phone, identities.<kind>, traits.<name>, "
    "consent.<channel> (profiles); profile_id, type, item_id, ts, value, properties.<name> "
    "(events). A column mapped to id that is also the email or phone column (--map id=email) "
    "stays that identity too."
)
_MAPPING_HELP = (
    "YAML/JSON mapping file: target: column entries (or columns: and extra: traits|ignore), "
    "and types: column: type (as --type)."
)
_FMT_HELP = "csv, jsonl or parquet (default: from the suffix)."
_REJ_HELP = (
    "Reject file (default FILE.rejects.jsonl); written only when rows are rejected, and removed "
    "when an import rejects none (a file left by an earlier import would mislead)."
)
_DELIM_HELP = "CSV delimiter, one character; \\t or tab for a tab (default: detected)."
_TYPE_HELP = (
    "column=type (repeatable): store a {what} column as text, int, number or bool whatever its "
    "values look like; a value that is not one rejects its row. Unpinned CSV columns are typed "
    "by their values in this file, digits with a leading zero or more than 15 of them kept text."
)


def _run(
    kind: str,
    file: Path,
    maps: list[str] | None,
    mapping_file: Path | None,
    fmt: str | None,
    strict: bool,
    rejects: Path | None,
    ignore_extra: bool,
    delimiter: str | None,
    type_flags: list[str] | None,
    as_json: bool,
    skip_repeats: bool = False,
) -> None:
    from .importer import import_file, load_mapping, load_types

    if rejects is not None:  # before the import, not after it wrote the store
        check_output_file(rejects, "--rejects", example="rejects.jsonl", makes_folders=True)
    mapping, extra = load_mapping(mapping_file, maps)
    types = load_types(mapping_file, type_flags)
    if ignore_extra:
        extra = "ignore"
    from contextlib import nullcontext

    busy = err_console.status(f"importing {kind} from {file.name}")
    with open_store(create=True) as store, busy if interactive() and not as_json else nullcontext():
        summary = import_file(
            store,
            kind,  # type: ignore[arg-type]
            file,
            mapping=mapping,
            extra=extra,
            fmt=fmt,
            strict=strict,
            rejects=rejects,
            delimiter=delimiter,
            types=types,
            skip_repeats=skip_repeats,
        )
    if as_json:
        print_json(summary.as_dict())
        return
    if kind == "profiles":
        what = f"{summary.inserted:,} new, {summary.updated:,} updated"
        if summary.merged:
            what += f", {summary.merged:,} merged into another profile"
        if summary.repeated:
            what += f", {summary.repeated:,} repeating an id given earlier in the file"
        if summary.placeholder_identities:
            what += (
                f", {summary.placeholder_identities:,} placeholder identities left out (one "
                "value on too many profiles to be a person)"
            )
    else:
        stored = summary.duplicates - summary.repeated
        what = f"{summary.inserted:,} added, {stored:,} already in the store"
        if summary.repeated:
            what += f", {summary.repeated:,} repeating an event earlier in the file"
    console.print(
        f"imported {summary.imported:,} of {summary.rows:,} rows from {file.name} ({what}); "
        f"{summary.rejected:,} rejected in {summary.seconds:.1f}s",
        soft_wrap=True,
    )
    if summary.rejects_file:
        console.print(f"  rejected rows (with reasons): {summary.rejects_file}")


@import_app.command("profiles")
def profiles(
    file: Path = typer.Argument(..., help="CSV, JSONL or Parquet file."),
    maps: list[str] | None = typer.Option(None, "--map", help=_MAP_HELP),
    mapping_file: Path | None = typer.Option(None, "--mapping", help=_MAPPING_HELP),
    fmt: str | None = typer.Option(None, "--format", help=_FMT_HELP),
    rejects: Path | None = typer.Option(None, "--rejects", help=_REJ_HELP),
    ignore_extra: bool = typer.Option(
        False, "--ignore-extra", help="Drop unmapped columns (default: keep them as traits)."
    ),
    delimiter: str | None = typer.Option(None, "--delimiter", help=_DELIM_HELP),
    type_flags: list[str] | None = typer.Option(
        None, "--type", help=_TYPE_HELP.format(what="trait")
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Import profiles: upsert by id; profiles sharing an email, phone or external id merge."""
    _run(
        "profiles", file, maps, mapping_file, fmt, False, rejects, ignore_extra, delimiter,
        type_flags, as_json,
    )  # fmt: skip


@import_app.command("events")
def events(
    file: Path = typer.Argument(..., help="CSV, JSONL or Parquet file."),
    maps: list[str] | None = typer.Option(None, "--map", help=_MAP_HELP),
    mapping_file: Path | None = typer.Option(None, "--mapping", help=_MAPPING_HELP),
    fmt: str | None = typer.Option(None, "--format", help=_FMT_HELP),
    strict: bool = typer.Option(
        False, "--strict", help="Reject event types martech does not know."
    ),
    rejects: Path | None = typer.Option(None, "--rejects", help=_REJ_HELP),
    ignore_extra: bool = typer.Option(
        False, "--ignore-extra", help="Drop unmapped columns (default: keep as properties)."
    ),
    delimiter: str | None = typer.Option(None, "--delimiter", help=_DELIM_HELP),
    type_flags: list[str] | None = typer.Option(
        None, "--type", help=_TYPE_HELP.format(what="property")
    ),
    skip_repeats: bool = typer.Option(
        False,
        "--skip-repeats",
        help="Store a row repeating an event earlier in the file (same profile, type, item, "
        "time) once, as a re-import does; one more pass over the file (~15% longer).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Import events; an event already in the store (same profile, type, item, time) is
    skipped, so importing a file again adds nothing."""
    _run(
        "events", file, maps, mapping_file, fmt, strict, rejects, ignore_extra, delimiter,
        type_flags, as_json, skip_repeats,
    )  # fmt: skip


def register(cli: typer.Typer) -> None:
    cli.add_typer(import_app, name="import")
