"""Creates are not idempotent: when the vendor made the thing but the answer was lost (a proxy's
504, a timeout), sending the create again makes a second one (a Mailchimp segment or a Meta
audience of the same name) or fails (HubSpot's 409 for a list name taken, Mailchimp's 400 for a
merge tag taken). Each connector looks for what the create would have made before trying again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from martech.errors import RetriableVendorError
from martech.http import HttpClient, RetryPolicy, create_once, run_sync
from martech.http.budget import forget_budgets
from martech.testing.fakes import LostAnswers, no_sleep
from martech_connectors.hubspot.config import HubSpotConfig
from martech_connectors.hubspot.connector import LISTS, HubSpotConnector
from martech_connectors.hubspot.emulator import HubSpotEmulator
from martech_connectors.mailchimp.config import MailchimpConfig
from martech_connectors.mailchimp.connector import MailchimpConnector
from martech_connectors.mailchimp.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_LIST_ID,
    MailchimpEmulator,
)
from martech_connectors.meta.config import MetaConfig
from martech_connectors.meta.connector import MetaConnector
from martech_connectors.meta.emulator import DEFAULT_ACCOUNT, DEFAULT_TOKEN, MetaEmulator

META = "http://graph.test"
META_AUDIENCES = f"/act_{DEFAULT_ACCOUNT}/customaudiences"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


def client(base: str, transport: httpx.AsyncBaseTransport, vendor: str) -> HttpClient:
    forget_budgets()
    policy = RetryPolicy(max_attempts=3)
    return HttpClient(
        base_url=base, transport=transport, vendor=vendor, retry=policy, sleep=no_sleep
    )


def mailchimp(suffix: str, **lost: Any) -> tuple[MailchimpConnector, MailchimpEmulator, Any]:
    base = "http://mailchimp.test/3.0"
    emulator = MailchimpEmulator()
    transport = LostAnswers(emulator.transport(), suffix, **lost)
    config = MailchimpConfig(api_key=DEFAULT_API_KEY, list_id=DEFAULT_LIST_ID, base_url=base)
    connector = MailchimpConnector(config=config, http=client(base, transport, "mailchimp"))
    return connector, emulator, transport


@pytest.mark.parametrize("drop", [False, True], ids=["answer lost", "never arrived"])
def test_a_mailchimp_segment_is_created_once(drop: bool) -> None:
    connector, emulator, transport = mailchimp("/segments", lose=1, drop=drop)
    seg_id = run_sync(connector.ensure_audience("lapsed"))
    segments = emulator.lists[DEFAULT_LIST_ID].segments
    assert [s.name for s in segments.values()] == ["lapsed"]
    assert seg_id == str(next(iter(segments)))
    assert transport.creates == (2 if drop else 1)


def test_a_mailchimp_merge_field_is_created_once() -> None:
    connector, emulator, transport = mailchimp("/merge-fields", lose=1)
    created, _ = run_sync(connector.ensure_merge_fields([("REC1", "Item 1"), ("REC2", "Item 2")]))
    assert created == ["REC1", "REC2"]
    fields = emulator.lists[DEFAULT_LIST_ID].merge_fields
    assert {"REC1", "REC2"} <= set(fields)
    assert transport.creates == 2  # REC1's lost answer was found by reading the fields


def test_a_hubspot_list_is_created_once() -> None:
    base = "http://hubspot.test"
    emulator = HubSpotEmulator(token=TOKEN)
    transport = LostAnswers(emulator.transport(), LISTS, lose=1)
    config = HubSpotConfig(access_token=TOKEN, base_url=base)
    connector = HubSpotConnector(config=config, http=client(base, transport, "hubspot"))
    list_id = run_sync(connector.ensure_audience("VIP"))
    assert [lst["name"] for lst in emulator.lists.values()] == ["VIP"]
    assert list_id == next(iter(emulator.lists))


def test_creates_failing_every_time_stop_within_the_policy() -> None:
    connector, emulator, transport = mailchimp("/segments", lose=10, drop=True)
    with pytest.raises(RetriableVendorError, match="504"):
        run_sync(connector.ensure_audience("lapsed"))
    assert transport.creates == 3
    assert emulator.lists[DEFAULT_LIST_ID].segments == {}


def test_create_once_returns_what_find_sees_after_a_failure() -> None:
    calls: list[str] = []

    async def create() -> str:
        calls.append("create")
        raise RetriableVendorError("503 from the vendor", vendor="x", status=503)

    async def find() -> str | None:
        calls.append("find")
        return "made" if len(calls) >= 4 else None

    assert run_sync(create_once(create, find, attempts=5)) == "made"
    assert calls == ["create", "find", "create", "find"]


def meta(transport: LostAnswers) -> MetaConnector:
    config = MetaConfig(access_token=DEFAULT_TOKEN, ad_account_id=DEFAULT_ACCOUNT, base_url=META)
    http = client(META, transport, "meta")
    return MetaConnector(config=config, http=http)


@pytest.mark.parametrize("drop", [False, True])
def test_a_lost_answer_to_the_create_makes_one_meta_audience(drop: bool) -> None:
    emulator = MetaEmulator()
    transport = LostAnswers(emulator.transport(), META_AUDIENCES, lose=1, drop=drop)
    audience_id = run_sync(meta(transport).ensure_audience("vip"))
    assert [a.id for a in emulator.audiences.values() if a.name == "vip"] == [audience_id]
    assert transport.creates == (2 if drop else 1)


def test_meta_creates_that_keep_failing_raise_after_the_attempts() -> None:
    emulator = MetaEmulator()
    transport = LostAnswers(emulator.transport(), META_AUDIENCES, lose=10, drop=True)
    with pytest.raises(RetriableVendorError):
        run_sync(meta(transport).ensure_audience("vip"))
    assert transport.creates == 3
    assert not emulator.audiences
