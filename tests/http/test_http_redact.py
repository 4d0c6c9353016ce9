"""redact: tokens, keys, emails and phones never survive."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from martech.http import redact

filler = st.text(alphabet=st.characters(whitelist_categories=("L", "Zs", "P")), max_size=30)


@given(st.emails(), filler, filler)
def test_emails_are_masked_wherever_they_appear(email: str, before: str, after: str) -> None:
    out = redact(f"{before} {email} {after}")
    assert email not in out


@given(st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True), filler)
def test_e164_phones_are_masked(phone: str, around: str) -> None:
    assert phone not in redact(f"{around} phone={phone} {around}")


@given(st.from_regex(r"[A-Za-z0-9._~-]{12,40}", fullmatch=True))
def test_bearer_tokens_are_masked(token: str) -> None:
    assert token not in redact(f"Authorization: Bearer {token}")
    assert token not in redact(f"GET /v1/x?access_token={token}&limit=5")
    assert token not in redact(f'{{"access_token": "{token}", "ok": true}}')


@pytest.mark.parametrize(
    "text",
    [
        "key 0123456789abcdef0123456789abcdef-us6 leaked",
        "token pat-na1-11111111-2222-3333-4444-555555555555",
        "call (555) 123-4567 now",
        "mail jane.doe%40example.com",
        "api_key=s3cr3tvalue&x=1",
    ],
)
def test_known_secret_and_pii_shapes_are_masked(text: str) -> None:
    out = redact(text)
    for secret in ("0123456789abcdef", "11111111-2222", "123-4567", "jane.doe", "s3cr3tvalue"):
        assert secret not in out


def test_record_ids_and_plain_text_survive() -> None:
    text = "PUT /crm/v3/lists/42/memberships/add: 400 Invalid record id 65059681027"
    assert redact(text) == text


def test_extra_secrets_are_masked_verbatim() -> None:
    assert "hunter22" not in redact("password was hunter22", secrets=["hunter22"])
