"""HubSpot under faults: rate limits, 5xx bursts, looping pages, and what leaks into logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from martech.connector import AudienceMember
from martech.errors import FatalVendorError, RetriableVendorError
from martech.http import PaginationLoopError
from martech.sandbox import Burst, Faults
from martech.store import Store
from martech_connectors.hubspot.connector import HubSpotConnector
from martech_connectors.hubspot.emulator import HubSpotEmulator

from .conftest import TOKEN, Sleeps

pytestmark = pytest.mark.anyio


async def drain(connector: HubSpotConnector) -> int:
    return sum([len(p.profiles) async for p in connector.pull_profiles()])


@pytest.mark.parametrize("kind", ["seconds", "http-date"])
async def test_429_with_retry_after_is_honoured(
    kind: str, connector: HubSpotConnector, emulator: HubSpotEmulator, sleeps: Sleeps
) -> None:
    retry_after = "4"
    if kind == "http-date":
        retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=4), usegmt=True)
    emulator.set_faults(Faults(too_many_requests=Burst(every=2), retry_after=retry_after))
    assert await drain(connector) == 250
    assert emulator.injected["429"] >= 1
    assert len(sleeps.waits) == emulator.injected["429"]
    assert all(2.5 <= w <= 4.0 for w in sleeps.waits)


async def test_429_without_retry_after_waits_out_the_hubspot_window(
    connector: HubSpotConnector, emulator: HubSpotEmulator, sleeps: Sleeps
) -> None:
    emulator.set_faults(Faults(too_many_requests=Burst(first=1), retry_after=None))
    assert await drain(connector) == 250
    assert sleeps.waits == [10.0]  # X-HubSpot-RateLimit-Interval-Milliseconds


async def test_the_emulators_burst_limit_answers_hubspots_429() -> None:
    emu = HubSpotEmulator(burst_limit=3)
    headers = {"Authorization": "Bearer x"}
    async with httpx.AsyncClient(transport=emu.transport(), base_url="http://h") as c:
        got = [await c.get("/crm/v3/objects/contacts", headers=headers) for _ in range(4)]
    assert [r.status_code for r in got] == [200, 200, 200, 429]
    assert got[0].headers["X-HubSpot-RateLimit-Max"] == "3"
    assert got[2].headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert got[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    body = got[3].json()
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"


async def test_5xx_bursts_are_retried_within_bounds(
    connector: HubSpotConnector, emulator: HubSpotEmulator, sleeps: Sleeps
) -> None:
    emulator.set_faults(Faults(seed=1, server_errors=Burst(every=3, length=2)))
    assert await drain(connector) == 250
    assert emulator.injected["5xx"] >= 2
    assert all(w <= 30.0 for w in sleeps.waits)


async def test_a_5xx_storm_ends_in_a_typed_error_after_bounded_attempts(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    emulator.set_faults(Faults(server_errors=Burst(rate=1.0)))
    with pytest.raises(RetriableVendorError, match="gave up after 5 attempts"):
        await drain(connector)
    assert emulator.total_requests == 5


@pytest.mark.parametrize("pages", ["loop", "duplicate"])
async def test_looping_or_duplicate_pages_are_caught(
    pages: str, connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    emulator.set_faults(Faults(pages=pages))  # type: ignore[arg-type]
    with pytest.raises(PaginationLoopError):
        await drain(connector)
    assert emulator.total_requests <= 5


async def test_the_emulator_requires_the_token(
    make_connector: Callable[..., HubSpotConnector], emulator: HubSpotEmulator
) -> None:
    from martech.errors import AuthError

    emulator.token = "another-token"
    with pytest.raises(AuthError) as info:
        await drain(make_connector())
    assert TOKEN not in str(info.value)


async def test_no_token_or_raw_email_in_logs_or_errors(
    connector: HubSpotConnector,
    emulator: HubSpotEmulator,
    martech_store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from martech.pulling import pull

    emails = [emulator.contacts[r]["properties"]["email"] for r in (1001, 1002)]
    emulator.set_faults(Faults(seed=2, server_errors=Burst(every=2), too_many_requests=Burst(
        every=5)))  # fmt: skip
    with caplog.at_level(logging.DEBUG):
        await pull(connector, martech_store)
        list_id = await connector.ensure_audience("vip")
        members = [AudienceMember(key=f"k{i}", identities={"email": e}) for i, e in
                   enumerate(emails)]  # fmt: skip
        await connector.add_members(list_id, members)
        emulator.set_faults(Faults())
        with pytest.raises(FatalVendorError) as info:
            # A bad request whose error echoes what we sent: an email where an id belongs.
            await connector.http.put(
                f"/crm/v3/lists/{list_id}/memberships/add",
                json=[emails[0]],
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
    assert caplog.records, "retries should have been logged"
    assert "Invalid record id" in str(info.value)
    for secret in (TOKEN, *emails):
        assert secret not in caplog.text
        assert secret not in str(info.value)
