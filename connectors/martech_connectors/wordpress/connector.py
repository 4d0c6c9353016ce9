"""The WordPress connector: variants as posts or reusable blocks over the REST API (wp/v2).

Auth is an application password over HTTP basic; a 401/403 (``rest_not_logged_in``,
``rest_cannot_create``) is an :class:`~martech.errors.AuthError` from the HTTP layer. Publishing is
idempotent by slug: an existing post with the variant's slug is updated, not duplicated, and left
alone when it already holds the same title, content, excerpt and status (``unchanged``). Reading
pages with ``page``/``per_page`` and stops at ``X-WP-TotalPages`` (``X-WP-Total`` counts items),
with a loop guard.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from martech.connector import Connector, ConnectorKind, Limits, PublishedContent
from martech.errors import FatalVendorError, ValidationError
from martech.models import AnyVariant, Capability, ContentVariant, Level

from .config import WordPressConfig
from .mapping import post_body, slug

if TYPE_CHECKING:
    from martech.http import HttpClient, Response

MAX_PAGES = 1000


class WordPressConnector(Connector):
    """A WordPress site's REST API."""

    name: ClassVar[str] = "wordpress"
    kind: ClassVar[ConnectorKind] = "cms"
    Config: ClassVar[type[WordPressConfig]] = WordPressConfig
    # Core has no rate limit (hosts and WAFs may); stay polite.
    limits: ClassVar[Limits] = Limits(concurrency=4)
    emulator: ClassVar[str | None] = "martech_connectors.wordpress.emulator:WordPressEmulator"

    config: WordPressConfig

    def capabilities(self) -> list[Capability]:
        return [
            Capability(
                name="push_content",
                claimed_level=Level.broadcast,
                description="Static and template variants (rendered with defaults) as posts "
                "or reusable blocks.",
            )
        ]

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from martech.http import HttpClient

            self._http = HttpClient(
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                limits=self.limits,
                vendor="wordpress",
            )
        return self._http

    def _auth(self) -> dict[str, str]:
        secret = self.config.app_password.get_secret_value()
        token = base64.b64encode(f"{self.config.username}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def _call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Response:
        return await self.http.request(method, path, params=params, json=json, headers=self._auth())

    @property
    def _path(self) -> str:
        return f"/wp/v2/{self.config.post_type}"

    def validate_content(self, variants: Sequence[ContentVariant]) -> None:
        """Refuse the whole set if any variant cannot be published (nothing is written)."""
        slugs: dict[str, str] = {}
        for v in variants:
            variant: AnyVariant = v  # type: ignore[assignment]
            body = post_body(variant, self.config.status)
            if body["slug"] in slugs:
                raise ValidationError(
                    f"variants {slugs[body['slug']]!r} and {v.id!r} share slug {body['slug']!r}"
                )
            slugs[body["slug"]] = v.id

    async def push_content(self, variant: ContentVariant) -> PublishedContent:
        """Create the post (or block), or update the one with the same slug (unless it already
        says the same: ``unchanged``, nothing written)."""
        v: AnyVariant = variant  # type: ignore[assignment]
        body = post_body(v, self.config.status)
        found = await self._call(
            "GET", self._path, params={"slug": slug(v), "status": "any", "context": "edit"}
        )
        if isinstance(found.data, list) and found.data:
            post = found.data[0]
            if _holds(post, body):
                return PublishedContent(vendor_id=str(post["id"]), action="unchanged")
            r = await self._call("POST", f"{self._path}/{post['id']}", json=body)
            return PublishedContent(vendor_id=str(r.data["id"]), action="updated")
        r = await self._call("POST", self._path, json=body)
        return PublishedContent(vendor_id=str(r.data["id"]), action="created")

    async def read_posts(self, *, search: str | None = "martech-") -> list[dict[str, Any]]:
        """Every post (or block) the site lists, following X-WP-TotalPages."""
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"per_page": self.config.per_page, "status": "any"}
        if search:
            params["search"] = search
        for page in range(1, MAX_PAGES + 1):
            r = await self._call("GET", self._path, params={**params, "page": page})
            out.extend(r.data or [])
            pages = int(r.headers.get("X-WP-TotalPages", "1") or 1)
            if page >= pages:
                total = int(r.headers.get("X-WP-Total", len(out)) or 0)
                if total != len(out):
                    raise FatalVendorError(
                        f"wordpress: X-WP-Total says {total} items, read {len(out)}",
                        vendor="wordpress",
                    )
                return out
        raise FatalVendorError(
            f"wordpress: more than {MAX_PAGES} pages; stopped (loop guard)", vendor="wordpress"
        )


def _holds(post: dict[str, Any], body: dict[str, Any]) -> bool:
    """The post (read with ``context=edit``: raw fields) already says what ``body`` would."""

    def raw(key: str) -> Any:
        value = post.get(key)
        return value.get("raw") if isinstance(value, dict) else None

    return post.get("status") == body["status"] and all(
        raw(key) == body[key] for key in ("title", "content", "excerpt")
    )


__all__ = ["WordPressConnector"]
