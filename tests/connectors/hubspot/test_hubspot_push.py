"""Pushing a segment to a MANUAL HubSpot list through the emulator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from martech.connector import AudienceMember
from martech.errors import ConfigError
from martech_connectors.hubspot.connector import HubSpotConnector
from martech_connectors.hubspot.emulator import HubSpotEmulator

pytestmark = pytest.mark.anyio


def by_email(emulator: HubSpotEmulator, *record_ids: int) -> list[AudienceMember]:
    return [
        AudienceMember(
            key=emulator.contacts[r]["properties"]["martech_id"],
            identities={"email": emulator.contacts[r]["properties"]["email"].upper()},
        )
        for r in record_ids
    ]


async def test_ensure_audience_creates_a_manual_list_once(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    list_id = await connector.ensure_audience("Anglers (VIP)")
    assert emulator.lists[list_id]["processingType"] == "MANUAL"
    again = await make_fresh(connector).ensure_audience("Anglers (VIP)")
    assert again == list_id
    assert len(emulator.lists) == 1


def make_fresh(connector: HubSpotConnector) -> HubSpotConnector:
    return HubSpotConnector(config=connector.config, http=connector.http)


async def test_add_resolves_members_by_hubspot_id_or_email_and_reports_the_rest(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    list_id = await connector.ensure_audience("vip")
    members = [
        AudienceMember(key="p-by-id", identities={"hubspot": "1003"}),
        *by_email(emulator, 1004, 1005),
        AudienceMember(key="p-unknown", identities={"email": "nobody@example.org"}),
        AudienceMember(key="p-nothing", identities={}),
    ]
    outcome = await connector.add_members(list_id, members)
    assert sorted(outcome.accepted) == sorted(["p-by-id", members[1].key, members[2].key])
    assert set(outcome.rejected) == {"p-unknown", "p-nothing"}
    assert "nobody@example.org" not in str(outcome.rejected)
    assert emulator.list_members(list_id) == {"1003", "1004", "1005"}
    assert outcome.requests == 2  # one batch read by email, one PUT add


async def test_add_twice_is_idempotent(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    list_id = await connector.ensure_audience("vip")
    members = by_email(emulator, 1010, 1011, 1012)
    first = await connector.add_members(list_id, members)
    second = await connector.add_members(list_id, members)
    assert first.accepted == second.accepted
    assert len(second.accepted) == 3
    assert emulator.list_members(list_id) == {"1010", "1011", "1012"}
    assert emulator.duplicate_adds == 3  # HubSpot ignores them; the emulator counts them


async def test_remove_and_removing_a_non_member_is_a_no_op(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    list_id = await connector.ensure_audience("vip")
    await connector.add_members(list_id, by_email(emulator, 1020, 1021))
    outcome = await connector.remove_members(
        list_id,
        [*by_email(emulator, 1020, 1030),
         AudienceMember(key="ghost", identities={"email": "ghost@example.org"})],
    )  # fmt: skip
    assert len(outcome.accepted) == 3
    assert not outcome.rejected
    assert emulator.list_members(list_id) == {"1021"}
    assert emulator.removes == 1


async def test_read_members_pages_through_the_list(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    list_id = await connector.ensure_audience("big")
    emulator.add_contacts({"email": f"extra{i}@example.org"} for i in range(60))
    ids = [str(r) for r in range(1001, 1311)]
    for start in range(0, len(ids), 100):
        chunk = ids[start : start + 100]
        await connector.add_members(
            list_id, [AudienceMember(key=f"k{r}", identities={"hubspot": r}) for r in chunk]
        )
    before = emulator.requests[f"GET /crm/v3/lists/{list_id}/memberships"]
    members = [m async for m in connector.read_members(list_id)]
    emails = [emulator.contacts[int(r)]["properties"]["email"].lower() for r in ids]
    assert members == emails  # by ascending record id, all 310, as vendor_key gives them
    assert emulator.requests[f"GET /crm/v3/lists/{list_id}/memberships"] - before == 2


async def test_create_missing_upserts_contacts_by_email(
    make_connector: Callable[..., HubSpotConnector], emulator: HubSpotEmulator
) -> None:
    connector = make_connector(create_missing=True)
    list_id = await connector.ensure_audience("new people")
    outcome = await connector.add_members(
        list_id, [AudienceMember(key="newbie", identities={"email": "New.Person@Example.org"})]
    )
    assert outcome.accepted == ["newbie"]
    rid = emulator.contact_id("new.person@example.org")
    assert rid is not None
    assert emulator.list_members(list_id) == {rid}


async def test_a_dynamic_list_with_the_name_is_refused(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    emulator.lists["77"] = {"listId": "77", "name": "auto", "objectTypeId": "0-1",
                            "processingType": "DYNAMIC"}  # fmt: skip
    emulator.members["77"] = {}
    with pytest.raises(ConfigError, match="MANUAL"):
        await connector.ensure_audience("auto")
