"""martech decide / lift / personalize as a user meets them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from martech.cli import main
from martech.population import generate, write_store
from martech.store import Store

from .conftest import AS_OF


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MARTECH_HOME", str(tmp_path))
    with Store(tmp_path / "martech.duckdb") as store:
        write_store(store, generate(800, seed=4, as_of=AS_OF))
    return tmp_path


def test_decide_one_profile_as_json_with_reasons(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["personalize", "neighbours"]) == 0
    capsys.readouterr()
    assert (
        main(["decide", "p0000001", "--placement", "home_hero", "--as-of", "2026-11-20", "--json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["placement"] == "home_hero"
    assert data["reasons"]
    assert data["level"] in {"segment", "default"}


def test_batch_decide_prints_a_summary_by_level_then_lift(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["decide", "--all", "--placement", "recs_email", "--as-of", "2026-11-20"]) == 0
    out = capsys.readouterr().out
    assert "personalization" in out
    assert "holdout" in out
    assert "suppressed" in out
    assert main(["lift", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["tactic"] for r in rows} >= {"co_occurrence"}
    # Decided after the population's last event: nothing to measure yet, and it says so.
    assert all(r["verdict"].startswith("no outcomes yet") for r in rows)
    assert all(r["pending"] > 0 and r["n_treated"] == r["n_holdout"] == 0 for r in rows)


def test_decide_needs_a_profile_or_a_segment(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["decide", "--placement", "home_hero"]) == 2
    assert "give a PROFILE_ID" in capsys.readouterr().err


def test_unknown_placement_is_a_one_line_error(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["decide", "p0000001", "--placement", "nope"]) == 2
    assert "unknown placement 'nope'; defined:" in capsys.readouterr().err
