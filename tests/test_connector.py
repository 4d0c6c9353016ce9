"""The Connector base: what every connector inherits."""

from __future__ import annotations

import asyncio

import pytest

from martech.testing.reference import ReferenceConfig, ReferenceConnector


def test_async_with_closes_the_connector_however_the_block_ends() -> None:
    closed: list[str] = []

    class Recording(ReferenceConnector):
        async def aclose(self) -> None:
            closed.append(self.name)

    config = ReferenceConfig(base_url="http://reference.test", api_key="sk_test")

    async def fails() -> None:
        async with Recording(config=config) as connector:
            assert isinstance(connector, Recording)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(fails())
    assert closed == ["reference"]


def test_the_base_http_client_is_named_after_the_connector() -> None:
    """A connector that keeps the base ``http`` gets errors that name its vendor (and the
    vendor's reset headers, where martech knows them), not a generic "vendor"."""
    from martech.connector import Connector, ConnectorConfig

    class Plain(Connector):
        name = "plainvendor"
        kind = "other"
        Config = ConnectorConfig

    connector = Plain(config=ConnectorConfig(base_url="http://plain.test"))
    assert connector.http.vendor == "plainvendor"


@pytest.mark.parametrize(
    ("secret", "complaint"),
    [("", "api_key: is empty"), ("sk_live_x\n", "api_key: starts or ends with whitespace")],
)
def test_an_unusable_secret_is_refused_when_the_config_loads(secret: str, complaint: str) -> None:
    """Every connector's SecretStr settings: an empty one, or one with a newline pasted with
    it, is a ConfigError naming the setting (never the value), not a request retried in vain."""
    from martech.errors import ConfigError

    with pytest.raises(ConfigError, match=complaint) as info:
        ReferenceConfig.load("reference", {"base_url": "http://r.test", "api_key": secret}, env={})
    assert "sk_live" not in str(info.value)
    spaced = ReferenceConfig.load(
        "reference", {"base_url": "http://r.test", "api_key": "abcd efgh"}, env={}
    )  # spaces inside are allowed: WordPress application passwords have them
    assert spaced.api_key.get_secret_value() == "abcd efgh"


@pytest.mark.parametrize("show", [repr, str], ids=["repr", "str"])
def test_a_config_never_shows_credentials_in_its_base_url(show) -> None:
    """``https://user:key@host`` is refused unechoed by the validator for that reason; repr and
    str (a log line, a traceback, a debugger) hide it as they hide SecretStr fields."""
    config = ReferenceConfig(base_url="https://admin:s3cr3t@api.vendor.com/v1", api_key="k")
    shown = show(config)
    assert "s3cr3t" not in shown
    assert "admin" not in shown
    assert "api.vendor.com/v1" in shown
    assert config.base_url == "https://admin:s3cr3t@api.vendor.com/v1"  # the value is intact


@pytest.mark.parametrize(
    "fields",
    [
        {"base_url": "https://api.vendor.com", "api_key": "tok-SECRET\n"},
        {"base_url": "https://u:SECRET@ api.vendor.com", "api_key": "k"},
        {"base_url": "https://api.vendor.com", "api_key": "k", "api_kee": "SECRET"},
    ],
    ids=["secret-with-newline", "url-with-credentials", "misspelled-secret-field"],
)
def test_a_config_built_directly_never_echoes_input_in_its_validation_error(fields) -> None:
    """Config.load turns errors into one line without values; a config built directly (SDK
    code, a connector's own tests) raised pydantic's error, which quotes the input."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        ReferenceConfig(**fields)
    assert "SECRET" not in str(info.value)
    assert "SECRET" not in repr(info.value.errors(include_input=False))
