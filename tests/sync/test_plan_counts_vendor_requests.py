"""The plan counts every request apply sends, not only the batches: finding (and on a first sync
creating) the audience, and each vendor's extra calls within batches (HubSpot resolving emails to
record ids, Mailchimp subscribing people new to its list). Checked against what each built-in
emulator received, with a fresh connector per apply, as the CLI makes one per command."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from martech.connector import Connector
from martech.http import HttpClient
from martech.http.budget import forget_budgets
from martech.models import Profile
from martech.sandbox import Emulator
from martech.store import Store
from martech.sync import SyncSpec, apply, prepare
from martech.sync.plan import estimate_seconds
from martech.testing.reference import ReferenceConfig, ReferenceConnector, ReferenceEmulator
from martech_connectors.hubspot.config import HubSpotConfig
from martech_connectors.hubspot.connector import HubSpotConnector
from martech_connectors.hubspot.emulator import HubSpotEmulator
from martech_connectors.mailchimp.config import MailchimpConfig
from martech_connectors.mailchimp.connector import MailchimpConnector
from martech_connectors.mailchimp.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_LIST_ID,
    MailchimpEmulator,
)
from martech_connectors.meta.config import MetaConfig
from martech_connectors.meta.connector import MetaConnector
from martech_connectors.meta.emulator import DEFAULT_ACCOUNT, DEFAULT_TOKEN, MetaEmulator

HUBSPOT_TOKEN = "pat-na1-00000000-1111-2222-3333-444444444444"


@dataclass
class Vendor:
    emulator: Emulator
    connect: Callable[[], Connector]


def _client(base: str, emulator: Emulator, vendor: str, **kw: Any) -> HttpClient:
    forget_budgets()
    return HttpClient(base_url=base, transport=emulator.transport(), vendor=vendor, **kw)


def reference(store: Store) -> Vendor:
    emulator = ReferenceEmulator()
    config = ReferenceConfig(base_url="http://reference.test", api_key="sk_test_secret")
    auth = {"Authorization": "Bearer sk_test_secret"}
    store.upsert_profiles(_people("r", 250))
    return Vendor(
        emulator,
        lambda: ReferenceConnector(
            config=config, http=_client(config.base_url, emulator, "reference", headers=auth)
        ),
    )


def hubspot(store: Store) -> Vendor:
    """Contacts in HubSpot; the store knows 150 of them by email only (a shop's profiles, ids
    ``a…``) and 150 with their HubSpot record id too (pulled from HubSpot, ids ``b…``)."""
    emulator = HubSpotEmulator(token=HUBSPOT_TOKEN)
    emulator.disable_limits()
    emails = [f"person{i}@example.org" for i in range(300)]
    record_ids = emulator.add_contacts({"email": e} for e in emails)
    store.upsert_profiles(
        [
            Profile(
                id=f"a{i:04d}" if i < 150 else f"b{i:04d}",
                identities={"email": email, **({"hubspot": rid} if i >= 150 else {})},
            )
            for i, (email, rid) in enumerate(zip(emails, record_ids, strict=True))
        ]
    )
    config = HubSpotConfig(access_token=HUBSPOT_TOKEN, base_url="http://hubspot.test")
    return Vendor(
        emulator,
        lambda: HubSpotConnector(config=config, http=_client(config.base_url, emulator, "hubspot")),
    )


def mailchimp(store: Store) -> Vendor:
    """People new to the Mailchimp list: each add batch subscribes them and adds them again."""
    emulator = MailchimpEmulator()
    store.upsert_profiles(_people("m", 700))
    base = "http://mailchimp.test/3.0"
    config = MailchimpConfig(api_key=DEFAULT_API_KEY, list_id=DEFAULT_LIST_ID, base_url=base)
    return Vendor(
        emulator,
        lambda: MailchimpConnector(config=config, http=_client(base, emulator, "mailchimp")),
    )


def meta(store: Store) -> Vendor:
    emulator = MetaEmulator()
    store.upsert_profiles(_people("f", 250))
    config = MetaConfig(
        access_token=DEFAULT_TOKEN,
        ad_account_id=DEFAULT_ACCOUNT,
        base_url="http://graph.test",
        min_audience_size=1,
        batch_rows=100,
    )
    return Vendor(
        emulator,
        lambda: MetaConnector(config=config, http=_client(config.base_url, emulator, "meta")),
    )


def _people(prefix: str, n: int) -> list[Profile]:
    return [
        Profile(
            id=f"{prefix}{i:04d}",
            identities={"email": f"{prefix}.person{i}@example.org"},
            consent={"email": True, "ad": True},
        )
        for i in range(n)
    ]


def _keys(store: Store, prefix: str) -> list[str]:
    rows = store.con.execute(
        "SELECT id FROM profiles WHERE starts_with(id, ?) ORDER BY id", [prefix]
    ).fetchall()
    return [r[0] for r in rows]


def _planned_then_sent(
    store: Store, vendor: Vendor, spec: SyncSpec
) -> tuple[tuple[int, int, int], int]:
    """The plan's (batch, lookup, resolve) requests, and what the emulator then received."""
    connector = vendor.connect()
    planned = prepare(store, connector, spec).plan
    assert planned.requests == (
        planned.batch_requests + planned.lookup_requests + planned.resolve_requests
    )
    assert planned.estimated_seconds == estimate_seconds(
        connector.limits, planned.requests, sequential=planned.lookup_requests
    )
    before = vendor.emulator.total_requests
    result = apply(store, connector, spec)
    assert result.complete
    assert not result.rejected, result.rejected
    received = vendor.emulator.total_requests - before
    assert result.requests == received
    counts = (planned.batch_requests, planned.lookup_requests, planned.resolve_requests)
    return counts, received


# Per vendor: its setup, the prefix of its people, the two syncs (members by position) and the
# (batch, lookup, resolve) requests each plans.
CASES = {
    # 250 adds in 3 batches (bytes cap 100k, count cap 100); then -50 +0: one remove batch.
    "reference": (reference, "r", [slice(0, 250), slice(50, 250)], [(3, 2, 0), (1, 1, 0)]),
    # Adds: a0000-a0099 | a0100-a0149 + b0150-b0199 | b0200-b0299: the last batch carries
    # record ids only, nothing to resolve. Then -60 (a… by email): one resolve.
    "hubspot": (hubspot, "", [slice(0, 300), slice(60, 300)], [(3, 2, 2), (1, 1, 1)]),
    # 620 adds in 2 batches, each subscribing and adding again; then -120 +80: the remove costs
    # nothing more, the add batch two.
    "mailchimp": (mailchimp, "m", [slice(0, 620), slice(120, 700)], [(2, 2, 4), (2, 1, 2)]),
    # 250 adds in 3 batches of 100 rows; then -100: one remove batch.
    "meta": (meta, "f", [slice(0, 250), slice(100, 250)], [(3, 2, 0), (1, 1, 0)]),
}


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_planned_requests_are_the_requests_the_emulator_received(
    martech_store: Store, name: str
) -> None:
    setup, prefix, steps, expected = CASES[name]
    vendor = setup(martech_store)
    everyone = _keys(martech_store, prefix)
    for step, (members, counts) in enumerate(zip(steps, expected, strict=True)):
        spec = SyncSpec(audience="vip", members=everyone[members])
        planned, received = _planned_then_sent(martech_store, vendor, spec)
        assert planned == counts, f"sync {step + 1}"
        assert received == sum(counts), f"sync {step + 1}"
    # Nothing changes: no batch, so no lookup either.
    assert prepare(martech_store, vendor.connect(), spec).plan.requests == 0


def test_mailchimp_counts_its_extras_at_most_when_people_are_already_on_the_list(
    martech_store: Store,
) -> None:
    vendor = mailchimp(martech_store)
    everyone = _keys(martech_store, "m")
    _planned_then_sent(martech_store, vendor, SyncSpec(audience="a", members=everyone[:300]))
    # The same people into a second segment: on the list already, so one request per batch.
    (batches, lookups, resolves), received = _planned_then_sent(
        martech_store, vendor, SyncSpec(audience="b", members=everyone[:300])
    )
    assert (batches, lookups, resolves) == (1, 2, 2)
    assert received == batches + lookups  # an upper bound, never less than what is sent


def test_a_plan_says_when_apply_first_reads_the_audience_back_for_an_interrupted_run(
    store: Store, emulator: ReferenceEmulator, make_connector, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    from martech.cli.sync import plan_dict, show_plan
    from martech.sync import ledger

    class Crash(Exception):
        pass

    def crash(*args: Any, **kw: Any) -> None:
        raise Crash("killed before the first commit")

    spec = SyncSpec(audience="a", members=[f"p{i:05d}" for i in range(300)])
    with monkeypatch.context() as m:
        m.setattr(ledger, "commit_batches", crash)
        with pytest.raises(Crash):
            apply(store, make_connector(emulator), spec)
    assert emulator.members("a")  # the batches reached the vendor; the ledger cannot say so
    prepared = prepare(store, make_connector(emulator), spec)
    assert prepared.resumes is not None
    assert prepared.resumes["uncertain_add_batches"] == 3
    assert prepared.resumes["reads_back"] is True
    show_plan(plan_dict(prepared))
    flat = " ".join(capsys.readouterr().out.split())
    assert (
        f"finishes the interrupted run {prepared.resumes['run_id']} first: 3 add batches may "
        "have reached the vendor; reading the audience back to check them costs requests not "
        "counted here"
    ) in flat
    reads = emulator.requests["GET /v1/audiences/1/members"]
    assert apply(store, make_connector(emulator), spec).complete
    assert emulator.requests["GET /v1/audiences/1/members"] > reads  # it did read back
    assert prepare(store, make_connector(emulator), spec).resumes is None
