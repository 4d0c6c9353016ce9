"""Credential shapes a real log line carries that plain ``name=value`` / JSON patterns miss."""

from __future__ import annotations

import pytest

from martech.http.redact import redact

SECRET = "s3cretVALUE0123456789"


@pytest.mark.parametrize(
    "text",
    [
        # a params dict formatted into a message or log line (Python repr, single quotes)
        f"params={{'access_token': '{SECRET}', 'limit': 100}}",
        f"{{'api_key': '{SECRET}'}}",
        # camelCase JSON (OAuth SDKs, Contentful app config, webhook payloads)
        f'{{"accessToken": "{SECRET}"}}',
        f'{{"refreshToken": "{SECRET}"}}',
        f'{{"clientSecret": "{SECRET}"}}',
        # HubSpot's legacy API key travels in the query string
        f"GET https://api.hubapi.com/contacts/v1/lists?hapikey={SECRET}&count=10",
        # Meta's long-lived token exchange
        f"GET /oauth/access_token?grant_type=fb_exchange_token&fb_exchange_token={SECRET}",
        # session cookies in a header dump
        f"Cookie: session={SECRET}",
        f"Set-Cookie: __cf_bm={SECRET}; path=/; HttpOnly",
        f"access-token: {SECRET}",
    ],
)
def test_credential_shapes_are_masked(text: str) -> None:
    assert SECRET not in redact(text)


def test_plain_dict_values_that_are_not_secrets_survive() -> None:
    text = "params={'limit': 100, 'after': '65059681027', 'properties': 'email'}"
    assert redact(text) == text
