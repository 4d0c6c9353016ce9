"""A crash at every point of apply, then a resume: nothing lost, nothing added twice.

Each test makes one step of apply raise (an exception stands in for a kill at that point), then
runs apply again with a healthy process and checks the vendor's audience, the duplicate-add
count and the ledger against the segment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from martech.store import Store, fetch_scalar
from martech.sync import SyncSpec, apply, ledger, read_dead_letters, status
from martech.sync.deadletter import DeadLetter
from martech.testing.reference import ReferenceConnector, ReferenceEmulator

pytestmark = pytest.mark.timeout(60)


class Crash(Exception):
    pass


def ids(n: int, start: int = 0) -> set[str]:
    return {f"p{i:05d}" for i in range(start, start + n)}


def emails(n: int, start: int = 0) -> set[str]:
    return {f"person{i}@example.com" for i in range(start, start + n)}


def crash_on(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, nth: int) -> None:
    """Make ``owner.name`` raise :class:`Crash` on its ``nth`` call (1-based), once."""
    real: Callable[..., Any] = getattr(owner, name)
    calls = 0

    def wrapper(*args: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth:
            raise Crash(f"{name} #{nth}")
        return real(*args, **kw)

    monkeypatch.setattr(owner, name, wrapper)


N = 1000  # 10 batches of 100, 4 in flight: several group commits and started_upto raises


@pytest.fixture
def big(store: Store, make_people) -> Store:  # type: ignore[no-untyped-def]
    store.upsert_profiles(make_people(N - 300, start=300))
    return store


def present_in_ledger(store: Store, audience: str = "a") -> int:
    return int(
        fetch_scalar(
            store.con,
            "SELECT count(*) FROM sync_ledger WHERE audience = ? AND state = 'present'",
            [audience],
        )
    )


def check_resume(store: Store, emulator: ReferenceEmulator, make_connector, n: int) -> None:  # type: ignore[no-untyped-def]
    result = apply(store, make_connector(emulator), SyncSpec(audience="a", members=ids(n)))
    assert result.complete
    assert emulator.members("a") == emails(n)
    assert emulator.duplicate_adds == 0
    assert present_in_ledger(store) == n
    assert all(r.status == "complete" for r in status(store, limit=1))
    again = apply(store, make_connector(emulator), SyncSpec(audience="a", members=ids(n)))
    assert again.requests == 0


@pytest.mark.parametrize(
    ("name", "nth"),
    [
        ("start_run", 1),
        ("set_started_upto", 1),
        ("set_started_upto", 2),
        ("commit_batches", 1),
        ("commit_batches", 2),
        ("fold", 1),
        ("finish_run", 1),
    ],
)
def test_a_crash_in_a_ledger_step_then_resume_is_exact(
    big: Store, emulator: ReferenceEmulator, make_connector, monkeypatch, name: str, nth: int
) -> None:
    with monkeypatch.context() as m:
        crash_on(m, ledger, name, nth)
        with pytest.raises(Crash):
            apply(big, make_connector(emulator), SyncSpec(audience="a", members=ids(N)))
    check_resume(big, emulator, make_connector, N)


def crashing(base: ReferenceConnector, op: str, nth: int, *, after: bool) -> ReferenceConnector:
    """``base`` whose ``nth`` call of ``op`` raises before sending, or (``after``) whose ``nth``
    call the vendor accepted raises after it did."""
    calls = 0

    class Crashing(ReferenceConnector):
        async def add_members(self, audience_id, members):  # type: ignore[no-untyped-def]
            return await self._call("add", super().add_members, audience_id, members)

        async def remove_members(self, audience_id, members):  # type: ignore[no-untyped-def]
            return await self._call("remove", super().remove_members, audience_id, members)

        async def _call(self, kind, fn, audience_id, members):  # type: ignore[no-untyped-def]
            nonlocal calls
            if kind == op and not after:
                calls += 1
                if calls == nth:
                    raise Crash(f"{op} #{nth}, before sending")
            outcome = await fn(audience_id, members)
            if kind == op and after:
                calls += 1
                if calls == nth:
                    raise Crash(f"{op} #{nth}, after the vendor accepted it")
            return outcome

    return Crashing(config=base.config, http=base.http)


@pytest.mark.parametrize("after", [False, True])
@pytest.mark.parametrize("nth", [1, 3, 10])
def test_a_crash_around_an_add_then_resume_is_exact(
    big: Store, emulator: ReferenceEmulator, make_connector, nth: int, after: bool
) -> None:
    with pytest.raises(Crash):
        apply(
            big,
            crashing(make_connector(emulator), "add", nth, after=after),
            SyncSpec(audience="a", members=ids(N)),
        )
    assert status(big)[0].status == "interrupted"
    check_resume(big, emulator, make_connector, N)


@pytest.mark.parametrize("after", [False, True])
@pytest.mark.parametrize("nth", [1, 2])
def test_a_crash_around_a_remove_then_resume_is_exact(
    big: Store, emulator: ReferenceEmulator, make_connector, nth: int, after: bool
) -> None:
    apply(big, make_connector(emulator), SyncSpec(audience="a", members=ids(N)))
    emulator.audiences["1"]["members"]["outsider@example.com"] = {}
    removes_before = emulator.removes
    with pytest.raises(Crash):
        apply(
            big,
            crashing(make_connector(emulator), "remove", nth, after=after),
            SyncSpec(audience="a", members=ids(N - 300)),
        )
    result = apply(big, make_connector(emulator), SyncSpec(audience="a", members=ids(N - 300)))
    assert result.complete
    assert emulator.members("a") == emails(N - 300) | {"outsider@example.com"}
    assert emulator.removes - removes_before == 300  # each member removed once, none again
    assert present_in_ledger(big) == N - 300
    removed = fetch_scalar(big.con, "SELECT count(*) FROM sync_ledger WHERE state = 'removed'")
    assert removed == 300


def broken_member(store: Store, make_people) -> str:  # type: ignore[no-untyped-def]
    """A consenting profile whose email the strict reference vendor refuses."""
    bad = make_people(1, start=3000)[0]
    store.upsert_profiles([bad])
    store.con.execute(
        "UPDATE identities SET value = 'broken-at-vendor' WHERE profile_id = 'p03000'"
    )
    return "p03000"


@pytest.mark.parametrize("after", [False, True])
@pytest.mark.parametrize("nth", [2, 4, 6])
def test_a_crash_while_splitting_a_refused_batch_then_resume_is_exact(
    store: Store, make_connector, make_people, tmp_path, nth: int, after: bool
) -> None:
    emulator = ReferenceEmulator(strict_batches=True)
    bad = broken_member(store, make_people)
    spec = SyncSpec(audience="a", members=ids(199) | {bad})
    letters = tmp_path / "dead.jsonl"
    with pytest.raises(Crash):
        apply(
            store,
            crashing(make_connector(emulator), "add", nth, after=after),
            spec,
            dead_letter=letters,
        )
    result = apply(store, make_connector(emulator), spec, dead_letter=letters)
    assert result.complete
    assert emulator.members("a") == emails(199)
    assert emulator.duplicate_adds == 0
    assert present_in_ledger(store) == 199
    state = fetch_scalar(store.con, "SELECT state FROM sync_ledger WHERE profile_id = ?", [bad])
    assert state == "rejected"
    assert {(r["key"], r["status"]) for r in read_dead_letters(letters)} == {(bad, "rejected")}


def test_a_crash_while_writing_the_dead_letter_file_loses_no_line(
    store: Store, make_connector, make_people, tmp_path, monkeypatch
) -> None:
    emulator = ReferenceEmulator(strict_batches=True)
    bad = broken_member(store, make_people)
    spec = SyncSpec(audience="a", members=ids(199) | {bad})
    letters = tmp_path / "dead.jsonl"
    letters.write_bytes(b'{"run_id": "old", "key": "p0')  # what a kill mid-write leaves
    with monkeypatch.context() as m:
        crash_on(m, DeadLetter, "write_many", 1)
        with pytest.raises(Crash):
            apply(store, make_connector(emulator), spec, dead_letter=letters)
    result = apply(store, make_connector(emulator), spec, dead_letter=letters)
    assert result.complete
    assert emulator.members("a") == emails(199)
    assert emulator.duplicate_adds == 0
    assert {(r["key"], r["status"]) for r in read_dead_letters(letters)} == {(bad, "rejected")}
