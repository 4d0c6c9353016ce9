"""martech.toml -> Settings: what a settings object shows of the secrets it may hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech.config import load_settings

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
