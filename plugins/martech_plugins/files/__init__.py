"""Built-in file source: ``martech import profiles|events FILE`` for CSV, JSONL and Parquet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from martech import hookimpl

if TYPE_CHECKING:
    import typer


@hookimpl
def martech_register_commands(cli: typer.Typer) -> None:
    from .cli import register

    register(cli)
