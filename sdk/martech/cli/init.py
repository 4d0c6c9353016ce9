"""``martech init``: write a commented martech.toml."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ..errors import ConfigError
from .app import console


def init(
    path: Path = typer.Argument(Path("martech.toml"), help="Where to write the file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented martech.toml with every setting and its default."""
    from ..config import TEMPLATE

    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give a file, e.g. {path / 'martech.toml'}")
    if not path.parent.is_dir():
        why = "is a file" if path.parent.exists() else "does not exist"
        raise ConfigError(f"cannot write {path}: the folder {path.parent} {why}")
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite it")
    path.write_text(TEMPLATE, encoding="utf-8")
    console.print(f"wrote {escape(str(path))}")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
