"""Where the store lives: MARTECH_HOME / --home as a cron job or a systemd unit spells them."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.errors import StoreError
from martech.store import Store, default_path
from martech.testing.process import run_cli


def test_a_home_starting_with_a_tilde_is_the_users_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An env file or a quoted MARTECH_HOME="~/martech" reaches us unexpanded. Python made a
    # folder literally named "~" in the working directory while DuckDB opened the file under
    # the real home: the first open failed, and left the stray folder behind.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MARTECH_HOME", "~/martech")
    assert default_path() == tmp_path / "home" / "martech" / "martech.duckdb"
    with Store("~/martech/m.duckdb") as store:
        assert store.path == tmp_path / "home" / "martech" / "m.duckdb"
    assert (tmp_path / "home" / "martech" / "m.duckdb").is_file()
    assert not (work / "~").exists()


def test_a_home_that_is_a_file_is_a_store_error_naming_it(tmp_path: Path) -> None:
    home = tmp_path / "people.csv"
    home.write_text("id\n1\n")
    with pytest.raises(StoreError, match=r"people\.csv: a file is in the way"):
        Store(home / "martech.duckdb")
    assert home.read_text() == "id\n1\n"


def test_cli_home_that_is_a_file_exits_with_a_store_error_not_an_internal_error(
    tmp_path: Path,
) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text("id,email\n1,a@example.com\n")
    result = run_cli("import", "profiles", str(csv), env={"MARTECH_HOME": str(csv)}, cwd=tmp_path)
    assert result.returncode != 0
    assert "internal error" not in result.stderr
    assert "people.csv" in result.stderr
    assert csv.read_text() == "id,email\n1,a@example.com\n"
