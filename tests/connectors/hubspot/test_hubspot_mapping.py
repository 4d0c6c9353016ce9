"""mapping.py: HubSpot contact <-> Profile, pure."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from martech.errors import ValidationError
from martech.models import Profile
from martech_connectors.hubspot.mapping import (
    contact_to_profile,
    contacts_to_rows,
    profile_to_properties,
)


def contact(**props: str | None) -> dict[str, object]:
    return {"id": "512", "properties": props, "archived": False}


def test_known_properties_become_typed_traits_and_identities() -> None:
    p = contact_to_profile(
        contact(email=" Jane.Doe@Example.COM ", phone="+14155550100", firstname="Jane",
                lastname="Doe", age="41", loyalty_member="true", lifecyclestage="customer",
                hs_object_id="512", lastmodifieddate="2024-01-15T14:22:10.456Z")
    )  # fmt: skip
    assert p.id == "hubspot-512"
    assert p.identities == {"hubspot": "512", "email": "jane.doe@example.com",
                            "phone": "+14155550100"}  # fmt: skip
    assert p.traits == {"first_name": "Jane", "last_name": "Doe", "age": 41,
                        "loyalty_member": True, "lifecycle_stage": "customer"}  # fmt: skip


def test_unknown_properties_survive_in_traits_and_empty_ones_are_dropped() -> None:
    p = contact_to_profile(contact(favourite_fish="pike", shoe_size="44", city="", region=None))
    assert p.traits == {"favourite_fish": "pike", "shoe_size": "44"}


def test_martech_id_property_keeps_the_profile_id() -> None:
    assert contact_to_profile(contact(martech_id="p0000007")).id == "p0000007"


def test_consent_properties_and_hubspot_optout() -> None:
    p = contact_to_profile(contact(consent_email="true", consent_sms="false"))
    assert p.consent == {"email": True, "sms": False}
    p = contact_to_profile(contact(consent_email="true", hs_email_optout="true"))
    assert p.consent["email"] is False


def test_invalid_email_and_phone_are_not_identities() -> None:
    p = contact_to_profile(contact(email="not-an-email", phone="12"))
    assert p.identities == {"hubspot": "512"}


@given(
    st.dictionaries(
        st.sampled_from(["city", "country", "interest", "first_name", "skill_level"]),
        st.text(alphabet="abcdefghij XYZ", min_size=1, max_size=12),
    ),
    st.integers(min_value=18, max_value=99),
    st.booleans(),
)
def test_profile_round_trips_through_hubspot_properties(
    traits: dict[str, str], age: int, loyal: bool
) -> None:
    original = Profile(
        id="p1",
        identities={"email": "a@example.com"},
        traits={**traits, "age": age, "loyalty_member": loyal},
        consent={"email": True, "ad": False},
    )
    back = contact_to_profile({"id": "9", "properties": profile_to_properties(original)})
    assert back.id == "p1"
    assert back.traits == original.traits
    assert back.consent == original.consent
    assert back.identities == {"hubspot": "9", "email": "a@example.com"}


# ------------------------------------------------------------- columnar mapping (pull's path)

_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["", "true", "false", "TRUE", "False", "yes", "41", "041", "-3", "4.5"]),
    st.text(alphabet="abcXYZ019 @.+-", max_size=12),
)
_PROPERTY_NAMES = st.sampled_from(
    ["email", "phone", "mobilephone", "firstname", "lastname", "lifecyclestage", "jobtitle",
     "first_name", "city", "age", "loyalty_member", "martech_id", "hs_object_id",
     "lastmodifieddate", "createdate", "hs_email_optout", "consent_email", "consent_sms",
     "consent_ad", "consent_fax", "favourite_fish"]
)  # fmt: skip
_CONTACTS = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.integers(min_value=1, max_value=10**9).map(str),
            "properties": st.one_of(st.none(), st.dictionaries(_PROPERTY_NAMES, _VALUES)),
        }
    ),
    max_size=8,
)


@given(_CONTACTS)
def test_columnar_rows_give_the_same_profiles_as_the_per_record_mapping(
    contacts: list[dict[str, Any]],
) -> None:
    rows = contacts_to_rows(contacts)
    assert len(rows) == len(contacts)
    assert rows.profiles() == [contact_to_profile(c) for c in contacts]


def test_columnar_rows_of_typical_contacts_are_the_stores_arrow_shape() -> None:
    rows = contacts_to_rows(
        [
            contact(email=" Jane.Doe@Example.COM ", phone="+14155550100", firstname="Jane",
                    age="41", loyalty_member="true", consent_email="true",
                    hs_email_optout="true", city=None),
            {"id": "7", "properties": {"martech_id": "p7", "age": "n/a"}},
        ]
    )  # fmt: skip
    table = rows.to_arrow()
    assert table.column_names == ["id", "traits", "consent", "identities"]
    assert table.column("id").to_pylist() == ["hubspot-512", "p7"]
    first, second = (orjson.loads(t) for t in table.column("traits").to_pylist())
    assert first == {"first_name": "Jane", "age": 41, "loyalty_member": True}
    assert second == {"age": "n/a"}
    assert orjson.loads(table.column("consent")[0].as_py()) == {"email": False}
    assert orjson.loads(table.column("identities")[0].as_py()) == {
        "hubspot": "512", "email": "jane.doe@example.com", "phone": "+14155550100"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"properties": {"email": "a@example.com"}}, "id"),
        ({"id": None, "properties": {}}, "id"),
        ({"id": ["9"], "properties": {}}, "id"),
        ({"id": "9", "properties": ["email", "a@example.com"]}, "properties"),
        ({"id": "9", "properties": {"email": 5551234}}, "properties.email"),
        ({"id": "9", "properties": {"phone": 14155550100}}, "properties.phone"),
        ({"id": "9", "properties": {"consent_sms": True}}, "properties.consent_sms"),
        ({"id": "9", "properties": {"age": 41.5}}, "properties.age"),
        ({"id": "9", "properties": {"loyalty_member": True}}, "properties.loyalty_member"),
        ({"id": "9", "properties": {"martech_id": {"x": 1}}}, "properties.martech_id"),
        ({"id": "9", "properties": {"hs_email_optout": 1}}, "properties.hs_email_optout"),
    ],
)
def test_a_malformed_contact_is_a_validation_error_naming_the_field(
    bad: dict[str, Any], field: str
) -> None:
    page = [contact(email="a@example.com"), bad]
    with pytest.raises(ValidationError) as columnar:
        contacts_to_rows(page)
    assert columnar.value.field == field
    assert field in str(columnar.value)
    assert "5551234" not in str(columnar.value)  # types are named, never vendor values
    with pytest.raises(ValidationError) as single:
        contact_to_profile(bad)
    assert single.value.field == field


def test_a_page_that_is_not_a_list_of_objects_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="expected an object, got str"):
        contacts_to_rows(["1001"])  # type: ignore[list-item]
