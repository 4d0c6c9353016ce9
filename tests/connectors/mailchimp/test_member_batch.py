"""Pushing a MemberBatch (columns, as the sync engine does) equals pushing AudienceMembers;
the emulator's segment answers and counters stay exact on its fast path."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martech.connector import AudienceMember, MemberBatch
from martech.http import run_sync
from martech.http.budget import forget_budgets
from martech_connectors.mailchimp.emulator import DEFAULT_LIST_ID, MailchimpEmulator
from martech_connectors.mailchimp.mapping import split_by_email

from .test_connector import connect


@pytest.fixture
def emulator() -> MailchimpEmulator:
    forget_budgets()
    return MailchimpEmulator()


def batch_of(members: list[AudienceMember]) -> MemberBatch:
    return MemberBatch(
        [m.key for m in members],
        [orjson.dumps(m.identities).decode() for m in members],
        [orjson.dumps(m.traits).decode() for m in members],
    )


def bare(n: int, start: int = 0, domain: str = "example.org") -> list[AudienceMember]:
    return [
        AudienceMember(key=f"p{i}", identities={"email": f"Person{i}@{domain}"})
        for i in range(start, start + n)
    ]


emails = st.one_of(
    st.none(),
    st.sampled_from(["A@x.org", " a@x.org ", "b@y.com", "not-an-email", "", "c@z.io"]),
)


@settings(deadline=None)
@given(st.lists(emails, max_size=12))
def test_split_by_email_reads_a_batch_as_it_reads_members(raw: list[str | None]) -> None:
    members = [
        AudienceMember(key=f"k{i}", identities={} if e is None else {"email": e})
        for i, e in enumerate(raw)
    ]
    assert split_by_email(batch_of(members)) == split_by_email(members)


def test_a_batch_is_a_sequence_of_the_same_members() -> None:
    members = [
        AudienceMember(key="a", identities={"email": "a@x.org"}, traits={"tier": "gold"}),
        AudienceMember(key="b", identities={"email": "b@x.org"}),
    ]
    batch = batch_of(members)
    assert len(batch) == 2
    assert list(batch) == members
    assert batch[1] == members[1]
    assert batch[:1] == members[:1]
    assert batch.members is batch.members  # built once
    assert batch.identity("email") == ["a@x.org", "b@x.org"]
    assert batch.identity("phone") == [None, None]
    assert batch.has_traits
    assert not batch_of(bare(3)).has_traits
    assert batch[0].model_dump() == members[0].model_dump()


def test_missing_identities_and_traits_read_as_empty() -> None:
    batch = MemberBatch(["a", "b"], [None, '{"email":"b@x.org"}'], [None, "{}"])
    assert [m.identities for m in batch] == [{}, {"email": "b@x.org"}]
    assert [m.traits for m in batch] == [{}, {}]
    with pytest.raises(ValueError, match="same length"):
        MemberBatch(["a"], [], [])


def test_a_batch_of_members_on_the_list_costs_one_request(
    emulator: MailchimpEmulator,
) -> None:
    connector = connect(emulator)
    for m in bare(5):
        emulator.add_member(m.identities["email"])
    seg = run_sync(connector.ensure_audience("vip"))
    outcome = run_sync(connector.add_members(seg, batch_of(bare(5))))
    assert outcome.requests == 1
    assert sorted(outcome.accepted) == [f"p{i}" for i in range(5)]
    assert emulator.segment_emails(seg) == {f"person{i}@example.org" for i in range(5)}


def test_a_batch_with_newcomers_and_fakes_matches_the_member_path(
    emulator: MailchimpEmulator,
) -> None:
    connector = connect(emulator)
    emulator.add_member("person0@example.org")
    seg = run_sync(connector.ensure_audience("vip"))
    members = [*bare(3), *bare(2, start=10, domain="fake.invalid")]
    outcome = run_sync(connector.add_members(seg, batch_of(members)))
    assert set(outcome.rejected) == {"p10", "p11"}
    assert sorted(outcome.accepted) == ["p0", "p1", "p2"]
    assert outcome.requests == 3  # add, subscribe the newcomers, add them
    assert emulator.segment_emails(seg) == {f"person{i}@example.org" for i in range(3)}


def test_segment_answers_counters_and_paging_stay_exact(
    emulator: MailchimpEmulator,
) -> None:
    connector = connect(emulator)
    for i in range(30):
        emulator.add_member(f"person{i}@example.org")
    seg = run_sync(connector.ensure_audience("vip"))
    path = f"/lists/{DEFAULT_LIST_ID}/segments/{seg}"
    fields = {"fields": "members_added.email_address,total_added,errors"}

    def post(body: dict[str, list[str]], params: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
        return run_sync(connector._call("POST", path, json=body, params=params)).data  # type: ignore[no-any-return]

    first = post({"members_to_add": [f"Person{i}@example.org" for i in range(20)]}, fields)
    assert first["total_added"] == 20
    assert first["members_added"][0] == {"email_address": "person0@example.org"}
    assert set(first) == {"members_added", "total_added", "errors"}
    again = post({"members_to_add": ["person0@example.org", "nobody@example.org"]})
    assert again["total_added"] == 0
    assert again["error_count"] == 0
    assert emulator.duplicate_adds == 1
    full = post({"members_to_remove": ["person1@example.org", "person29@example.org"]})
    assert full["total_removed"] == 1
    assert full["members_removed"][0]["id"]  # no fields: whole member objects
    assert full["members_removed"][0]["status"] == "subscribed"

    async def read() -> list[str]:
        return [k async for k in connector.read_members(seg)]

    assert sorted(run_sync(read())) == sorted(f"person{i}@example.org" for i in range(20) if i != 1)
    post({"members_to_add": ["person1@example.org", "person25@example.org"]})
    assert len(run_sync(read())) == 21  # the page order is rebuilt after a change
    assert (emulator.segment_adds, emulator.segment_removes) == (22, 1)
