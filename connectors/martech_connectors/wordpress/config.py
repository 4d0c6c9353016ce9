"""WordPress settings: ``[connectors.wordpress]`` in martech.toml or MARTECH_WORDPRESS_*."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from martech.connector import ConnectorConfig


class WordPressConfig(ConnectorConfig, frozen=True, extra="forbid"):
    """A site's REST root, a user and an application password (HTTP basic auth)."""

    base_url: str = Field(description="The site's REST root, e.g. https://example.com/wp-json.")
    username: str = Field(min_length=1)
    app_password: SecretStr = Field(description="Application password (Users → Profile).")
    post_type: Literal["posts", "blocks"] = Field(
        default="posts", description="Publish as posts, or as reusable blocks (wp_block)."
    )
    status: Literal["publish", "draft", "private"] = "publish"
    per_page: int = Field(default=100, ge=1, le=100, description="Items per page when reading.")


__all__ = ["WordPressConfig"]
