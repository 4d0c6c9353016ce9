"""The root typer app and what every command group shares: options, console, output."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console

app = typer.Typer(
    name="martech",
    help="Connect customer data to the tools you market with: "
    "pull, segment, sync, personalize, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@dataclass
class State:
    """Global options, set by the root callback."""

    home: Path | None = None
    debug: bool = False
    #: ``martech.toml`` of the working directory, validated by the root callback.
    settings: Any = None

    @property
    def store_path(self) -> Path:
        from ..store import default_path

        return (self.home / "martech.duckdb") if self.home else default_path()


state = State()
console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


def open_store(*, read_only: bool = False) -> Any:
    """The store at --home / MARTECH_HOME / ./.martech."""
    from ..store import Store

    return Store(state.store_path, read_only=read_only)


def interactive() -> bool:
    """Progress bars only on a terminal; quiet when piped."""
    return sys.stdout.isatty() and not os.environ.get("MARTECH_QUIET")


def print_json(data: Any) -> None:
    """One JSON document on stdout, nothing else."""
    sys.stdout.write(
        orjson.dumps(
            data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
        ).decode()
        + "\n"
    )
