"""Mailchimp mapping: subscriber hash, datacenter, member <-> Profile, per-item errors, cursors."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from martech.connector import AudienceMember
from martech.errors import ValidationError
from martech_connectors.mailchimp.mapping import (
    base_url_for,
    consent_from_status,
    decode_cursor,
    encode_cursor,
    member_to_profile,
    members_to_rows,
    merge_fields_for,
    rejected_by_key,
    split_by_email,
    subscribe_body,
    subscriber_hash,
    tag_for_trait,
    trait_for_tag,
)


def test_subscriber_hash_matches_mailchimps_worked_example() -> None:
    assert subscriber_hash("jane.doe@example.com") == "0cba00ca3da1b283a57287bcceb17e35"


@given(st.emails())
def test_subscriber_hash_ignores_case_and_surrounding_space(email: str) -> None:
    expected = hashlib.md5(email.lower().encode()).hexdigest()
    assert subscriber_hash(f"  {email.upper()} ") == expected


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("0123456789abcdef0123456789abcdef-us21", "https://us21.api.mailchimp.com/3.0"),
        ("abc123-us14", "https://us14.api.mailchimp.com/3.0"),
    ],
    ids=["us21", "us14"],
)
def test_base_url_comes_from_the_key_suffix(key: str, url: str) -> None:
    assert base_url_for(key) == url


def test_a_key_without_datacenter_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match=r"api_key: expected .* -us21"):
        base_url_for("0123456789abcdef")


MEMBER = {
    "id": "0cba00ca3da1b283a57287bcceb17e35",
    "email_address": "Jane.Doe@Example.com",
    "status": "subscribed",
    "merge_fields": {
        "FNAME": "Jane",
        "LNAME": "Doe",
        "PHONE": "+1 650 555 1212",
        "SHOESIZE": 38,
        "EMPTY": "",
    },
    "tags": [{"id": 1, "name": "vip"}, {"id": 2, "name": "angler"}],
    "last_changed": "2026-03-01T10:00:00+00:00",
}


def test_a_member_becomes_a_profile_with_traits_identities_and_consent() -> None:
    p = member_to_profile(MEMBER)
    assert p is not None
    assert p.id == "mailchimp:0cba00ca3da1b283a57287bcceb17e35"
    assert p.identities == {"email": "jane.doe@example.com", "phone": "+16505551212"}
    assert p.traits["first_name"] == "Jane"
    assert p.traits["last_name"] == "Doe"
    assert p.traits["mc_shoesize"] == 38, "unknown merge fields survive"
    assert "mc_empty" not in p.traits
    assert p.traits["mailchimp_tags"] == ["angler", "vip"]
    assert p.consent == {"email": True}


@pytest.mark.parametrize(
    ("status", "consent"),
    [
        ("subscribed", True),
        ("unsubscribed", False),
        ("cleaned", False),
        ("pending", False),
        ("transactional", False),
    ],
)
def test_only_subscribed_means_email_consent(status: str, consent: bool) -> None:
    assert consent_from_status(status) == {"email": consent}


def test_a_member_without_a_valid_email_is_skipped() -> None:
    assert member_to_profile({**MEMBER, "email_address": "not-an-email"}) is None


@given(st.from_regex(r"[A-Z][A-Z0-9]{0,9}", fullmatch=True))
def test_merge_tags_round_trip_through_trait_names(tag: str) -> None:
    assert tag_for_trait(trait_for_tag(tag)) == tag


def test_traits_with_a_merge_tag_fill_merge_fields_others_do_not() -> None:
    merge = merge_fields_for({"first_name": "Ana", "mc_shoesize": 38, "age": 40, "city": ""})
    assert merge == {"FNAME": "Ana", "SHOESIZE": 38}


def test_subscribe_body_carries_merge_fields_and_phone() -> None:
    m = AudienceMember(
        key="p1",
        identities={"email": "a@x.org", "phone": "+15551234567"},
        traits={"last_name": "Li"},
    )
    body = subscribe_body(m, "a@x.org", "subscribed")
    assert body == {
        "email_address": "a@x.org",
        "status": "subscribed",
        "merge_fields": {"LNAME": "Li", "PHONE": "+15551234567"},
    }


def test_split_by_email_reports_members_without_email() -> None:
    by_email, invalid = split_by_email(
        [
            AudienceMember(key="a", identities={"email": " A@X.org"}),
            AudienceMember(key="b", identities={"phone": "+15551234567"}),
        ]
    )
    assert by_email == {"a@x.org": "a"}
    assert set(invalid) == {"b"}


def test_per_item_errors_map_to_member_keys_in_both_wire_shapes() -> None:
    by_email = {"a@x.org": "ka", "b@x.org": "kb", "c@x.org": "kc"}
    segment_answer = {"errors": [{"email_addresses": ["A@x.org", "b@x.org"], "error": "nope"}]}
    subscribe_answer = {
        "errors": [{"email_address": "c@x.org", "error": "fake", "error_code": "ERROR_GENERIC"}]
    }
    assert rejected_by_key(segment_answer, by_email) == {"ka": "nope", "kb": "nope"}
    assert rejected_by_key(subscribe_answer, by_email) == {"kc": "ERROR_GENERIC: fake"}


@given(
    st.one_of(st.none(), st.integers(min_value=0, max_value=10**7)),
    st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
)
def test_cursors_round_trip(
    offset: int | None, since: datetime | None, high: datetime | None
) -> None:
    assert decode_cursor(encode_cursor(offset, since, high)) == (offset, since, high)


def test_a_foreign_cursor_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="cursor"):
        decode_cursor("after=abc")


_MEMBERS = st.lists(
    st.fixed_dictionaries(
        {
            "email_address": st.one_of(
                st.sampled_from(["Jane@Example.com", " bo@x.io ", "not-an-email", ""]),
                st.emails(),
            ),
            "merge_fields": st.dictionaries(
                st.sampled_from(["FNAME", "LNAME", "PHONE", "COMPANY", "SHOESIZE", "REC1"]),
                st.one_of(
                    st.none(),
                    st.just(""),
                    st.sampled_from(["+14155550100", "(415) 555-0101", "12", "Ann"]),
                    st.integers(-5, 5),
                ),
            ),
        },
        optional={
            "status": st.sampled_from(["subscribed", "unsubscribed", "cleaned", "pending"]),
            "tags": st.lists(
                st.fixed_dictionaries({"id": st.integers(1, 9), "name": st.sampled_from("abc")}),
                max_size=3,
            ),
        },
    ),
    max_size=6,
)


@given(_MEMBERS)
def test_columnar_rows_give_the_same_profiles_as_the_per_member_mapping(
    members: list[dict[str, Any]],
) -> None:
    expected = [p for m in members if (p := member_to_profile(m)) is not None]
    rows = members_to_rows(members)
    assert rows.ids == [p.id for p in expected]
    assert rows.profiles() == expected


@pytest.mark.parametrize(
    ("given", "identity"),
    [
        ("+10000000000", None),  # E.164-shaped placeholder: not a number anyone has
        ("+15555550100", None),
        ("+4402079460000", "+442079460000"),  # the national 0 dropped: one form per number
        ("(415) 555-0101", "+14155550101"),  # national format, default region US
        ("+14155550100", "+14155550100"),
    ],
)
def test_a_phone_merge_field_becomes_an_identity_only_when_it_is_a_real_number(
    given: str, identity: str | None
) -> None:
    member = {"email_address": "a@x.io", "status": "subscribed", "merge_fields": {"PHONE": given}}
    profile = member_to_profile(member)
    assert profile is not None
    assert profile.identities.get("phone") == identity
    assert members_to_rows([member]).profiles() == [profile]
