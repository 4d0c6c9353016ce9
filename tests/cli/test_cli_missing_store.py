"""A mistyped ``--home``: commands that only read or compute over data refuse a missing store
instead of creating an empty one and reporting zeros; commands that bring data in create it."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.testing.process import run_cli


@pytest.mark.parametrize(
    "command",
    [
        ("segments", "eval", "--examples"),
        ("traits", "compute"),
        ("personalize", "neighbours"),
    ],
)
def test_a_command_over_data_refuses_a_missing_store(tmp_path: Path, command: tuple[str, ...]):
    home = tmp_path / "typo"
    result = run_cli("--home", str(home), *command)
    assert result.returncode != 0
    assert f"no store at {home / 'martech.duckdb'}" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert not home.exists()


def test_generate_creates_the_store(tmp_path: Path):
    home = tmp_path / "new"
    result = run_cli("--home", str(home), "generate", "--profiles", "200")
    assert result.returncode == 0, result.stderr
    assert (home / "martech.duckdb").exists()
    counted = run_cli("--home", str(home), "segments", "eval", "--examples")
    assert counted.returncode == 0, counted.stderr
