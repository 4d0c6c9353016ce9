"""Pushing to Contentful: an unusable token is a ConfigError at load, not five retries."""

from __future__ import annotations

import pytest

from martech.errors import ConfigError
from martech_connectors.contentful.config import ContentfulConfig

GOOD = {"space_id": "space1", "management_token": "cma-ok", "delivery_token": "cda-ok"}


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "is empty"),
        ("abc def\n", "contains whitespace"),
        ("abc\n", "contains whitespace"),
        (" abc", "contains whitespace"),
    ],
)
@pytest.mark.parametrize("field", ["management_token", "delivery_token"])
def test_an_empty_or_broken_token_is_a_config_error_naming_the_setting(
    field: str, value: str, why: str
) -> None:
    env = {f"MARTECH_CONTENTFUL_{field.upper()}": value}
    with pytest.raises(ConfigError) as caught:
        ContentfulConfig.load("contentful", GOOD, env=env)
    message = str(caught.value)
    assert message.startswith(f"connectors.contentful.{field}: {why}")
    assert f"MARTECH_CONTENTFUL_{field.upper()}" in message
    if value.strip():
        assert value.strip() not in message  # the value itself is never echoed


def test_a_plain_token_loads() -> None:
    config = ContentfulConfig.load("contentful", GOOD, env={})
    assert config.management_token.get_secret_value() == "cma-ok"
