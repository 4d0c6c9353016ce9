"""The CLI as a user meets it: version, init, schema, profiles, and one-line errors."""

from __future__ import annotations

import json
import os
import tomllib
from datetime import UTC, datetime

import pytest

from martech import Event, Profile, Store
from martech.cli import main
from martech.config import load_settings
from martech.errors import ConfigError


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("martech ")


def test_init_writes_a_commented_config_that_loads(tmp_path, capsys):
    target = tmp_path / "martech.toml"
    assert main(["init", str(target)]) == 0
    text = target.read_text()
    assert text.count("#") > 5
    settings = load_settings(target)
    assert settings.segments.max_active == 30
    assert tomllib.loads(text)["plugins"]["strict"] is False


def test_init_refuses_to_overwrite_without_force(tmp_path, capsys):
    target = tmp_path / "martech.toml"
    target.write_text("# mine\n")
    assert main(["init", str(target)]) == 2
    assert "--force" in capsys.readouterr().err
    assert target.read_text() == "# mine\n"
    assert main(["init", str(target), "--force"]) == 0


def test_bad_config_names_the_file_and_key(tmp_path):
    bad = tmp_path / "martech.toml"
    bad.write_text("[segments]\nmax_actve = 3\n")
    with pytest.raises(ConfigError, match=r"martech.toml: segments.max_actve"):
        load_settings(bad)
    bad.write_text("[segments\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)


@pytest.mark.parametrize("model", ["Profile", "Event", "RuleSegment", "Decision", "SyncPlan"])
def test_schema_prints_json_schema(model, capsys):
    assert main(["schema", model]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == model


def test_schema_of_unknown_model_is_one_clear_line(capsys):
    assert main(["schema", "Profil"]) == 2
    err = capsys.readouterr().err
    assert "unknown 'Profil'" in err
    assert "Profile" in err
    assert "Traceback" not in err


@pytest.fixture
def home(tmp_path):
    with Store(tmp_path / "martech.duckdb") as store:
        store.upsert_profiles(
            [
                Profile(
                    id="gary",
                    identities={"email": "gary@example.com"},
                    traits={"first_name": "Gary", "interest": "fishing"},
                    consent={"email": True},
                    events=[],
                )
            ]
        )
        store.append_events(
            [("gary", Event(type="view", item_id="SKU-1", ts=datetime(2026, 11, 1, tzinfo=UTC)))]
        )
    return tmp_path


def test_profiles_count_and_show(home, capsys):
    assert main(["--home", str(home), "profiles", "count", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["profiles"] == 1
    assert main(["--home", str(home), "profiles", "show", "email=GARY@example.com", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "gary"
    assert shown["events"][0]["item_id"] == "SKU-1"


def test_missing_profile_is_a_clear_error_without_pii(home, capsys):
    assert main(["--home", str(home), "profiles", "show", "email=nobody@example.com"]) == 2
    err = capsys.readouterr().err
    assert "no profile" in err
    assert "nobody@example.com" not in err


def test_profiles_on_a_missing_store_says_what_to_do(tmp_path, capsys):
    assert main(["--home", str(tmp_path / "none"), "profiles", "count"]) == 1
    assert "martech generate" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error(capsys):
    assert main(["profiles", "count", "--jsn"]) == 2


def test_a_broken_martech_toml_stops_every_command_with_the_key(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MARTECH_HOME", raising=False)
    (tmp_path / "martech.toml").write_text('[segments]\nmax_active = "lots"\n')
    assert main(["profiles", "count"]) == 2
    err = capsys.readouterr().err
    assert "martech.toml: segments.max_active" in err
    assert "integer" in err
    # init still works next to a broken file (it refuses to overwrite it, clearly)
    assert main(["init"]) != 0
    assert "exists" in capsys.readouterr().err


def test_martech_toml_store_home_and_segments_file_are_used(home, tmp_path, monkeypatch, capsys):
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("MARTECH_HOME", raising=False)
    (work / "defs.yml").write_text(
        "segments:\n  fishers:\n    name: Fishers\n    rule: {trait: interest, eq: fishing}\n"
    )
    (work / "martech.toml").write_text(f'[store]\nhome = "{home}"\n[segments]\nfile = "defs.yml"\n')
    assert main(["profiles", "count", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["profiles"] == 1
    assert main(["segments", "list", "--json"]) == 0
    assert "fishers" in capsys.readouterr().out
    # --home still wins over the file
    assert main(["--home", str(tmp_path / "none"), "profiles", "count"]) == 1


def test_plugins_strict_in_martech_toml_makes_a_broken_plugin_fatal(tmp_path, monkeypatch):
    import martech.cli as cli

    monkeypatch.chdir(tmp_path)
    # set, then delete: monkeypatch records the variable and restores its absence afterwards
    monkeypatch.setenv("MARTECH_STRICT_PLUGINS", "0")
    monkeypatch.delenv("MARTECH_STRICT_PLUGINS")
    (tmp_path / "martech.toml").write_text("[plugins]\nstrict = true\n")
    cli._strict_plugins_from_config()
    assert os.environ.get("MARTECH_STRICT_PLUGINS") == "1"


def test_version_answers_without_loading_plugins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import martech.cli as cli

    def no(*args: object) -> None:
        raise AssertionError("--version built the app (and loaded every plugin)")

    monkeypatch.setattr(cli, "build_app", no)
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("martech ")
