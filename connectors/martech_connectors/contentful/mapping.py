"""Pure mapping between martech content variants and Contentful entries.

An entry per (placement, variant): id ``<placement>--<variant>`` (Contentful ids match
``^[a-zA-Z0-9-_.]{1,64}$``); fields ``placement``, ``variantId``, ``channel``, ``kind``, ``body``
(static content or template text), ``defaults`` (JSON), ``strategy`` and ``slots``. The CMA wants
locale-keyed fields (``{"body": {"en-US": "…"}}``); the CDA answers single-locale fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from martech.errors import ValidationError
from martech.models import AnyVariant, StaticVariant, TemplateVariant

_ID = re.compile(r"^[a-zA-Z0-9\-_.]{1,64}$")
#: Contentful's long-text (Text) field limit.
MAX_BODY = 50_000
_VARIANT: TypeAdapter[AnyVariant] = TypeAdapter(AnyVariant)


def entry_id(variant: AnyVariant) -> str:
    """The entry id for a variant; a ValidationError if Contentful would refuse it."""
    value = f"{variant.placement}--{variant.id}"
    if not _ID.match(value):
        raise ValidationError(
            f"variant {variant.id!r} of {variant.placement!r}: entry id {value!r} must match "
            "[a-zA-Z0-9-_.] and be at most 64 characters",
            field="id",
        )
    return value


def variant_fields(variant: AnyVariant) -> dict[str, Any]:
    """Single-locale fields of the entry for ``variant``."""
    fields: dict[str, Any] = {
        "placement": variant.placement,
        "variantId": variant.id,
        "channel": variant.channel,
        "kind": variant.kind,
    }
    if isinstance(variant, StaticVariant):
        fields["body"] = variant.content
    elif isinstance(variant, TemplateVariant):
        fields["body"] = variant.template
        fields["defaults"] = dict(variant.defaults)
    else:
        fields["body"] = variant.template
        fields["strategy"] = variant.strategy
        fields["slots"] = variant.slots
    if len(fields["body"]) > MAX_BODY:
        raise ValidationError(
            f"variant {variant.id!r}: body has {len(fields['body'])} characters; Contentful "
            f"long text holds at most {MAX_BODY}",
            field="body",
        )
    return fields


def localize(fields: Mapping[str, Any], locale: str) -> dict[str, dict[str, Any]]:
    """CMA shape: every field keyed by locale."""
    return {name: {locale: value} for name, value in fields.items()}


def delocalize(fields: Mapping[str, Any], locale: str) -> dict[str, Any]:
    """CMA locale-keyed fields -> single-locale values (missing locales are dropped)."""
    return {n: v[locale] for n, v in fields.items() if isinstance(v, Mapping) and locale in v}


def entry_to_variant(entry: Mapping[str, Any]) -> AnyVariant:
    """A CDA entry (single-locale fields) -> the variant it holds."""
    f = entry.get("fields") or {}
    kind = f.get("kind")
    base = {"id": f.get("variantId"), "channel": f.get("channel"), "placement": f.get("placement")}
    data: dict[str, Any]
    if kind == "static":
        data = {**base, "kind": kind, "content": f.get("body")}
    elif kind == "template":
        data = {
            **base,
            "kind": kind,
            "template": f.get("body"),
            "defaults": f.get("defaults") or {},
        }
    elif kind == "recommendation":
        data = {**base, "kind": kind, "template": f.get("body"), "strategy": f.get("strategy"),
                "slots": f.get("slots", 4)}  # fmt: skip
    else:
        raise ValidationError(
            f"entry {_sys_id(entry)!r}: unknown variant kind {kind!r}", field="kind"
        )
    try:
        return _VARIANT.validate_python(data)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValidationError(
            f"entry {_sys_id(entry)!r}: {where}: {err['msg']}", field=where
        ) from None


def _sys_id(entry: Mapping[str, Any]) -> str:
    sys = entry.get("sys") or {}
    return str(sys.get("id", "?"))


__all__ = ["delocalize", "entry_id", "entry_to_variant", "localize", "variant_fields"]
