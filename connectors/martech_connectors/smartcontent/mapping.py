"""Pure mapping between martech records and SmartContent's wire format.

SmartContent's decide call takes a "visitor": an id, attributes and a behaviour history (it asks
for everything, which is part of the pitch), and answers with an "experience".
"""

from __future__ import annotations

from typing import Any

from martech.models import ContentVariant, Profile, StaticVariant, TemplateVariant


def visitor(profile: Profile) -> dict[str, Any]:
    """The request body for ``POST /v2/experiences/{placement}/decide``."""
    return {
        "visitor": {
            "id": profile.id,
            "attributes": dict(profile.traits),
            "history": [
                {
                    "type": e.type,
                    "sku": e.item_id,
                    "at": e.ts.isoformat().replace("+00:00", "Z"),
                    "value": e.value,
                }
                for e in profile.events
            ],
        }
    }


def experience_variant(data: Any, placement: str) -> StaticVariant:
    """The ``experience`` of a decide answer as a StaticVariant (headline and body joined)."""
    exp = data["experience"]
    return StaticVariant(
        id=str(exp["id"]),
        channel="web",
        placement=placement,
        content=f"{exp['headline']} {exp['body']}",
    )


def content_entry(variant: ContentVariant) -> dict[str, Any]:
    """The body for ``POST /v2/content``: one entry, its text and SmartContent's token syntax."""
    if isinstance(variant, StaticVariant):
        text = variant.content
    elif isinstance(variant, TemplateVariant):
        text = variant.template.replace("{{", "[[").replace("}}", "]]")
    else:
        text = ""
    return {
        "entry": {
            "key": variant.id,
            "placement": variant.placement,
            "channel": variant.channel,
            "text": text,
        }
    }
