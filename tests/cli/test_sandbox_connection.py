"""What ``martech sandbox serve`` prints to point a connector at the emulator.

Plain settings go in ``martech.toml`` lines, secrets in ``export`` lines — whatever the secret
field's annotation looks like — and a required field the emulator does not give is named.
"""

from __future__ import annotations

import shlex
import tomllib
from typing import Annotated, Any, ClassVar, Literal, Optional

import pytest
from pydantic import Field, Secret, SecretBytes, SecretStr

from martech.cli.sandbox import connection_lines, is_secret
from martech.connector import ConnectorConfig
from martech.sandbox import available, emulator_class


@pytest.mark.parametrize(
    ("annotation", "secret"),
    [
        (SecretStr, True),
        (SecretStr | None, True),
        (Optional[SecretStr], True),  # noqa: UP045 - the spelling under test
        (Annotated[SecretStr, "token"], True),
        (SecretBytes | None, True),
        (Secret[int], True),
        (str | SecretStr, True),
        (str, False),
        (str | None, False),
        (list[str], False),
        (Literal["a", "b"], False),
        (Any, False),
    ],
    ids=repr,
)
def test_a_secret_is_recognised_inside_optional_and_unions(annotation: Any, secret: bool) -> None:
    assert is_secret(annotation) is secret


class FakeConfig(ConnectorConfig, frozen=True):
    account: str = Field(description="Plain.")
    api_key: SecretStr | None = Field(default=None, description="Optional secret.")
    token: SecretStr = Field(description="Required secret the emulator does not give.")


class FakeConnector:
    name: ClassVar[str] = "fake"
    Config = FakeConfig


def split(lines: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The martech.toml table and the environment that ``lines`` set."""
    toml = "\n".join(line for line in lines if not line.startswith("export "))
    env = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in lines
        if line.startswith("export ")
    )
    return tomllib.loads(toml), env


def test_an_optional_secret_is_exported_never_written_to_martech_toml(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("martech.plugins.get_connector", lambda name: FakeConnector)
    settings = {"base_url": "http://127.0.0.1:9", "account": "a1", "api_key": "s3cret"}
    lines = connection_lines("fake", settings)
    toml, env = split(lines)
    assert toml["connectors"]["fake"] == {"base_url": "http://127.0.0.1:9", "account": "a1"}
    assert env == {"MARTECH_FAKE_API_KEY": "s3cret"}
    assert [line for line in lines if "s3cret" in line] == ["export MARTECH_FAKE_API_KEY=s3cret"]


def test_a_required_field_the_emulator_does_not_give_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("martech.plugins.get_connector", lambda name: FakeConnector)
    lines = connection_lines("fake", {"base_url": "http://127.0.0.1:9"})
    assert "# required but not given by the emulator: set account" in lines
    assert "# required but not given by the emulator: set token (MARTECH_FAKE_TOKEN)" in lines
    assert not any("api_key" in line for line in lines)  # optional: not asked for
    assert not any("timeout" in line for line in lines)


@pytest.mark.parametrize("name", sorted(available()))
def test_what_serve_prints_for_a_shipped_connector_loads_as_its_config(name: str) -> None:
    from martech.plugins import get_connector

    lines = connection_lines(name, emulator_class(name)().connection("http://127.0.0.1:9"))
    assert not any(line.startswith("# required") for line in lines)
    toml, env = split(lines)
    config = get_connector(name).Config.load(name, toml["connectors"][name], env)
    for key, value in env.items():
        field = key.removeprefix(f"MARTECH_{name.upper()}_").lower()
        assert getattr(config, field).get_secret_value() == value


def test_the_reference_emulator_gives_every_setting_its_connector_requires() -> None:
    """What a scaffolded connector copies: its emulator's settings load as its config, so
    ``martech sandbox serve NAME`` prints a working connection out of the box."""
    from martech.testing.reference import ReferenceConfig, ReferenceEmulator

    settings = ReferenceEmulator().connection("http://127.0.0.1:9")
    config = ReferenceConfig.model_validate(settings)
    assert config.base_url == "http://127.0.0.1:9"
    assert config.api_key.get_secret_value() == "reference-sandbox-token"
