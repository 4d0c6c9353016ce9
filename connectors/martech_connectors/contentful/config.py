"""Contentful settings: ``[connectors.contentful]`` in martech.toml or MARTECH_CONTENTFUL_*."""

from __future__ import annotations

from pydantic import Field, SecretStr

from martech.connector import ConnectorConfig


class ContentfulConfig(ConnectorConfig, frozen=True, extra="forbid"):
    """A space, an environment, a management token (writes) and a delivery token (reads)."""

    space_id: str = Field(min_length=1, pattern=r"^[a-zA-Z0-9\-_.]{1,64}$")
    environment: str = Field(default="master", pattern=r"^[a-zA-Z0-9\-_.]{1,64}$")
    management_token: SecretStr = Field(description="Content Management API token.")
    delivery_token: SecretStr = Field(description="Content Delivery API token.")
    base_url: str = Field(
        default="https://api.contentful.com", description="Content Management API root."
    )
    delivery_url: str = Field(
        default="https://cdn.contentful.com", description="Content Delivery API root."
    )
    content_type: str = Field(
        default="martechVariant", description="Content type id of variant entries."
    )
    locale: str = Field(default="en-US")
    page_size: int = Field(default=100, ge=1, le=1000, description="Entries per CDA page.")


__all__ = ["ContentfulConfig"]
