"""mapping.py: HubSpot contact <-> Profile, pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from martech.models import Profile
from martech_connectors.hubspot.mapping import contact_to_profile, profile_to_properties


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
