"""Mask secrets and personal data in text before it reaches a log line or an error message.

``redact`` is pure and conservative: it masks bearer/basic credentials (a quoted one whole, up to
its closing quote, spaces and all), API keys and tokens in query strings, headers and JSON, email
addresses (also URL-encoded) and phone numbers written in E.164 (``+4915…``) or with separators
(``(555) 123-4567``). Bare digit runs are left alone on
purpose: vendor record ids (HubSpot's ``65059681027``) are what a person debugging needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"

_SCHEMES = r"bearer|basic|token|klaviyo-api-key|apikey|api-key|oauth"
_AUTH_SCHEME = re.compile(rf"(?i)\b({_SCHEMES})(\s+)[A-Za-z0-9._~+/=:\\-]+")
# A quoted header value (``b'Bearer abc def\n'`` in an h11 error, ``"Bearer …"`` in JSON): the
# whole value after the scheme up to the closing quote, since a malformed credential may hold
# spaces or escaped newlines that the token pattern above would stop at.
_AUTH_QUOTED = re.compile(rf"(?i)(['\"])({_SCHEMES})(\s+)(?:(?!\1)[^\r\n])+(?=\1)")
# snake_case, kebab-case and camelCase spellings (``access_token``, ``access-token``,
# ``accessToken``: the patterns are case-insensitive), HubSpot's legacy ``hapikey`` and Meta's
# ``fb_exchange_token`` query parameters, and cookies in a header dump.
_SECRET_NAMES = (
    r"access[_-]?token|refresh[_-]?token|id[_-]?token|token|api[_-]?key|hapikey|key|secret|"
    r"client[_-]?secret|private[_-]?key|password|passwd|authorization|x-api-key|appsecret_proof|"
    r"fb_exchange_token|signature|sig|cookie|set-cookie"
)
# name=value in a query string or form body
_QUERY_SECRET = re.compile(rf"(?i)([?&;\s]|^)({_SECRET_NAMES})=([^&\s#\"']+)")
# "name": "value" in JSON, and name: value in a header dump
_JSON_SECRET = re.compile(rf"(?i)(\"(?:{_SECRET_NAMES})\"\s*:\s*\")([^\"]*)(\")")
# 'name': 'value' in a Python repr (a params dict formatted into a message)
_REPR_SECRET = re.compile(rf"(?i)('(?:{_SECRET_NAMES})'\s*:\s*')([^']*)(')")
_HEADER_SECRET = re.compile(rf"(?im)^(\s*(?:{_SECRET_NAMES})\s*:\s*)(.+)$")
# Mailchimp API keys: 32 hex + -usN; HubSpot private-app tokens: pat-na1-uuid
_VENDOR_KEYS = re.compile(
    r"\b[0-9a-f]{32}-us\d{1,3}\b|\bpat-[a-z]{2,3}\d?-[0-9a-f-]{20,}\b|\bEAA[A-Za-z0-9]{20,}\b"
)
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z0-9-]{2,}"
)
_PHONE_E164 = re.compile(r"(?:\+|%2B)\d[\d\s().-]{5,18}\d")
_PHONE_FORMATTED = re.compile(r"(?<![\w.-])\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\w-])")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with tokens, API keys, emails and phone numbers replaced by ``***``.

    ``secrets`` are exact strings to mask as well (an HTTP client passes its credentials).
    """
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _AUTH_QUOTED.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{MASK}", text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}={MASK}", text)
    text = _JSON_SECRET.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    text = _REPR_SECRET.sub(
        lambda m: m.group(0) if MASK in m.group(2) else f"{m.group(1)}{MASK}{m.group(3)}", text
    )
    text = _HEADER_SECRET.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _VENDOR_KEYS.sub(MASK, text)
    text = _EMAIL.sub("<email>", text)
    text = _PHONE_E164.sub("<phone>", text)
    return _PHONE_FORMATTED.sub("<phone>", text)


__all__ = ["MASK", "redact"]
