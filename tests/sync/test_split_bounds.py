"""Splitting a refused batch stays within a bound: a vendor that refuses every request as a
whole (a bad audience id, a malformed payload) costs a few requests per batch, not two per
member."""

from __future__ import annotations

import pytest

from martech.errors import FatalVendorError
from martech.store import Store, fetch_scalar
from martech.sync import SyncSpec, apply, read_dead_letters
from martech.sync.apply import split_budget
from martech.testing.reference import ReferenceConnector, ReferenceEmulator

pytestmark = pytest.mark.timeout(60)


def test_a_vendor_refusing_every_batch_whole_costs_a_bounded_number_of_requests(
    store: Store, emulator: ReferenceEmulator, make_connector, tmp_path
) -> None:
    calls = 0

    class Refusing(ReferenceConnector):
        async def add_members(self, audience_id, members):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            raise FatalVendorError("(#100) Invalid parameter", vendor="reference", status=400)

    base = make_connector(emulator)
    letters = tmp_path / "dead.jsonl"
    members = {f"p{i:05d}" for i in range(300)}
    result = apply(
        store,
        Refusing(config=base.config, http=base.http),
        SyncSpec("a", members),
        dead_letter=letters,
    )
    assert calls <= 3 * (1 + split_budget(100))  # was 3 * 199: every member alone at the end
    assert set(result.rejected) == members
    assert all("Invalid parameter" in r for r in result.rejected.values())
    assert {r["key"] for r in read_dead_letters(letters)} == members
    rejected = fetch_scalar(store.con, "SELECT count(*) FROM sync_ledger WHERE state = 'rejected'")
    assert rejected == 300  # and the next run tries them again


def test_the_budget_still_isolates_a_few_bad_records(
    store: Store, make_connector, make_people
) -> None:
    emulator = ReferenceEmulator(strict_batches=True)
    bad = [f"p{i:05d}" for i in (3, 41, 77)]
    store.con.execute(
        "UPDATE identities SET value = 'broken-' || profile_id WHERE list_contains(?, profile_id)",
        [bad],
    )
    result = apply(
        store, make_connector(emulator), SyncSpec("a", {f"p{i:05d}" for i in range(100)})
    )
    assert sorted(result.rejected) == bad
    assert len(emulator.members("a")) == 97
