"""Mailchimp settings: ``[connectors.mailchimp]`` in martech.toml or MARTECH_MAILCHIMP_*."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from martech.connector import ConnectorConfig
from martech.errors import ValidationError

from .mapping import base_url_for


class MailchimpConfig(ConnectorConfig, frozen=True, extra="forbid"):
    """An API key (its ``-us21`` suffix names the datacenter) and the audience (list) to use."""

    api_key: SecretStr = Field(description="Marketing API key, e.g. 0123…cdef-us21.")
    list_id: str = Field(min_length=1, description="The audience (list) id.")
    base_url: str = Field(
        default="",
        description="Defaults to https://<dc>.api.mailchimp.com/3.0 from the key's suffix; "
        "tests and the demo point it at the emulator.",
    )
    status_if_new: Literal["subscribed", "pending", "transactional"] = Field(
        default="subscribed",
        description="Status given to people the sync adds to the audience for the first time "
        "(the sync engine only sends people with email consent).",
    )
    page_size: int = Field(default=1000, ge=1, le=1000, description="Members per pull page.")

    @model_validator(mode="before")
    @classmethod
    def _base_url_from_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("base_url"):
            key = data.get("api_key")
            raw = key.get_secret_value() if isinstance(key, SecretStr) else key
            if isinstance(raw, str) and raw:
                try:
                    data = {**data, "base_url": base_url_for(raw)}
                except ValidationError as exc:
                    raise ValueError(str(exc)) from None
        return data


__all__ = ["MailchimpConfig"]
