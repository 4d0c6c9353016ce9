"""``martech generate`` into a store that already holds people.

The synthetic shop reuses the same profile ids (p0000001, …) for different people when the seed,
the day (``--as-of``, today by default) or the size changes. Writing such a shop over another
merged strangers who share an id, email or phone into one profile, a store no later command can
trust. Re-running the same shop is harmless and stays allowed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from martech.cli import main

SHOP = ["generate", "--profiles", "200", "--seed", "7", "--as-of", "2026-11-01", "--items", "40"]


def counts(capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    assert main(["profiles", "count", "--json"]) == 0
    result: dict[str, int] = json.loads(capsys.readouterr().out)
    return result


@pytest.fixture
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARTECH_HOME", str(tmp_path / "home"))
    assert main(SHOP) == 0
    capsys.readouterr()
    return tmp_path / "home"


def test_the_same_shop_again_changes_nothing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = counts(capsys)
    assert main(SHOP) == 0
    assert "0 profiles inserted, 200 updated, 0 events added" in capsys.readouterr().out
    assert counts(capsys) == before


@pytest.mark.parametrize(
    "change",
    [["--as-of", "2026-12-01"], ["--seed", "8"], ["--profiles", "300"]],
    ids=["another-day", "another-seed", "another-size"],
)
def test_another_shop_over_it_is_refused_and_merges_nobody(
    home: Path, capsys: pytest.CaptureFixture[str], change: list[str]
) -> None:
    before = counts(capsys)
    args = SHOP.copy()
    flag = change[0]
    args[args.index(flag) + 1] = change[1]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert "--home" in err
    assert "internal error" not in err
    assert "@" not in err  # no email in the message
    assert counts(capsys) == before  # nothing written: no profile merged, no event added


def test_another_shop_in_its_own_home_is_fine(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = SHOP.copy()
    args[args.index("--seed") + 1] = "8"
    assert main(["--home", str(tmp_path / "other"), *args]) == 0
