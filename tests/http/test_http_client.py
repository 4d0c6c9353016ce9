"""HttpClient against respx-mocked responses: retries, waits, deadline, typed errors, logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from martech.connector import Limits
from martech.errors import (
    AuthError,
    DeadlineExceededError,
    FatalVendorError,
    RateLimitedError,
    RetriableVendorError,
)
from martech.http import HttpClient, RetryPolicy, run_sync
from martech.http.budget import forget_budgets
from martech.testing.fakes import RecordedSleeps as Sleeps

pytestmark = pytest.mark.anyio

BASE = "https://api.vendor.test"
TOKEN = "tok_live_0123456789abcdefXYZ"


def client(sleeps: Sleeps, **kw: object) -> HttpClient:
    kw.setdefault("retry", RetryPolicy(max_attempts=4, max_wait=60.0))
    return HttpClient(
        base_url=BASE, headers={"Authorization": f"Bearer {TOKEN}"}, sleep=sleeps, **kw
    )


@pytest.fixture(autouse=True)
def _fresh_budgets() -> None:
    forget_budgets()


@respx.mock
async def test_body_is_parsed_once_into_data() -> None:
    respx.get(f"{BASE}/things").respond(200, json={"results": [1, 2]})
    r = await client(Sleeps()).get("/things")
    assert r.status == 200
    assert r.data == {"results": [1, 2]}


@respx.mock
async def test_json_body_is_sent_as_a_bare_array() -> None:
    route = respx.put(f"{BASE}/lists/1/add").respond(200, json={})
    await client(Sleeps()).put("/lists/1/add", json=["1", "2"])
    assert route.calls.last.request.content == b'["1","2"]'


@pytest.mark.parametrize("retry_after", ["7", "date"], ids=["seconds", "http-date"])
@respx.mock
async def test_429_waits_for_retry_after(retry_after: str) -> None:
    if retry_after == "date":
        retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=7), usegmt=True)
    respx.get(f"{BASE}/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": retry_after}, json={"message": "slow"}),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    sleeps = Sleeps()
    r = await client(sleeps).get("/x")
    assert r.data == {"ok": True}
    assert len(sleeps.waits) == 1
    assert 5.5 <= sleeps.waits[0] <= 7.0


@respx.mock
async def test_429_without_retry_after_uses_the_vendor_reset_header() -> None:
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Remaining": "0",
    }
    respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(429, headers=headers), httpx.Response(200, json={})]
    )
    sleeps = Sleeps()
    await client(sleeps, vendor="hubspot").get("/x")
    assert sleeps.waits == [10.0]


@respx.mock
async def test_every_wait_is_capped() -> None:
    respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(503)] * 5 + [httpx.Response(200, json={})]
    )
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=6, max_wait=5.0, max_elapsed=100.0, backoff_base=2.0)
    await client(sleeps, retry=policy).get("/x")
    assert len(sleeps.waits) == 5
    assert max(sleeps.waits) <= 5.0
    assert sleeps.waits[-1] >= 2.5  # backoff 16-32 s, capped: jitter within the cap's half


@respx.mock
async def test_a_vendor_asking_longer_than_the_cap_is_not_retried_sooner() -> None:
    # Retrying after the cap would not honour Retry-After (and can prolong a throttle): the
    # error says what the vendor asked, for the caller to resume after it.
    route = respx.get(f"{BASE}/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3600"}),
            httpx.Response(200, json={}),
        ]
    )
    sleeps = Sleeps()
    with pytest.raises(RateLimitedError, match="asks for 3600s") as caught:
        await client(sleeps, retry=RetryPolicy(max_wait=5.0, max_elapsed=100.0)).get("/x")
    assert caught.value.retry_after == 3600
    assert sleeps.waits == []
    assert route.call_count == 1


@respx.mock
async def test_5xx_is_retried_with_backoff_then_succeeds() -> None:
    route = respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json={})]
    )
    sleeps = Sleeps()
    await client(sleeps).get("/x")
    assert route.call_count == 3
    assert len(sleeps.waits) == 2
    assert all(0 < w <= 60 for w in sleeps.waits)


@respx.mock
async def test_retries_are_bounded_and_end_in_a_typed_error() -> None:
    route = respx.get(f"{BASE}/x").respond(503, json={"message": "down"})
    with pytest.raises(RetriableVendorError, match="gave up after 4 attempts"):
        await client(Sleeps()).get("/x")
    assert route.call_count == 4


@respx.mock
async def test_rate_limited_after_retries_carries_retry_after() -> None:
    respx.get(f"{BASE}/x").respond(429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimitedError) as info:
        await client(Sleeps()).get("/x")
    assert info.value.retry_after == 2.0
    assert info.value.status == 429


@respx.mock
async def test_connect_errors_and_timeouts_are_retried() -> None:
    route = respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                     httpx.Response(200, json={})]
    )  # fmt: skip
    await client(Sleeps()).get("/x")
    assert route.call_count == 3


@respx.mock
async def test_total_time_bound_stops_retrying_early() -> None:
    route = respx.get(f"{BASE}/x").respond(429, headers={"Retry-After": "30"})
    policy = RetryPolicy(max_attempts=10, max_wait=60, max_elapsed=45)
    with pytest.raises(RateLimitedError):
        await client(Sleeps(), retry=policy).get("/x")
    assert route.call_count == 2  # 30 s once fits in 45 s, twice does not


@respx.mock
async def test_a_wait_past_the_deadline_raises_with_resume_after() -> None:
    respx.get(f"{BASE}/x").respond(429, headers={"Retry-After": "120"})
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    sleeps = Sleeps()
    with pytest.raises(DeadlineExceededError) as info:
        await client(sleeps, retry=RetryPolicy(max_wait=300), deadline=deadline).get("/x")
    assert sleeps.waits == []
    assert info.value.resume_after >= deadline + timedelta(seconds=100)
    assert "resume after" in str(info.value)


@pytest.mark.parametrize("status", [401, 403])
@respx.mock
async def test_auth_failures_raise_auth_error_without_retrying(status: int) -> None:
    route = respx.get(f"{BASE}/x").respond(status, json={"message": "bad token"})
    with pytest.raises(AuthError, match="credentials"):
        await client(Sleeps()).get("/x")
    assert route.call_count == 1


@respx.mock
async def test_other_4xx_raise_fatal_with_the_vendor_message_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = {"status": "error", "message": f"Contact jane.doe@example.com / {TOKEN} is invalid"}
    respx.post(f"{BASE}/x").respond(400, json=body)
    with pytest.raises(FatalVendorError) as info:
        await client(Sleeps()).post("/x", json={"email": "jane.doe@example.com"})
    text = str(info.value)
    assert "is invalid" in text
    assert info.value.status == 400
    assert "jane.doe@example.com" not in text
    assert TOKEN not in text


@respx.mock
async def test_retry_log_lines_carry_no_token_or_email(caplog: pytest.LogCaptureFixture) -> None:
    respx.get(f"{BASE}/people/jane.doe@example.com").mock(
        side_effect=[
            httpx.Response(503, json={"message": f"token {TOKEN} for jane.doe@example.com"}),
            httpx.Response(200, json={}),
        ]
    )
    with caplog.at_level(logging.DEBUG, logger="martech.http"):
        await client(Sleeps()).get("/people/jane.doe@example.com")
    assert caplog.records, "the retry should be logged"
    assert TOKEN not in caplog.text
    assert "jane.doe@example.com" not in caplog.text
    (line,) = [r.getMessage() for r in caplog.records if " retry 1 in " in r.getMessage()]
    assert line.count("vendor: GET ") == 1, line  # the request named once, not twice


@respx.mock
async def test_meta_style_throttling_in_a_400_is_classified_by_hook() -> None:
    from martech.http.retry import CLASSIFY_HOOKS

    def graph(status: int, data: object) -> str | None:
        code = data.get("error", {}).get("code") if isinstance(data, dict) else None
        return "rate_limited" if code in (17, 613) else None

    CLASSIFY_HOOKS["graph-test"] = graph  # type: ignore[assignment]
    try:
        respx.get(f"{BASE}/x").mock(
            side_effect=[httpx.Response(400, json={"error": {"code": 17}}),
                         httpx.Response(200, json={})]
        )  # fmt: skip
        sleeps = Sleeps()
        await client(sleeps, vendor="graph-test").get("/x")
        assert len(sleeps.waits) == 1
    finally:
        del CLASSIFY_HOOKS["graph-test"]


def test_run_sync_runs_a_request_from_plain_code() -> None:
    with respx.mock:
        respx.get(f"{BASE}/x").respond(200, json={"n": 1})
        c = client(Sleeps())
        assert run_sync(c.get("/x")).data == {"n": 1}
        assert run_sync(c.get("/x")).data == {"n": 1}  # a second loop gets a fresh pool


@respx.mock
async def test_clients_sharing_a_credential_share_one_budget() -> None:
    limits = Limits(requests_per_interval=5, interval_seconds=1.0, concurrency=2)
    a = client(Sleeps(), limits=limits)
    b = client(Sleeps(), limits=limits)
    other = HttpClient(base_url=BASE, headers={"Authorization": "Bearer other"}, limits=limits)
    assert a.budget is b.budget
    assert a.budget is not None
    assert other.budget is not a.budget


async def test_a_proxy_from_the_environment_still_carries_the_request(monkeypatch) -> None:
    """Requests go out through the transport httpx picks for the URL, so HTTP_PROXY is honoured:
    a loopback server playing the proxy receives the request for the vendor's absolute URL."""
    import asyncio

    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        body = b'{"via": "proxy"}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    async with server:
        c = HttpClient(base_url="http://api.vendor.test", headers={"Authorization": "Bearer t"})
        r = await c.get("/things", params={"after": "7"})
        await c.aclose()
    assert r.data == {"via": "proxy"}
    assert seen[0].startswith(b"GET http://api.vendor.test/things?after=7 HTTP/1.1\r\n")


@respx.mock
async def test_a_gzip_body_is_decoded_before_parsing() -> None:
    import gzip

    respx.get(f"{BASE}/z").respond(
        200,
        content=gzip.compress(b'{"results": [1]}'),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    r = await client(Sleeps()).get("/z")
    assert r.data == {"results": [1]}
    assert r.url == f"{BASE}/z"


@respx.mock
async def test_the_response_kept_on_an_error_can_be_inspected() -> None:
    """``VendorError.response`` is the httpx response, kept for inspection: its request and
    elapsed time are there as httpx gives them (``.elapsed`` raised RuntimeError once the
    client sent through the transport itself)."""
    respx.get(f"{BASE}/missing").respond(404, json={"message": "no such thing"})
    with pytest.raises(FatalVendorError) as info:
        await client(Sleeps()).get("/missing")
    response = info.value.response
    assert response is not None
    assert response.request.url == f"{BASE}/missing"
    assert response.elapsed >= timedelta(0)


@respx.mock
async def test_a_cookie_the_vendor_sets_is_sent_back() -> None:
    """As AsyncClient does: load balancers and bot management set cookies they expect back."""
    respx.get(f"{BASE}/first").respond(200, json={}, headers={"Set-Cookie": "lb=node-7; Path=/"})
    second = respx.get(f"{BASE}/second").respond(200, json={})
    c = client(Sleeps())
    await c.get("/first")
    await c.get("/second")
    assert second.calls.last.request.headers.get("cookie") == "lb=node-7"


@respx.mock
async def test_credentials_in_the_base_url_become_basic_auth() -> None:
    route = respx.get("https://api.vendor.test/x").respond(200, json={"ok": True})
    c = HttpClient(base_url="https://user:s3cret@api.vendor.test")
    assert (await c.get("/x")).data == {"ok": True}
    assert route.calls.last.request.headers["authorization"].startswith("Basic ")
