"""The Mailchimp connector against its emulator (in-process transport), into a real store."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from martech.connector import AudienceMember, Limits
from martech.errors import AuthError, ValidationError
from martech.http import HttpClient, run_sync
from martech.http.budget import forget_budgets
from martech.sandbox import Burst, Faults
from martech.store import Store
from martech_connectors.mailchimp.config import MailchimpConfig
from martech_connectors.mailchimp.connector import MailchimpConnector
from martech_connectors.mailchimp.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_LIST_ID,
    MailchimpEmulator,
)

BASE = "http://mailchimp.test/3.0"


@pytest.fixture
def emulator() -> MailchimpEmulator:
    forget_budgets()
    emulator = MailchimpEmulator()
    emulator.add_merge_field("SHOESIZE", type="number")  # people() carry mc_shoesize
    return emulator


def connect(
    emulator: MailchimpEmulator,
    *,
    api_key: str = DEFAULT_API_KEY,
    page_size: int = 10,
    limits: Limits | None = MailchimpConnector.limits,
) -> MailchimpConnector:
    config = MailchimpConfig(
        api_key=api_key, list_id=DEFAULT_LIST_ID, base_url=BASE, page_size=page_size
    )
    http = HttpClient(
        base_url=BASE, transport=emulator.transport(), vendor="mailchimp", limits=limits
    )
    return MailchimpConnector(config=config, http=http)


@pytest.fixture
def connector(emulator: MailchimpEmulator) -> MailchimpConnector:
    return connect(emulator)


def people(n: int, start: int = 0, domain: str = "example.org") -> list[AudienceMember]:
    return [
        AudienceMember(
            key=f"p{i}",
            identities={"email": f"Person{i}@{domain}"},
            traits={"first_name": f"F{i}", "mc_shoesize": 40},
        )
        for i in range(start, start + n)
    ]


def pull_all(
    connector: MailchimpConnector, cursor: str | None = None
) -> tuple[list[str], str | None]:
    async def go() -> tuple[list[str], str | None]:
        ids, last = [], cursor
        async for page in connector.pull_profiles(cursor=cursor):
            ids.extend(p.identities["email"] for p in page.profiles)
            last = page.cursor
        return ids, last

    return run_sync(go())


# --------------------------------------------------------------------------------------- pull


def test_pull_pages_members_into_a_real_store(
    emulator: MailchimpEmulator, connector: MailchimpConnector, martech_store: Store
) -> None:
    emulator.seed_data(25)

    async def go() -> int:
        pages = 0
        async for page in connector.pull_profiles():
            martech_store.upsert_profiles(page.profiles)
            pages += 1
        return pages

    assert run_sync(go()) == 3
    assert martech_store.count("profiles") == 25
    owner = martech_store.resolve("email", "member0000003@sandbox.example.com")
    assert owner is not None
    profile = martech_store.get_profile(owner)
    assert profile is not None
    assert profile.traits["first_name"]
    assert profile.traits["mc_interest"] in ("fishing", "camping", "hiking")
    assert emulator.requests[f"GET /3.0/lists/{DEFAULT_LIST_ID}/members"] == 3


def test_pages_after_the_first_are_fetched_ten_at_a_time_and_yielded_in_order(
    emulator: MailchimpEmulator,
) -> None:
    emulator.seed_data(250)
    emulator.set_faults(Faults(latency=0.02))  # each page takes a while: prefetching shows
    connector = connect(emulator, page_size=10)

    async def go() -> list[tuple[list[str], str | None]]:
        return [
            ([p.identities["email"] for p in page.profiles], page.cursor)
            async for page in connector.pull_profiles()
        ]

    pages = run_sync(go())
    emails = [e for page, _ in pages for e in page]
    assert emails == [f"member{i:07d}@sandbox.example.com" for i in range(250)]
    assert 2 <= emulator.max_in_flight <= 10  # Mailchimp's connection cap, never more
    assert emulator.requests[f"GET /3.0/lists/{DEFAULT_LIST_ID}/members"] == 25
    # Page 7's cursor resumes at page 8, whatever was in flight when it was yielded.
    rest, _ = pull_all(connect(emulator, page_size=10), pages[6][1])
    assert rest == emails[70:]


def test_a_page_cut_short_mid_list_is_read_on_from_where_it_ended(
    emulator: MailchimpEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list changed under the pull: pages guessed past a short page are dropped."""
    emulator.seed_data(60)
    connector = connect(emulator, page_size=10)
    real = connector._call
    cut = {"done": False}

    async def shorter(method, path, *, params=None, json=None):  # type: ignore[no-untyped-def]
        r = await real(method, path, params=params, json=json)
        if params and params.get("offset") == 20 and not cut["done"]:
            cut["done"] = True
            r.data["members"] = r.data["members"][:4]  # 4 of 10, total still 60
        return r

    monkeypatch.setattr(connector, "_call", shorter)
    emails, _ = pull_all(connector)
    assert emails == [f"member{i:07d}@sandbox.example.com" for i in range(60)]


def test_the_last_cursor_makes_the_next_pull_incremental(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    emulator.seed_data(25)
    everyone, cursor = pull_all(connector)
    assert len(everyone) == 25
    emulator.now = lambda: datetime(2026, 6, 1, tzinfo=UTC)
    emulator.touch("member0000004@sandbox.example.com", FNAME="Changed")
    emulator.touch("member0000017@sandbox.example.com", LNAME="Changed")
    changed, _ = pull_all(connector, cursor)
    # The newest member before the run is re-read (1 s overlap on since_last_changed).
    assert set(changed) == {
        "member0000004@sandbox.example.com",
        "member0000017@sandbox.example.com",
        "member0000024@sandbox.example.com",
    }
    nothing_new, _ = pull_all(connector, _)
    assert set(nothing_new) <= {"member0000004@sandbox.example.com",
                                "member0000017@sandbox.example.com"}  # fmt: skip


def test_a_cursor_from_the_middle_of_a_run_resumes_after_that_page(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    emulator.seed_data(25)

    async def first_page() -> str | None:
        async for page in connector.pull_profiles():
            return page.cursor
        return None

    cursor = run_sync(first_page())
    rest, _ = pull_all(connector, cursor)
    assert len(rest) == 15
    assert "member0000000@sandbox.example.com" not in rest


def test_pull_asks_only_for_the_fields_it_maps(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    emulator.seed_data(3)
    r = run_sync(
        connector._call(
            "GET",
            f"/lists/{DEFAULT_LIST_ID}/members",
            params={"fields": "members.email_address,total_items", "count": 10},
        )
    )
    assert set(r.data) == {"members", "total_items"}
    assert all(set(m) == {"email_address"} for m in r.data["members"])


def test_member_pages_slice_the_list_and_project_any_member_keys(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    emulator.seed_data(7)
    path = f"/lists/{DEFAULT_LIST_ID}/members"
    full = run_sync(connector._call("GET", path, params={"count": 100})).data["members"]
    fields = "members.email_address,members.tags,members.list_id,members.nope,total_items"
    pages = [
        run_sync(
            connector._call("GET", path, params={"fields": fields, "count": 3, "offset": offset})
        ).data
        for offset in (0, 3, 6, 9)
    ]
    assert [len(p["members"]) for p in pages] == [3, 3, 1, 0]
    assert {p["total_items"] for p in pages} == {7}
    got = [m for p in pages for m in p["members"]]
    assert got == [
        {"email_address": m["email_address"], "tags": m["tags"], "list_id": DEFAULT_LIST_ID}
        for m in full
    ]
    assert set(full[0]) >= {"id", "unique_email_id", "stats", "merge_fields", "tags_count"}


# --------------------------------------------------------------------------------------- push


def test_ensure_audience_creates_the_static_segment_once(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    first = run_sync(connector.ensure_audience("Anglers"))
    second = run_sync(connector.ensure_audience("Anglers"))
    assert first == second
    assert emulator.requests[f"POST /3.0/lists/{DEFAULT_LIST_ID}/segments"] == 1
    seg = emulator.segment_by_name("Anglers")
    assert seg is not None
    assert str(seg.id) == first


def test_adding_subscribes_newcomers_and_is_idempotent(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    members = people(6)
    seg = run_sync(connector.ensure_audience("vip"))
    first = run_sync(connector.add_members(seg, members))
    second = run_sync(connector.add_members(seg, members))
    assert sorted(first.accepted) == sorted(m.key for m in members) == sorted(second.accepted)
    assert emulator.segment_emails(seg) == {f"person{i}@example.org" for i in range(6)}
    assert emulator.segment_adds == 6
    stored = emulator.lists[DEFAULT_LIST_ID].members
    assert all(m["merge_fields"]["SHOESIZE"] == 40 for m in stored.values())


def test_members_already_on_the_list_cost_one_request_per_batch(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    for m in people(5):
        emulator.add_member(m.identities["email"], status="subscribed")
    seg = run_sync(connector.ensure_audience("vip"))
    bare = [AudienceMember(key=m.key, identities=m.identities) for m in people(5)]
    outcome = run_sync(connector.add_members(seg, bare))
    assert outcome.requests == 1
    assert len(outcome.accepted) == 5


def test_members_with_merge_traits_are_upserted_then_added(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    emulator.add_member("person0@example.org", merge_fields={"FNAME": "Old"})
    seg = run_sync(connector.ensure_audience("vip"))
    outcome = run_sync(connector.add_members(seg, people(2)))
    assert outcome.requests == 2
    assert emulator.segment_emails(seg) == {"person0@example.org", "person1@example.org"}
    stored = emulator.lists[DEFAULT_LIST_ID].members
    assert {m["merge_fields"]["FNAME"] for m in stored.values()} == {"F0", "F1"}


def test_removing_members_and_non_members_is_a_noop_the_second_time(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    seg = run_sync(connector.ensure_audience("vip"))
    run_sync(connector.add_members(seg, people(4)))
    gone = run_sync(connector.remove_members(seg, people(2)))
    again = run_sync(connector.remove_members(seg, [*people(2), *people(2, start=50)]))
    assert sorted(gone.accepted) == ["p0", "p1"]
    assert not again.rejected
    assert emulator.segment_emails(seg) == {"person2@example.org", "person3@example.org"}
    assert emulator.segment_removes == 2


def test_read_members_yields_the_segment_addresses(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    seg = run_sync(connector.ensure_audience("vip"))
    run_sync(connector.add_members(seg, people(3)))

    async def read() -> set[str]:
        return {k async for k in connector.read_members(seg)}

    assert run_sync(read()) == {connector.vendor_key(m) for m in people(3)}


def test_reading_a_segment_whose_pages_loop_stops_with_an_error(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    """Past its first page the segment answers the first page again: the paginator's guard
    stops the read instead of yielding the same members over and over."""
    from martech.http.paginate import PaginationLoopError

    seg = run_sync(connector.ensure_audience("vip"))
    segment = emulator.lists[DEFAULT_LIST_ID].segments[int(seg)]
    for i in range(1500):
        segment.members.add(emulator.add_member(f"reader{i:04d}@example.org"))
    emulator.set_faults(Faults(pages="loop"))

    async def read() -> list[str]:
        return [k async for k in connector.read_members(seg)]

    with pytest.raises(PaginationLoopError, match="repeats the items of an earlier page"):
        run_sync(read())
    emulator.set_faults(Faults())
    assert len(set(run_sync(read()))) == 1500


def test_fake_addresses_are_rejected_per_item_with_the_vendors_reason_redacted(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    seg = run_sync(connector.ensure_audience("vip"))
    members = [*people(3), *people(2, start=10, domain="fake.invalid")]
    outcome = run_sync(connector.add_members(seg, members))
    assert set(outcome.rejected) == {"p10", "p11"}
    assert sorted(outcome.accepted) == ["p0", "p1", "p2"]
    for reason in outcome.rejected.values():
        assert "looks fake or invalid" in reason
        assert "fake.invalid" not in reason
        assert "person1" not in reason.lower()


def test_members_without_email_are_rejected_without_a_request(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    outcome = run_sync(
        connector.add_members("1001", [AudienceMember(key="x", identities={"phone": "+1555"})])
    )
    assert outcome.requests == 0
    assert "email" in outcome.rejected["x"]
    assert emulator.total_requests == 0


def test_upsert_refuses_to_resubscribe_people_in_a_compliance_state(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    emulator.add_member("person0@example.org", status="unsubscribed")
    outcome = run_sync(connector.upsert_members(people(2)))
    assert outcome.accepted == ["p1"]
    assert "compliance state" in outcome.rejected["p0"]
    member = emulator.lists[DEFAULT_LIST_ID].members
    assert {m["status"] for m in member.values()} == {"unsubscribed", "subscribed"}


def test_upsert_updates_merge_fields_of_existing_members(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    emulator.add_member("person0@example.org", merge_fields={"FNAME": "Old", "KEEP": "me"})
    run_sync(connector.upsert_members(people(1)))
    (stored,) = emulator.lists[DEFAULT_LIST_ID].members.values()
    assert stored["merge_fields"] == {"FNAME": "F0", "KEEP": "me", "SHOESIZE": 40}


def test_more_than_500_per_call_is_refused_before_sending(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    with pytest.raises(ValidationError, match="at most 500"):
        run_sync(connector.add_members("1001", people(501)))
    assert emulator.total_requests == 0


def test_the_emulator_refuses_501_members_with_mailchimps_problem_document(
    emulator: MailchimpEmulator, connector: MailchimpConnector
) -> None:
    seg = run_sync(connector.ensure_audience("vip"))
    transport = emulator.transport()

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return await client.post(
                f"/lists/{DEFAULT_LIST_ID}/segments/{seg}",
                json={"members_to_add": [f"a{i}@x.org" for i in range(501)]},
                auth=("any", DEFAULT_API_KEY),
            )

    r = run_sync(post())
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert set(body) >= {"type", "title", "status", "detail", "instance"}
    assert "at most 500 items" in body["detail"]
    assert r.headers["X-Request-Id"] == body["instance"]


# ----------------------------------------------------------------------------- limits, errors


def test_the_connection_cap_is_never_hit_when_the_budget_is_shared(
    emulator: MailchimpEmulator,
) -> None:
    emulator.set_faults(Faults(latency=0.02))
    for m in people(200):
        emulator.add_member(m.identities["email"])
    connector = connect(emulator)
    seg = run_sync(connector.ensure_audience("vip"))
    batches = [people(10, start=i) for i in range(0, 200, 10)]

    async def blast() -> list[int]:
        outcomes = await asyncio.gather(*(connector.add_members(seg, b) for b in batches))
        return [len(o.accepted) for o in outcomes]

    assert sum(run_sync(blast())) == 200
    assert emulator.refused_concurrency == 0
    assert emulator.max_in_flight <= 10


def test_without_the_budget_the_emulator_answers_429_beyond_10_in_flight(
    emulator: MailchimpEmulator,
) -> None:
    emulator.set_faults(Faults(latency=0.05))
    connector = connect(emulator, limits=None)

    async def blast() -> list[int]:
        calls = [connector._call("GET", f"/lists/{DEFAULT_LIST_ID}/members") for _ in range(15)]
        return [r.status for r in await asyncio.gather(*calls)]

    assert run_sync(blast()) == [200] * 15, "429s were retried"
    assert emulator.refused_concurrency >= 1


def test_an_injected_429_is_retried(emulator: MailchimpEmulator) -> None:
    emulator.set_faults(Faults(too_many_requests=Burst(first=2), retry_after="0"))
    connector = connect(emulator)
    assert run_sync(connector.ensure_audience("vip"))
    assert emulator.injected["429"] == 2


def test_a_wrong_key_is_an_auth_error_that_does_not_show_the_key(
    emulator: MailchimpEmulator,
) -> None:
    wrong = "ffffffffffffffffffffffffffffffff-us21"
    connector = connect(emulator, api_key=wrong)
    with pytest.raises(AuthError) as info:
        run_sync(connector.ensure_audience("vip"))
    assert "API Key Invalid" in str(info.value)
    assert wrong not in str(info.value)


def test_no_raw_email_reaches_the_logs(
    emulator: MailchimpEmulator, connector: MailchimpConnector, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.set_faults(Faults(too_many_requests=Burst(first=1), retry_after="0"))
    members = [*people(3), *people(1, start=9, domain="fake.invalid")]
    with caplog.at_level(logging.DEBUG):
        seg = run_sync(connector.ensure_audience("vip"))
        outcome = run_sync(connector.add_members(seg, members))
    text = caplog.text + " ".join(outcome.rejected.values())
    assert caplog.records, "expected the retry to be logged"
    for m in members:
        assert m.identities["email"].lower() not in text.lower()
    assert DEFAULT_API_KEY not in text


def test_declared_limits_and_capabilities() -> None:
    assert MailchimpConnector.limits.concurrency == 10
    assert MailchimpConnector.limits.batch_count == 500
    names = {c.name for c in MailchimpConnector(config=MailchimpConfig(
        api_key=DEFAULT_API_KEY, list_id=DEFAULT_LIST_ID)).capabilities()}  # fmt: skip
    assert names == {"pull_profiles", "push_audience"}


def test_config_derives_the_base_url_and_reports_bad_keys_by_field() -> None:
    from martech.errors import ConfigError

    cfg = MailchimpConfig.load("mailchimp", env={
        "MARTECH_MAILCHIMP_API_KEY": "abc-us7", "MARTECH_MAILCHIMP_LIST_ID": "l1"})  # fmt: skip
    assert isinstance(cfg, MailchimpConfig)
    assert cfg.base_url == "https://us7.api.mailchimp.com/3.0"
    with pytest.raises(ConfigError, match="api_key") as info:
        MailchimpConfig.load("mailchimp", {"api_key": "nodatacenter", "list_id": "l1"})
    assert "nodatacenter" not in str(info.value)


def test_last_changed_is_set_when_the_emulator_changes_a_member(
    emulator: MailchimpEmulator,
) -> None:
    when = datetime(2026, 2, 1, tzinfo=UTC)
    emulator.add_member("a@x.org", last_changed=when)
    emulator.now = lambda: when + timedelta(days=1)
    emulator.touch("a@x.org", FNAME="B")
    (stored,) = emulator.lists[DEFAULT_LIST_ID].members.values()
    assert stored["last_changed"] == "2026-02-02T00:00:00+00:00"


def test_martech_pull_resumes_incrementally_from_the_stored_checkpoint(
    emulator: MailchimpEmulator, connector: MailchimpConnector, martech_store: Store
) -> None:
    from martech.pulling import pull

    emulator.seed_data(25)
    first = run_sync(pull(connector, martech_store))
    assert first.records == 25
    emulator.now = lambda: datetime(2026, 6, 1, tzinfo=UTC)
    emulator.touch("member0000009@sandbox.example.com", FNAME="Renamed")
    second = run_sync(pull(connector, martech_store))
    assert second.records <= 2, "only changed members (plus the 1 s overlap) are re-read"
    owner = martech_store.resolve("email", "member0000009@sandbox.example.com")
    assert owner is not None
    profile = martech_store.get_profile(owner)
    assert profile is not None
    assert profile.traits["first_name"] == "Renamed"
    assert martech_store.count("profiles") == 25
