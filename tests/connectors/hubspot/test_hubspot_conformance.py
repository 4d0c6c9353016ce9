"""HubSpot passes the connector conformance kit (emulator on loopback)."""

from __future__ import annotations

from martech.connector import ConnectorConfig
from martech.models import Profile
from martech.sandbox import Emulator
from martech.testing.conformance import ConnectorConformance
from martech_connectors.hubspot.config import HubSpotConfig
from martech_connectors.hubspot.connector import HubSpotConnector
from martech_connectors.hubspot.emulator import HubSpotEmulator
from martech_connectors.hubspot.mapping import profile_to_properties


class TestHubSpotConformance(ConnectorConformance):
    connector = HubSpotConnector

    def config(self, base_url: str) -> ConnectorConfig:
        return HubSpotConfig(access_token="pat-na1-conformance-token-0000", base_url=base_url)

    def prepare_emulator(self, emulator: Emulator, profiles: list[Profile]) -> None:
        """Lists hold existing contacts: create the people as HubSpot contacts first."""
        assert isinstance(emulator, HubSpotEmulator)
        emulator.add_contacts(profile_to_properties(p) for p in profiles)
