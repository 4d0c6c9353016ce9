"""Merge tokens a tool transforms (upper-cased names, an email's local part) are masked like
plain ones: the evidence never shows them, and outputs alike once masked read as token_only."""

from __future__ import annotations

import asyncio
import re

from martech import Level, Profile
from martech.audit import audit_target
from martech.audit.engine import probe_target
from martech.audit.probes import id_only, mask, redact_output
from martech.audit.targets import CallableTarget


def _ben(**traits: object) -> Profile:
    return Profile(
        id="cus-0002600",
        identities={"email": "ben.dubois.0002600@example.com"},
        traits={"first_name": "Ben", "last_name": "Dubois", "country": "FR", **traits},
    )


def shout(p: Profile) -> str:
    first_name = str(p.traits.get("first_name", ""))
    email = p.identities.get("email", "")
    return f"HELLO {first_name.upper()} ({email.split('@')[0]}) {email.upper()}"


def test_mask_catches_case_changed_names_and_the_email_local_part():
    assert mask(shout(_ben()), _ben()) == "HELLO «first_name» («email») «email»"


def test_mask_catches_words_of_names_and_emails_but_not_inside_other_words():
    person = _ben(last_name="Dubois-Martin")
    assert mask("Dear MARTIN (BEN)", person) == "Dear «last_name» («first_name»)"
    assert mask("Bonjour Dubois", _ben(last_name=None)) == "Bonjour «email»"
    # A part is masked as a whole word only, and short parts of emails are left alone.
    assert mask("Benefits in Duboisville", _ben()) == "Benefits in Duboisville"
    assert mask("Hi jo from ibm", _ben(first_name=None, email="jo.ibm@x.com")) == (
        "Hi jo from «email»"
    )


def test_a_short_name_matches_upper_and_title_case_but_never_the_lower_case_word():
    may = _ben(first_name="May")
    assert mask("MAY, you may like this, May", may) == (
        "«first_name», you may like this, «first_name»"
    )


def test_short_non_personal_values_still_match_only_as_written():
    person = _ben(country="IN")
    assert mask("Ships in 2 days, IN stock", person) == "Ships in 2 days, «country» stock"


def test_id_only_probe_email_does_not_read_as_the_id():
    probe = id_only(_ben(), seed=0, base=0)
    email = probe.profile.identities["email"]
    assert email.split("@")[0] != probe.profile.id
    assert mask(email.split("@")[0], probe.profile) == "«email»"


def test_transformed_merge_tokens_are_token_only_and_never_leak(probe_population):
    report = audit_target(CallableTarget(shout, name="shout"), population=probe_population)
    assert report.level == Level.token_only
    assert report.traits == []
    assert report.behaviours == []
    assert report.evidence
    shown = " ".join(e["a"] + " " + e["b"] for e in report.evidence)
    page = report.to_html()
    for person in probe_population.profiles:
        email = person.identities.get("email", "")
        for value in (email, email.split("@")[0], str(person.traits.get("first_name", ""))):
            if len(value) >= 3:
                assert not re.search(rf"\b{re.escape(value)}\b", shown, re.IGNORECASE), value
                assert not re.search(rf"<code>[^<]*\b{re.escape(value)}\b", page, re.I), value


def test_a_segment_choosing_content_is_still_segmentation_with_tokens(probe_population):
    def by_country(p: Profile) -> str:
        offer = "free shipping" if p.traits.get("country") == "DE" else "10% off"
        return f"{offer}, {str(p.traits.get('first_name', '')).upper()}"

    report = audit_target(CallableTarget(by_country, name="c"), population=probe_population)
    assert report.level == Level.segmentation
    assert report.traits == ["country"]


def test_every_masked_output_reads_the_same_for_a_shouting_template(probe_population):
    obs, _ = asyncio.run(
        probe_target(CallableTarget(shout, name="shout"), probe_population.profiles, budget=400)
    )
    assert obs.masked_distinct == 1
    assert obs.raw_distinct > 1
    assert {redact_output(shout(p), p) for p in probe_population.profiles[:50]} == {
        "HELLO «first_name» («email») «email»"
    }
