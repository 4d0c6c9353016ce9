"""Meta Custom Audiences: normalize, hash, build multi-key rows, report match quality. Pure.

Normalization follows Meta's customer-file rules (``shared/research/vendor-apis.md`` §3.1, the
official ``facebook_business`` SDK's ``CustomAudienceMixin.normalize_key`` and Meta's
formatting guide), then SHA-256 of the UTF-8 bytes as lowercase hex:

========  ==================================================================================
EMAIL     trimmed (also of ``.``), lowercased, NFC (``é`` precomposed, as the store holds it)
PHONE     digits only with the country code, **no ``+``**, no leading zeros (``+1 650-555-1212``
          -> ``16505551212``); a number without a country code is parsed in the person's
          country (or ``MARTECH_DEFAULT_REGION``) first. Not Google's E.164-with-``+``.
FN, LN    lowercased letters only (punctuation, spaces and digits dropped); accented letters are
          kept as UTF-8, as Meta's guide allows ("with or without accents")
FI        first letter of the first name
CT        lowercased letters only; ST likewise (US states as their 2-letter code)
ZIP       lowercased, no spaces, the part before ``-``
COUNTRY   ISO-3166 alpha-2, lowercased
GEN       ``m`` or ``f``
DOBY/M/D  ``YYYY`` / ``MM`` / ``DD``
EXTERN_ID not hashed (nor MADID), as Meta requires
========  ==================================================================================

A key that has no usable value is sent as ``""`` (each row has one cell per schema key).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from martech.connector import AudienceMember
from martech.errors import ValidationError

#: Every multi-key schema key Meta documents.
SCHEMA_KEYS = (
    "EXTERN_ID",
    "EMAIL",
    "PHONE",
    "GEN",
    "DOBY",
    "DOBM",
    "DOBD",
    "LN",
    "FN",
    "FI",
    "CT",
    "ST",
    "ZIP",
    "MADID",
    "COUNTRY",
)
#: Sent as given (after trimming), never hashed.
UNHASHED = frozenset({"EXTERN_ID", "MADID"})
#: Keys Meta can match a person on by themselves.
MATCH_KEYS = ("EMAIL", "PHONE", "MADID")
DEFAULT_SCHEMA = ("EMAIL", "PHONE", "FN", "LN", "CT", "COUNTRY")
#: Rows per /users call (Meta: "only a maximum of 10000 at a time").
MAX_ROWS = 10_000

_STRIP = " \t\r\n\0\x0b."
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_US_STATES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca",
    "colorado": "co", "connecticut": "ct", "delaware": "de", "florida": "fl", "georgia": "ga",
    "hawaii": "hi", "idaho": "id", "illinois": "il", "indiana": "in", "iowa": "ia",
    "kansas": "ks", "kentucky": "ky", "louisiana": "la", "maine": "me", "maryland": "md",
    "massachusetts": "ma", "michigan": "mi", "minnesota": "mn", "mississippi": "ms",
    "missouri": "mo", "montana": "mt", "nebraska": "ne", "nevada": "nv", "newhampshire": "nh",
    "newjersey": "nj", "newmexico": "nm", "newyork": "ny", "northcarolina": "nc",
    "northdakota": "nd", "ohio": "oh", "oklahoma": "ok", "oregon": "or", "pennsylvania": "pa",
    "rhodeisland": "ri", "southcarolina": "sc", "southdakota": "sd", "tennessee": "tn",
    "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va", "washington": "wa",
    "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy", "districtofcolumbia": "dc",
}  # fmt: skip


def sha256_hex(value: str) -> str:
    """SHA-256 of the UTF-8 bytes, lowercase hex."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_hashed(value: str) -> bool:
    """Already a lowercase SHA-256 hex digest (never hash twice)."""
    return bool(_HEX64.match(value))


def _letters(value: str) -> str:
    value = unicodedata.normalize("NFC", value.strip(_STRIP).lower())
    return "".join(ch for ch in value if ch.isalpha())


def normalize_email(value: str) -> str | None:
    # NFC as martech.identity.normalize_email: the two spellings of josé@ are one hash.
    value = unicodedata.normalize("NFC", value.strip(_STRIP).lower())
    local, sep, domain = value.partition("@")
    if not sep or not local or "." not in domain or any(c.isspace() for c in value):
        return None
    return value


def normalize_phone(value: str, country: str | None = None) -> str | None:
    """Digits with the country code, no ``+``, no leading zeros; None if not a phone number.

    ``+44 7700 900123`` and ``0044 7700 900123`` -> ``447700900123``, ``+33 (0)6 12 34 56 78``
    -> ``33612345678``; a national number
    (``(650) 555-1212``) is parsed in ``country`` (default region otherwise) first.
    """
    from martech.identity import normalize_phone as to_e164

    raw = value.strip()
    if not raw:
        return None
    if raw.startswith(("+", "00")):
        international = "+" + re.sub(r"\D", "", raw).lstrip("0")
        # phonenumbers drops a national trunk prefix written after the country code
        # ("+33 06 12…" -> 336 12…); numbers it does not know keep their digits.
        e164 = to_e164(raw if raw.startswith("+") else international)
        digits = (e164 or international).lstrip("+")
    else:
        region = country.upper() if country and len(country) == 2 else None
        e164 = to_e164(raw, region)
        if e164 is None:
            return None
        digits = e164.lstrip("+")
    return digits if 7 <= len(digits) <= 15 and digits.isdigit() else None


def normalize_name(value: str) -> str | None:
    return _letters(value) or None


def normalize_initial(value: str) -> str | None:
    letters = _letters(value)
    return letters[0] if letters else None


def normalize_state(value: str) -> str | None:
    letters = _letters(value)
    if not letters:
        return None
    return _US_STATES.get(letters, letters)


def normalize_zip(value: str) -> str | None:
    value = value.strip().lower().split("-")[0].replace(" ", "")
    return value or None


def normalize_country(value: str) -> str | None:
    """An ISO-3166 alpha-2 code, lowercased (``US``, ``u.s.`` -> ``us``); None for anything else.

    Meta's SDK keeps the first two letters of any value, which makes ``United States`` "un" and
    ``Sweden`` "sw" (no country): a wrong key lowers the match, so a name is left out instead."""
    letters = re.sub(r"[^a-z]", "", value.strip().lower())
    return letters if len(letters) == 2 else None


def normalize_gender(value: str) -> str | None:
    first = value.strip().lower()[:1]
    return first if first in ("m", "f") else None


def _digits(value: str, width: int) -> str | None:
    digits = re.sub(r"\D", "", value)
    if not digits or len(digits) > width:
        return None
    return digits.zfill(width)


def normalize_extern_id(value: str) -> str | None:
    return value.strip() or None


NORMALIZERS: dict[str, Callable[[str], str | None]] = {
    "EMAIL": normalize_email,
    "PHONE": normalize_phone,
    "FN": normalize_name,
    "LN": normalize_name,
    "FI": normalize_initial,
    "CT": normalize_name,
    "ST": normalize_state,
    "ZIP": normalize_zip,
    "COUNTRY": normalize_country,
    "GEN": normalize_gender,
    "DOBY": lambda v: _digits(v, 4),
    "DOBM": lambda v: _digits(v, 2),
    "DOBD": lambda v: _digits(v, 2),
    "EXTERN_ID": normalize_extern_id,
    "MADID": lambda v: v.strip().lower() or None,
}


def normalize(key: str, value: str, *, country: str | None = None) -> str | None:
    """Meta's normalized form of ``value`` for schema key ``key``, or None if unusable."""
    if key not in NORMALIZERS:
        raise ValidationError(
            f"schema: unknown Meta key {key!r}; expected one of {', '.join(SCHEMA_KEYS)}",
            field="schema",
        )
    if key == "PHONE":
        return normalize_phone(value, country)
    return NORMALIZERS[key](value)


def hash_value(key: str, value: str, *, country: str | None = None) -> str:
    """The cell Meta expects for ``key``: normalized then SHA-256 (or as-is); ``""`` if unusable."""
    if key not in UNHASHED and is_hashed(value.strip()):
        return value.strip()
    normalized = normalize(key, value, country=country)
    if normalized is None:
        return ""
    return normalized if key in UNHASHED else sha256_hex(normalized)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str | int | float):
        text = str(value)
        return text if text.strip() else None
    return None


def raw_values(member: AudienceMember) -> dict[str, str]:
    """The member's raw value per Meta key, from identities and the population's trait names."""
    t, ids = member.traits, member.identities
    out: dict[str, str] = {}

    def put(key: str, value: Any) -> None:
        text = _text(value)
        if text is not None and key not in out:
            out[key] = text

    put("EXTERN_ID", member.key)
    put("EMAIL", ids.get("email"))
    put("PHONE", ids.get("phone"))
    put("MADID", ids.get("madid"))
    put("FN", t.get("first_name"))
    put("LN", t.get("last_name"))
    put("FI", t.get("first_name"))
    put("CT", t.get("city"))
    put("ST", t.get("state"))
    put("ZIP", t.get("zip") or t.get("postal_code"))
    put("COUNTRY", t.get("country"))
    put("GEN", t.get("gender"))
    birthday = _text(t.get("birthday") or t.get("date_of_birth"))
    if birthday and re.match(r"^\d{4}-\d{1,2}-\d{1,2}", birthday):
        year, month, day = birthday[:10].split("-")[:3]
        put("DOBY", year)
        put("DOBM", month)
        put("DOBD", day)
    return out


def member_row(member: AudienceMember, schema: Sequence[str]) -> list[str]:
    """One payload row: a cell per schema key, hashed as Meta requires, ``""`` when missing."""
    raw = raw_values(member)
    country = raw.get("COUNTRY")
    return [hash_value(k, raw[k], country=country) if k in raw else "" for k in schema]


def check_schema(schema: Sequence[str]) -> tuple[str, ...]:
    """The schema as a tuple, or a ValidationError naming the bad key."""
    keys = tuple(k.upper() for k in schema)
    for key in keys:
        if key not in SCHEMA_KEYS:
            raise ValidationError(
                f"schema: unknown Meta key {key!r}; expected some of {', '.join(SCHEMA_KEYS)}",
                field="schema",
            )
    if len(set(keys)) != len(keys):
        raise ValidationError("schema: a key appears twice", field="schema")
    if not any(k in keys for k in (*MATCH_KEYS, "EXTERN_ID")):
        raise ValidationError(
            "schema: needs at least one of EMAIL, PHONE, MADID or EXTERN_ID to match on",
            field="schema",
        )
    return keys


def build_rows(
    members: Iterable[AudienceMember], schema: Sequence[str]
) -> tuple[list[list[str]], list[str], dict[str, str]]:
    """(rows, member key per row, key -> why not sendable) for one /users call.

    A member with no email, phone or mobile ad id that normalizes is not sent: Meta could not
    match it, and the sync engine reports it as invalid rather than as sent.
    """
    rows: list[list[str]] = []
    keys: list[str] = []
    invalid: dict[str, str] = {}
    match_at = [i for i, k in enumerate(schema) if k in MATCH_KEYS]
    for member in members:
        row = member_row(member, schema)
        if not any(row[i] for i in match_at):
            invalid[member.key] = "no email, phone or mobile ad id usable for matching"
            continue
        rows.append(row)
        keys.append(member.key)
    return rows, keys, invalid


# ----------------------------------------------------------------------------- match quality


class MatchQuality(BaseModel, frozen=True, extra="forbid"):
    """A pre-flight look at what Meta will be able to match, before anything is uploaded."""

    members: int = Field(description="People in the segment.")
    valid_email: int = Field(description="With an email that normalizes.")
    valid_phone: int = Field(description="With a phone that normalizes (country code known).")
    email_and_phone: int
    matchable: int = Field(description="With at least one match key (email, phone, madid).")
    unmatchable: int
    duplicates: int = Field(
        description="Members whose email or phone, once normalized, equals an earlier one's."
    )
    keys_present: dict[str, int] = Field(description="Schema key -> members with a value.")
    mean_keys_per_member: float = Field(description="Expected match keys per row (schema).")
    minimum: int = Field(description="The minimum audience size guard.")
    meets_minimum: bool

    def summary(self) -> str:
        """One line for the CLI: counts only, never identities."""
        share = (self.matchable / self.members * 100) if self.members else 0.0
        return (
            f"{self.members} members: {self.valid_email} valid email, {self.valid_phone} valid "
            f"phone, {self.matchable} matchable ({share:.0f}%), {self.duplicates} duplicates "
            f"after normalization, {self.mean_keys_per_member:.1f} keys per row; minimum "
            f"{self.minimum}: {'ok' if self.meets_minimum else 'too small'}"
        )


def match_quality(
    members: Iterable[AudienceMember],
    schema: Sequence[str] = DEFAULT_SCHEMA,
    *,
    minimum: int = 100,
) -> MatchQuality:
    """Count valid emails and phones, duplicates after normalization and keys per row."""
    schema = check_schema(schema)
    total = email = phone = both = matchable = duplicates = 0
    keys_present = dict.fromkeys(schema, 0)
    cells = 0
    seen: set[tuple[str, str]] = set()
    match_at = [i for i, k in enumerate(schema) if k in MATCH_KEYS]
    email_at = schema.index("EMAIL") if "EMAIL" in schema else None
    phone_at = schema.index("PHONE") if "PHONE" in schema else None
    for member in members:
        total += 1
        row = member_row(member, schema)
        has_email = email_at is not None and bool(row[email_at])
        has_phone = phone_at is not None and bool(row[phone_at])
        email += has_email
        phone += has_phone
        both += has_email and has_phone
        if any(row[i] for i in match_at):
            matchable += 1
        for key, cell in zip(schema, row, strict=True):
            if cell:
                keys_present[key] += 1
                cells += 1
        ids = {(schema[i], row[i]) for i in match_at if row[i]}
        if ids & seen:
            duplicates += 1
        seen |= ids
    return MatchQuality(
        members=total,
        valid_email=email,
        valid_phone=phone,
        email_and_phone=both,
        matchable=matchable,
        unmatchable=total - matchable,
        duplicates=duplicates,
        keys_present=keys_present,
        mean_keys_per_member=round(cells / total, 3) if total else 0.0,
        minimum=minimum,
        meets_minimum=matchable - duplicates >= minimum,
    )


def check_minimum(report: MatchQuality) -> None:
    """Refuse an audience below the minimum size, with a message that says what to change."""
    distinct = report.matchable - report.duplicates
    if distinct < report.minimum:
        raise ValidationError(
            f"members: the Meta audience would hold {distinct} distinct matchable people, below "
            f"the minimum of {report.minimum} (Meta does not deliver to lists under 100 people; "
            f"set min_audience_size to change the guard)",
            field="members",
        )


# ------------------------------------------------------------------------------ Graph errors

#: Graph error codes that mean "slow down" (API-level, per-user, ad-account and the custom
#: audience business-use-case limits).
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80003, 80004})
AUTH_CODES = frozenset({102, 190, 10, 200})
TRANSIENT_CODES = frozenset({1, 2})


def graph_error(data: Any) -> Mapping[str, Any] | None:
    """The ``error`` object of a Graph error envelope, or None."""
    err = data.get("error") if isinstance(data, Mapping) else None
    return err if isinstance(err, Mapping) else None


def classify_graph(status: int, data: Any) -> str | None:
    """Meta answers throttling with HTTP 400 and a code: classify by code, not only status."""
    err = graph_error(data)
    if err is None:
        return None
    code = err.get("code")
    if code in THROTTLE_CODES or (isinstance(code, int) and 80000 <= code <= 80014):
        return "rate_limited"
    if code in AUTH_CODES or (isinstance(code, int) and 200 <= code <= 299):
        return "auth"
    if code in TRANSIENT_CODES or err.get("is_transient") is True:
        return "retriable"
    return None


def invalid_keys(
    samples: Any, rows: Sequence[Sequence[str]], keys: Sequence[str]
) -> dict[str, str]:
    """Map ``invalid_entry_samples`` (value -> reason) back to the member keys that sent them."""
    if not isinstance(samples, Mapping) or not samples:
        return {}
    index: dict[str, str] = {}
    for row, key in zip(rows, keys, strict=True):
        for cell in row:
            if cell:
                index.setdefault(cell, key)
    out: dict[str, str] = {}
    for value, reason in samples.items():
        owner = index.get(str(value))
        if owner is not None:
            out[owner] = str(reason) or "invalid entry"
    return out


__all__ = [
    "DEFAULT_SCHEMA",
    "MATCH_KEYS",
    "MAX_ROWS",
    "SCHEMA_KEYS",
    "UNHASHED",
    "MatchQuality",
    "build_rows",
    "check_minimum",
    "check_schema",
    "classify_graph",
    "graph_error",
    "hash_value",
    "invalid_keys",
    "is_hashed",
    "match_quality",
    "member_row",
    "normalize",
    "normalize_email",
    "normalize_phone",
    "raw_values",
    "sha256_hex",
]
