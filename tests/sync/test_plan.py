"""prepare(): eligibility, diff, payloads only for what changes, batches numbered in bulk."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from martech.connector import Limits
from martech.store import Store
from martech.sync import SyncSpec, apply, prepare
from martech.sync.plan import _number_batches, assign_batches
from martech.testing.reference import ReferenceConnector, ReferenceEmulator

from .conftest import connect


class CountOnly(ReferenceConnector):
    """The reference vendor with a count cap only (as Mailchimp): batches numbered in bulk."""

    limits: ClassVar[Limits] = Limits(concurrency=4, batch_count=7)


def ids(n: int, start: int = 0) -> list[str]:
    return [f"p{i:05d}" for i in range(start, start + n)]


@settings(deadline=None)
@given(
    st.lists(st.sampled_from(["remove", "add", "update"]), max_size=60),
    st.integers(min_value=1, max_value=9),
)
def test_bulk_batch_numbers_equal_the_reference_assignment(ops: list[str], count: int) -> None:
    order = {"remove": 0, "add": 1, "update": 2}
    ops = sorted(ops, key=order.__getitem__)
    items = pa.table({"op": pa.array(ops, pa.string())})
    got = _number_batches(items, count).column("batch").to_pylist()
    assert got == assign_batches(ops, [1] * len(ops), batch_count=count, batch_bytes=None)


def test_a_mixed_plan_numbers_removes_then_adds_in_full_batches(store: Store) -> None:
    emulator = ReferenceEmulator()
    reference = connect(emulator)
    connector = CountOnly(config=reference.config, http=reference.http)
    apply(store, connector, SyncSpec(audience="a", members=ids(20)))
    prepared = prepare(store, connector, SyncSpec(audience="a", members=ids(20, start=10)))
    items = prepared.items
    assert items.column("op").to_pylist() == ["remove"] * 10 + ["add"] * 10
    assert items.column("batch").to_pylist() == [0] * 7 + [1] * 3 + [2] * 7 + [3] * 3
    assert prepared.plan.batch_requests == 4
    assert prepared.plan.lookup_requests == 1  # the audience exists: found, not created
    assert prepared.plan.requests == 5
    assert prepared.plan.removes == tuple(ids(10))
    assert prepared.plan.adds == tuple(ids(10, start=20))


def test_an_unchanged_plan_builds_no_items_and_still_counts_the_desired(store: Store) -> None:
    emulator = ReferenceEmulator()
    connector = connect(emulator)
    spec = SyncSpec(audience="a", members=ids(50))
    apply(store, connector, spec)
    prepared = prepare(store, connector, spec)
    assert prepared.items.num_rows == 0
    assert prepared.plan.is_empty
    assert prepared.plan.requests == 0
    assert prepared.desired == 50
    assert prepared.invalid == {}


def test_duplicate_and_unknown_keys_are_planned_once_with_their_reasons(store: Store) -> None:
    connector = connect(ReferenceEmulator())
    members = [*ids(3), *ids(3), "nobody", "nobody"]
    prepared = prepare(store, connector, SyncSpec(audience="a", members=members))
    assert prepared.plan.adds == tuple(ids(3))
    assert prepared.invalid == {"nobody": "unknown_profile"}
    assert prepared.desired == 3


def test_a_member_who_withdraws_consent_is_removed_with_the_hash_the_ledger_holds(
    store: Store, make_people
) -> None:  # type: ignore[no-untyped-def]
    connector = connect(ReferenceEmulator())
    spec = SyncSpec(audience="a", members=ids(5))
    apply(store, connector, spec)
    sent = dict(
        store.con.execute(
            "SELECT profile_id, payload_hash FROM sync_ledger WHERE profile_id = 'p00002'"
        ).fetchall()
    )
    store.upsert_profiles(make_people(1, start=2, consent=False))
    prepared = prepare(store, connector, spec)
    assert prepared.plan.removes == ("p00002",)
    assert prepared.invalid == {"p00002": "no_consent:email"}
    row = prepared.items.to_pylist()[0]
    assert row["op"] == "remove"
    assert row["payload_hash"] == sent["p00002"]
    assert row["identities"] == '{"email":"person2@example.com"}'


def test_adds_carry_the_hash_of_the_payload_they_send(store: Store) -> None:
    connector = connect(ReferenceEmulator())
    spec = SyncSpec(audience="a", members=ids(2), traits=("tier",))
    first = prepare(store, connector, spec).items.to_pylist()
    upsert = SyncSpec(audience="b", members=ids(2), traits=("tier",), mode="upsert")
    again = prepare(store, connector, upsert).items.to_pylist()
    assert [r["payload_hash"] for r in first] == [r["payload_hash"] for r in again]
    assert all(r["payload_hash"] and len(r["payload_hash"]) == 16 for r in first)
    assert first[0]["traits"] == '{"tier":"silver"}'


class Quota(ReferenceConnector):
    """The reference vendor with 3 members per call and 2 calls a day."""

    limits: ClassVar[Limits] = Limits(concurrency=1, batch_count=3, daily_quota=2)


def test_a_plan_past_the_daily_quota_says_so_and_counts_the_days(store: Store, capsys) -> None:
    from martech.cli.sync import plan_dict, show_plan
    from martech.sync.plan import estimate_seconds

    reference = connect(ReferenceEmulator())
    connector = Quota(config=reference.config, http=reference.http)
    prepared = prepare(store, connector, SyncSpec(audience="a", members=ids(7)))
    # three batches, after finding the audience and creating it
    assert prepared.plan.batch_requests == 3
    assert prepared.plan.requests == 5
    assert prepared.plan.daily_quota == 2
    # two requests a day: the fifth on the third day, two days' wait
    one_at_a_time = estimate_seconds(Limits(concurrency=1), 5, sequential=2)
    assert prepared.plan.estimated_seconds == one_at_a_time + 2 * 86_400
    assert estimate_seconds(Quota.limits, 2) == estimate_seconds(Limits(concurrency=1), 2)
    show_plan(plan_dict(prepared))
    out = " ".join(capsys.readouterr().out.split())
    assert "more than a day's quota: 5 requests at 2 a day take 3 days" in out
    within = prepare(store, CountOnly(config=reference.config, http=reference.http),
                     SyncSpec(audience="a", members=ids(7)))  # fmt: skip
    show_plan(plan_dict(within))
    assert "quota" not in capsys.readouterr().out


def test_a_mirror_of_a_segment_that_matches_nobody_is_refused_unless_allowed(store: Store) -> None:
    """A typo in a segment (a misspelled event type) matches nobody; a mirror sync would then
    remove everyone it added. That needs allow_empty; members who are only ineligible now (their
    consent withdrawn) are removed as usual."""
    import pytest

    from martech.errors import ConfigError

    connector = connect(ReferenceEmulator())
    apply(store, connector, SyncSpec(audience="a", members=ids(5)))
    with pytest.raises(ConfigError, match="would remove all 5 members it added"):
        prepare(store, connector, SyncSpec(audience="a", members=[]))
    allowed = prepare(store, connector, SyncSpec(audience="a", members=[], allow_empty=True))
    assert allowed.plan.removes == tuple(ids(5))
    # add_only never removes, so an empty segment is nothing to guard
    assert prepare(
        store, connector, SyncSpec(audience="a", members=[], mode="add_only")
    ).plan.is_empty
    # members that exist but may not be sent (no consent) leave as usual
    store.con.execute("UPDATE profiles SET consent = '{\"email\": false}' WHERE id IN ?", [ids(5)])
    gone = prepare(store, connector, SyncSpec(audience="a", members=ids(5)))
    assert gone.plan.removes == tuple(ids(5))


def test_a_destination_that_takes_no_audiences_is_refused_at_plan(store: Store) -> None:
    import pytest

    from martech.connector import Capability
    from martech.errors import ConfigError

    class ContentOnly(ReferenceConnector):
        def capabilities(self) -> list[Capability]:
            return [Capability(name="push_content")]

    reference = connect(ReferenceEmulator())
    content = ContentOnly(config=reference.config, http=reference.http)
    with pytest.raises(ConfigError, match=r"does not take audiences .* it offers push_content"):
        prepare(store, content, SyncSpec(audience="a", members=ids(3)))


def test_an_audience_the_connector_now_reaches_elsewhere_is_refused(store: Store) -> None:
    """The ledger records what one place (API, account, list) holds: pointed at another list,
    the connector would otherwise trust it and send nobody there."""
    import pytest

    from martech.errors import ConfigError
    from martech.sync import status

    class OnList(ReferenceConnector):
        target = "list A"

        def ledger_scope(self) -> str:
            return f"{super().ledger_scope()} {self.target}"

    reference = connect(ReferenceEmulator())
    first = OnList(config=reference.config, http=reference.http)
    apply(store, first, SyncSpec(audience="a", members=ids(5)))
    assert status(store, limit=1)[0].summary["scope"] == "http://reference.test list A"
    moved = OnList(config=reference.config, http=reference.http)
    moved.target = "list B"
    with pytest.raises(ConfigError, match=r"records what http://reference\.test list A holds"):
        prepare(store, moved, SyncSpec(audience="a", members=ids(5)))
    assert prepare(store, moved, SyncSpec(audience="a_2", members=ids(5))).plan.adds == tuple(
        ids(5)
    )
    assert prepare(store, first, SyncSpec(audience="a", members=ids(5))).plan.is_empty


def test_the_ledger_scope_names_the_place_without_credentials() -> None:
    from martech_connectors.mailchimp.config import MailchimpConfig
    from martech_connectors.mailchimp.connector import MailchimpConnector

    config = MailchimpConfig(
        api_key="0123456789abcdef0123456789abcdef-us21",
        list_id="5e1a0b2c3d",
        base_url="https://anystring:secret@us21.api.mailchimp.com/3.0/",
    )
    scope = MailchimpConnector(config=config).ledger_scope()
    assert scope == "https://us21.api.mailchimp.com/3.0 list 5e1a0b2c3d"


def test_a_person_with_two_addresses_is_one_member(martech_store: Store) -> None:
    """After a merge a person can hold two emails: the sync sends one of them (the smallest,
    the same on every run), never one member per address."""
    from martech.models import Profile

    martech_store.upsert_profiles(
        [
            Profile(id="A", identities={"email": "zed@x.io"}, consent={"email": True}),
            Profile(id="B", identities={"email": "amy@x.io"}, consent={"email": True}),
        ]
    )
    martech_store.upsert_profiles([Profile(id="B", identities={"email": "zed@x.io"})])
    emails = martech_store.con.execute(
        "SELECT value FROM identities WHERE profile_id = 'A' ORDER BY 1"
    ).fetchall()
    assert emails == [("amy@x.io",), ("zed@x.io",)]
    emulator = ReferenceEmulator()
    prepared = prepare(martech_store, connect(emulator), SyncSpec(audience="a", members=["A"]))
    assert prepared.items.column("profile_id").to_pylist() == ["A"]
    assert prepared.items.column("identities").to_pylist() == ['{"email":"amy@x.io"}']
    apply(martech_store, connect(emulator), SyncSpec(audience="a", members=["A"]))
    assert emulator.members("a") == {"amy@x.io"}
