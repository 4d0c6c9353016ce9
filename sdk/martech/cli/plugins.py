"""``martech plugins``: what is installed, what each plugin registered, what failed."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from .app import plugin_command_errors, plugin_commands, print_json, print_table


def plugins(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List plugins: name, package, version, hooks, what each registered, and load errors."""
    from ..plugins import list_plugins, registry

    infos = list_plugins()
    # Commands are added by the CLI, not recorded by the plugin registry.
    registered = {
        i.name: {**i.registered, "commands": sorted(plugin_commands[i.name])}
        if plugin_commands.get(i.name)
        else i.registered
        for i in infos
    }
    # A plugin that loaded but whose commands were refused or raised is not "ok" either.
    errors = {
        i.name: i.error or _command_error(i.name)
        for i in infos
        if i.error or i.name in plugin_command_errors
    }
    if as_json:
        print_json(
            {
                "plugins": [
                    {
                        "name": i.name,
                        "package": i.package,
                        "version": i.version,
                        "hooks": i.hooks,
                        "registered": registered[i.name],
                        "error": errors.get(i.name),
                    }
                    for i in infos
                ],
                "errors": [str(e) for e in registry().errors]
                + [_command_error(name) for name in sorted(plugin_command_errors)],
            }
        )
        return
    table = Table("plugin", "package", "version", "hooks", "registered", "status")
    for i in infos:
        shown = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(registered[i.name].items()))
        error = errors.get(i.name)
        status = f"[red]failed[/]: {escape(error)}" if error else "[green]ok[/]"
        table.add_row(i.name, i.package or "-", i.version or "-", "\n".join(i.hooks), shown, status)
    print_table(table)


def _command_error(plugin: str) -> str:
    message = plugin_command_errors[plugin]
    return message if message.startswith("plugin ") else f"plugin {plugin!r}: {message}"


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins)
