"""WordPress paging when a proxy strips ``X-WP-Total`` / ``X-WP-TotalPages``: the connector keeps
reading while pages come back full, instead of stopping silently after the first page."""

from __future__ import annotations

import httpx
import pytest

from martech.http import run_sync
from martech.http.budget import forget_budgets
from martech.personalize.placements import example_placements
from martech.personalize.push import push_variants
from martech_connectors.wordpress.connector import WordPressConnector
from martech_connectors.wordpress.emulator import WordPressEmulator

HOME = example_placements()["home_hero"]


class StripHeaders(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        r = await self.inner.handle_async_request(request)
        await r.aread()
        headers = {k: v for k, v in r.headers.items() if not k.lower().startswith("x-wp-")}
        headers.pop("content-length", None)
        return httpx.Response(r.status_code, headers=headers, content=r.content)


@pytest.fixture
def emulator() -> WordPressEmulator:
    forget_budgets()
    return WordPressEmulator()


def connect(emulator: WordPressEmulator, per_page: int, *, strip: bool) -> WordPressConnector:
    t: httpx.AsyncBaseTransport = emulator.transport()
    return emulator.bind(
        WordPressConnector, transport=StripHeaders(t) if strip else t, per_page=per_page
    )


@pytest.mark.parametrize("per_page", [3, 4, 6])  # 6 posts: full last page, short, one page
def test_without_the_headers_every_page_is_still_read(
    emulator: WordPressEmulator, per_page: int
) -> None:
    run_sync(push_variants(connect(emulator, 100, strip=False), HOME))
    posts = run_sync(connect(emulator, per_page, strip=True).read_posts())
    assert len(posts) == len(HOME.variants) == 6
    assert len({p["id"] for p in posts}) == 6
