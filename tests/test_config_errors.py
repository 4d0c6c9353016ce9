"""martech.toml and connector settings: an unknown key or a malformed URL is named, with a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from martech.cli import main
from martech.config import load_settings
from martech.connector import ConnectorConfig
from martech.errors import ConfigError


class VendorConfig(ConnectorConfig, frozen=True):
    api_key: SecretStr
    list_id: str = "l1"


def test_an_unknown_connector_key_is_named_with_the_known_ones_not_an_env_hint() -> None:
    with pytest.raises(ConfigError) as info:
        VendorConfig.load(
            "vendor", {"base_url": "https://api.vendor.com", "api_key": "k", "bogus": 1}, env={}
        )
    msg = str(info.value)
    assert msg == (
        "connectors.vendor.bogus: unknown setting; known: api_key, base_url, list_id, timeout"
    )
    assert "MARTECH_VENDOR_BOGUS" not in msg


def test_a_missing_setting_still_says_where_to_set_it() -> None:
    with pytest.raises(ConfigError, match=r"^connectors\.vendor\.api_key: Field required") as info:
        VendorConfig.load("vendor", {"base_url": "https://api.vendor.com"}, env={})
    assert "MARTECH_VENDOR_API_KEY" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "api.vendor.com/v3",  # no scheme
        "ftp://api.vendor.com",
        "https://",  # no host
        "http:///path",
        "http://host:port/x",  # port is not a number
        "https://api.vendor .com",
        "",
    ],
)
def test_a_malformed_base_url_is_a_config_error_naming_the_field(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        VendorConfig.load("vendor", {"base_url": url, "api_key": "k"}, env={})
    msg = str(info.value)
    assert msg.startswith("connectors.vendor.base_url: expected an http(s) URL")
    assert "MARTECH_VENDOR_BASE_URL" in msg


def test_a_malformed_base_url_from_the_environment_is_refused_too() -> None:
    with pytest.raises(ConfigError, match=r"connectors\.vendor\.base_url: expected an http"):
        VendorConfig.load("vendor", {"api_key": "k"}, env={"MARTECH_VENDOR_BASE_URL": "nope"})


def test_the_url_is_not_echoed_as_it_can_carry_credentials() -> None:
    with pytest.raises(ConfigError) as info:
        VendorConfig.load("vendor", {"base_url": "ftp://user:s3cret@host", "api_key": "k"}, env={})
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765",
        "http://127.0.0.1:8765/3.0",
        "http://vendor.test/api",
        "https://us21.api.mailchimp.com/3.0",
        "HTTPS://API.VENDOR.COM",
        "http://[::1]:9000/x",
    ],
)
def test_emulator_and_vendor_urls_are_accepted(url: str) -> None:
    assert VendorConfig.load("vendor", {"base_url": url, "api_key": "k"}, env={}).base_url == url


def test_a_subclass_that_redeclares_base_url_is_checked_as_well() -> None:
    from pydantic import Field

    class Defaulted(ConnectorConfig, frozen=True):
        base_url: str = Field(default="https://api.vendor.com")

    assert Defaulted.load("d", {}, env={}).base_url == "https://api.vendor.com"
    with pytest.raises(ConfigError, match=r"connectors\.d\.base_url"):
        Defaulted.load("d", {"base_url": "vendor.com"}, env={})


def test_martech_toml_unknown_keys_list_the_section_keys(tmp_path: Path) -> None:
    file = tmp_path / "martech.toml"
    file.write_text("[segments]\nmax_actve = 3\n")
    with pytest.raises(ConfigError) as info:
        load_settings(file)
    assert str(info.value) == (
        f"{file}: segments.max_actve: unknown setting; known: file, max_active"
    )
    file.write_text("bogus = 1\n")
    with pytest.raises(ConfigError, match="bogus: unknown setting; known: connectors, plugins"):
        load_settings(file)
    file.write_text("[segments]\nmax_active = 0\n")  # other errors keep pydantic's message
    with pytest.raises(ConfigError, match=r"segments\.max_active: Input should be greater"):
        load_settings(file)


def test_sync_apply_stops_on_a_bad_base_url_before_sending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARTECH_HOME", str(tmp_path / "home"))
    for name in ("API_KEY", "LIST_ID", "BASE_URL"):
        monkeypatch.delenv(f"MARTECH_MAILCHIMP_{name}", raising=False)
    (tmp_path / "martech.toml").write_text(
        '[connectors.mailchimp]\napi_key = "abc-us7"\nlist_id = "l1"\nbase_url = "not a url"\n'
    )
    code = main(["sync", "apply", "--examples", "purchasers", "--to", "mailchimp"])
    err = capsys.readouterr().err
    assert code == 2
    assert "connectors.mailchimp.base_url: expected an http(s) URL" in err
    assert "resume" not in err
