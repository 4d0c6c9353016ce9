"""The SmartContent connector: ``decide`` and ``push_content``, both sold as AI personalization."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from martech.connector import Connector, ConnectorConfig, ConnectorKind, Limits
from martech.models import Capability, ContentVariant, Decision, Level, Profile

from . import mapping


class SmartContentConfig(ConnectorConfig, frozen=True):
    """API token and root: ``[connectors.smartcontent]`` or ``MARTECH_SMARTCONTENT_*``."""

    base_url: str = Field(
        default="https://api.smartcontent.example",
        description="SmartContent API root; tests and the demo point it at the emulator.",
    )
    api_token: SecretStr = Field(description="Workspace API token (Bearer).")


class SmartContentConnector(Connector):
    name: ClassVar[str] = "smartcontent"
    kind: ClassVar[ConnectorKind] = "cms"
    Config: ClassVar[type[ConnectorConfig]] = SmartContentConfig
    limits: ClassVar[Limits] = Limits(requests_per_interval=50, interval_seconds=1.0, concurrency=4)
    emulator: ClassVar[str | None] = "martech_connectors.smartcontent.emulator:SmartContentEmulator"
    identity_keys: ClassVar[tuple[str, ...]] = ("email",)

    def capabilities(self) -> list[Capability]:
        # What the vendor's website says. `martech audit` checks the decide claim.
        return [
            Capability(
                name="decide",
                claimed_level=Level.personalization,
                inputs=["traits.*", "events"],
                description="AI-powered 1:1 personalization of every experience (vendor's words)",
            ),
            Capability(
                name="push_content",
                claimed_level=Level.personalization,
                inputs=[],
                description="Publish content the AI adapts to each visitor (vendor's words)",
            ),
        ]

    def _auth(self) -> dict[str, str]:
        config = self.config
        assert isinstance(config, SmartContentConfig)
        return {"Authorization": f"Bearer {config.api_token.get_secret_value()}"}

    async def decide(self, profile: Profile, placement: str) -> Decision | ContentVariant | str:
        response = await self.http.request(
            "POST",
            f"/v2/experiences/{placement}/decide",
            json=mapping.visitor(profile),
            headers=self._auth(),
        )
        return mapping.experience_variant(response.data, placement)

    async def push_content(self, variant: ContentVariant) -> str:
        response = await self.http.request(
            "POST", "/v2/content", json=mapping.content_entry(variant), headers=self._auth()
        )
        return str(response.data["entry"]["id"])
