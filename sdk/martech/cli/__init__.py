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
from typer.models import CommandInfo, TyperInfo

from ..errors import MartechError, PluginError
from .app import app, err_console, plugin_command_errors, plugin_commands, state

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
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Log every retry and wait to stderr (MARTECH_LOG=debug also logs each request).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    state.debug = debug
    configure_logging(verbose)
    if ctx.invoked_subcommand == "init":  # init writes martech.toml: it must work without one
        state.home = home
        return
    from ..config import load_settings

    # A broken martech.toml is an error naming the key for every command, never silently ignored.
    state.settings = load_settings()
    state.home = home if home is not None else state.settings.store.home


#: Marks the handler configure_logging installs, so a second call replaces it.
_LOG_HANDLER = "martech-cli"


def configure_logging(verbose: bool) -> None:
    """Send martech's own log (the ``martech`` loggers, redacted where they are written) to
    stderr at ``MARTECH_LOG``'s level, or INFO with ``--verbose``; by default only warnings.

    Only martech's loggers: httpcore and friends log at DEBUG what martech has not redacted.
    """
    import logging

    from ..errors import ConfigError

    given = os.environ.get("MARTECH_LOG", "").strip()
    name = given.upper() or ("INFO" if verbose else "")
    logger = logging.getLogger("martech")
    for old in [h for h in logger.handlers if h.get_name() == _LOG_HANDLER]:
        logger.removeHandler(old)  # an earlier command in this process (tests, scripts)
        logger.setLevel(getattr(old, "level_before", logging.NOTSET))
    if not name:
        return
    if name not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"MARTECH_LOG: expected debug, info, warning or error, got {given!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_LOG_HANDLER)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.level_before = logger.level  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(name)


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
        try:
            _register_plugin_commands(app)
        except MartechError as exc:
            from ..plugins import strict

            if strict():  # fatal for every command, not only those that read the registry
                raise
            err_console.print(f"[yellow]warning:[/] plugin commands not loaded: {escape(str(exc))}")
    return app


def _command_names(commands: list[CommandInfo], groups: list[TyperInfo]) -> list[str]:
    """The names these commands and sub-apps answer to on the command line."""
    from typer.main import get_command_name

    names = [
        c.name or get_command_name(c.callback.__name__) for c in commands if c.callback is not None
    ]
    return names + [g.name or g.typer_instance.info.name or "" for g in groups if g.typer_instance]


def _register_plugin_commands(cli: typer.Typer) -> None:
    """Each plugin's commands, one plugin at a time: a command named like one that exists
    (a built-in's or an earlier plugin's) is refused with a warning naming the plugin, so a
    plugin can add to the CLI but never replace what is there."""
    from ..plugins import plugin_manager, strict

    for impl in plugin_manager().hook.martech_register_commands.get_hookimpls():
        taken = set(_command_names(cli.registered_commands, cli.registered_groups))
        commands, groups = len(cli.registered_commands), len(cli.registered_groups)
        try:
            returned = impl.function(cli=cli)
            if returned is not None:  # a typer app handed back for the host to add, say
                raise PluginError(
                    f"martech_register_commands returned a {type(returned).__name__} instead of "
                    "None; add commands with cli.command(...) or cli.add_typer(...)"
                )
        except (Exception, SystemExit) as exc:  # a plugin's sys.exit() names the plugin too
            del cli.registered_commands[commands:], cli.registered_groups[groups:]
            if strict():
                raise
            why = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
            message = f"its commands were not added: {why}"
            plugin_command_errors[impl.plugin_name] = message
            err_console.print(f"[yellow]warning:[/] plugin {impl.plugin_name!r}: {escape(message)}")
            continue
        added = _command_names(cli.registered_commands[commands:], cli.registered_groups[groups:])
        clashes = [name for name in added if name in taken]
        if clashes:
            del cli.registered_commands[commands:], cli.registered_groups[groups:]
            message = (
                f"plugin {impl.plugin_name!r} tried to replace the command(s) "
                f"{', '.join(sorted(set(clashes)))}; none of its commands were added"
            )
            if strict():
                raise PluginError(message)
            plugin_command_errors[impl.plugin_name] = message
            err_console.print(f"[yellow]warning:[/] {escape(message)}")
            continue
        if added:
            plugin_commands.setdefault(impl.plugin_name, []).extend(added)


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
            "(for the traceback, run martech --debug <command> …)"
        )
        return 70
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
