"""apply(): sends the plan in batches, commits the ledger, resumes, isolates bad records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from martech.errors import AuthError
from martech.models import Event
from martech.sandbox import Burst, Faults
from martech.store import Store, fetch_scalar
from martech.sync import SyncSpec, apply, plan, read_dead_letters, status
from martech.testing.reference import ReferenceConnector, ReferenceEmulator


def ids(n: int, start: int = 0) -> set[str]:
    return {f"p{i:05d}" for i in range(start, start + n)}


def emails(n: int, start: int = 0) -> set[str]:
    return {f"person{i}@example.com" for i in range(start, start + n)}


def test_first_sync_adds_every_member_in_batches_and_records_the_run(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector
) -> None:
    result = apply(store, connector, SyncSpec(audience="anglers", members=ids(250)))
    assert result.complete
    assert result.sent == 250
    assert not result.rejected
    assert emulator.members("anglers") == emails(250)
    assert emulator.requests["POST /v1/audiences/1/add"] == 3  # 100 + 100 + 50
    runs = status(store)
    assert runs[0].status == "complete"
    assert runs[0].summary["sent"] == 250


def test_rerunning_an_unchanged_sync_sends_zero_requests(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector
) -> None:
    spec = SyncSpec(audience="anglers", members=ids(120))
    apply(store, connector, spec)
    before = emulator.total_requests
    result = apply(store, connector, spec)
    assert emulator.total_requests == before
    assert result.sent == 0
    assert result.requests == 0
    assert result.complete


def test_mirror_removes_only_what_it_added_and_adds_the_new(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector
) -> None:
    apply(store, connector, SyncSpec(audience="anglers", members=ids(100)))
    # Someone else adds a member by hand: mirror must leave it alone.
    emulator.audiences["1"]["members"]["outsider@example.com"] = {}
    result = apply(store, connector, SyncSpec(audience="anglers", members=ids(100, start=50)))
    assert result.sent == 100  # 50 removed + 50 added
    assert emulator.members("anglers") == emails(100, start=50) | {"outsider@example.com"}


def test_the_ledger_holds_one_row_per_member_of_each_audience_across_runs(
    store: Store, connector: ReferenceConnector
) -> None:
    # The ledger has no key (store migration 7): each fold replaces a member's row itself.
    apply(store, connector, SyncSpec(audience="b", members=ids(100)))
    apply(store, connector, SyncSpec(audience="a", members=ids(100)))
    apply(store, connector, SyncSpec(audience="a", members=ids(100, start=50)))
    apply(store, connector, SyncSpec(audience="a", members=ids(100)))
    rows = store.con.execute(
        "SELECT audience, state, count(*), count(DISTINCT profile_id) FROM sync_ledger "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert rows == [
        ("a", "present", 100, 100),
        ("a", "removed", 50, 50),
        ("b", "present", 100, 100),
    ]
    removed = store.con.execute(
        "SELECT min(profile_id), max(profile_id) FROM sync_ledger WHERE state = 'removed'"
    ).fetchall()
    assert removed == [("p00100", "p00149")]


def test_add_only_never_removes(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector
) -> None:
    apply(store, connector, SyncSpec(audience="a", members=ids(10)))
    apply(store, connector, SyncSpec(audience="a", members=ids(10, start=5), mode="add_only"))
    assert emulator.members("a") == emails(15)


def test_upsert_resends_members_whose_traits_changed(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector, make_people
) -> None:
    spec = SyncSpec(audience="a", members=ids(10), mode="upsert", traits=("tier",))
    apply(store, connector, spec)
    changed = make_people(1, start=3)[0].model_copy(update={"traits": {"tier": "platinum"}})
    store.upsert_profiles([changed])
    p = plan(store, connector, spec)
    assert p.updates == ("p00003",)
    assert not p.adds
    assert not p.removes
    apply(store, connector, spec)
    assert emulator.audiences["1"]["members"]["person3@example.com"] == {"tier": "platinum"}
    assert emulator.duplicate_adds == 1  # exactly the one update


def test_consent_suppression_and_identity_are_enforced_before_sending(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector, make_people, tmp_path
) -> None:
    store.upsert_profiles(make_people(2, start=1000, consent=False))
    store.upsert_profiles(
        [make_people(1, start=2000)[0].model_copy(update={"identities": {"phone": "+14155550100"}})]
    )
    store.append_events([("p00005", Event(type="email_unsubscribe", ts=datetime.now(UTC)))])
    store.append_events([("p00006", Event(type="email_complaint", ts=datetime.now(UTC)))])
    members = ids(10) | {"p01000", "p01001", "p02000", "nobody"}
    letters = tmp_path / "dead.jsonl"
    result = apply(
        store,
        connector,
        SyncSpec(audience="a", members=members, suppressions=["PERSON7@example.com", "p00008"]),
        dead_letter=letters,
    )
    assert result.invalid == {
        "p01000": "no_consent:email",
        "p01001": "no_consent:email",
        "p00005": "suppressed:unsubscribed",
        "p00006": "suppressed:complained",
        "p00007": "suppressed:list",
        "p00008": "suppressed:list",
        "p02000": "no_identity:email",
        "nobody": "unknown_profile",
    }
    assert emulator.members("a") == emails(10) - emails(4, start=5)
    lines = read_dead_letters(letters)
    assert {line["key"] for line in lines} == set(result.invalid)
    assert "@" not in letters.read_text()


def test_a_crm_needs_no_marketing_consent(store: Store, make_people) -> None:
    from martech.sync.plan import consent_channel

    class Crm(ReferenceConnector):
        kind = "crm"

    store.upsert_profiles(make_people(3, start=5000, consent=False))
    spec = SyncSpec(audience="a", members={"p05000", "p05001", "p05002"})
    assert consent_channel(Crm) is None
    assert len(plan(store, Crm, spec).adds) == 3
    assert plan(store, ReferenceConnector, spec).adds == ()


def test_per_item_refusals_are_recorded_and_retried_next_run(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector, tmp_path
) -> None:
    emulator.set_faults(Faults(reject_rate=0.1, seed=3))
    letters = tmp_path / "dead.jsonl"
    result = apply(store, connector, SyncSpec(audience="a", members=ids(200)), dead_letter=letters)
    assert result.rejected
    assert set(result.rejected.values()) == {"refused by policy"}
    assert result.sent == 200 - len(result.rejected)
    assert {r["key"] for r in read_dead_letters(letters)} == set(result.rejected)
    emulator.set_faults(Faults())
    again = apply(store, connector, SyncSpec(audience="a", members=ids(200)))
    assert again.sent == len(result.rejected)
    assert emulator.members("a") == emails(200)
    assert emulator.duplicate_adds == 0


def test_a_batch_refused_whole_is_bisected_to_the_bad_record(
    store: Store, connector: ReferenceConnector, make_connector, make_people
) -> None:
    emulator = ReferenceEmulator(strict_batches=True)
    connector = make_connector(emulator)
    bad = make_people(1, start=3000)[0].model_copy(update={"identities": {"email": "x@y.com"}})
    store.upsert_profiles([bad])
    store.con.execute(
        "UPDATE identities SET value = 'broken-at-vendor' WHERE profile_id = 'p03000'"
    )
    result = apply(store, connector, SyncSpec(audience="a", members=ids(99) | {"p03000"}))
    assert list(result.rejected) == ["p03000"]
    assert "invalid email" in result.rejected["p03000"]
    assert emulator.members("a") == emails(99)
    # 1 refused batch of 100, then halves down to the single bad record: ~2*log2(100) calls.
    assert emulator.requests["POST /v1/audiences/1/add"] <= 16


def test_429_bursts_are_waited_out_and_nothing_is_lost(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector
) -> None:
    emulator.set_faults(
        Faults(too_many_requests=Burst(every=2), retry_after="0", paths=("/v1/audiences/1/",))
    )
    result = apply(store, connector, SyncSpec(audience="a", members=ids(300)))
    assert result.complete
    assert result.sent == 300
    assert emulator.injected["429"] == 2  # requests 2 and 4 of 3 batches + 2 retries
    assert emulator.members("a") == emails(300)
    assert emulator.duplicate_adds == 0


def test_a_vendor_asking_for_a_long_wait_stops_the_run_at_its_time_without_early_retries(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector
) -> None:
    # No deadline: retrying after the client's or the engine's own cap would not honour the
    # vendor's ten minutes, so the run stops with resume_after at the vendor's time.
    emulator.set_faults(
        Faults(too_many_requests=Burst(first=1000), retry_after="600", paths=("/v1/audiences/1/",))
    )
    before = datetime.now(UTC)
    spec = SyncSpec(audience="a", members=ids(300))
    result = apply(store, connector, spec)
    assert not result.complete
    assert result.resume_after is not None
    assert before + timedelta(seconds=590) <= result.resume_after
    assert result.resume_after <= datetime.now(UTC) + timedelta(seconds=600)
    assert emulator.injected["429"] <= 3  # one per batch in flight, none retried
    emulator.set_faults(Faults())
    resumed = apply(store, connector, spec)
    assert resumed.complete
    assert emulator.members("a") == emails(300)
    assert emulator.duplicate_adds == 0


def test_a_wait_past_the_deadline_stops_cleanly_and_the_next_apply_resumes(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector
) -> None:
    emulator.set_faults(
        Faults(too_many_requests=Burst(first=1000), retry_after="3600", paths=("/v1/audiences/1/",))
    )
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    spec = SyncSpec(audience="a", members=ids(300))
    result = apply(store, connector, spec, deadline=deadline)
    assert not result.complete
    assert result.resume_after is not None
    assert result.resume_after > deadline
    assert status(store)[0].status == "stopped"
    emulator.set_faults(Faults())
    resumed = apply(store, connector, spec)
    assert resumed.complete
    assert resumed.sent == 300
    assert emulator.members("a") == emails(300)
    assert emulator.duplicate_adds == 0
    assert [r.status for r in status(store)][:2] == ["complete", "complete"]


def test_refusals_before_a_stop_are_still_retried_after_the_resume(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector
) -> None:
    # Batch 1 goes through with some items refused, then every request is a 429 asking for an
    # hour: the run stops (folding batch 1) and the next apply resumes and folds the rest. The
    # refusals of batch 1 must survive that second fold, so they are sent again.
    emulator.set_faults(
        Faults(
            reject_rate=0.2,
            seed=5,
            too_many_requests=Burst(every=2, length=1000),
            retry_after="3600",
            paths=("/v1/audiences/1/",),
        )
    )
    spec = SyncSpec(audience="a", members=ids(300))
    stopped = apply(store, connector, spec, deadline=datetime.now(UTC) + timedelta(seconds=30))
    assert not stopped.complete
    assert stopped.rejected
    refused = set(stopped.rejected)
    states = dict(store.con.execute("SELECT profile_id, state FROM sync_ledger").fetchall())
    assert {k for k, v in states.items() if v == "rejected"} == refused
    emulator.set_faults(Faults())
    result = apply(store, connector, spec)
    assert result.complete
    assert emulator.members("a") == emails(300)
    assert emulator.duplicate_adds == 0
    present = fetch_scalar(store.con, "SELECT count(*) FROM sync_ledger WHERE state = 'present'")
    assert present == 300


def test_only_refused_items_reach_the_ledger_log(store: Store) -> None:
    from martech.sync import ledger

    def record(batch: int, states: list[str]) -> ledger.BatchRecord:
        keys = [f"k{batch}-{i}" for i in range(len(states))]
        reasons = ["no" if s == "rejected" else None for s in states]
        return ledger.BatchRecord(batch, "add", keys, [None] * len(keys), states, reasons, 1)

    ledger.commit_batches(
        store.con,
        "r1",
        [record(0, ["present"] * 3), record(1, ["present", "rejected", "present", "rejected"])],
    )
    logged = store.con.execute(
        "SELECT batch, profile_id, state, reason FROM sync_ledger_log ORDER BY ALL"
    ).fetchall()
    assert logged == [(1, "k1-1", "rejected", "no"), (1, "k1-3", "rejected", "no")]
    batches = store.con.execute(
        "SELECT batch, items, sent, rejected, folded FROM sync_batches ORDER BY batch"
    ).fetchall()
    assert batches == [(0, 3, 3, 0, False), (1, 4, 2, 2, False)]


class Crash(Exception):
    pass


def test_a_crash_after_some_batches_resumes_without_duplicates_or_losses(
    store: Store, emulator: ReferenceEmulator, make_connector
) -> None:
    calls = 0

    class Crashing(ReferenceConnector):
        async def add_members(self, audience_id, members):  # type: ignore[no-untyped-def]
            nonlocal calls
            outcome = await super().add_members(audience_id, members)  # the vendor has it...
            calls += 1
            if calls == 2:
                raise Crash("killed")  # ...but we die before the ledger knows
            return outcome

    base = make_connector(emulator)
    crashing = Crashing(config=base.config, http=base.http)
    spec = SyncSpec(audience="a", members=ids(300))
    with pytest.raises(Crash):
        apply(store, crashing, spec)
    assert status(store)[0].status == "interrupted"
    assert emulator.adds >= 200  # batches 0 and 1 (at least) reached the vendor
    result = apply(store, make_connector(emulator), spec)
    assert result.complete
    assert emulator.members("a") == emails(300)
    assert emulator.duplicate_adds == 0
    present = fetch_scalar(store.con, "SELECT count(*) FROM sync_ledger WHERE state = 'present'")
    assert present == 300


def test_an_auth_failure_fails_the_run_loudly(store: Store, emulator: ReferenceEmulator) -> None:
    from martech.http import HttpClient

    connector = ReferenceConnector(
        config=ReferenceConnector.Config(base_url="http://reference.test", api_key="k"),
        http=HttpClient(base_url="http://reference.test", transport=emulator.transport()),
    )
    with pytest.raises(AuthError):
        apply(store, connector, SyncSpec(audience="a", members=ids(5)))
    assert status(store)[0].status == "failed"


def test_a_dead_letter_path_that_cannot_be_written_is_refused_before_anything_is_sent(
    store: Store, emulator: ReferenceEmulator, connector: ReferenceConnector, tmp_path
) -> None:
    from martech.errors import ConfigError

    (tmp_path / "afile").write_text("x")
    for bad in (tmp_path, tmp_path / "afile" / "dead.jsonl"):
        with pytest.raises(ConfigError, match="dead_letter"):
            apply(store, connector, SyncSpec(audience="a", members=ids(10)), dead_letter=bad)
    assert emulator.total_requests == 0
    assert status(store) == []  # no run was started
