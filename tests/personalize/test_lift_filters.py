"""lift: a tactic or placement no stored decision has is an error naming the stored ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from martech.cli import main
from martech.errors import ConfigError
from martech.personalize.lift import lift
from martech.store import Store

from .conftest import decide_lift_placement


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lift")
    with Store(path / "martech.duckdb") as store:
        decide_lift_placement(store, people=400, seed=5, holdout=0.5)
    return path


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    with Store(home / "martech.duckdb", read_only=True) as s:
        yield s


def test_stored_filters_still_select_their_rows(store: Store) -> None:
    tactics = {r.tactic for r in lift(store)}
    assert tactics == {"co_occurrence", "default"}
    assert [r.tactic for r in lift(store, tactic="co_occurrence")] == ["co_occurrence"]
    assert [r.tactic for r in lift(store, tactic="default", placement="t")] == ["default"]
    assert {r.placement for r in lift(store, placement="t")} == {"t"}


def test_an_unknown_tactic_names_the_stored_tactics(store: Store) -> None:
    with pytest.raises(ConfigError) as info:
        lift(store, tactic="nope")
    assert (
        str(info.value) == "no decisions for tactic 'nope'; stored tactics: co_occurrence, default"
    )


def test_an_unknown_placement_names_the_stored_placements(store: Store) -> None:
    with pytest.raises(ConfigError) as info:
        lift(store, placement="nope")
    assert str(info.value) == "no decisions for placement 'nope'; stored placements: t"


def test_a_tactic_unknown_in_the_given_placement_says_so(store: Store) -> None:
    with pytest.raises(ConfigError, match=r"tactic 'nope' in placement 't'; stored tactics there"):
        lift(store, tactic="nope", placement="t")


@pytest.mark.parametrize("days", [0, -3])
def test_the_window_must_be_positive(store: Store, days: float) -> None:
    with pytest.raises(ConfigError, match="window_days must be more than 0"):
        lift(store, window_days=days)


def test_an_empty_store_with_a_filter_is_empty_not_an_error(martech_store: Store) -> None:
    assert lift(martech_store, tactic="nope", placement="nope") == []


def test_cli_unknown_filter_exits_2_with_the_stored_values(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MARTECH_HOME", str(home))
    assert main(["lift", "--tactic", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no decisions for tactic 'nope'; stored tactics: co_occurrence, default" in err
    assert "no decisions stored yet" not in err
    assert main(["lift", "-p", "nope"]) == 2
    assert "stored placements: t" in capsys.readouterr().err
    assert main(["lift", "-t", "co_occurrence", "--json"]) == 0
    assert [r["tactic"] for r in json.loads(capsys.readouterr().out)] == ["co_occurrence"]


@pytest.mark.parametrize("days", ["0", "-3"])
def test_cli_window_days_must_be_positive(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    monkeypatch.setenv("MARTECH_HOME", str(home))
    assert main(["lift", "--window-days", days]) == 2
    captured = capsys.readouterr()
    assert "must be more than 0 days" in captured.err
    assert "lift over" not in captured.out
