"""Identity normalization: the one place that decides when two identities are the same.

Emails are trimmed, lowercased and NFC-normalized, a trailing dot dropped; phones become E.164
(``phonenumbers``, default region from ``MARTECH_DEFAULT_REGION``, else US); external ids are
kept as given, trimmed.
"""

from __future__ import annotations

import os
import re
import unicodedata
from functools import lru_cache

#: What the store takes as an email (``_bulk`` and the file importer use the same pattern).
EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s]+"
#: :data:`EMAIL_PATTERN` for text of printable ASCII (``!`` to ``~``, no space): what SQL may
#: normalize itself, since its lower() and trim() and RE2's ``\s`` agree with Python's there.
#: Anything else (non-ASCII, control characters) is normalized by :func:`normalize_email`.
ASCII_EMAIL_PATTERN = r"[!-?A-~]+@[!-?A-~]+\.[!-?A-~]+"
_EMAIL = re.compile(EMAIL_PATTERN)


def normalize_email(value: str) -> str | None:
    """Trimmed, lowercased and NFC-normalized, a trailing dot dropped (``jane@example.com.``, a
    sentence's full stop or a DNS root, is ``jane@example.com``); plus-addressing kept. None
    when it is not one (the store's pattern: one @, no whitespace, a dot in the domain).

    NFC, not NFKC: NFC unifies only canonically equivalent spellings, which are the same text
    (``é`` precomposed, or ``e`` and a combining accent; RFC 5198's form for text on the wire).
    NFKC would also fold fullwidth letters, ligatures and superscripts: other addresses, which
    a mail server need not deliver alike, so other people.
    """
    value = value.strip().lower()
    if not value.isascii():  # ASCII text is its own NFC: skip the call (syncs run this per member)
        value = unicodedata.normalize("NFC", value)
    value = value.rstrip(".")
    return value if _EMAIL.fullmatch(value) else None


def normalize_email_sql(given: str) -> str:
    """DuckDB SQL giving :func:`normalize_email` of the text in ``given`` (NULL for no email).

    Printable ASCII is normalized in SQL; any other text (an accent, a non-ASCII space, a
    control character) by ``martech_normalize_email``, this function registered on every
    writable store's connection. DuckDB's lower() and trim(), RE2's whitespace class and an NFC
    in SQL each differ from Python's somewhere (``İ``, a final ``Σ``, a vertical tab, U+3000):
    the file import, the SDK's upsert and :meth:`~martech.store.Store.resolve` would disagree.
    """
    ascii_ = f"rtrim({given}, '.')"
    return (
        f"CASE WHEN regexp_full_match({ascii_}, '{ASCII_EMAIL_PATTERN}') THEN lower({ascii_}) "
        f"WHEN {given} IS NOT NULL THEN martech_normalize_email({given}) END"
    )


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
