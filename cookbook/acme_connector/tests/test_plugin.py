"""The package registers its connector with martech through the entry point."""

from __future__ import annotations

from martech.plugins import registry

from martech_acme.connector import AcmeConnector


def test_the_connector_is_registered() -> None:
    reg = registry(reload=True)
    assert reg.connectors["acme"] is AcmeConnector
    assert not [e for e in reg.errors if "acme" in str(e)]
