"""martech's conformance kit against the Acme emulator (offline, loopback only)."""

from __future__ import annotations

from martech.connector import ConnectorConfig
from martech.testing.conformance import ConnectorConformance
from pydantic import SecretStr

from martech_acme.connector import AcmeConfig, AcmeConnector


class TestAcmeConformance(ConnectorConformance):
    connector = AcmeConnector

    def config(self, base_url: str) -> ConnectorConfig:
        return AcmeConfig(base_url=base_url, api_key=SecretStr("test-key"))
