"""HubSpot connector settings: ``[connectors.hubspot]`` in martech.toml or ``MARTECH_HUBSPOT_*``."""

from __future__ import annotations

from pydantic import Field, SecretStr

from martech.connector import ConnectorConfig

from .mapping import DEFAULT_PROPERTIES


class HubSpotConfig(ConnectorConfig, frozen=True):
    """Private-app or OAuth access token, API root, and what to pull."""

    base_url: str = Field(
        default="https://api.hubapi.com",
        description="HubSpot API root; tests and the demo point it at the emulator.",
    )
    access_token: SecretStr = Field(description="Private-app token or OAuth access token.")
    properties: tuple[str, ...] = Field(
        default=DEFAULT_PROPERTIES, description="Contact properties to pull."
    )
    page_size: int = Field(default=100, ge=1, le=100, description="GET contacts `limit` (max 100).")
    search_page_size: int = Field(
        default=100, ge=1, le=200, description="Search page size (HubSpot allows up to 200)."
    )
    requests_per_10s: int = Field(
        default=100, ge=1, description="Burst limit: 100 (Free/Starter), 190 (Pro/Enterprise)."
    )
    search_per_second: int = Field(
        default=5, ge=1, description="Search endpoint limit per second (its own, per token)."
    )
    search_cap: int = Field(
        default=10_000,
        ge=1,
        description="Results the search API pages through at most [C3]; re-anchor before it.",
    )
    create_missing: bool = Field(
        default=False,
        description="When adding list members with no HubSpot contact, create the contact by "
        "email (batch upsert) instead of reporting it as rejected.",
    )
