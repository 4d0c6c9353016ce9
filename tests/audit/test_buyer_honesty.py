"""A skeptical buyer's traps: fake tools that must not be labelled above (or below) what they do."""

from __future__ import annotations

import random

import pytest

from martech import Level, Profile
from martech.audit import audit_target


def test_a_broadcast_that_fails_on_random_calls_is_still_a_broadcast(probe_population):
    """A 429 or timeout on some calls is no content: it must not read as rotation (random)."""
    rng = random.Random(5)

    def flaky(profile: Profile) -> str:
        if rng.random() < 0.05:
            raise RuntimeError("429 Too Many Requests")
        return "Winter sale"

    report = audit_target(flaky, population=probe_population, seed=0)
    assert report.level == Level.broadcast, (report.reason, report.notes)
    assert report.stats["errors"] > 0
    assert any("failed" in n for n in report.notes)


def test_a_broadcast_that_fails_in_one_market_is_not_segmentation(probe_population):
    """Refusing one country is not showing it other content: no segmentation on country."""

    def one_market_down(profile: Profile) -> str:
        if profile.traits.get("country") == "SE":
            raise ValueError("unsupported market")
        return "hello"

    report = audit_target(one_market_down, population=probe_population, seed=0)
    assert report.level == Level.broadcast, (report.reason, report.notes)
    assert report.traits == []


def test_a_token_tool_that_fails_sometimes_is_not_an_overclaim_of_token_only(probe_population):
    rng = random.Random(7)

    def flaky_greeting(profile: Profile) -> str:
        if rng.random() < 0.05:
            raise TimeoutError("read timeout")
        return f"Hi {profile.traits['first_name']}, winter sale"

    report = audit_target(flaky_greeting, population=probe_population, seed=0, claim="token_only")
    assert report.level == Level.token_only, (report.reason, report.notes)
    assert not report.overclaim


@pytest.mark.parametrize("seed", [0, 1])
def test_a_segment_tool_with_failures_keeps_its_segment(probe_population, seed):
    rng = random.Random(seed)

    def flaky_segment(profile: Profile) -> str:
        if rng.random() < 0.05:
            raise RuntimeError("timeout")
        return f"hero-{profile.traits.get('country')}"

    report = audit_target(flaky_segment, population=probe_population, seed=seed)
    assert report.level == Level.segmentation
    assert report.traits == ["country"]
    assert report.stats["noise_floor"]["changed"] == 0  # a failed call is compared with nothing


PHONE_FORMS = {
    "e164": lambda phone: phone,
    "digits": lambda phone: phone.lstrip("+"),  # Meta's normalized form
    "spaced": lambda phone: f"{phone[:3]} {phone[3:6]} {phone[6:9]} {phone[9:]}",
    "dashed": lambda phone: f"({phone[:3]}) {phone[3:6]}-{phone[6:]}",
}


@pytest.mark.parametrize("form", list(PHONE_FORMS), ids=list(PHONE_FORMS))
def test_a_phone_number_in_any_format_is_masked(form):
    from martech.audit.probes import mask

    person = Profile(id="p1", identities={"phone": "+4915110000101"})
    shown = PHONE_FORMS[form]("+4915110000101")
    masked = mask(f"call us back on {shown} today", person)
    assert "«phone» today" in masked
    assert not any(c.isdigit() for c in masked), masked
    assert mask("order 49151 shipped", person) == "order 49151 shipped"  # a part is not the number


def test_a_tool_echoing_phone_digits_leaks_none_into_the_reports(probe_population):
    def echo(profile: Profile) -> str:
        digits = (profile.identities.get("phone") or "").lstrip("+")
        return f"hero-{profile.traits.get('interest')} call {digits}"

    report = audit_target(echo, population=probe_population, seed=0)
    text = report.to_json() + report.to_html()
    phones = {p.identities["phone"] for p in probe_population.profiles if p.identities.get("phone")}
    assert phones
    assert not [ph for ph in phones if ph.lstrip("+") in text]
