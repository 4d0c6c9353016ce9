"""A removal reaches every address the audience may know the person by.

The store keeps each identity a profile ever had (a changed email, a merge), and a payload
names one value per kind (the smallest). The add went out with the value of its day; when
the person later holds another, a removal sent only to the current one leaves the old one in
the audience while the ledger says removed.
"""

from __future__ import annotations

import pytest

from martech.store import Store, fetch_scalar
from martech.sync import SyncSpec, apply, status
from martech.testing.reference import ReferenceConnector, ReferenceEmulator

pytestmark = pytest.mark.timeout(60)


def ids(n: int, start: int = 0) -> list[str]:
    return [f"p{i:05d}" for i in range(start, start + n)]


def new_address(store: Store, make_people, i: int) -> None:  # type: ignore[no-untyped-def]
    person = make_people(1, start=i)[0]
    store.upsert_profiles([person.model_copy(update={"identities": {"email": f"new{i}@x.com"}})])


def test_a_removal_after_the_email_changed_removes_the_address_that_was_added(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector, make_people
) -> None:
    apply(store, connector, SyncSpec(audience="a", members=ids(3)))
    assert emulator.members("a") == {f"person{i}@example.com" for i in range(3)}
    new_address(store, make_people, 0)  # sorts before person0@example.com
    result = apply(store, connector, SyncSpec(audience="a", members=ids(2, start=1)))
    assert result.complete
    assert emulator.members("a") == {"person1@example.com", "person2@example.com"}
    state = fetch_scalar(store.con, "SELECT state FROM sync_ledger WHERE profile_id = 'p00000'")
    assert state == "removed"


def test_the_extra_addresses_respect_the_batch_size_and_a_resume(
    store: Store, emulator: ReferenceEmulator, make_connector, make_people
) -> None:
    apply(store, make_connector(emulator), SyncSpec(audience="a", members=ids(250)))
    for i in range(0, 200, 2):  # 100 people with a second address
        new_address(store, make_people, i)
    calls = 0

    class Crashing(ReferenceConnector):
        async def remove_members(self, audience_id, members):  # type: ignore[no-untyped-def]
            nonlocal calls
            assert len(members) <= self.limits.batch_count
            calls += 1
            if calls == 2:
                raise RuntimeError("killed")
            return await super().remove_members(audience_id, members)

    base = make_connector(emulator)
    with pytest.raises(RuntimeError):
        apply(store, Crashing(config=base.config, http=base.http), SyncSpec("a", ids(50, 200)))
    assert status(store)[0].status == "interrupted"
    again = make_connector(emulator)
    checked = Crashing(config=again.config, http=again.http)
    calls = 10
    result = apply(store, checked, SyncSpec(audience="a", members=ids(50, start=200)))
    assert result.complete
    assert emulator.members("a") == {f"person{i}@example.com" for i in range(200, 250)}
    removed = fetch_scalar(store.con, "SELECT count(*) FROM sync_ledger WHERE state = 'removed'")
    assert removed == 200
