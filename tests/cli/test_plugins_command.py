"""``martech plugins`` shows what each plugin registered, commands included."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from martech.cli import main
from martech.testing.process import run_cli


def test_plugins_lists_the_commands_a_plugin_added(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    plugins = {p["name"]: p for p in json.loads(capsys.readouterr().out)["plugins"]}
    assert plugins["files"]["registered"] == {"commands": ["import"]}
    assert "commands" not in plugins["hubspot"]["registered"]  # a connector adds no command
    assert main(["plugins"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if " files " in line)
    assert "commands: import" in row


def _installed_by_hand(site: Path, name: str, body: str) -> None:
    """A plugin distribution on ``site`` (a dist-info with the entry point, and the module)."""
    info = site / f"martech_{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: martech-{name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[martech]\n{name} = martech_{name}\n")
    (site / f"martech_{name}.py").write_text(textwrap.dedent(body))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            """
            from martech import hookimpl
            @hookimpl
            def martech_register_commands(cli):
                raise RuntimeError("needs typer 1.0")
            """,
            "its commands were not added: RuntimeError: needs typer 1.0",
        ),
        (
            """
            from martech import hookimpl
            @hookimpl
            def martech_register_commands(cli):
                cli.command("plugins")(lambda: None)
            """,
            "tried to replace the command(s) plugins; none of its commands were added",
        ),
    ],
    ids=["hook-raises", "replaces-a-command"],
)
def test_a_plugin_whose_commands_failed_is_not_listed_as_ok(
    tmp_path: Path, body: str, error: str
) -> None:
    """The warning scrolls by once; `martech plugins` is where an author or an ops engineer
    looks, and it said the plugin was fine (error null, status ok)."""
    _installed_by_hand(tmp_path, "cmdfail", body)
    env = {"PYTHONPATH": str(tmp_path)}
    listed = run_cli("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    plugin = next(p for p in data["plugins"] if p["name"] == "cmdfail")
    assert error in (plugin["error"] or "")
    assert any(error in e and "cmdfail" in e for e in data["errors"])
    table = run_cli("plugins", env={**env, "COLUMNS": "400"})
    row = next(line for line in table.stdout.splitlines() if " cmdfail " in line)
    assert "failed" in row
    assert " ok " not in row


def test_a_load_error_is_shown_as_written_not_read_as_markup(tmp_path: Path) -> None:
    _installed_by_hand(tmp_path, "brack", "raise OSError('cannot read /etc/acme/[bold]key')\n")
    table = run_cli("plugins", env={"PYTHONPATH": str(tmp_path), "COLUMNS": "400"})
    row = next(line for line in table.stdout.splitlines() if " brack " in line)
    assert "OSError: cannot read /etc/acme/[bold]key" in row
