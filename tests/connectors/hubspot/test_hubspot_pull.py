"""Pulling contacts from the HubSpot emulator into a real store: full, resumed, incremental."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from martech.pulling import checkpoint, pull
from martech.store import Store
from martech_connectors.hubspot.connector import HubSpotConnector
from martech_connectors.hubspot.emulator import BASE_MS, HubSpotEmulator

pytestmark = pytest.mark.anyio


async def test_full_pull_stores_every_contact_with_identities_and_traits(
    connector: HubSpotConnector, emulator: HubSpotEmulator, martech_store: Store
) -> None:
    result = await pull(connector, martech_store)
    assert result.records == 250
    assert result.pages == 3
    assert martech_store.count("profiles") == 250
    some = emulator.contacts[1042]["properties"]
    pid = martech_store.resolve("email", some["email"])
    assert pid == some["martech_id"]
    assert martech_store.resolve("hubspot", "1042") == pid
    profile = martech_store.get_profile(pid)
    assert profile is not None
    assert profile.traits["city"] == some["city"]
    assert orjson.loads(checkpoint(martech_store, "pull:hubspot") or "{}")["m"] == "done"


async def test_properties_selection_is_sent_and_honoured(
    make_connector: Callable[..., HubSpotConnector], emulator: HubSpotEmulator
) -> None:
    connector = make_connector(properties=("email", "city", "lastmodifieddate"))
    page = await anext(aiter(connector.pull_profiles()))
    assert set(page.profiles[0].traits) <= {"city"}
    assert all("interest" not in p.traits for p in page.profiles)


async def test_a_stored_cursor_resumes_where_the_last_pull_stopped(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    pages = connector.pull_profiles()
    first = await anext(aiter(pages))
    await pages.aclose()  # type: ignore[attr-defined]
    before = emulator.total_requests
    rest = [p async for p in connector.pull_profiles(cursor=first.cursor)]
    assert sum(len(p.profiles) for p in rest) == 150
    assert emulator.total_requests - before == 2


async def test_incremental_pull_returns_only_contacts_changed_since_the_last_pull(
    connector: HubSpotConnector, emulator: HubSpotEmulator, martech_store: Store
) -> None:
    await pull(connector, martech_store)
    cursor = checkpoint(martech_store, "pull:hubspot")
    emulator.update_contact("1007", {"city": "Bergen"})
    emulator.update_contact("1100", {"interest": "fishing"})
    pages = [p async for p in connector.pull_profiles(cursor=cursor)]
    pulled = {p.identities["hubspot"] for page in pages for p in page.profiles}
    # The two changed contacts, plus those inside the 10 s search-lag overlap before the
    # high-water mark (seeded contacts are 1 s apart: the last eleven, GTE).
    assert pulled == {"1007", "1100"} | {str(i) for i in range(1240, 1251)}
    assert emulator.requests["POST /crm/v3/objects/contacts/search"] == 1
    result = await pull(connector, martech_store)
    assert result.records == len(pulled)
    profile = martech_store.get_profile(emulator.contacts[1007]["properties"]["martech_id"])
    assert profile is not None
    assert profile.traits["city"] == "Bergen"
    again = await pull(connector, martech_store)
    assert again.records <= 2  # only the boundary contacts at the new high-water mark


async def test_since_pulls_by_lastmodifieddate_through_search(
    connector: HubSpotConnector,
) -> None:
    from datetime import UTC, datetime

    since = datetime.fromtimestamp((BASE_MS + 200 * 1000) / 1000, UTC)
    pages = [p async for p in connector.pull_profiles(since=since)]
    ids = [p.id for page in pages for p in page.profiles]
    assert len(ids) == 50
    assert len(set(ids)) == 50


async def test_search_re_anchors_before_the_result_cap_and_misses_nothing(
    make_connector: Callable[..., HubSpotConnector], emulator: HubSpotEmulator
) -> None:
    emulator.search_cap = 100
    emulator.search_window = None  # this test is about the cap, not the 5/s limit
    connector = make_connector(search_cap=100, search_page_size=40)
    from datetime import UTC, datetime

    pages = [p async for p in connector.pull_profiles(since=datetime(2020, 1, 1, tzinfo=UTC))]
    ids = {p.id for page in pages for p in page.profiles}
    assert len(ids) == 250
    assert emulator.requests["POST /crm/v3/objects/contacts/search"] >= 250 // 40


async def test_a_foreign_cursor_is_a_config_error(connector: HubSpotConnector) -> None:
    from martech.errors import ConfigError

    with pytest.raises(ConfigError, match="not a HubSpot pull cursor"):
        await anext(aiter(connector.pull_profiles(cursor="offset=200")))


async def test_searches_keep_under_the_search_endpoints_own_per_second_limit(
    make_connector: Callable[..., HubSpotConnector], emulator: HubSpotEmulator, sleeps: object
) -> None:
    from datetime import UTC, datetime

    connector = make_connector(search_per_second=5, search_page_size=30)
    pages = [p async for p in connector.pull_profiles(since=datetime(2020, 1, 1, tzinfo=UTC))]
    assert sum(len(p.profiles) for p in pages) == 250  # 9 searches against a 5/s emulator
    assert emulator.requests["POST /crm/v3/objects/contacts/search"] == 9  # no 429 retries


async def test_a_malformed_contact_stops_the_pull_with_the_field_and_keeps_earlier_pages(
    connector: HubSpotConnector, emulator: HubSpotEmulator, martech_store: Store
) -> None:
    from martech.errors import ValidationError

    emulator.contacts[1150]["properties"]["email"] = 12345  # HubSpot sends strings (no page
    # has been rendered yet, so the emulator serves the change)
    with pytest.raises(ValidationError, match=r"contact 1150: properties\.email") as err:
        await pull(connector, martech_store, flush_rows=100)
    assert err.value.field == "properties.email"
    assert "12345" not in str(err.value)
    # Pages before the bad one were stored with their cursor: fixing the data and pulling
    # again resumes there and ends with every contact.
    assert martech_store.count("profiles") == 100
    emulator.contacts[1150]["properties"]["email"] = "fixed@example.com"
    emulator.update_contact("1150", {"city": "Oslo"})  # an edit: the emulator re-renders pages
    result = await pull(connector, martech_store)
    assert result.records == 150
    assert martech_store.count("profiles") == 250


async def test_an_unparseable_lastmodifieddate_is_a_validation_error(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    from martech.errors import ValidationError

    emulator.contacts[1003]["properties"]["lastmodifieddate"] = "yesterday"
    with pytest.raises(ValidationError, match="lastmodifieddate") as err:
        [p async for p in connector.pull_profiles()]
    assert err.value.field == "properties.lastmodifieddate"
