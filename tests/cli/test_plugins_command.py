"""``martech plugins`` shows what each plugin registered, commands included."""

from __future__ import annotations

import json

import pytest

from martech.cli import main


def test_plugins_lists_the_commands_a_plugin_added(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    plugins = {p["name"]: p for p in json.loads(capsys.readouterr().out)["plugins"]}
    assert plugins["files"]["registered"] == {"commands": ["import"]}
    assert "commands" not in plugins["hubspot"]["registered"]  # a connector adds no command
    assert main(["plugins"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if " files " in line)
    assert "commands: import" in row
