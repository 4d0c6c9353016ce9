"""The Meta connector passes the conformance kit against its emulator on loopback.

Meta cannot list an audience's members, so the kit counts the people the emulator holds
(``MetaEmulator.size``) where it would read the audience back, and allows a resumed sync to
re-send the batches that were in flight at the kill (Meta holds hashes as a set).
"""

from __future__ import annotations

from martech.connector import ConnectorConfig
from martech.testing.conformance import ConnectorConformance
from martech_connectors.meta.config import MetaConfig
from martech_connectors.meta.connector import MetaConnector
from martech_connectors.meta.emulator import DEFAULT_ACCOUNT, DEFAULT_TOKEN


class TestMetaConformance(ConnectorConformance):
    connector = MetaConnector

    def config(self, base_url: str) -> ConnectorConfig:
        return MetaConfig(
            access_token=DEFAULT_TOKEN,
            ad_account_id=DEFAULT_ACCOUNT,
            base_url=base_url,
            min_audience_size=0,
        )
