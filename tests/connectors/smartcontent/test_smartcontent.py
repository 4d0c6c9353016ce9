"""SmartContent: the connector speaks its wire format; the emulator's "AI" is two attributes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from martech import Event, Level, Profile, StaticVariant, TemplateVariant
from martech.errors import AuthError
from martech.http import HttpClient, run_sync
from martech_connectors.smartcontent.connector import SmartContentConfig, SmartContentConnector
from martech_connectors.smartcontent.emulator import SmartContentEmulator, lifecycle

TS = datetime(2025, 11, 1, tzinfo=UTC)
BASE = "http://smartcontent.test"


def connector(emulator: SmartContentEmulator, token: str = "tok") -> SmartContentConnector:
    config = SmartContentConfig(base_url=BASE, api_token=token)
    http = HttpClient(base_url=BASE, transport=emulator.transport(), vendor="smartcontent")
    return SmartContentConnector(config=config, http=http)


def person(country: str, purchases: int, name: str = "Ada") -> Profile:
    events = [Event(type="purchase", item_id=f"SKU-{i:05d}", ts=TS, value=10.0)
              for i in range(purchases)]  # fmt: skip
    return Profile(id=f"p-{country}-{purchases}", traits={"first_name": name, "country": country},
                   events=events)  # fmt: skip


def test_decide_returns_a_static_variant_with_the_name_merged_in():
    emulator = SmartContentEmulator()
    variant = run_sync(connector(emulator).decide(person("US", 0), "home"))
    assert isinstance(variant, StaticVariant)
    assert variant.placement == "home"
    assert variant.content.startswith("Hi Ada!")
    assert "Free 2-day shipping" in variant.content
    assert emulator.requests["POST /v2/experiences/home/decide"] == 1


def test_two_people_in_the_same_region_and_stage_get_the_same_experience():
    emulator = SmartContentEmulator()
    c = connector(emulator)
    a = run_sync(c.decide(person("DE", 2, "Ada"), "home"))
    b = run_sync(c.decide(person("FR", 3, "Bob"), "home"))
    assert isinstance(a, StaticVariant)
    assert isinstance(b, StaticVariant)
    assert a.id == b.id
    assert a.content.replace("Ada", "Bob") == b.content


@pytest.mark.parametrize(
    ("history", "stage"),
    [([], "new"), ([{"type": "view"}], "browser"), ([{"type": "purchase"}], "customer"),
     ([{"type": "purchase"}, {"type": "purchase"}], "loyal")],
    ids=["new", "browser", "customer", "loyal"],
)  # fmt: skip
def test_lifecycle_counts_purchases_only(history, stage):
    assert lifecycle(history) == stage


def test_missing_token_is_refused_with_401():
    emulator = SmartContentEmulator()
    http = HttpClient(base_url=BASE, transport=emulator.transport(), vendor="smartcontent")
    with pytest.raises(AuthError):
        run_sync(http.request("POST", "/v2/experiences/home/decide", json={"visitor": {"id": "x"}}))


def test_push_content_stores_the_entry_with_vendor_token_syntax():
    emulator = SmartContentEmulator()
    variant = TemplateVariant(id="welcome", channel="web", placement="home",
                              template="Hi {{first_name}}")  # fmt: skip
    entry_id = run_sync(connector(emulator).push_content(variant))
    assert emulator.entries[entry_id]["text"] == "Hi [[first_name]]"


def test_capabilities_claim_personalization():
    caps = {c.name: c for c in SmartContentConnector(
        config=SmartContentConfig(base_url=BASE, api_token="t")).capabilities()}  # fmt: skip
    assert caps["decide"].claimed_level == Level.personalization
    assert set(caps) == {"decide", "push_content"}
