"""The Contentful connector: variants as entries through the CMA, the catalogue from the CDA.

``published_variants`` lists a placement's published entries from the Delivery API, so a push can
name the variants the YAML no longer has; ``unpublish`` takes them off the Delivery API (they stay
in the space as drafts).

Writes follow Contentful's optimistic locking (``shared/research/vendor-apis.md`` §4.1): read the
entry, ``PUT`` the *whole* entry with ``X-Contentful-Version: <sys.version>``, then publish with
the new version. A ``409 VersionMismatch`` (someone edited in between) is handled by re-reading the
entry and retrying once; a second conflict is an error naming the entry. 429s wait for
``X-Contentful-RateLimit-Reset`` (the HTTP layer's Contentful hook). ``validate_content`` checks
every variant before :func:`martech.personalize.push.push_variants` writes the first one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from martech.connector import Connector, ConnectorKind, Limits, PublishedContent
from martech.errors import FatalVendorError, ValidationError
from martech.models import AnyVariant, Capability, ContentVariant, Level

from .config import ContentfulConfig
from .mapping import entry_id, entry_to_variant, localize, variant_fields

if TYPE_CHECKING:
    from martech.http import HttpClient, Response

CMA_TYPE = "application/vnd.contentful.management.v1+json"
#: Loop guard for CDA paging: at most this many pages per read.
MAX_PAGES = 1000


class ContentfulConnector(Connector):
    """Contentful CMA (write) + CDA (read) for one space and environment."""

    name: ClassVar[str] = "contentful"
    kind: ClassVar[ConnectorKind] = "cms"
    Config: ClassVar[type[ContentfulConfig]] = ContentfulConfig
    # CMA: 7 requests/s per space on the free tier (10 on paid).
    limits: ClassVar[Limits] = Limits(requests_per_interval=7, interval_seconds=1.0, concurrency=4)
    emulator: ClassVar[str | None] = "martech_connectors.contentful.emulator:ContentfulEmulator"

    config: ContentfulConfig

    def __init__(
        self,
        *,
        config: ContentfulConfig,
        http: HttpClient | None = None,
        delivery: HttpClient | None = None,
    ) -> None:
        super().__init__(config=config, http=http)
        self._delivery = delivery
        #: Conflicts met and resolved by re-reading (for reports and tests).
        self.conflicts = 0

    def capabilities(self) -> list[Capability]:
        return [
            Capability(
                name="push_content",
                claimed_level=Level.broadcast,
                inputs=[],
                description="Placement variants as entries of one content type, published.",
            )
        ]

    # ------------------------------------------------------------------------------ plumbing

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from martech.http import HttpClient

            self._http = HttpClient(
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                limits=self.limits,
                vendor="contentful",
            )
        return self._http

    @property
    def delivery(self) -> HttpClient:
        if self._delivery is None:
            from martech.http import HttpClient

            self._delivery = HttpClient(
                base_url=self.config.delivery_url, timeout=self.config.timeout, vendor="contentful"
            )
        return self._delivery

    @property
    def _entries(self) -> str:
        return f"/spaces/{self.config.space_id}/environments/{self.config.environment}/entries"

    async def _cma(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> Response:
        token = self.config.management_token.get_secret_value()
        send = {"Authorization": f"Bearer {token}", "Content-Type": CMA_TYPE, **(headers or {})}
        return await self.http.request(method, path, json=json, headers=send)

    # ----------------------------------------------------------------------------- writing

    def validate_content(self, variants: Sequence[ContentVariant]) -> None:
        """Refuse the whole set if any variant cannot become an entry (nothing is written)."""
        seen: dict[str, str] = {}
        for v in variants:
            variant: AnyVariant = v  # type: ignore[assignment]
            eid = entry_id(variant)
            variant_fields(variant)
            if eid in seen:
                raise ValidationError(f"variants {seen[eid]!r} and {v.id!r} map to entry {eid!r}")
            seen[eid] = v.id

    async def push_content(self, variant: ContentVariant) -> PublishedContent:
        """Create or update the variant's entry, then publish it.

        Only this connector's locale of the variant's fields is written: other locales and
        fields someone added in Contentful are kept (a PUT replaces the whole ``fields``). An
        entry already holding these values, published with no draft changes on top
        (``version == publishedVersion + 1``), is left alone: ``unchanged``, nothing written.
        """
        v: AnyVariant = variant  # type: ignore[assignment]
        eid = entry_id(v)
        ours = localize(variant_fields(v), self.config.locale)
        path = f"{self._entries}/{eid}"
        created = False
        for attempt in (1, 2):
            current = await self._current(path)
            fields = ours if current is None else _overlay(current.get("fields") or {}, ours)
            if current is not None and _published_as(current, fields):
                return PublishedContent(vendor_id=eid, action="created" if created else "unchanged")
            body = {"fields": fields}
            version = None if current is None else int(current["sys"]["version"])
            headers = (
                {"X-Contentful-Content-Type": self.config.content_type}
                if version is None
                else {"X-Contentful-Version": str(version)}
            )
            step = "updated"
            try:
                saved = await self._cma("PUT", path, json=body, headers=headers)
                created = created or version is None
                new_version = int(saved.data["sys"]["version"])
                step = "published"
                await self._cma(
                    "PUT", f"{path}/published", headers={"X-Contentful-Version": str(new_version)}
                )
            except FatalVendorError as exc:
                if exc.status != 409:
                    raise
                if attempt == 1:
                    # Edited in between (before our save, or between the save and the publish):
                    # re-read the version and retry once.
                    self.conflicts += 1
                    continue
                live = (
                    "saved as a draft but not published (the Delivery API does not serve it)"
                    if step == "published"
                    else "not saved"
                )
                raise FatalVendorError(
                    f"contentful: entry {eid!r} changed again while being {step} "
                    f"(409 VersionMismatch twice); {live}; re-run the push",
                    vendor="contentful",
                    status=409,
                ) from None
            return PublishedContent(vendor_id=eid, action="created" if created else "updated")
        raise AssertionError("unreachable")  # pragma: no cover

    async def unpublish(self, vendor_ids: Sequence[str]) -> list[str]:
        """Take these entries off the Delivery API (``DELETE …/published``); each stays in the
        space as a draft. An entry edited in between (409) is re-read once. Returns the ids
        unpublished (one already gone or unpublished is skipped)."""
        done: list[str] = []
        for eid in vendor_ids:
            path = f"{self._entries}/{eid}"
            for attempt in (1, 2):
                current = await self._current(path)
                if current is None or current["sys"].get("publishedVersion") is None:
                    break
                version = str(current["sys"]["version"])
                try:
                    await self._cma(
                        "DELETE", f"{path}/published", headers={"X-Contentful-Version": version}
                    )
                except FatalVendorError as exc:
                    if exc.status == 409 and attempt == 1:
                        continue
                    raise
                done.append(eid)
                break
        return done

    async def _current(self, path: str) -> dict[str, Any] | None:
        """The entry as the Management API holds it (draft fields, versions), or None."""
        try:
            r = await self._cma("GET", path)
        except FatalVendorError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(r.data, dict) or not isinstance(r.data.get("sys"), dict):
            raise FatalVendorError(
                f"contentful: GET {path} returned no entry (no sys)", vendor="contentful"
            )
        return r.data

    # ----------------------------------------------------------------------------- reading

    async def read_variants(self, placement: str | None = None) -> list[AnyVariant]:
        """Published variants from the Delivery API (the catalogue), paged by skip/limit."""
        return [entry_to_variant(e) for e in await self._delivered(placement)]

    async def published_variants(self, placement: str) -> dict[str, str]:
        """Variant id -> entry id of ``placement``'s published entries (from the Delivery API,
        read as raw fields: an entry this version cannot parse is still listed)."""
        out: dict[str, str] = {}
        for e in await self._delivered(placement):
            fields, sys = e.get("fields") or {}, e.get("sys") or {}
            if fields.get("variantId") is not None:
                out[str(fields["variantId"])] = str(sys.get("id", ""))
        return out

    async def _delivered(self, placement: str | None) -> list[dict[str, Any]]:
        """The Delivery API's entries of the variant content type, every page."""
        token = self.config.delivery_token.get_secret_value()
        params: dict[str, Any] = {
            "content_type": self.config.content_type,
            "locale": self.config.locale,
            "limit": self.config.page_size,
            "order": "sys.id",
        }
        if placement is not None:
            params["fields.placement"] = placement
        out: list[dict[str, Any]] = []
        skip = 0
        for _ in range(MAX_PAGES):
            r = await self.delivery.request(
                "GET",
                self._entries,
                params={**params, "skip": skip},
                headers={"Authorization": f"Bearer {token}"},
            )
            items = r.data.get("items") or []
            out.extend(e for e in items if isinstance(e, dict))
            total = int(r.data.get("total", 0))
            skip += len(items)
            if not items or skip >= total:
                return out
        raise FatalVendorError(
            f"contentful: more than {MAX_PAGES} pages of variants; stopped (loop guard)",
            vendor="contentful",
        )

    async def aclose(self) -> None:
        await super().aclose()
        if self._delivery is not None:
            await self._delivery.aclose()


def _overlay(current: dict[str, Any], ours: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The entry's fields with ours written over them, locale by locale."""
    out = {name: dict(by_locale) for name, by_locale in current.items()}
    for name, by_locale in ours.items():
        out.setdefault(name, {}).update(by_locale)
    return out


def _published_as(entry: dict[str, Any], fields: dict[str, Any]) -> bool:
    """The entry holds ``fields`` and is published with no draft changes since."""
    sys = entry["sys"]
    published = sys.get("publishedVersion")
    return (
        entry.get("fields") == fields
        and isinstance(published, int)
        and sys.get("version") == published + 1
    )


__all__ = ["ContentfulConnector"]
