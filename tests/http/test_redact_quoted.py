"""redact: a quoted credential is masked whole, even when it holds a space or an escaped newline."""

from __future__ import annotations

import pytest

from martech.http import HttpClient, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # h11's message for a header value it will not send (the reviewer's 'abc def\n' token)
        (
            "LocalProtocolError: Illegal header value b'Bearer abc def\\n'",
            "LocalProtocolError: Illegal header value b'Bearer ***'",
        ),
        ('headers={"Authorization": "Bearer abc def"}', 'headers={"Authorization": "***"}'),
        ('b"Basic dXNl cjpw\'YXNz"', 'b"Basic ***"'),
        ("{'Authorization': 'Token abc def ghi'}", "{'Authorization': 'Token ***'}"),
    ],
)
def test_the_whole_quoted_value_after_the_scheme_is_masked(text: str, expected: str) -> None:
    out = redact(text)
    assert out == expected
    for part in ("abc", "def", "ghi", "cjpw", "YXNz"):
        assert part not in out


def test_an_unquoted_credential_still_masks_only_itself() -> None:
    assert redact("sent Bearer abc.def then got 401") == "sent Bearer *** then got 401"


def test_a_client_masks_a_token_with_a_space_in_its_repr() -> None:
    client = HttpClient(base_url="http://x.test", headers={"Authorization": "Bearer abc def\n"})
    message = "Illegal header value " + repr(b"Bearer abc def\n")
    assert "def" in message
    assert "abc" not in client.redact(message)
    assert "def" not in client.redact(message)
