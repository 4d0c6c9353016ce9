"""Mailchimp member records <-> martech ``Profile``; pure functions, no I/O.

Wire facts (``shared/research/vendor-apis.md`` §2.1): a member carries ``email_address``,
``status``, ``merge_fields`` ({TAG: value}), ``tags``, ``last_changed``; its ``id`` is the
subscriber hash, the MD5 of the lowercased address. Batch endpoints report per-item failures in
``errors`` (batch subscribe: ``email_address``; static segment add/remove: ``email_addresses``,
an array, per the spec's ``BatchAddremoveListMembersTofromStaticSegment_errors``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import JsonValue

from martech.connector import AudienceMember, MemberBatch, ProfileRows
from martech.errors import ValidationError
from martech.identity import normalize_email, normalize_phone
from martech.models import Profile

if TYPE_CHECKING:
    from martech.personalize.recipients import Recipient

#: Merge tags with a martech trait of their own. Any other tag survives as ``mc_<tag>``.
MERGE_TO_TRAIT: dict[str, str] = {
    "FNAME": "first_name",
    "LNAME": "last_name",
    "BIRTHDAY": "birthday",
    "ADDRESS": "address",
    "COMPANY": "company",
}
TRAIT_TO_MERGE: dict[str, str] = {trait: tag for tag, trait in MERGE_TO_TRAIT.items()}
UNKNOWN_PREFIX = "mc_"

#: Member statuses; only ``subscribed`` means the person agreed to marketing email.
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")

_DATACENTER = re.compile(r"-([a-z]{2,4}\d{1,3})$")


def email_key(email: str) -> str:
    """An address as Mailchimp's member key reads it: trimmed, lowercased, and NFC, as
    :func:`martech.identity.normalize_email` makes it (``é`` precomposed or not, one member)."""
    return unicodedata.normalize("NFC", email.strip().lower())


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: MD5 of the trimmed, lowercased (NFC) address (hex)."""
    return hashlib.md5(email_key(email).encode("utf-8"), usedforsecurity=False).hexdigest()


def datacenter(api_key: str) -> str:
    """The datacenter suffix of an API key (``…-us21`` -> ``us21``)."""
    match = _DATACENTER.search(api_key.strip())
    if match is None:
        raise ValidationError(
            "api_key: expected a Mailchimp key ending in -<datacenter> such as -us21",
            field="api_key",
        )
    return match.group(1)


def base_url_for(api_key: str) -> str:
    """``https://<dc>.api.mailchimp.com/3.0`` for the key's datacenter."""
    return f"https://{datacenter(api_key)}.api.mailchimp.com/3.0"


def consent_from_status(status: str | None) -> dict[str, bool]:
    """Email consent from a member status: True only for ``subscribed``."""
    if status is None:
        return {}
    return {"email": status == "subscribed"}


def trait_for_tag(tag: str) -> str:
    return MERGE_TO_TRAIT.get(tag, UNKNOWN_PREFIX + tag.lower())


def tag_for_trait(trait: str) -> str | None:
    """The merge tag a trait is written to, or None if it has none."""
    if trait in TRAIT_TO_MERGE:
        return TRAIT_TO_MERGE[trait]
    if trait.startswith(UNKNOWN_PREFIX) and len(trait) > len(UNKNOWN_PREFIX):
        return trait[len(UNKNOWN_PREFIX) :].upper()
    return None


def _present(value: Any) -> bool:
    return value not in (None, "", {}, [])


_Parts = tuple[str, dict[str, str], dict[str, JsonValue], dict[str, bool]]


def _member_parts(member: Mapping[str, Any]) -> _Parts | None:
    """(profile id, identities, traits, consent) of one member; None without a usable email."""
    email = member.get("email_address")
    normalized = normalize_email(email) if isinstance(email, str) else None
    if normalized is None:
        return None
    identities = {"email": normalized}
    traits: dict[str, JsonValue] = {}
    merge = member.get("merge_fields")
    if isinstance(merge, Mapping):
        for tag, value in merge.items():
            if not _present(value):
                continue
            if tag == "PHONE" and isinstance(value, str):
                # Always the full check: a placeholder such as +10000000000 is E.164-shaped, and a
                # phone identity shared by many people would merge them into one profile.
                phone = normalize_phone(value)
                if phone is not None:
                    identities["phone"] = phone
                continue
            traits[trait_for_tag(str(tag))] = value
    status = member.get("status")
    if isinstance(status, str):
        traits["mailchimp_status"] = status
    tags = member.get("tags")
    if isinstance(tags, list) and tags:
        names: list[JsonValue] = [
            *sorted(str(t["name"]) for t in tags if isinstance(t, Mapping) and "name" in t)
        ]
        traits["mailchimp_tags"] = names
    consent = consent_from_status(status if isinstance(status, str) else None)
    return f"mailchimp:{subscriber_hash(normalized)}", identities, traits, consent


def member_to_profile(member: Mapping[str, Any]) -> Profile | None:
    """One member as a Profile, or None when it has no usable email address.

    The profile id is ``mailchimp:<subscriber hash>``; the store merges it with any profile that
    owns the same email. Known merge fields become named traits, unknown ones ``mc_<tag>``,
    ``PHONE`` also becomes a phone identity when it parses; status maps to email consent.
    """
    parts = _member_parts(member)
    if parts is None:
        return None
    pid, identities, traits, consent = parts
    # model_construct: every field is built with the types Profile declares (JSON values
    # straight from orjson, a known consent channel).
    return Profile.model_construct(
        id=pid, identities=identities, traits=traits, events=[], consent=consent
    )


def members_to_rows(members: Iterable[Mapping[str, Any]]) -> ProfileRows:
    """A page of members as :class:`~martech.connector.ProfileRows`, the columns the store
    upserts: the profiles of :func:`member_to_profile` (members without an email left out),
    without a pydantic object per member."""
    ids: list[str] = []
    identities: list[str] = []
    traits: list[str] = []
    consent: list[str] = []
    dumps = orjson.dumps
    for member in members:
        parts = _member_parts(member)
        if parts is None:
            continue
        ids.append(parts[0])
        identities.append(dumps(parts[1]).decode())
        traits.append(dumps(parts[2]).decode())
        consent.append(dumps(parts[3]).decode())
    return ProfileRows(ids=ids, identities=identities, traits=traits, consent=consent)


def member_email(member: AudienceMember) -> str | None:
    """The member's normalized email, or None if it has none."""
    email = member.identities.get("email")
    return normalize_email(email) if email else None


def merge_fields_for(traits: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """The merge fields a member's traits fill (only traits that have a merge tag)."""
    out: dict[str, JsonValue] = {}
    for trait, value in traits.items():
        tag = tag_for_trait(trait)
        if tag is not None and _present(value):
            out[tag] = value
    return out


def subscribe_body(member: AudienceMember, email: str, status: str) -> dict[str, Any]:
    """One entry of a batch-subscribe ``members`` array."""
    body: dict[str, Any] = {"email_address": email, "status": status}
    merge = merge_fields_for(member.traits)
    phone = member.identities.get("phone")
    if phone:
        merge.setdefault("PHONE", phone)
    if merge:
        body["merge_fields"] = merge
    return body


def split_by_email(
    members: Sequence[AudienceMember],
) -> tuple[dict[str, str], dict[str, str]]:
    """(email -> key for members with an email, key -> reason for those without).

    A :class:`~martech.connector.MemberBatch` is read as columns (no member objects built).
    """
    pairs: Iterable[tuple[str, str | None]]
    if isinstance(members, MemberBatch):
        pairs = zip(members.keys, members.identity("email"), strict=True)
    else:
        pairs = ((m.key, m.identities.get("email")) for m in members)
    by_email: dict[str, str] = {}
    invalid: dict[str, str] = {}
    for key, raw in pairs:
        email = normalize_email(raw) if raw else None
        if email is None:
            invalid[key] = "no usable email address (Mailchimp matches on email only)"
        else:
            by_email.setdefault(email, key)
    return by_email, invalid


def item_errors(data: Any) -> Iterable[tuple[str, str]]:
    """(email, reason) for each per-item error in a batch answer, whichever key it uses."""
    errors = data.get("errors") if isinstance(data, Mapping) else None
    if not isinstance(errors, list):
        return
    for err in errors:
        if not isinstance(err, Mapping):
            continue
        reason = str(err.get("error") or err.get("field_message") or "rejected")
        code = err.get("error_code")
        if code:
            reason = f"{code}: {reason}"
        emails = err.get("email_addresses")
        if not isinstance(emails, list):
            emails = [err.get("email_address")]
        for email in emails:
            if isinstance(email, str):
                yield email_key(email), reason


def rejected_by_key(data: Any, by_email: Mapping[str, str]) -> dict[str, str]:
    """Per-item errors of a batch answer, keyed by the member key that sent each email."""
    rejected: dict[str, str] = {}
    for email, reason in item_errors(data):
        key = by_email.get(email)
        if key is not None:
            rejected[key] = reason
    return rejected


# --------------------------------------------------------------------------- recommendations

#: Item slots written per person: REC1..REC5 (label), REC1ID..REC5ID, REC1URL..REC5URL.
REC_SLOTS = 5
#: Longest value a text merge field holds. Longer text is cut, ending in "…"; a longer id or url
#: is left blank instead (a cut url is a broken link, a cut id names another item).
MAX_TEXT = 255


def recommendation_fields(*, urls: bool) -> list[tuple[str, str]]:
    """(tag, name) of the text merge fields a recommendation push writes, in creation order.

    Tags are Mailchimp's: at most 10 characters, uppercase. The url fields only when wanted (the
    catalogue has urls, or the audience already has them), to spare the audience's field quota.
    """
    fields = [("REC_LEVEL", "Recommendation level"), ("REC_TEXT", "Recommendation text")]
    for i in range(1, REC_SLOTS + 1):
        fields.append((f"REC{i}", f"Recommended item {i}"))
        fields.append((f"REC{i}ID", f"Recommended item {i} id"))
        if urls:
            fields.append((f"REC{i}URL", f"Recommended item {i} url"))
    return fields


def _text(value: str | None) -> str:
    """Readable text, cut to fit with a visible "…"."""
    text = value or ""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _whole(value: str | None) -> str:
    """An id or url: whole, or blank if it does not fit (never cut)."""
    text = value or ""
    return text if len(text) <= MAX_TEXT else ""


def recommendation_values(recipient: Recipient, *, urls: bool) -> dict[str, str]:
    """One person's merge values: every slot is written, empty past their items, so a push
    replaces whatever an earlier push left (a person with fewer items than before)."""
    out = {"REC_LEVEL": recipient.level, "REC_TEXT": _text(recipient.content)}
    items = recipient.items[:REC_SLOTS]
    for i in range(1, REC_SLOTS + 1):
        item = items[i - 1] if i <= len(items) else None
        out[f"REC{i}"] = _text(item.label if item else None)
        out[f"REC{i}ID"] = _whole(item.item_id if item else None)
        if urls:
            out[f"REC{i}URL"] = _whole(item.url if item else None)
    return out


def values_left_blank(recipient: Recipient, *, urls: bool) -> int:
    """How many of this person's item ids and urls :func:`recommendation_values` leaves blank
    because they are longer than a text merge field holds."""
    values = [item.item_id for item in recipient.items[:REC_SLOTS]]
    if urls:
        values += [item.url for item in recipient.items[:REC_SLOTS] if item.url]
    return sum(len(v) > MAX_TEXT for v in values)


# ------------------------------------------------------------------------------ pull cursors


def encode_cursor(offset: int | None, since: datetime | None, high: datetime | None) -> str:
    """An opaque resume point: the next offset of this run, its ``since``, the high-water mark.

    With ``offset`` None the run is finished and the cursor means "next time, only members
    changed since the high-water mark".
    """
    doc: dict[str, Any] = {}
    if offset is not None:
        doc["o"] = offset
    if since is not None:
        doc["s"] = since.astimezone(UTC).isoformat()
    if high is not None:
        doc["h"] = high.astimezone(UTC).isoformat()
    return orjson.dumps(doc).decode()


def decode_cursor(cursor: str) -> tuple[int | None, datetime | None, datetime | None]:
    """(offset, since, high-water) from :func:`encode_cursor`'s output."""
    try:
        doc = orjson.loads(cursor)
        offset = doc.get("o")
        since = parse_time(doc.get("s"))
        high = parse_time(doc.get("h"))
    except (orjson.JSONDecodeError, AttributeError, ValueError):
        raise ValidationError(
            "cursor: expected a cursor produced by the mailchimp connector", field="cursor"
        ) from None
    if offset is not None and (not isinstance(offset, int) or offset < 0):
        raise ValidationError("cursor: offset must be a non-negative integer", field="cursor")
    return offset, since, high


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 timestamp (Mailchimp's ``last_changed``) as an aware datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def incremental_since(high: datetime) -> datetime:
    """Where the next incremental pull starts: one second before the high-water mark.

    ``since_last_changed`` has second resolution; re-reading a second's worth of members is
    harmless (upserts are idempotent), missing a change made in the same second is not.
    """
    return high - timedelta(seconds=1)


__all__ = [
    "MAX_TEXT",
    "MERGE_TO_TRAIT",
    "REC_SLOTS",
    "STATUSES",
    "TRAIT_TO_MERGE",
    "base_url_for",
    "consent_from_status",
    "datacenter",
    "decode_cursor",
    "email_key",
    "encode_cursor",
    "incremental_since",
    "item_errors",
    "member_email",
    "member_to_profile",
    "members_to_rows",
    "merge_fields_for",
    "parse_time",
    "recommendation_fields",
    "recommendation_values",
    "rejected_by_key",
    "split_by_email",
    "subscribe_body",
    "subscriber_hash",
    "tag_for_trait",
    "trait_for_tag",
    "values_left_blank",
]
