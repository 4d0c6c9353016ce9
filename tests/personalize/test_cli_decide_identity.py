"""martech decide PROFILE: kind=value like profiles show, the same exit code, no raw PII echoed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from martech.cli import main
from martech.population import generate, write_store
from martech.store import Store

from .conftest import AS_OF


@pytest.fixture(scope="module")
def store_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("decide")
    with Store(path / "martech.duckdb") as store:
        write_store(store, generate(200, seed=4, as_of=AS_OF))
        ids = dict(
            store.con.execute(
                "SELECT kind, value FROM identities WHERE profile_id = 'p0000002'"
            ).fetchall()
        )
    return path, ids


@pytest.fixture
def ids(store_home: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("MARTECH_HOME", str(store_home[0]))
    return store_home[1]


def decide(capsys: pytest.CaptureFixture[str], who: str) -> tuple[int, str, str]:
    code = main(["decide", who, "-p", "home_hero", "--as-of", "2026-11-20", "--json"])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("kind", ["email", "phone"])
def test_decide_resolves_kind_equals_value_to_the_profile(
    ids: dict[str, str], capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    code, out, _ = decide(capsys, f"{kind}={ids[kind]}")
    assert code == 0
    assert json.loads(out)["profile_id"] == "p0000002"


def test_an_email_is_normalized_as_the_store_does(
    ids: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = decide(capsys, f"email=  {ids['email'].upper()} ")
    assert code == 0
    assert json.loads(out)["profile_id"] == "p0000002"


def test_an_unknown_identity_exits_like_profiles_show_without_the_value(
    ids: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = decide(capsys, "email=nobody@example.com")
    assert code == 2
    assert "no profile has email identity matching the given value" in err
    assert "nobody" not in err + out
    assert main(["profiles", "show", "email=nobody@example.com"]) == code


@pytest.mark.parametrize(
    ("given", "hint"),
    [("nobody@example.com", "give email="), ("+4915112345678", "give phone=")],
)
def test_a_bare_email_or_phone_is_not_echoed_and_the_kind_form_is_suggested(
    ids: dict[str, str], capsys: pytest.CaptureFixture[str], given: str, hint: str
) -> None:
    code, _, err = decide(capsys, given)
    assert code == 2
    assert given not in err
    assert "not found in the store" in err
    assert hint in err


def test_an_unknown_profile_id_exits_2_naming_it(
    ids: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = decide(capsys, "p9999999")
    assert code == 2
    assert "profile 'p9999999' not found in the store" in err
    assert main(["profiles", "show", "p9999999"]) == code
