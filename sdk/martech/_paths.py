"""Checks on paths a command or an SDK call will write, made before it does its work."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError


def check_output_file(
    path: Path, option: str, *, example: str, makes_folders: bool = False
) -> None:
    """Refuse an output file that cannot be written, before the work that would fill it.

    A folder given for the file, or a file where its folder should be, is a ConfigError naming
    ``option``; so is a missing folder unless the writer makes it (``makes_folders``).
    """
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a folder; give a file, e.g. {path / example}")
    folder = path.parent
    if makes_folders:
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
    if not folder.is_dir():
        why = "is a file" if folder.exists() else "does not exist"
        raise ConfigError(f"{option} {path}: the folder {folder} {why}")
