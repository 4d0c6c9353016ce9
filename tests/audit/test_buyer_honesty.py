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


def _rate_limited_vendor(seen: list[int], every: int = 4, *, busy: bool = False) -> object:
    """Answers an offer by country; every ``every``-th request is a 429 with Retry-After: 0
    (``busy``: every request but each third one)."""
    import hashlib

    import httpx
    import orjson

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        if (len(seen) % 3 != 0) if busy else (len(seen) % every == 0):
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "slow down"})
        body = orjson.loads(request.content)
        offer = hashlib.sha256(str(body["traits"].get("country")).encode()).hexdigest()[:6]
        return httpx.Response(200, json={"content": {"text": f"offer {offer}"}})

    return httpx.MockTransport(handle)


def _http_spec(max_calls: int) -> object:
    from martech.audit.targets import HttpSpec

    return HttpSpec(
        url="http://vendor.test/decide",
        allowed_hosts=["vendor.test"],
        request={"id": "{{ id }}", "traits": "{{ traits }}"},
        response="$.content.text",
        rate_per_second=1000,
        max_calls=max_calls,
    )


def test_retries_after_a_429_count_against_the_specs_max_calls(probe_population):
    """max_calls bounds what the vendor receives: a retried 429 is a request too. The probes
    the retries took the requests of are not sent, and left out like failed calls."""
    from martech.audit import HttpTarget

    seen: list[int] = []
    target = HttpTarget(_http_spec(300), transport=_rate_limited_vendor(seen))
    report = audit_target(target, population=probe_population, seed=0, budget=2000)
    assert len(seen) <= 300
    assert report.stats["probes_not_sent"] > 0
    assert any("max_calls 300 reached" in n and "retries" in n for n in report.notes)
    assert report.level == Level.segmentation
    assert report.traits == ["country"]


def test_a_vendor_busy_for_most_of_the_budget_stops_the_audit(probe_population):
    from martech.audit import HttpTarget
    from martech.errors import ConfigError

    seen: list[int] = []
    target = HttpTarget(_http_spec(300), transport=_rate_limited_vendor(seen, busy=True))
    with pytest.raises(ConfigError, match=r"too few of the .* probes were sent"):
        audit_target(target, population=probe_population, seed=0, budget=2000)
    assert len(seen) <= 300


def test_a_rate_limited_vendor_is_labelled_within_max_calls(probe_population):
    from martech.audit import HttpTarget

    seen: list[int] = []
    target = HttpTarget(_http_spec(2000), transport=_rate_limited_vendor(seen, every=10))
    report = audit_target(target, population=probe_population, seed=0, budget=1200)
    assert report.level == Level.segmentation
    assert report.traits == ["country"]
    assert len(seen) <= 2000


def test_a_max_calls_below_an_audit_is_named_not_blamed_on_budget(probe_population):
    from martech.audit import HttpTarget
    from martech.errors import ConfigError

    target = HttpTarget(_http_spec(100), transport=_rate_limited_vendor([]))
    with pytest.raises(ConfigError, match="max_calls 100") as caught:
        audit_target(target, population=probe_population, budget=2000)
    assert "--budget 100" not in str(caught.value)


def _hash_split(profile: Profile) -> str:
    import hashlib

    return "A" if int(hashlib.sha256(profile.id.encode()).hexdigest(), 16) % 2 else "B"


@pytest.mark.parametrize("seed", [0, 2])
def test_an_ab_split_at_the_smallest_budget_is_not_sold_as_segmentation(probe_population, seed):
    """Ten id-only pairs are too few for significance, yet they are the only probes that changed
    the output: the split follows the id, and a segmentation claim must not hold on it."""
    report = audit_target(
        _hash_split, population=probe_population, seed=seed, budget=200, claim="segmentation"
    )
    assert report.level == Level.random, report.reason
    assert report.overclaim
    assert report.confidence < 0.99


def test_variation_no_probe_explains_and_the_id_does_not_change_stays_unexplained(
    probe_population,
):
    def by_consent(profile: Profile) -> str:
        return "ads-on" if profile.consent.get("ad") else "ads-off"

    report = audit_target(by_consent, population=probe_population, seed=0)
    assert report.level == Level.segmentation
    assert report.confidence == 0.5
    assert any("unexplained" in n for n in report.notes)


def test_a_guess_that_matches_the_claim_leaves_it_unconfirmed(probe_population):
    """A 0.5-confidence segmentation (variation no probe explains) must not make a
    segmentation claim hold; a segment the probes do explain does."""

    def by_consent(profile: Profile) -> str:
        return "ads-on" if profile.consent.get("ad") else "ads-off"

    def by_country(profile: Profile) -> str:
        return f"hero-{profile.traits.get('country')}"

    guess = audit_target(by_consent, population=probe_population, seed=0, claim="segmentation")
    assert guess.confidence == 0.5
    assert not guess.overclaim
    assert not guess.confirmed
    assert guess.verdict.startswith("claim unconfirmed: segmentation claimed")
    assert guess.to_dict()["confirmed"] is False
    sure = audit_target(by_country, population=probe_population, seed=0, claim="segmentation")
    assert sure.level == Level.segmentation, sure.reason
    assert sure.confirmed, sure.confidence
    assert sure.verdict.startswith("claim holds")


def test_an_output_changing_on_every_call_does_not_claim_nothing_else_matters(probe_population):
    """A request id in the output: every identical call differs, so no input can be tested."""
    import itertools

    counter = itertools.count()

    def with_request_id(profile: Profile) -> str:
        return f"hero-{profile.traits.get('country')} <!-- request {next(counter)} -->"

    report = audit_target(with_request_id, population=probe_population, seed=0)
    assert report.level == Level.random
    assert report.confidence == 0.0
    assert "nothing else" not in report.reason
    assert "cannot tell" in report.reason


def test_the_id_only_probe_keeps_the_email_domain_and_phone_country_code(probe_population):
    """An id-only probe changes who the person is, not where their mail or phone is from: a
    tool offering by email domain or calling code is no A/B split."""

    def by_domain_and_code(profile: Profile) -> str:
        domain = profile.identities.get("email", "@").split("@")[1]
        code = (profile.identities.get("phone") or "+0")[:3]
        return f"offer for {domain} {code}"

    report = audit_target(by_domain_and_code, population=probe_population, seed=0)
    assert report.level != Level.random, report.reason
    assert report.stats["id_only"]["changed"] == 0


def test_merge_tokens_in_text_wrapped_to_a_width_are_still_token_only(probe_population):
    """A plain-text email wrapped at 30 columns breaks its lines where the name's length puts
    them: the line breaks move, the content does not."""
    import textwrap

    def wrapped(profile: Profile) -> str:
        t = profile.traits
        text = f"Hi {t['first_name']} {t['last_name']}, our winter sale starts today: 20% off"
        return textwrap.fill(text, 30)

    report = audit_target(wrapped, population=probe_population, seed=0, claim="segmentation")
    assert report.level == Level.token_only, report.reason
    assert report.overclaim


def test_whitespace_that_varies_from_call_to_call_is_no_rotation(probe_population):
    rng = random.Random(3)

    def jittery(profile: Profile) -> str:
        return "Winter sale " + " " * rng.randrange(3) + "\n" * rng.randrange(2) + "today "

    report = audit_target(jittery, population=probe_population, seed=0)
    assert report.level == Level.broadcast, report.reason


def test_a_failing_tools_message_naming_the_probe_person_is_masked(probe_population):
    """The audit stops with the tool's last error; the person it failed on stays out of it."""
    from martech.errors import ConfigError

    def refuses(profile: Profile) -> str:
        raise ValueError(f"no consent on file for {profile.identities['email']}")

    with pytest.raises(ConfigError, match="ValueError") as caught:
        audit_target(refuses, population=probe_population, seed=0, budget=300)
    message = str(caught.value)
    assert "@" not in message, message
    assert "«email»" in message


def test_a_vendor_error_naming_the_probe_person_is_masked_when_it_stops_the_audit(
    probe_population,
):
    from martech.errors import FatalVendorError

    def rejects(profile: Profile) -> str:
        phone = profile.identities.get("phone") or profile.identities["email"]
        raise FatalVendorError(f"vendor: 400 invalid visitor {phone}", status=400)

    with pytest.raises(FatalVendorError) as caught:
        audit_target(rejects, population=probe_population, seed=0, budget=300)
    assert "«" in str(caught.value)
    assert not any(ch.isdigit() for ch in str(caught.value).split("visitor")[1]), caught.value


PERSONAL = {
    "full_name": lambda p: f"{p.traits['first_name']} {p.traits['last_name']}",
    "mobile_number": lambda p: "+4670" + p.id[-7:],
    "street_address": lambda p: f"{int(p.id[-4:]) + 1} Harbour Road",
    "date_of_birth": lambda p: f"19{60 + int(p.id[-2:]) % 40}-0{1 + int(p.id[-1]) % 9}-1{p.id[-1]}",
}


def test_personal_traits_under_other_names_never_reach_a_report(probe_population):
    """A real export names its columns full_name, mobile_number, street_address, date_of_birth:
    a trait change on them is reported by name, never with the person's values."""
    people = [
        p.model_copy(update={"traits": {**p.traits, **{k: f(p) for k, f in PERSONAL.items()}}})
        for p in probe_population.profiles[:400]
    ]

    def by_street(profile: Profile) -> str:  # a decision on a personal trait
        return f"hero {profile.traits['street_address'][-4:]} {profile.traits['date_of_birth']}"

    report = audit_target(by_street, population=people, seed=0)
    text = report.to_json() + report.to_html()
    for name in PERSONAL:
        assert f"{name}: " not in text  # "full_name: Anna Berg -> ..." names values
    values = {f(p) for p in people for f in PERSONAL.values()}
    assert not [v for v in values if v in text]


def test_a_mobile_number_trait_is_masked_as_a_phone_in_any_format():
    from martech.audit.probes import mask

    person = Profile(id="p1", traits={"mobile_number": "+46701234567", "full_name": "Ada Berg"})
    assert mask("text 46 70 123 45 67, Ada", person) == "text «mobile_number», «full_name»"


def test_confidence_is_bounded_and_a_guess_reads_as_one(probe_population):
    import itertools

    counter = itertools.count()
    tools = {
        "broadcast": lambda p: "same",
        "segment": lambda p: f"hero-{p.traits.get('country')}",
        "per_call": lambda p: f"banner-{next(counter)}",
        "unprobed": lambda p: "on" if p.consent.get("ad") else "off",
    }
    found = {}
    for name, tool in tools.items():
        report = audit_target(tool, population=probe_population, seed=1, budget=200)
        assert 0.0 <= report.confidence <= 0.999, (name, report.confidence)
        found[name] = report.confidence
    assert found["broadcast"] > 0.99
    assert found["unprobed"] == 0.5
    assert found["per_call"] < 0.5


def test_a_connectors_retries_after_429_count_against_the_budget(probe_population):
    """--budget is what the vendor receives: a live connector's retries are requests too."""
    from martech.audit.targets import connector_target
    from martech.sandbox.faults import Burst, Faults

    target = connector_target("smartcontent")
    target.emulator.set_faults(Faults(too_many_requests=Burst(rate=0.2), retry_after="0", seed=3))
    report = audit_target(target, population=probe_population, seed=0, budget=600)
    assert target.emulator.total_requests <= 600
    assert report.stats["probes_not_sent"] > 0
    assert report.level == Level.segmentation


def test_one_attribute_decides(probe_population):
    report = audit_target(
        lambda p: f"hero-{p.traits.get('country')}", population=probe_population, budget=300
    )
    assert report.reason.startswith("1 attribute decides the output (country)")
