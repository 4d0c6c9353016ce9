"""Meta through the sync engine: the match-quality pre-flight and the minimum size guard apply to
``martech sync plan`` / ``apply``, not only to ``replace_members``."""

from __future__ import annotations

from pathlib import Path

import pytest

from martech import sync
from martech.http import HttpClient
from martech.http.budget import forget_budgets
from martech.models import Profile
from martech.store import Store
from martech_connectors.meta.config import MetaConfig
from martech_connectors.meta.connector import MetaConnector
from martech_connectors.meta.emulator import DEFAULT_ACCOUNT, DEFAULT_TOKEN, MetaEmulator

BASE = "http://graph.test"


def connect(emulator: MetaEmulator, minimum: int) -> MetaConnector:
    forget_budgets()
    config = MetaConfig(
        access_token=DEFAULT_TOKEN,
        ad_account_id=DEFAULT_ACCOUNT,
        base_url=BASE,
        min_audience_size=minimum,
    )
    return MetaConnector(
        config=config, http=HttpClient(base_url=BASE, transport=emulator.transport())
    )


def profiles(n: int, start: int = 0) -> list[Profile]:
    return [
        Profile(
            id=f"m{i:04d}",
            identities={"email": f"fan{i}@example.org"},
            consent={"ad": True},
        )
        for i in range(start, start + n)
    ]


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Store(tmp_path / "meta.duckdb") as s:
        s.upsert_profiles(profiles(120))
        # Two more people whose addresses are one once Meta normalizes them (it also strips a
        # trailing "."): one duplicate. The store itself would have merged exact twins.
        s.upsert_profiles(
            [
                Profile(id="d1", identities={"email": "twin@example.org"}, consent={"ad": True}),
                Profile(id="d2", identities={"email": "twin2@example.org"}, consent={"ad": True}),
            ]
        )
        s.con.execute("UPDATE identities SET value = 'twin@example.org.' WHERE profile_id = 'd2'")
        yield s


def ids(n: int, start: int = 0) -> list[str]:
    return [f"m{i:04d}" for i in range(start, start + n)]


def test_the_plan_carries_the_match_quality_report(store: Store) -> None:
    emulator = MetaEmulator()
    prepared = sync.prepare(
        store, connect(emulator, 3), sync.SyncSpec("vip", [*ids(10), "d1", "d2"])
    )
    report = prepared.match_quality
    assert report is not None
    assert report["members"] == 12
    assert report["valid_email"] == 12
    assert report["valid_phone"] == 0
    assert report["duplicates"] == 1
    assert report["meets_minimum"]
    assert report["audience_after"] == 11  # 12 uploads, one a duplicate
    assert prepared.summary()["match_quality"] == report
    assert len(prepared.plan.adds) == 12
    assert emulator.total_requests == 0  # planning sends nothing


def test_an_audience_under_the_minimum_is_never_uploaded(store: Store, tmp_path: Path) -> None:
    emulator = MetaEmulator()
    spec = sync.SyncSpec("vip", ids(40))
    plan = sync.plan(store, connect(emulator, 100), spec)
    assert plan.adds == ()
    assert plan.requests == 0
    letters = tmp_path / "dead.jsonl"
    result = sync.apply(store, connect(emulator, 100), spec, dead_letter=letters)
    assert result.sent == 0
    assert set(result.invalid) == set(ids(40))
    assert set(result.invalid.values()) == {"below_minimum_audience:100"}
    assert emulator.users_added == 0
    assert not any("/users" in k for k in emulator.requests)
    assert {r["key"] for r in sync.read_dead_letters(letters)} == set(ids(40))
    # Grown past the minimum, the next apply uploads everyone.
    big = sync.SyncSpec("vip", ids(110))
    assert sync.apply(store, connect(emulator, 100), big).sent == 110
    aid = next(iter(emulator.audiences))
    assert emulator.size(aid) == 110


def test_removals_still_go_when_the_audience_shrinks_under_the_minimum(store: Store) -> None:
    emulator = MetaEmulator()
    sync.apply(store, connect(emulator, 100), sync.SyncSpec("vip", ids(110)))
    # 60 leave (consent withdrawn, say) and 5 join: the 5 wait, the 60 are removed.
    result = sync.apply(store, connect(emulator, 100), sync.SyncSpec("vip", ids(50) + ids(5, 115)))
    assert set(result.invalid) == set(ids(5, 115))
    assert result.sent == 60
    aid = next(iter(emulator.audiences))
    assert emulator.size(aid) == 50


def test_sync_plan_shows_the_report_without_identities(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    from martech.cli.sync import plan_dict, show_plan

    prepared = sync.prepare(store, connect(MetaEmulator(), 100), sync.SyncSpec("vip", ids(40)))
    data = plan_dict(prepared)
    assert data["match_quality"]["valid_email"] == 40
    show_plan(data)
    out = capsys.readouterr().out
    assert "40 below_minimum_audience:100" in out
    assert "match quality: 40 to upload, 40 valid email" in out
    assert "audience after 40, minimum 100" in out
    assert "too small, adds wait" in out
    assert "@" not in out


def test_batch_rows_is_the_rows_per_users_call_of_a_sync(store: Store) -> None:
    emulator = MetaEmulator()
    connector = connect(emulator, 3)
    connector = MetaConnector(
        config=connector.config.model_copy(update={"batch_rows": 4}), http=connector.http
    )
    assert connector.limits.batch_count == 4
    assert MetaConnector.limits.batch_count == 10_000  # the class keeps Meta's maximum
    plan = sync.plan(store, connector, sync.SyncSpec("vip", ids(10)))
    assert plan.batch_requests == 3
    assert plan.requests == 5  # with finding the audience and creating it
    result = sync.apply(store, connector, sync.SyncSpec("vip", ids(10)))
    assert result.sent == 10
    aid = next(iter(emulator.audiences))
    assert emulator.requests[f"POST /v25.0/{aid}/users"] == 3


def test_a_small_change_to_a_large_audience_normalizes_only_the_uploads(store: Store) -> None:
    emulator = MetaEmulator()
    sync.apply(store, connect(emulator, 100), sync.SyncSpec("vip", ids(110)))
    prepared = sync.prepare(store, connect(emulator, 100), sync.SyncSpec("vip", ids(112)))
    report = prepared.match_quality
    assert report is not None
    assert report["members"] == 2
    assert report["already_there"] == 110
    assert report["audience_after"] == 112
    assert prepared.plan.adds == ("m0110", "m0111")
