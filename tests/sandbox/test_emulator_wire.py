"""Vendor emulators answer as the vendors document: next links a client can follow, rate-limit
headers that tell which limit was hit, fault knobs scoped as named."""

from __future__ import annotations

import base64

import httpx
import pytest

from martech.errors import RateLimitedError
from martech.http import HttpClient, LinkPaginator, RetryPolicy, paginate
from martech.http.budget import forget_budgets
from martech.sandbox import Faults
from martech.testing.fakes import RecordedSleeps as Sleeps
from martech_connectors.hubspot.emulator import HubSpotEmulator
from martech_connectors.mailchimp.emulator import DEFAULT_API_KEY, MailchimpEmulator
from martech_connectors.meta.emulator import DEFAULT_TOKEN, MetaEmulator
from martech_connectors.wordpress.emulator import WordPressEmulator

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _fresh_budgets() -> None:
    forget_budgets()


async def test_wordpress_link_next_without_a_query_is_a_url_that_works() -> None:
    emu = WordPressEmulator()
    for i in range(25):
        emu.items["posts"][i + 1] = {"id": i + 1, "status": "publish", "slug": f"p{i}",
                                     "title": {"rendered": f"P{i}"}}  # fmt: skip
    http = HttpClient(base_url="http://wp.test", transport=emu.transport(), vendor="wordpress")
    pages = [
        p
        async for p in paginate(
            http, "GET", "/wp-json/wp/v2/posts", paginator=LinkPaginator(), items_path=None
        )
    ]
    assert [len(p.items) for p in pages] == [10, 10, 5]
    async with httpx.AsyncClient(transport=emu.transport(), base_url="http://wp.test") as c:
        r = await c.get("/wp-json/wp/v2/posts", params={"page": 2})
    assert '<http://wp.test/wp-json/wp/v2/posts?page=3>; rel="next"' in r.headers["Link"]
    assert '<http://wp.test/wp-json/wp/v2/posts?page=1>; rel="prev"' in r.headers["Link"]


async def test_wordpress_link_keeps_the_other_query_parameters() -> None:
    emu = WordPressEmulator()
    for i in range(3):
        emu.items["posts"][i + 1] = {"id": i + 1, "status": "publish", "slug": f"p{i}",
                                     "title": {"rendered": f"P{i}"}}  # fmt: skip
    async with httpx.AsyncClient(transport=emu.transport(), base_url="http://wp.test") as c:
        r = await c.get("/wp-json/wp/v2/posts", params={"per_page": 1, "page": 2})
    link = r.headers["Link"]
    assert "<http://wp.test/wp-json/wp/v2/posts?per_page=1&page=3>" in link


async def test_meta_paging_next_without_a_query_is_a_url_that_works() -> None:
    emu = MetaEmulator()
    for i in range(60):
        emu.create_audience(f"a{i}")
    http = HttpClient(
        base_url="http://graph.test",
        transport=emu.transport(),
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
        vendor="meta",
    )
    pages = [
        p
        async for p in paginate(
            http,
            "GET",
            "/v25.0/act_1234567890/customaudiences",
            paginator=LinkPaginator(next_path=("paging", "next")),
            items_path=("data",),
        )
    ]
    assert [len(p.items) for p in pages] == [25, 25, 10]
    assert len({i["id"] for p in pages for i in p.items}) == 60


async def test_hubspot_search_limit_429_keeps_the_burst_remaining() -> None:
    """A 429 from the search limit (per second) must not say the 10 s burst is spent, or the
    client waits the whole 10 s window instead of a second."""
    emu = HubSpotEmulator(search_per_second=1, burst_limit=100)
    sleeps = Sleeps()
    http = HttpClient(
        base_url="http://hubspot.test",
        transport=emu.transport(),
        headers={"Authorization": "Bearer pat-na1-x"},
        vendor="hubspot",
        sleep=sleeps,
        retry=RetryPolicy(max_attempts=2),
    )
    async with httpx.AsyncClient(transport=emu.transport(), base_url="http://hubspot.test") as c:
        headers = {"Authorization": "Bearer pat-na1-x"}
        body = {"filterGroups": [], "limit": 1}
        await c.post("/crm/v3/objects/contacts/search", json=body, headers=headers)
        r = await c.post("/crm/v3/objects/contacts/search", json=body, headers=headers)
    assert r.status_code == 429
    assert r.json()["policyName"] == "SECONDLY"
    assert int(r.headers["X-HubSpot-RateLimit-Remaining"]) > 0
    with pytest.raises(RateLimitedError):
        await http.post("/crm/v3/objects/contacts/search", json=body)
    assert sleeps.waits == [1.0]


async def test_hubspot_burst_429_says_the_window_is_spent() -> None:
    emu = HubSpotEmulator(burst_limit=1)
    async with httpx.AsyncClient(transport=emu.transport(), base_url="http://hubspot.test") as c:
        headers = {"Authorization": "Bearer pat-na1-x"}
        await c.get("/crm/v3/objects/contacts", headers=headers)
        r = await c.get("/crm/v3/objects/contacts", headers=headers)
    assert r.status_code == 429
    assert r.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert r.json()["policyName"] == "TEN_SECONDLY_ROLLING"


async def test_mailchimp_page_faults_respect_faults_paths() -> None:
    """``Faults.paths`` scopes every fault; a loop asked for elsewhere leaves members alone."""
    emu = MailchimpEmulator(faults=Faults(pages="loop", paths=("/3.0/lists/none",)))
    for i in range(5):
        emu.add_member(f"m{i}@example.com")
    token = base64.b64encode(f"x:{DEFAULT_API_KEY}".encode()).decode()
    async with httpx.AsyncClient(transport=emu.transport(), base_url="http://mc.test") as c:
        r = await c.get(
            "/3.0/lists/5e1a0b2c3d/members",
            params={"count": 2, "offset": 2},
            headers={"Authorization": f"Basic {token}"},
        )
    got = [m["email_address"] for m in r.json()["members"]]
    assert got == ["m2@example.com", "m3@example.com"]


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("3", "3"), ("2.2", "3"), (None, "1"), ("soon", "1"), ("HTTP-DATE", "5")],
)
async def test_contentful_reset_header_is_whole_seconds_whatever_the_fault_says(
    retry_after: str | None, expected: str
) -> None:
    """``X-Contentful-RateLimit-Reset`` is seconds on the wire; an injected HTTP-date (the
    conformance kit's Retry-After case) is turned into the seconds until it."""
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from martech.sandbox import Burst
    from martech_connectors.contentful.emulator import ContentfulEmulator

    if retry_after == "HTTP-DATE":
        retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    emu = ContentfulEmulator(
        faults=Faults(too_many_requests=Burst(first=1), retry_after=retry_after)
    )
    async with httpx.AsyncClient(transport=emu.transport(), base_url="http://cf.test") as c:
        r = await c.get("/spaces/x/environments/master/entries/e1")
    assert r.status_code == 429
    assert r.json()["sys"]["id"] == "RateLimitExceeded"
    reset = r.headers["X-Contentful-RateLimit-Reset"]
    assert reset.isdigit()
    assert int(reset) in {int(expected), int(expected) - 1}  # an HTTP-date has whole seconds
