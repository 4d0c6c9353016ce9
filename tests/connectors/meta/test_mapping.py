"""Meta normalization and hashing: the documented worked examples, each rule, match quality."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from martech.connector import AudienceMember
from martech.errors import ValidationError
from martech_connectors.meta.mapping import (
    build_rows,
    check_minimum,
    check_schema,
    classify_graph,
    hash_value,
    invalid_keys,
    match_quality,
    member_row,
    normalize,
)

# vendor-apis.md §3.1: Meta's multi-key example, hashes of jane.doe@example.com, 16505551212,
# jane, doe (recomputed here from the normalized inputs, then from raw inputs).
WORKED = [
    ("EMAIL", "jane.doe@example.com",
     "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"),
    ("PHONE", "16505551212", "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"),
    ("FN", "jane", "81f8f6dde88365f3928796ec7aa53f72820b06db8664f5fe76a7eb13e24546a2"),
    ("LN", "doe", "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "normalized", "expected"), WORKED, ids=[w[0] for w in WORKED])
def test_documented_hashes_are_sha256_of_the_normalized_inputs(
    key: str, normalized: str, expected: str
) -> None:
    assert hashlib.sha256(normalized.encode()).hexdigest() == expected
    assert hash_value(key, normalized) == expected


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("EMAIL", "  Jane.Doe@Example.COM\t", WORKED[0][2]),
        ("PHONE", "+1 (650) 555-1212", WORKED[1][2]),
        ("PHONE", "001 650 555 1212", WORKED[1][2]),
        ("FN", " Jane ", WORKED[2][2]),
        ("LN", "D'oe.", WORKED[3][2]),
    ],
    ids=["email-case-space", "phone-plus", "phone-00-prefix", "fn-space", "ln-punctuation"],
)
def test_raw_inputs_normalize_to_the_documented_hashes(key: str, raw: str, expected: str) -> None:
    assert hash_value(key, raw) == expected


@pytest.mark.parametrize(
    ("key", "raw", "normalized", "country"),
    [
        ("PHONE", "+44 7700 900123", "447700900123", None),
        ("PHONE", "0044 7700 900123", "447700900123", None),
        ("PHONE", "+33 06 12 34 56 78", "33612345678", None),  # trunk 0 after the code dropped
        ("PHONE", "(650) 555-1212", "16505551212", "US"),  # national number + country code
        ("PHONE", "07400 123456", "447400123456", "GB"),
        ("PHONE", "hello", None, None),
        ("FN", "José-María", "josémaría", None),
        ("CT", "New York City", "newyorkcity", None),
        ("ST", "California", "ca", None),
        ("ST", "Bavaria", "bavaria", None),
        ("ZIP", "94025-1234", "94025", None),
        ("ZIP", "SW1A 1AA", "sw1a1aa", None),
        ("COUNTRY", "US", "us", None),
        ("COUNTRY", "u.s.", "us", None),
        ("COUNTRY", "United States", None, None),  # not "un" (Meta's SDK cuts any value)
        ("COUNTRY", "Sweden", None, None),
        ("GEN", "Female", "f", None),
        ("GEN", "x", None, None),
        ("DOBM", "3", "03", None),
        ("DOBD", "07", "07", None),
        ("DOBY", "1985", "1985", None),
        ("EMAIL", "not an email", None, None),
    ],
)
def test_each_key_normalizes_per_metas_rules(
    key: str, raw: str, normalized: str | None, country: str | None
) -> None:
    assert normalize(key, raw, country=country) == normalized


def test_extern_id_and_madid_are_not_hashed() -> None:
    assert hash_value("EXTERN_ID", " p-123 ") == "p-123"
    assert hash_value("MADID", "AECE52E7-03EE-455A-B3C4-E57283966239") == (
        "aece52e7-03ee-455a-b3c4-e57283966239"
    )


def test_a_value_that_is_already_a_hash_is_not_hashed_twice() -> None:
    assert hash_value("EMAIL", WORKED[0][2]) == WORKED[0][2]


@given(st.emails())
def test_email_hash_is_case_and_space_insensitive(email: str) -> None:
    assert hash_value("EMAIL", f"  {email.upper()} ") == hash_value("EMAIL", email.lower())


@given(st.from_regex(r"\+[1-9][0-9]{7,13}", fullmatch=True))
def test_phone_cells_are_sha256_of_digits_without_plus(phone: str) -> None:
    from martech.identity import normalize_phone as to_e164

    assume(to_e164(phone) in (phone, None))  # already E.164 (or unknown to phonenumbers)
    digits = phone[1:]
    assert hash_value("PHONE", phone) == hashlib.sha256(digits.encode()).hexdigest()
    assert hash_value("PHONE", phone) != hashlib.sha256(phone.encode()).hexdigest()


@given(st.text(max_size=30))
def test_hashed_cells_are_empty_or_64_lowercase_hex(text: str) -> None:
    for key in ("EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY", "GEN", "DOBY"):
        cell = hash_value(key, text)
        assert cell == "" or (len(cell) == 64 and cell == cell.lower())


def jane(key: str = "p1", **ids: str) -> AudienceMember:
    return AudienceMember(
        key=key,
        identities=ids or {"email": "jane.doe@example.com", "phone": "+16505551212"},
        traits={"first_name": "Jane", "last_name": "Doe", "city": "Menlo Park", "country": "US"},
    )


def test_a_row_has_one_cell_per_schema_key_and_blank_for_missing() -> None:
    row = member_row(jane(), ("EMAIL", "PHONE", "FN", "LN", "ZIP", "EXTERN_ID"))
    assert row[:4] == [w[2] for w in WORKED]
    assert row[4] == ""
    assert row[5] == "p1"


def test_members_without_a_match_key_are_not_sent() -> None:
    nobody = AudienceMember(key="p2", traits={"first_name": "Ann"})
    rows, keys, invalid = build_rows([jane(), nobody], ("EMAIL", "PHONE", "FN"))
    assert keys == ["p1"]
    assert len(rows) == 1
    assert "no email, phone" in invalid["p2"]


def test_match_quality_counts_valid_keys_and_duplicates_after_normalization() -> None:
    members = [
        jane("a"),
        jane("b", email=" JANE.DOE@example.com"),  # same person once normalized
        jane("c", phone="+44 7700 900123"),
        jane("d", email="broken"),
        AudienceMember(key="e", traits={"first_name": "X"}),
    ]
    report = match_quality(members, minimum=3)
    assert report.members == 5
    assert report.valid_email == 2 + 0 + 0  # a and b; c has only a phone; d's is broken
    assert report.valid_phone == 2  # a and c
    assert report.email_and_phone == 1
    assert report.matchable == 3
    assert report.unmatchable == 2
    assert report.duplicates == 1
    assert report.keys_present["EMAIL"] == 2
    assert not report.meets_minimum  # 3 matchable, 1 duplicate: 2 distinct people
    assert "jane" not in report.summary().lower()


def test_the_minimum_size_guard_names_the_setting() -> None:
    report = match_quality([jane()], minimum=100)
    with pytest.raises(ValidationError, match="min_audience_size"):
        check_minimum(report)
    check_minimum(match_quality([jane()], minimum=1))


def test_a_schema_without_a_match_key_or_with_unknown_keys_is_refused() -> None:
    with pytest.raises(ValidationError, match="schema"):
        check_schema(["FN", "LN"])
    with pytest.raises(ValidationError, match="'NAME'"):
        check_schema(["EMAIL", "NAME"])


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (400, {"error": {"code": 80003, "message": "too many"}}, "rate_limited"),
        (400, {"error": {"code": 17, "error_subcode": 2446079}}, "rate_limited"),
        (400, {"error": {"code": 613}}, "rate_limited"),
        (400, {"error": {"code": 190, "type": "OAuthException"}}, "auth"),
        (500, {"error": {"code": 2, "is_transient": True}}, "retriable"),
        (400, {"error": {"code": 100}}, None),
        (502, "<html>bad gateway</html>", None),
    ],
)
def test_graph_errors_are_classified_by_code(status: int, body: object, outcome: str) -> None:
    assert classify_graph(status, body) == outcome


def test_invalid_entry_samples_map_back_to_member_keys() -> None:
    rows = [["h1", "p1"], ["h2", ""]]
    assert invalid_keys({"h2": "bad hash"}, rows, ["a", "b"]) == {"b": "bad hash"}
    assert invalid_keys({}, rows, ["a", "b"]) == {}
