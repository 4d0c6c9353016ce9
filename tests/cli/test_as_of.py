"""Every ``--as-of`` reads the same way: a date is midnight UTC, a datetime needs its time zone.

A datetime without one (2026-11-01T08:00) was read as UTC by segments, sync and traits but refused
by generate and decide, so the same moment worked for one command and not the next.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.cli import main

COMMANDS = {
    "generate": ["generate", "-n", "50"],
    "traits": ["traits", "compute", "purchaser"],
    "segments-eval": ["segments", "eval", "--examples", "--no-save"],
    "segments-sql": ["segments", "sql", "--examples", "lapsed"],
    "segments-report": ["segments", "report", "--examples"],
    "sync-plan": ["sync", "plan", "--examples", "lapsed", "--to", "mailchimp"],
    "decide": ["decide", "p0000001", "-p", "home_hero"],
}


@pytest.fixture
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARTECH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MARTECH_MAILCHIMP_API_KEY", "0123456789abcdef0123456789abcdef-us21")
    monkeypatch.setenv("MARTECH_MAILCHIMP_LIST_ID", "5e1a0b2c3d")
    assert main(["generate", "-n", "50", "--as-of", "2026-11-01"]) == 0
    capsys.readouterr()
    return tmp_path


@pytest.mark.parametrize("command", list(COMMANDS.values()), ids=list(COMMANDS))
def test_a_datetime_without_a_time_zone_is_refused_the_same_way(
    home: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main([*command, "--as-of", "2026-11-01T08:00"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --as-of: a datetime needs a time zone"), err
    assert "a bare date means UTC" in err


@pytest.mark.parametrize("command", list(COMMANDS.values()), ids=list(COMMANDS))
def test_an_unreadable_as_of_gets_one_message(
    home: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main([*command, "--as-of", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: --as-of: expected an ISO date or datetime such as 2026-01-31 or "
        "2026-01-31T08:00:00Z, got 'yesterday'"
    ), err
