"""HubSpot contact <-> martech Profile. Pure: values in, values out.

HubSpot sends every property value as a string (``vendor-apis.md`` §1.1), so the known traits are
typed back (``age`` -> int, ``loyalty_member`` -> bool); unknown properties survive in ``traits``
under their HubSpot names. Identities: ``email`` and ``phone`` (normalized) and ``hubspot`` (the
record id). Consent travels in custom properties ``consent_<channel>`` ("true"/"false", martech's
channel names); HubSpot's own ``hs_email_optout = "true"`` forces email consent off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from martech.connector import ProfileRows
from martech.errors import ValidationError
from martech.identity import normalize_email, normalize_phone
from martech.models import CHANNELS, Profile

#: HubSpot property -> martech trait, where the names differ.
PROPERTY_TO_TRAIT: dict[str, str] = {
    "firstname": "first_name",
    "lastname": "last_name",
    "lifecyclestage": "lifecycle_stage",
    "jobtitle": "job_title",
}
TRAIT_TO_PROPERTY: dict[str, str] = {v: k for k, v in PROPERTY_TO_TRAIT.items()}
#: Traits whose HubSpot string is typed back.
INT_TRAITS = frozenset({"age"})
BOOL_TRAITS = frozenset({"loyalty_member"})
CONSENT_CHANNELS = CHANNELS
#: Properties that are identities or bookkeeping, never traits.
NOT_TRAITS = frozenset(
    {"email", "phone", "mobilephone", "hs_object_id", "createdate", "lastmodifieddate",
     "martech_id", "hs_email_optout"}
    | {f"consent_{c}" for c in CONSENT_CHANNELS}
)  # fmt: skip

#: What a pull asks for by default: HubSpot's defaults plus the traits martech segments use.
DEFAULT_PROPERTIES: tuple[str, ...] = (
    "email", "phone", "firstname", "lastname", "createdate", "lastmodifieddate", "hs_object_id",
    "lifecyclestage", "country", "city", "gender", "age", "interest", "skill_level", "water_type",
    "preferred_tackle", "budget_tier", "signup_date", "acquisition_channel", "loyalty_member",
    "consent_email", "consent_sms", "consent_push", "consent_ad", "consent_web", "hs_email_optout",
    "martech_id",
)  # fmt: skip

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def profile_id(record_id: str, properties: Mapping[str, Any]) -> str:
    """The martech profile id: ``martech_id`` when HubSpot carries it, else ``hubspot-<id>``."""
    mid = properties.get("martech_id")
    if mid and type(mid) is not str:
        raise TypeError("martech_id")
    return mid if mid else f"hubspot-{record_id}"


_STR, _INT, _BOOL, _SKIP = 0, 1, 2, 3
#: property name -> (trait name, how to type it); filled lazily, one entry per property seen.
_PLAN: dict[str, tuple[str, int]] = {}


def _plan(name: str) -> tuple[str, int]:
    trait = PROPERTY_TO_TRAIT.get(name, name)
    kind = (
        _SKIP if name in NOT_TRAITS
        else _INT if trait in INT_TRAITS
        else _BOOL if trait in BOOL_TRAITS
        else _STR
    )  # fmt: skip
    _PLAN[name] = (trait, kind)
    return trait, kind


def contact_to_profile(contact: Mapping[str, Any]) -> Profile:
    """One HubSpot contact object (``{"id", "properties", …}``) as a Profile.

    The readable reference for :func:`contacts_to_rows` (tests hold the two equal). A malformed
    contact raises :class:`~martech.errors.ValidationError` naming the field.
    """
    try:
        return _contact_to_profile(contact)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise _malformed([contact]) from None


def _typed(prop: str, value: Any, kind: int) -> Any:
    """A typed property's trait value: an int, or a bool for true/false; the text otherwise."""
    if kind == _INT:
        if type(value) is not str:
            raise TypeError(prop)
        try:
            return int(value)
        except ValueError:
            return value
    low = value.lower()
    return (low == "true") if low in ("true", "false") else value


def _identities(record_id: str, props: Mapping[str, Any]) -> dict[str, str]:
    """The HubSpot record id, the normalized email and the E.164 phone of a contact."""
    identities = {"hubspot": record_id}
    email = props.get("email")
    if email:
        normalized = normalize_email(email)
        if normalized:
            identities["email"] = normalized
    phone = props.get("phone") or props.get("mobilephone")
    if phone:
        # Fast path: HubSpot numbers already in E.164 skip the (slow) phonenumbers parse.
        e164 = phone if _E164.match(phone) else normalize_phone(phone)
        if e164:
            identities["phone"] = e164
    return identities


def _contact_to_profile(contact: Mapping[str, Any]) -> Profile:
    record_id = _record_id(contact["id"])
    props: Mapping[str, Any] = contact.get("properties") or {}
    identities = _identities(record_id, props)
    traits: dict[str, Any] = {}
    consent: dict[str, bool] = {}
    for name, value in props.items():
        if not value:
            continue
        trait, kind = _PLAN.get(name) or _plan(name)
        if kind == _STR:
            traits[trait] = value
        elif kind == _SKIP:
            if name.startswith("consent_") and name[8:] in CONSENT_CHANNELS:
                consent[name[8:]] = value.lower() == "true"
        else:
            traits[trait] = _typed(name, value, kind)
    if (props.get("hs_email_optout") or "").lower() == "true":
        consent["email"] = False
    # model_construct: every field is built above with the types Profile declares, and this runs
    # once per pulled contact (100k in the benchmark), where validation would dominate.
    return Profile.model_construct(
        id=profile_id(record_id, props),
        identities=identities,
        traits=traits,
        events=[],
        consent=consent,
    )


def _record_id(value: Any) -> str:
    """HubSpot record ids are strings of digits; an int is taken, anything else refused."""
    if type(value) is str and value:
        return value
    if type(value) is int:
        return str(value)
    raise TypeError("record id")


#: The properties contacts_to_rows treats specially (all others are string traits by name).
_TYPED: tuple[tuple[str, str, int], ...] = tuple(
    (TRAIT_TO_PROPERTY.get(t, t), t, _INT if t in INT_TRAITS else _BOOL)
    for t in sorted(INT_TRAITS | BOOL_TRAITS)
)
_NOT_PLAIN = NOT_TRAITS | {p for p, _, _ in _TYPED}
_CONSENT = tuple((f"consent_{c}", c) for c in CONSENT_CHANNELS)
#: Properties the mapping reads as strings: a value of another type is a malformed contact.
_STRINGS = frozenset(
    {"email", "phone", "mobilephone", "martech_id", "hs_email_optout"}
    | {p for p, _ in _CONSENT}
    | {p for p, _, _ in _TYPED}
)


def contacts_to_rows(contacts: Sequence[Mapping[str, Any]]) -> ProfileRows:
    """A page of HubSpot contacts as :class:`~martech.connector.ProfileRows`, the columns the
    store upserts: the same profiles as :func:`contact_to_profile`, without building one
    pydantic object per contact.

    A malformed contact (no record id, properties that are not an object, an identity, consent
    or typed trait that is not a string) raises :class:`~martech.errors.ValidationError` naming
    the contact and the field; the check costs nothing until something fails.
    """
    try:
        return _rows(contacts)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise _malformed(contacts) from None


def _rows(contacts: Sequence[Mapping[str, Any]]) -> ProfileRows:
    ids: list[str] = []
    identities_col: list[str] = []
    traits_col: list[str] = []
    consent_col: list[str] = []
    dumps, rename, not_plain, typed, consent_props = (
        orjson.dumps, PROPERTY_TO_TRAIT, _NOT_PLAIN, _TYPED, _CONSENT,
    )  # fmt: skip
    for contact in contacts:
        rid = contact["id"]
        if type(rid) is not str or not rid:
            rid = _record_id(rid)
        props = contact.get("properties") or {}
        traits = {rename.get(k, k): v for k, v in props.items() if v and k not in not_plain}
        for prop, trait, kind in typed:
            value = props.get(prop)
            if value:
                traits[trait] = _typed(prop, value, kind)
        consent = {}
        for prop, channel in consent_props:
            value = props.get(prop)
            if value:
                consent[channel] = value.lower() == "true"
        optout = props.get("hs_email_optout")
        if optout and optout.lower() == "true":
            consent["email"] = False
        identities = _identities(rid, props)
        ids.append(profile_id(rid, props))
        identities_col.append(dumps(identities).decode())
        traits_col.append(dumps(traits).decode())
        consent_col.append(dumps(consent).decode())
    return ProfileRows(ids=ids, identities=identities_col, traits=traits_col, consent=consent_col)


def _malformed(contacts: Sequence[Any]) -> ValidationError:
    """The first malformed field among ``contacts``, as a ValidationError (types, never values:
    vendor values may be PII)."""
    for n, contact in enumerate(contacts):
        where = f"hubspot: contact {n}"
        if not isinstance(contact, Mapping):
            return ValidationError(
                f"{where}: expected an object, got {type(contact).__name__}", field="contact"
            )
        try:
            rid = _record_id(contact.get("id"))
        except TypeError:
            got = type(contact.get("id")).__name__ if "id" in contact else "nothing"
            return ValidationError(
                f"{where}: id: expected a record id string, got {got}", field="id"
            )
        where = f"hubspot: contact {rid}"
        props = contact.get("properties") or {}
        if not isinstance(props, Mapping):
            return ValidationError(
                f"{where}: properties: expected an object, got {type(props).__name__}",
                field="properties",
            )
        for name, value in props.items():
            if value and name in _STRINGS and not isinstance(value, str):
                return ValidationError(
                    f"{where}: properties.{name}: expected a string, got {type(value).__name__}",
                    field=f"properties.{name}",
                )
    return ValidationError("hubspot: a contact could not be mapped", field="contact")


def profile_to_properties(profile: Profile) -> dict[str, str]:
    """A Profile as HubSpot contact properties (all strings), for upserts and emulator seeds."""
    props: dict[str, str] = {"martech_id": profile.id}
    for kind in ("email", "phone"):
        if profile.identities.get(kind):
            props[kind] = profile.identities[kind]
    for name, value in profile.traits.items():
        if value is None or isinstance(value, dict | list):
            continue
        prop = TRAIT_TO_PROPERTY.get(name, name)
        props[prop] = str(value).lower() if isinstance(value, bool) else str(value)
    for channel, allowed in profile.consent.items():
        props[f"consent_{channel}"] = "true" if allowed else "false"
    return props


def updated_at(contact: Mapping[str, Any]) -> str | None:
    """The contact's ``lastmodifieddate`` (ISO, UTC 'Z'), or its ``updatedAt``."""
    props = contact.get("properties") or {}
    value = props.get("lastmodifieddate") or contact.get("updatedAt")
    return str(value) if value else None


__all__ = [
    "DEFAULT_PROPERTIES",
    "PROPERTY_TO_TRAIT",
    "contact_to_profile",
    "contacts_to_rows",
    "profile_id",
    "profile_to_properties",
    "updated_at",
]
