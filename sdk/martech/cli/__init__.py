"""The ``martech`` command line: a typer app, one module per command group.

Errors that martech raises on purpose print as one line and exit non-zero; ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import typer
from rich.markup import escape

from ..errors import MartechError
from .app import app, err_console, state

#: Command-group modules under martech.cli; each defines ``register(app)``.
COMMAND_MODULES: tuple[str, ...] = (
    "init",
    "profiles",
    "plugins",
    "schema",
    "sandbox",
    "traits",
    "generate",
    "segments",
    "segments_report",
    "demo",
    "audit",
    "personalize",
    "sync",
    "new",
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"martech {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None, "--home", envvar="MARTECH_HOME", help="Folder holding the store (default ./.martech)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    state.debug = debug
    if ctx.invoked_subcommand == "init":  # init writes martech.toml: it must work without one
        state.home = home
        return
    from ..config import load_settings

    # A broken martech.toml is an error naming the key for every command, never silently ignored.
    state.settings = load_settings()
    state.home = home if home is not None else state.settings.store.home


def _strict_plugins_from_config() -> None:
    """``[plugins] strict = true`` must apply before plugins load (at startup, for commands)."""
    from ..config import load_settings

    try:
        strict = load_settings().plugins.strict
    except MartechError:
        return  # reported by the root callback, with the file and key
    if strict:
        os.environ.setdefault("MARTECH_STRICT_PLUGINS", "1")


_registered = False


def build_app() -> typer.Typer:
    """Register built-in command groups, then plugin commands (once)."""
    global _registered
    if not _registered:
        _registered = True
        for name in COMMAND_MODULES:
            importlib.import_module(f"{__name__}.{name}").register(app)
        from ..plugins import plugin_manager

        try:
            plugin_manager().hook.martech_register_commands(cli=app)
        except MartechError as exc:
            err_console.print(f"[yellow]warning:[/] plugin commands not loaded: {exc}")
    return app


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    try:
        if (sys.argv[1:] if argv is None else argv) == ["--version"]:
            _version(True)  # answered before any plugin loads; raises typer.Exit
        _strict_plugins_from_config()
        cli = build_app()
        # Without standalone mode click returns typer.Exit's code instead of raising it.
        code = cli(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except MartechError as exc:
        if state.debug:
            raise
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        return 130
    except Exception as exc:
        # Usage errors: typer vendors click (typer._click), older typers use click itself;
        # both carry show() and exit_code.
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        if state.debug:
            raise
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} "
            "(run with --debug)"
        )
        return 70
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
