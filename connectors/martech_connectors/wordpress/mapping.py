"""Pure mapping between martech content variants and WordPress posts / blocks.

A variant becomes one post (or reusable block) with slug ``martech-<placement>-<variant>`` and
title ``<placement>: <variant>``. A web page is public, so what is published must never show a
raw ``{{token}}``: a template variant is published rendered with its declared defaults, and a
recommendation variant (filled per person) is refused — serve it with ``decide()`` or an ESP.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from martech.errors import ValidationError
from martech.models import AnyVariant, RecommendationVariant, StaticVariant

_SLUG = re.compile(r"[^a-z0-9-]+")


def slug(variant: AnyVariant) -> str:
    """``martech-<placement>-<variant>``, lowercased, WordPress-safe."""
    raw = f"martech-{variant.placement}-{variant.id}".lower().replace("_", "-")
    return _SLUG.sub("-", raw).strip("-")[:200]


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
        "title": f"{variant.placement}: {variant.id}",
        "slug": slug(variant),
        "status": status,
        "content": f"<!-- wp:paragraph -->\n<p>{html.escape(text)}</p>\n<!-- /wp:paragraph -->",
        "excerpt": text[:150],
    }


def post_text(post: Mapping[str, Any]) -> str:
    """The visible text of a post as the REST API renders it (``content.rendered``)."""
    content = post.get("content")
    rendered = content.get("rendered", "") if isinstance(content, Mapping) else ""
    return html.unescape(re.sub(r"<[^>]+>|<!--.*?-->", "", str(rendered), flags=re.S)).strip()


__all__ = ["post_body", "post_text", "slug"]
