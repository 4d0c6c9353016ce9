"""The YAML files the CLI reads besides segments have their format one command away."""

from __future__ import annotations

import json

import pytest

from martech.cli import main


def test_schema_prints_the_audit_http_spec_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "HttpSpec"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "HttpSpec"
    assert {"url", "allowed_hosts"} <= set(schema["required"])
    assert "{{ traits.country }}" in schema["properties"]["request"]["description"]


def test_schema_prints_a_placement_as_placements_yaml_holds_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema", "Placement"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"key", "channel", "variants"} <= set(schema["properties"])


def test_audit_help_says_where_the_spec_format_is(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per option
    assert main(["audit", "--help"]) == 0
    assert "martech schema HttpSpec" in capsys.readouterr().out
