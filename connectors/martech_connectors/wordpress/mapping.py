"""Pure mapping between martech content variants and WordPress posts / blocks.

A variant becomes one post (or reusable block) with slug ``martech-<placement>-<variant>-<hash>``
and title ``<placement>: <variant>``. The readable part alone is ambiguous (``promo`` + ``hero_a``
and ``promo_hero`` + ``a`` both read ``promo-hero-a``; so do ``my-hero`` and ``my_hero``), so 8 hex
digits of a hash of the exact placement key and variant id end every slug. A post published
before the hash (slug :func:`legacy_slug`) is found by that slug *and* its exact title, and renamed
when it is next updated. A web page is public, so what is published must never show a
raw ``{{token}}``: a template variant is published rendered with its declared defaults, and a
recommendation variant (filled per person) is refused — serve it with ``decide()`` or an ESP.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from typing import Any

from martech.errors import ValidationError
from martech.models import AnyVariant, RecommendationVariant, StaticVariant

_SLUG = re.compile(r"[^a-z0-9-]+")


def legacy_slug(variant: AnyVariant) -> str:
    """``martech-<placement>-<variant>``, lowercased, WordPress-safe: readable, not unique."""
    raw = f"martech-{variant.placement}-{variant.id}".lower().replace("_", "-")
    return _SLUG.sub("-", raw).strip("-")[:200]


def slug(variant: AnyVariant) -> str:
    """:func:`legacy_slug` (cut to 180 characters) + ``-`` + 8 hex digits of a hash of the
    exact placement key and variant id, so two (placement, variant) pairs never share a post."""
    exact = f"{variant.placement}\x1f{variant.id}".encode()
    return f"{legacy_slug(variant)[:180].rstrip('-')}-{hashlib.sha256(exact).hexdigest()[:8]}"


def title(variant: AnyVariant) -> str:
    """``<placement>: <variant>``: exact, so it tells apart posts a legacy slug confused."""
    return f"{variant.placement}: {variant.id}"


def post_body(variant: AnyVariant, status: str) -> dict[str, Any]:
    """The JSON body of ``POST /wp/v2/posts`` for ``variant``; refuses per-person variants."""
    from martech.personalize.placements import render

    if isinstance(variant, RecommendationVariant):
        raise ValidationError(
            f"variant {variant.id!r} is a recommendation filled per person; a CMS page cannot "
            "hold it (serve it with decide() at request time or push it to an ESP)",
            field="kind",
        )
    if isinstance(variant, StaticVariant):
        text = variant.content
    else:
        text = render(variant.template, {}, variant.defaults)
    return {
        "title": title(variant),
        "slug": slug(variant),
        "status": status,
        "content": f"<!-- wp:paragraph -->\n<p>{html.escape(text)}</p>\n<!-- /wp:paragraph -->",
        "excerpt": html.escape(text[:150]),  # HTML like the content (kses keeps it as sent)
    }


def post_text(post: Mapping[str, Any]) -> str:
    """The visible text of a post as the REST API renders it (``content.rendered``)."""
    content = post.get("content")
    rendered = content.get("rendered", "") if isinstance(content, Mapping) else ""
    return html.unescape(re.sub(r"<[^>]+>|<!--.*?-->", "", str(rendered), flags=re.S)).strip()


__all__ = ["legacy_slug", "post_body", "post_text", "slug", "title"]
