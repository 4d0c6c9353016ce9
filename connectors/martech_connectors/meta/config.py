"""Meta Custom Audiences settings: ``[connectors.meta]`` in martech.toml or MARTECH_META_*."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from martech.connector import ConnectorConfig
from martech.errors import ValidationError

from .mapping import DEFAULT_SCHEMA, check_schema


class MetaConfig(ConnectorConfig, frozen=True, extra="forbid"):
    """A Marketing API access token, the ad account and the Graph API version."""

    access_token: SecretStr = Field(
        description="System-user or user access token (ads_management)."
    )
    ad_account_id: str = Field(
        pattern=r"^(act_)?\d+$", description="The ad account id, with or without act_."
    )
    api_version: str = Field(
        default="v25.0", pattern=r"^v\d+\.\d+$", description="Graph API version, e.g. v25.0."
    )
    base_url: str = Field(default="https://graph.facebook.com", description="Graph API host.")
    schema_keys: tuple[str, ...] = Field(
        default=DEFAULT_SCHEMA,
        description="Multi-key schema sent per row (EMAIL, PHONE, FN, LN, CT, COUNTRY, …).",
    )
    customer_file_source: Literal[
        "USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"
    ] = Field(default="USER_PROVIDED_ONLY", description="Where the customer data came from.")
    min_audience_size: int = Field(
        default=100, ge=0, description="Refuse to upload audiences with fewer matchable people."
    )
    batch_rows: int = Field(default=10_000, ge=1, le=10_000, description="Rows per /users call.")

    @field_validator("schema_keys", mode="before")
    @classmethod
    def _schema(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(v.strip() for v in value.split(",") if v.strip())
        if isinstance(value, list | tuple):
            try:
                return check_schema([str(v) for v in value])
            except ValidationError as exc:
                raise ValueError(str(exc).removeprefix("schema: ")) from None
        return value

    @property
    def account(self) -> str:
        """``act_<id>`` as the Graph path wants it."""
        return (
            self.ad_account_id
            if self.ad_account_id.startswith("act_")
            else (f"act_{self.ad_account_id}")
        )


__all__ = ["MetaConfig"]
