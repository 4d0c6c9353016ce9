"""The WordPress connector: variants as posts or reusable blocks over the REST API (wp/v2).

Auth is an application password over HTTP basic; a 401/403 (``rest_not_logged_in``,
``rest_cannot_create``) is an :class:`~martech.errors.AuthError` from the HTTP layer. Publishing is
idempotent by slug: an existing post with the variant's slug is updated, not duplicated (also
when a create's answer is lost: the slug is looked up before posting again), and left
alone when it already holds the same title, slug, content, excerpt and status (``unchanged``). A
post published before slugs carried a hash is found by its old slug and its exact title
``<placement>: <variant>`` (the title tells apart the pairs the old slug confused), then updated
in place and renamed to the new slug: a re-push never duplicates it. ``published_variants`` lists a
placement's live posts (so a push can name variants the YAML no longer has) and ``unpublish``
moves posts back to draft. Reading
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
from .mapping import legacy_slug, post_body, slug

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
        try:
            return await self.http.request(
                method, path, params=params, json=json, headers=self._auth()
            )
        except FatalVendorError as exc:
            if exc.status == 401 and _plain_http(self.config.base_url):
                exc.args = (
                    f"{exc}; note that WordPress accepts application passwords only over HTTPS "
                    "(or on a site whose environment type is 'local'): use an https:// base_url",
                )
            if exc.status == 404 and path == self._path:  # the collection itself is not there
                exc.args = (
                    self.http.redact(
                        f"{exc} (no {self.config.post_type} route under base_url "
                        f"{self.config.base_url!r}: base_url is the site's REST root, e.g. "
                        "https://example.com/wp-json)"
                    ),
                )
            raise

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
        post = await self._find(slug(v))
        if post is None:
            # Published before slugs carried a hash: the old slug, and only if the title says it
            # is this very (placement, variant); a post another pair wrote there is left alone.
            post = await self._find(legacy_slug(v), title=body["title"])
        if post is not None:
            if _holds(post, body):
                return PublishedContent(vendor_id=str(post["id"]), action="unchanged")
            r = await self._call("POST", f"{self._path}/{post['id']}", json=body)
            return PublishedContent(vendor_id=str(r.data["id"]), action="updated")
        return PublishedContent(vendor_id=await self._create(body), action="created")

    async def _create(self, body: dict[str, Any]) -> str:
        """POST a new post and return its id, never creating it twice.

        ``POST /wp/v2/posts`` is not idempotent: after a 5xx or a timeout WordPress may have saved
        the post all the same, and posting again would publish the variant twice (under slug
        ``…-2``). So after a transient failure the post is looked up by its slug (unique to this
        placement and variant) before the next attempt (:func:`~martech.http.create_once`).
        """
        from martech.http import create_once

        async def create() -> str:
            r = await self.http.request(
                "POST", self._path, json=body, headers=self._auth(), idempotent=False
            )
            return str(r.data["id"])

        async def find() -> str | None:
            saved = await self._find(body["slug"])
            return None if saved is None else str(saved["id"])

        return await create_once(create, find, attempts=self.http.retry.max_attempts)

    async def _find(self, post_slug: str, *, title: str | None = None) -> dict[str, Any] | None:
        """The post (any status, raw fields) with this slug (and this exact title), or None."""
        found = await self._call(
            "GET", self._path, params={"slug": post_slug, "status": "any", "context": "edit"}
        )
        for post in found.data if isinstance(found.data, list) else []:
            if isinstance(post, dict) and (title is None or _raw(post, "title") == title):
                return post
        return None

    async def published_variants(self, placement: str) -> dict[str, str]:
        """Variant id -> post id of ``placement``'s published posts (title ``<placement>: <id>``,
        slug ``martech-…``), found by searching for the placement key."""
        prefix = f"{placement}: "
        out: dict[str, str] = {}
        for post in await self.read_posts(search=placement, context="edit"):
            name = _raw(post, "title")
            if (
                isinstance(name, str)
                and name.startswith(prefix)
                and str(post.get("slug", "")).startswith("martech-")
                and post.get("status") == "publish"
            ):
                out[name[len(prefix) :]] = str(post["id"])
        return out

    async def unpublish(self, vendor_ids: Sequence[str]) -> list[str]:
        """Move these posts back to draft (kept, not deleted); returns the ids changed."""
        for post_id in vendor_ids:
            await self._call("POST", f"{self._path}/{post_id}", json={"status": "draft"})
        return list(vendor_ids)

    async def read_posts(
        self, *, search: str | None = "martech-", context: str | None = None
    ) -> list[dict[str, Any]]:
        """Every post (or block) the site lists, following X-WP-TotalPages.

        Without the paging headers (a proxy or cache that drops them), pages are read until one
        comes back short, or WordPress answers the page past the end with its 400
        ``rest_post_invalid_page_number``: never only the first page, silently.
        """
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"per_page": self.config.per_page, "status": "any"}
        if search:
            params["search"] = search
        if context:
            params["context"] = context
        for page in range(1, MAX_PAGES + 1):
            try:
                r = await self._call("GET", self._path, params={**params, "page": page})
            except FatalVendorError as exc:
                if page > 1 and _past_the_end(exc):
                    return out  # only reached when the headers are missing
                raise
            items = r.data if isinstance(r.data, list) else []
            out.extend(items)
            if "X-WP-TotalPages" not in r.headers:
                if len(items) < self.config.per_page:
                    return out
                continue
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


def _plain_http(url: str) -> bool:
    """``url`` is http:// to a host other than this machine."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1")


def _past_the_end(exc: FatalVendorError) -> bool:
    """WordPress's answer to a page number past the last one."""
    if exc.status != 400 or exc.response is None:
        return False
    try:
        body = exc.response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("code") == "rest_post_invalid_page_number"


def _raw(post: dict[str, Any], key: str) -> Any:
    """A field as stored (``context=edit``), not as rendered."""
    value = post.get(key)
    return value.get("raw") if isinstance(value, dict) else None


def _holds(post: dict[str, Any], body: dict[str, Any]) -> bool:
    """The post (read with ``context=edit``: raw fields) already says what ``body`` would."""
    return (
        post.get("status") == body["status"]
        and post.get("slug") == body["slug"]
        and all(_raw(post, key) == body[key] for key in ("title", "content", "excerpt"))
    )


__all__ = ["WordPressConnector"]
