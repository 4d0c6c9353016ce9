"""The Meta Custom Audiences connector against its emulator (in-process transport)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from martech.connector import AudienceMember, BatchOutcome
from martech.errors import AuthError, ConfigError, DeadlineExceededError, ValidationError
from martech.http import HttpClient, run_sync
from martech.http.budget import forget_budgets
from martech.models import Profile
from martech.sandbox import Burst, Faults
from martech.store import Store
from martech_connectors.meta.config import MetaConfig
from martech_connectors.meta.connector import MetaConnector
from martech_connectors.meta.emulator import DEFAULT_ACCOUNT, DEFAULT_TOKEN, MetaEmulator
from martech_connectors.meta.mapping import hash_value

BASE = "http://graph.test"


@pytest.fixture
def emulator() -> MetaEmulator:
    forget_budgets()
    return MetaEmulator()


def connect(
    emulator: MetaEmulator,
    *,
    token: str = DEFAULT_TOKEN,
    deadline: datetime | None = None,
    cls: type[MetaConnector] = MetaConnector,
    **settings: Any,
) -> MetaConnector:
    config = MetaConfig(
        access_token=token,
        ad_account_id=DEFAULT_ACCOUNT,
        base_url=BASE,
        **{"min_audience_size": 3, **settings},
    )
    http = HttpClient(base_url=BASE, transport=emulator.transport(), deadline=deadline)
    return cls(config=config, http=http)


@pytest.fixture
def connector(emulator: MetaEmulator) -> MetaConnector:
    return connect(emulator)


def people(n: int, start: int = 0) -> list[AudienceMember]:
    return [
        AudienceMember(
            key=f"p{i}",
            identities={"email": f"Person{i}@Example.org", "phone": f"+1415555{i:04d}"},
            traits={"first_name": f"Ann{chr(97 + i % 26)}", "last_name": "Lee", "country": "US"},
        )
        for i in range(start, start + n)
    ]


def email_ids(members: list[AudienceMember]) -> set[str]:
    return {f"EMAIL:{hash_value('EMAIL', m.identities['email'])}" for m in members}


def test_ensure_audience_creates_a_customer_file_audience_once(
    emulator: MetaEmulator, connector: MetaConnector
) -> None:
    first = run_sync(connector.ensure_audience("Anglers"))
    assert run_sync(connector.ensure_audience("Anglers")) == first
    assert emulator.requests[f"POST /v25.0/act_{DEFAULT_ACCOUNT}/customaudiences"] == 1
    audience = emulator.audiences[first]
    assert audience.customer_file_source == "USER_PROVIDED_ONLY"
    assert audience.wire()["subtype"] == "CUSTOM"


def test_ensure_audience_finds_it_beyond_the_first_page(emulator: MetaEmulator) -> None:
    for i in range(600):
        emulator.create_audience(f"other-{i}")
    wanted = emulator.create_audience("wanted")
    assert run_sync(connect(emulator).ensure_audience("wanted")) == wanted


def test_adding_twice_keeps_one_person_per_member_and_removing_twice_is_a_noop(
    emulator: MetaEmulator, connector: MetaConnector
) -> None:
    aid = run_sync(connector.ensure_audience("vip"))
    first = run_sync(connector.add_members(aid, people(5)))
    second = run_sync(connector.add_members(aid, people(5)))
    assert sorted(first.accepted) == sorted(second.accepted) == [f"p{i}" for i in range(5)]
    assert emulator.size(aid) == 5
    assert email_ids(people(5)) <= emulator.identifiers(aid)
    run_sync(connector.remove_members(aid, people(2)))
    again = run_sync(connector.remove_members(aid, people(2)))
    assert not again.rejected
    assert emulator.size(aid) == 3
    assert emulator.users_removed == 2


def test_removing_by_email_alone_removes_someone_added_with_email_and_phone(
    emulator: MetaEmulator, connector: MetaConnector
) -> None:
    aid = run_sync(connector.ensure_audience("vip"))
    run_sync(connector.add_members(aid, people(2)))
    by_email = [AudienceMember(key="p0", identities={"email": "person0@example.org"})]
    run_sync(connector.remove_members(aid, by_email))
    assert emulator.size(aid) == 1


def test_rows_are_hashed_multi_key_and_carry_no_raw_identity(emulator: MetaEmulator) -> None:
    seen: list[bytes] = []

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await request.aread()
            seen.append(request.content)
            return await emulator.transport().handle_async_request(request)

    config = MetaConfig(access_token=DEFAULT_TOKEN, ad_account_id=DEFAULT_ACCOUNT, base_url=BASE)
    connector = MetaConnector(
        config=config, http=HttpClient(base_url=BASE, transport=Recording(), vendor="meta")
    )
    aid = emulator.create_audience("vip")
    run_sync(connector.add_members(aid, people(2)))
    body = orjson.loads(seen[-1])
    assert body["payload"]["schema"] == ["EMAIL", "PHONE", "FN", "LN", "CT", "COUNTRY"]
    assert body["payload"]["is_raw"] is True
    row = body["payload"]["data"][0]
    assert row[0] == hash_value("EMAIL", "person0@example.org")
    assert row[1] == hash_value("PHONE", "14155550000")
    assert row[4] == "", "no city: blank cell"
    text = seen[-1].decode()
    assert "example.org" not in text.lower()
    assert "4155550000" not in text


def test_members_with_nothing_to_match_on_are_rejected_locally(
    connector: MetaConnector, emulator: MetaEmulator
) -> None:
    aid = emulator.create_audience("vip")
    outcome = run_sync(connector.add_members(aid, [AudienceMember(key="x", traits={"a": 1})]))
    assert outcome.requests == 0
    assert "usable for matching" in outcome.rejected["x"]


def test_invalid_entries_surface_per_member_with_metas_reason(emulator: MetaEmulator) -> None:
    emulator.set_faults(Faults(reject_rate=0.5, seed=3))
    connector = connect(emulator)
    aid = emulator.create_audience("vip")
    outcome = run_sync(connector.add_members(aid, people(20)))
    assert outcome.rejected
    assert len(outcome.rejected) == emulator.injected["rejected"]
    assert set(outcome.accepted).isdisjoint(outcome.rejected)
    assert emulator.size(aid) == len(outcome.accepted)


def test_more_than_10000_rows_is_refused_by_the_connector_and_by_the_emulator(
    emulator: MetaEmulator, connector: MetaConnector
) -> None:
    aid = emulator.create_audience("vip")
    with pytest.raises(ValidationError, match="at most 10000"):
        run_sync(connector.add_members(aid, people(10_001)))
    assert emulator.total_requests == 0
    cell = hash_value("EMAIL", "a@b.org")

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=emulator.transport(), base_url=BASE) as c:
            payload = {"schema": ["EMAIL"], "data": [[cell]] * 10_001}
            return await c.post(
                f"/v25.0/{aid}/users", json={"payload": payload, "access_token": DEFAULT_TOKEN}
            )

    r = run_sync(post())
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == 100
    assert "10000" in error["message"]
    assert set(error) >= {"message", "type", "code", "fbtrace_id"}


def test_the_emulator_accepts_the_sdks_form_encoded_payload(emulator: MetaEmulator) -> None:
    aid = emulator.create_audience("vip")
    payload = {"schema": "EMAIL_SHA256", "data": [hash_value("EMAIL", "a@b.org")]}

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=emulator.transport(), base_url=BASE) as c:
            return await c.post(
                f"/v25.0/{aid}/users",
                data={"payload": orjson.dumps(payload).decode(), "access_token": DEFAULT_TOKEN},
            )

    r = run_sync(post())
    assert r.status_code == 200
    assert r.json()["num_received"] == 1
    assert r.json()["num_invalid_entries"] == 0
    assert emulator.size(aid) == 1


def test_unhashed_cells_are_invalid_entries(emulator: MetaEmulator) -> None:
    aid = emulator.create_audience("vip")

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=emulator.transport(), base_url=BASE) as c:
            payload = {"schema": ["EMAIL"], "data": [["raw@example.org"]]}
            return await c.post(
                f"/v25.0/{aid}/users", json={"payload": payload, "access_token": DEFAULT_TOKEN}
            )

    body = run_sync(post()).json()
    assert body["num_invalid_entries"] == 1
    assert emulator.size(aid) == 0


def test_replace_swaps_the_audience_in_one_session_of_batches(emulator: MetaEmulator) -> None:
    connector = connect(emulator, batch_rows=3)
    aid = emulator.create_audience("vip")
    run_sync(connector.add_members(aid, people(4, start=100)))
    outcome = run_sync(connector.replace_members(aid, people(7), session_id=42))
    assert outcome.requests == 3
    assert sorted(outcome.accepted) == sorted(m.key for m in people(7))
    assert emulator.size(aid) == 7
    assert email_ids(people(7)) <= emulator.identifiers(aid)
    assert not email_ids(people(4, start=100)) & emulator.identifiers(aid)
    session = emulator.sessions[(aid, 42)]
    assert session.seen == {1, 2, 3}
    assert session.closed


def test_the_audience_is_unchanged_until_the_last_replace_batch(emulator: MetaEmulator) -> None:
    class StopsBeforeLast(MetaConnector):
        async def _send(self, method: str, audience_id: str, members: Any, **kw: Any) -> Any:
            if kw.get("session", {}).get("last_batch_flag"):
                raise RuntimeError("killed before the last batch")
            return await super()._send(method, audience_id, members, **kw)

    connector = connect(emulator, batch_rows=3, cls=StopsBeforeLast)
    aid = emulator.create_audience("vip")
    run_sync(connector.add_members(aid, people(4, start=100)))
    with pytest.raises(RuntimeError):
        run_sync(connector.replace_members(aid, people(7)))
    assert emulator.size(aid) == 4


def test_the_minimum_size_guard_refuses_before_anything_is_sent(emulator: MetaEmulator) -> None:
    connector = connect(emulator, min_audience_size=100)
    aid = emulator.create_audience("vip")
    with pytest.raises(ValidationError, match="below the minimum of 100"):
        run_sync(connector.replace_members(aid, people(40)))
    assert emulator.total_requests == 0
    report = connector.match_quality(people(40))
    assert report.valid_email == report.valid_phone == 40
    assert not report.meets_minimum


def test_throttling_is_retried_and_answers_with_the_usage_header(emulator: MetaEmulator) -> None:
    emulator.set_faults(Faults(too_many_requests=Burst(first=1), retry_after="0"))
    connector = connect(emulator)
    assert run_sync(connector.ensure_audience("vip"))
    assert emulator.injected["429"] == 1
    response = emulator.rate_limited(None)
    assert response.status_code == 400
    body = orjson.loads(bytes(response.body))
    assert body["error"]["code"] == 80003
    usage = orjson.loads(response.headers["X-Business-Use-Case-Usage"])
    assert usage[DEFAULT_ACCOUNT][0]["type"] == "custom_audience"


def test_the_usage_headers_regain_time_is_honoured_up_to_the_deadline(
    emulator: MetaEmulator,
) -> None:
    emulator = MetaEmulator(
        faults=Faults(too_many_requests=Burst(first=1), retry_after=None), regain_minutes=2
    )
    started = datetime.now(UTC)
    connector = connect(emulator, deadline=started + timedelta(seconds=5))
    with pytest.raises(DeadlineExceededError) as info:
        run_sync(connector.ensure_audience("vip"))
    waited = (info.value.resume_after - started).total_seconds()
    assert 110 <= waited <= 130, "estimated_time_to_regain_access is in minutes"


def test_an_invalid_token_is_an_auth_error_without_the_token(emulator: MetaEmulator) -> None:
    wrong = "EAAwrongTOKENabcdefghijklmnop0123"
    connector = connect(emulator, token=wrong)
    with pytest.raises(AuthError) as info:
        run_sync(connector.ensure_audience("vip"))
    assert "Cannot parse access token" in str(info.value)
    assert wrong not in str(info.value)


def test_no_raw_email_phone_or_token_in_logs(
    emulator: MetaEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.set_faults(Faults(too_many_requests=Burst(first=1), retry_after="0", reject_rate=0.5))
    connector = connect(emulator)
    with caplog.at_level(logging.DEBUG):
        aid = run_sync(connector.ensure_audience("vip"))
        outcome = run_sync(connector.add_members(aid, people(6)))
    text = caplog.text + " ".join(outcome.rejected.values())
    assert caplog.records
    assert DEFAULT_TOKEN not in text
    for m in people(6):
        assert m.identities["email"].lower() not in text.lower()
        assert m.identities["phone"] not in text
        assert m.identities["phone"][1:] not in text


def test_a_killed_sync_resumes_with_each_person_in_the_audience_once(
    emulator: MetaEmulator, tmp_path: Path
) -> None:
    from martech import sync

    small = MetaConnector.limits.model_copy(update={"batch_count": 5, "concurrency": 1})
    calls = 0

    class Crashing(MetaConnector):
        limits = small

        async def add_members(self, audience_id: str, members: Any) -> BatchOutcome:
            nonlocal calls
            outcome = await super().add_members(audience_id, members)
            calls += 1
            if calls == 2:
                raise KeyboardInterrupt  # stands in for kill -9 after the vendor took batch 2
            return outcome

    class Small(MetaConnector):
        limits = small

    profiles = [
        Profile(
            id=m.key,
            identities=m.identities,
            traits=m.traits,
            consent={"email": True, "ad": True},
        )
        for m in people(23)
    ]
    spec = sync.SyncSpec(audience="vip", members=[p.id for p in profiles])
    with Store(tmp_path / "meta.duckdb") as store:
        store.upsert_profiles(profiles)
        with pytest.raises(KeyboardInterrupt):
            sync.apply(store, connect(emulator, cls=Crashing), spec)
        result = sync.apply(store, connect(emulator, cls=Small), spec)
    assert result.complete
    aid = next(iter(emulator.audiences))
    assert emulator.size(aid) == 23


def test_declared_limits_capabilities_and_no_read_back() -> None:
    assert MetaConnector.limits.batch_count == 10_000
    config = MetaConfig(access_token="t", ad_account_id="act_1")
    connector = MetaConnector(config=config)
    assert [c.name for c in connector.capabilities()] == ["push_audience"]
    assert config.account == "act_1"
    with pytest.raises(ConfigError):
        connector.read_members("1")


def test_config_refuses_unknown_schema_keys_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="schema_keys"):
        MetaConfig.load(
            "meta", {"access_token": "t", "ad_account_id": "1", "schema_keys": "EMAIL,NAME"}
        )
    cfg = MetaConfig.load(
        "meta", env={"MARTECH_META_ACCESS_TOKEN": "t", "MARTECH_META_AD_ACCOUNT_ID": "99"}
    )
    assert isinstance(cfg, MetaConfig)
    assert cfg.account == "act_99"


def test_seeded_emulator_holds_one_audience_of_that_many_people() -> None:
    emulator = MetaEmulator()
    emulator.seed_data(50)
    (audience,) = emulator.audiences.values()
    assert audience.name == "sandbox-seeded"
    assert emulator.size(audience.id) == 50
