"""Mistakes on our side of the wire are ConfigErrors at once, not transient failures retried."""

from __future__ import annotations

import pytest

from martech.errors import ConfigError
from martech.http import HttpClient
from martech.http.budget import forget_budgets
from martech.sandbox import Emulator, json_response
from martech.testing.fakes import RecordedSleeps as Sleeps

pytestmark = pytest.mark.anyio

TOKEN = "tok_live_0123456789abcdef"


class Ok(Emulator):
    name = "ok"

    def routes(self):  # type: ignore[no-untyped-def]
        from starlette.routing import Route

        async def ok(request):  # type: ignore[no-untyped-def]
            return json_response({"ok": True})

        return [Route("/x", ok)]


@pytest.fixture(autouse=True)
def _fresh_budgets() -> None:
    forget_budgets()


@pytest.mark.parametrize("base_url", ["api.hubapi.com", "htps://api.hubapi.com"])
async def test_a_base_url_without_a_usable_scheme_is_a_config_error(base_url: str) -> None:
    sleeps = Sleeps()
    c = HttpClient(base_url=base_url, sleep=sleeps)
    with pytest.raises(ConfigError, match="base URL"):
        await c.get("/x")
    assert c.requests == 1
    assert sleeps.waits == []


async def test_a_credential_with_a_non_ascii_character_is_a_config_error() -> None:
    c = HttpClient(
        base_url="https://api.vendor.test",
        headers={"Authorization": f"Bearer {TOKEN}\u00a0"},  # a pasted no-break space
        sleep=Sleeps(),
        transport=Ok().transport(),
    )
    with pytest.raises(ConfigError, match="not ASCII") as caught:
        await c.get("/x")
    assert TOKEN not in str(caught.value)


async def test_a_credential_with_a_newline_is_a_config_error_not_retried() -> None:
    """h11 refuses the header (LocalProtocolError, an httpx TransportError): nothing the
    vendor did, so no retry; the message keeps the token masked."""
    sleeps = Sleeps()
    with Ok().serve() as url:
        c = HttpClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}\n"}, sleep=sleeps)
        with pytest.raises(ConfigError) as caught:
            await c.get("/x")
    assert c.requests == 1
    assert sleeps.waits == []
    assert TOKEN not in str(caught.value)


async def test_credentials_in_the_base_url_never_reach_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A base URL with ``user:password@`` goes out as Basic auth without the URL carrying it, so
    httpx's own INFO line (and ours) never shows the password."""
    import logging

    with Ok().serve() as url:
        host = url.split("://", 1)[1]
        c = HttpClient(base_url=f"http://editor:{TOKEN}@{host}", sleep=Sleeps())
        with caplog.at_level(logging.DEBUG):
            r = await c.get("/x")
        assert r.data == {"ok": True}
    assert TOKEN not in caplog.text
    assert TOKEN not in c.base_url
    assert c.headers["Authorization"].startswith("Basic ")
    assert TOKEN not in c.redact(f"pw={TOKEN}")
