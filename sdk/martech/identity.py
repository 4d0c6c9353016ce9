"""Identity normalization: the one place that decides when two identities are the same.

Emails are trimmed and lowercased, a trailing dot dropped; phones become E.164 (``phonenumbers``,
default region from ``MARTECH_DEFAULT_REGION``, else US); external ids are kept as given, trimmed.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

#: What the store takes as an email (``_bulk`` and the file importer use the same pattern).
EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s]+"


def normalize_email(value: str) -> str | None:
    """Trimmed and lowercased, a trailing dot dropped (``jane@example.com.``, a sentence's full
    stop or a DNS root, is ``jane@example.com``); plus-addressing kept. None when it is not one
    (the store's pattern: one @, no whitespace, a dot in the domain)."""
    value = value.strip().lower().rstrip(".")
    return value if re.fullmatch(EMAIL_PATTERN, value) else None


def default_region() -> str:
    """``MARTECH_DEFAULT_REGION`` (any case, spaces trimmed), else US: where a phone number
    written without its country code is read.

    :raises ConfigError: the value is no region phonenumbers knows (``UK``: Britain is ``GB``),
        which would make every national number invalid.
    """
    return _checked_region(os.environ.get("MARTECH_DEFAULT_REGION") or "US")


@lru_cache(maxsize=64)
def _checked_region(given: str) -> str:
    import phonenumbers

    region = given.strip().upper() or "US"
    if region not in phonenumbers.SUPPORTED_REGIONS:
        from .errors import ConfigError

        raise ConfigError(
            f"MARTECH_DEFAULT_REGION {given!r} is not a region code; expected two letters "
            "(ISO 3166) such as US, GB, SE, DE"
        )
    return region


def normalize_phone(value: str, region: str | None = None) -> str | None:
    """E.164 with a leading +, or None when the number is not valid. ``region``: where a
    national number is read (default :func:`default_region`, read at each call)."""
    return _normalize_phone(value, region.strip().upper() if region else default_region())


@lru_cache(maxsize=65536)
def _normalize_phone(value: str, region: str) -> str | None:
    # Cached by (value, region): a cache keyed by the value alone answered a second region
    # with the first one's reading (a process importing a GB file, then a US one).
    import phonenumbers

    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_identity(kind: str, value: str) -> str | None:
    """The stored form of one identity, or None when it is not usable."""
    if not isinstance(value, str):
        return None
    if kind == "email":
        return normalize_email(value)
    if kind == "phone":
        return normalize_phone(value.strip())
    value = value.strip()
    return value or None
