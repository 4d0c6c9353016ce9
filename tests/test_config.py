"""martech.toml -> Settings: what a settings object shows of the secrets it may hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.config import load_settings
from martech.connector import ConnectorConfig
from martech.errors import ConfigError

TOML = """
[connectors.hubspot]
access_token = "pat-na1-SUPERSECRET"
base_url = "https://user:hunter2@api.hubapi.com"
"""


@pytest.mark.parametrize("show", [repr, str], ids=["repr", "str"])
def test_settings_never_show_connector_values_which_can_be_secrets(
    tmp_path: Path, show: object
) -> None:
    """martech.toml's [connectors.<name>] tables are raw until a connector's Config types them
    (SecretStr), so a Settings in a log line, a traceback or a debugger shows their keys only."""
    (tmp_path / "martech.toml").write_text(TOML)
    settings = load_settings(tmp_path / "martech.toml")
    shown = show(settings)  # type: ignore[operator]
    assert "SUPERSECRET" not in shown
    assert "hunter2" not in shown
    assert "access_token" in shown  # which keys are set still shows
    assert "hubspot" in shown
    # The values are all there for the connector's Config.
    assert settings.connectors["hubspot"]["access_token"] == "pat-na1-SUPERSECRET"


def _toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    (tmp_path / "martech.toml").write_text(text)
    monkeypatch.chdir(tmp_path)


def _build_with_sync(name: str) -> object:
    from martech.cli.sync import build_connector

    return build_connector(name)


def _build_with_push(name: str) -> object:
    from martech.personalize.push import connector_for

    return connector_for(name)


@pytest.mark.parametrize("build", [_build_with_sync, _build_with_push], ids=["sync", "push"])
def test_a_misspelled_connector_table_is_an_error_not_silently_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build: object
) -> None:
    """[connectors.hubsopt] configures nothing: its create_missing = true (say) would silently
    not apply to hubspot. Named, with the installed connector it is closest to."""
    _toml(
        tmp_path,
        monkeypatch,
        "[connectors.hubsopt]\ncreate_missing = true\n"
        '[connectors.hubspot]\nbase_url = "http://127.0.0.1:9"\naccess_token = "t"\n',
    )
    with pytest.raises(ConfigError) as info:
        build("hubspot")  # type: ignore[operator]
    msg = str(info.value)
    assert msg.startswith("martech.toml: [connectors.hubsopt]: no installed connector is named")
    assert "did you mean 'hubspot'?" in msg
    assert "hubspot, mailchimp" in msg  # the installed ones are listed


def test_connector_tables_of_installed_connectors_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _toml(
        tmp_path,
        monkeypatch,
        '[connectors.hubspot]\nbase_url = "http://127.0.0.1:9"\n'
        '[connectors.mailchimp]\nbase_url = "http://127.0.0.1:8"\n',
    )
    monkeypatch.setenv("MARTECH_HUBSPOT_ACCESS_TOKEN", "from-env")
    connector = _build_with_sync("hubspot")
    assert connector.config.base_url == "http://127.0.0.1:9"  # type: ignore[attr-defined]
    assert connector.config.access_token.get_secret_value() == "from-env"  # type: ignore[attr-defined]


def test_a_misspelled_connector_variable_is_an_error_naming_the_right_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MARTECH_HUBSPOT_BASEURL pointing at a sandbox, ignored, would leave base_url from
    martech.toml (production, say) in force."""
    _toml(tmp_path, monkeypatch, '[connectors.hubspot]\nbase_url = "https://api.hubapi.com"\n')
    monkeypatch.setenv("MARTECH_HUBSPOT_ACCESS_TOKEN", "t")
    monkeypatch.setenv("MARTECH_HUBSPOT_BASEURL", "http://127.0.0.1:9")
    with pytest.raises(ConfigError) as info:
        _build_with_sync("hubspot")
    msg = str(info.value)
    assert msg.startswith("MARTECH_HUBSPOT_BASEURL: hubspot has no setting 'baseurl'")
    assert "did you mean MARTECH_HUBSPOT_BASE_URL?" in msg
    assert "127.0.0.1" not in msg  # the value is never echoed


def test_sdk_code_loading_a_config_gets_the_same_check_as_the_cli() -> None:
    """Config.load is where the environment is read, so a script that builds its connector
    itself is checked too (the check used to run only where the CLI configured one)."""
    from martech_connectors.hubspot.config import HubSpotConfig

    env = {"MARTECH_HUBSPOT_ACCESS_TOKEN": "t", "MARTECH_HUBSPOT_BASEURL": "http://127.0.0.1:9"}
    with pytest.raises(ConfigError) as info:
        HubSpotConfig.load("hubspot", {"base_url": "https://api.hubapi.com"}, env=env)
    assert str(info.value).startswith("MARTECH_HUBSPOT_BASEURL: hubspot has no setting")
    assert "127.0.0.1" not in str(info.value)
    del env["MARTECH_HUBSPOT_BASEURL"]
    env["MARTECH_HUBSPOT_BASE_URL"] = "http://127.0.0.1:9"
    config = HubSpotConfig.load("hubspot", {"base_url": "https://api.hubapi.com"}, env=env)
    assert config.base_url == "http://127.0.0.1:9"


def test_variables_of_another_connector_sharing_the_prefix_are_not_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from martech.plugins import registry

    hubspot = registry().connectors["hubspot"]
    monkeypatch.setitem(registry().connectors, "hubspot_eu", hubspot)
    _toml(tmp_path, monkeypatch, '[connectors.hubspot]\nbase_url = "http://127.0.0.1:9"\n')
    monkeypatch.setenv("MARTECH_HUBSPOT_ACCESS_TOKEN", "t")
    monkeypatch.setenv("MARTECH_HUBSPOT_EU_ACCESS_TOKEN", "eu")  # hubspot_eu's
    assert _build_with_sync("hubspot").config.base_url == "http://127.0.0.1:9"  # type: ignore[attr-defined]


def _not_utf8(path: Path) -> None:
    path.write_bytes(b"# caf\xe9 (saved as Latin-1)\n[plugins]\nstrict = false\n")


def _a_folder(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize("make", [_not_utf8, _a_folder], ids=["not-utf8", "a-folder"])
def test_an_unreadable_martech_toml_is_a_config_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], make
) -> None:
    """Every command reads martech.toml: one saved in Latin-1, or a folder of that name, was an
    'internal error' (exit 70) from every command."""
    from martech.cli import main

    make(tmp_path / "martech.toml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"martech\.toml: cannot read it"):
        load_settings()
    assert main(["schema", "Profile"]) == 2
    err = capsys.readouterr().err
    assert "martech.toml: cannot read it" in err
    assert "internal error" not in err


class _ListyConfig(ConnectorConfig, frozen=True):
    properties: tuple[str, ...] = ("email",)
    lists: list[str] | None = None
    weights: dict[str, int] = {}


@pytest.mark.parametrize(
    ("var", "raw", "field", "expected"),
    [
        ("PROPERTIES", "email,phone , city", "properties", ("email", "phone", "city")),
        ("PROPERTIES", '["email", "phone"]', "properties", ("email", "phone")),
        ("LISTS", "l1,l2", "lists", ["l1", "l2"]),
        ("WEIGHTS", '{"vip": 3}', "weights", {"vip": 3}),
    ],
    ids=["tuple-commas", "tuple-json", "optional-list", "dict-json"],
)
def test_a_list_or_table_setting_can_come_from_the_environment(var, raw, field, expected) -> None:
    """The missing-setting hint names MARTECH_<NAME>_<FIELD> for every field, yet a tuple or
    dict field refused any value from there ('Input should be a valid tuple')."""
    env = {f"MARTECH_LISTY_{var}": raw}
    config = _ListyConfig.load("listy", {"base_url": "https://api.vendor.com"}, env=env)
    assert getattr(config, field) == expected


def test_a_malformed_json_value_in_the_environment_names_the_variable_not_the_value() -> None:
    env = {"MARTECH_LISTY_WEIGHTS": '{"vip": SECRET'}
    with pytest.raises(ConfigError) as info:
        _ListyConfig.load("listy", {"base_url": "https://api.vendor.com"}, env=env)
    assert str(info.value).startswith("MARTECH_LISTY_WEIGHTS: expected a JSON object")
    assert "SECRET" not in str(info.value)


def test_a_martech_toml_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Windows editors save UTF-8 with a BOM; it read as 'not valid TOML: Invalid statement
    (at line 1, column 1)' on a file that looks right."""
    (tmp_path / "martech.toml").write_bytes(b"\xef\xbb\xbf[plugins]\nstrict = true\n")
    assert load_settings(tmp_path / "martech.toml").plugins.strict is True


def test_martechs_own_variables_are_not_taken_for_a_connectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connector named 'load' or 'test' has MARTECH_LOAD_* / MARTECH_TEST_* variables, and so
    do martech's own MARTECH_LOAD_PLUGINS and MARTECH_TEST_PG_DSN."""
    from martech.plugins import registry

    hubspot = registry().connectors["hubspot"]
    monkeypatch.setitem(registry().connectors, "load", hubspot)
    _toml(tmp_path, monkeypatch, '[connectors.load]\nbase_url = "http://127.0.0.1:9"\n')
    monkeypatch.setenv("MARTECH_LOAD_ACCESS_TOKEN", "t")
    monkeypatch.setenv("MARTECH_LOAD_PLUGINS", "hubspot,files")
    from martech.config import connector_settings

    assert connector_settings("load") == {"base_url": "http://127.0.0.1:9"}
