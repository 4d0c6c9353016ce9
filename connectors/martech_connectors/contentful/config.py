"""Contentful settings: ``[connectors.contentful]`` in martech.toml or MARTECH_CONTENTFUL_*."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError

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

    @field_validator("management_token", "delivery_token")
    @classmethod
    def _usable_token(cls, value: SecretStr) -> SecretStr:
        """An empty token, or one with a space or newline in it, cannot be a header value: say
        so when the config loads instead of retrying a request that can never be sent. The
        value is never echoed."""
        secret = value.get_secret_value()
        if not secret:
            raise PydanticCustomError("empty_token", "is empty")
        if any(c.isspace() for c in secret):
            raise PydanticCustomError(
                "token_whitespace",
                "contains whitespace (a stray space or newline from copying it?); "
                "a token is one unbroken string",
            )
        return value


__all__ = ["ContentfulConfig"]
