"""The Mailchimp connector passes the conformance kit against its emulator on loopback."""

from __future__ import annotations

from martech.connector import ConnectorConfig
from martech.testing.conformance import ConnectorConformance
from martech_connectors.mailchimp.config import MailchimpConfig
from martech_connectors.mailchimp.connector import MailchimpConnector
from martech_connectors.mailchimp.emulator import DEFAULT_API_KEY, DEFAULT_LIST_ID


class TestMailchimpConformance(ConnectorConformance):
    connector = MailchimpConnector

    def config(self, base_url: str) -> ConnectorConfig:
        # 100 per page so the kit's 250 seeded members span pages and a looping server shows.
        return MailchimpConfig(
            api_key=DEFAULT_API_KEY,
            list_id=DEFAULT_LIST_ID,
            base_url=f"{base_url}/3.0",
            page_size=100,
        )
