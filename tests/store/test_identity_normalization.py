"""Identity normalization as a nightly import relies on it: one person, one identity, whichever
route (file import, SDK upsert, resolve) and whichever process settings the value came through."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martech.identity import normalize_phone
from martech.store import Store
from martech_plugins.files.importer import import_file


def test_the_default_region_is_read_per_call_not_cached_with_the_first_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One process importing a British file, then an American one (a nightly job looping over
    # countries): a national number must be read in the region set for the file at hand.
    monkeypatch.setenv("MARTECH_DEFAULT_REGION", "GB")
    assert normalize_phone("020 7946 0958") == "+442079460958"
    assert normalize_phone("415 555 0100") is None
    monkeypatch.setenv("MARTECH_DEFAULT_REGION", "US")
    assert normalize_phone("020 7946 0958") is None
    assert normalize_phone("415 555 0100") == "+14155550100"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"  # an explicit region wins
    monkeypatch.setenv("MARTECH_DEFAULT_REGION", "")  # set but empty: the documented US
    assert normalize_phone("415 555 0100") == "+14155550100"


def test_a_trunk_prefix_in_parentheses_is_dropped_on_import_as_the_sdk_drops_it(
    tmp_path: Path,
) -> None:
    # "+44 (0)20 …" is how British (and German, French, …) numbers are written: the (0) is
    # dialled only from inside the country. Stripping the separators alone kept the 0, an
    # invalid number that never met the same person's "+44 20 …".
    csv = tmp_path / "people.csv"
    csv.write_text(
        "id,phone\n"
        "uk1,+44 (0)20 7946 0958\n"
        "uk2,+44 20 7946 0958\n"
        "de1,+49 (0)30 1234567\n"
        "us1,+1 (415) 555-0100\n"
    )
    with Store(tmp_path / "m.duckdb") as store:
        summary = import_file(store, "profiles", csv)
        assert (summary.rejected, summary.merged) == (0, 1)
        phones = store.con.execute(
            "SELECT value, profile_id FROM identities WHERE kind = 'phone' ORDER BY value"
        ).fetchall()
        assert phones == [
            ("+14155550100", "us1"),
            ("+442079460958", "uk1"),
            ("+49301234567", "de1"),
        ]
        # The SDK reads the same text the same way.
        store.upsert_profiles(
            pa.table({"id": ["sdk"], "identities": ['{"phone": "+44 (0)20 7946 0958"}']})
        )
        assert store.resolve("phone", "+44 (0) 20 7946 0958") == "uk1"
        assert store.get_profile("sdk").id == "uk1"  # merged into the same person


#: (as written, stored form or None when it is no email)
EMAILS = [
    (" Jane.Doe@Example.COM ", "jane.doe@example.com"),
    ("jane+news@example.com", "jane+news@example.com"),  # plus-addressing is kept
    ("jane@example.com.", "jane@example.com"),  # a sentence's full stop, or an FQDN's dot
    ("JANE@EXAMPLE.COM..", "jane@example.com"),
    ("Åsa@Exempel.se", "åsa@exempel.se"),
    ("jane@doe@example.com", None),
    ("jane\tdoe@example.com", None),
    ("jane@.com", None),
    ("jane@example", None),
    ("@example.com", None),
    (".", None),
]


def test_an_email_has_one_stored_form_on_every_route(tmp_path: Path) -> None:
    from martech.identity import normalize_email

    assert [normalize_email(given) for given, _ in EMAILS] == [want for _, want in EMAILS]
    csv = tmp_path / "people.csv"
    csv.write_text(
        "id,email\n" + "".join(f'f{i},"{given}"\n' for i, (given, _) in enumerate(EMAILS))
    )
    with Store(tmp_path / "m.duckdb") as store:
        summary = import_file(store, "profiles", csv)
        bad = sum(want is None for _, want in EMAILS)
        assert summary.rejected == bad
        store.upsert_profiles(
            pa.table(
                {
                    "id": [f"s{i}" for i in range(len(EMAILS))],
                    "identities": [orjson.dumps({"email": given}).decode() for given, _ in EMAILS],
                }
            )
        )
        stored = dict(
            store.con.execute(
                "SELECT value, min(profile_id) FROM identities WHERE kind = 'email' GROUP BY value"
            ).fetchall()
        )
        wanted = {want for _, want in EMAILS if want is not None}
        assert set(stored) == wanted
        # "jane@example.com." is the person "JANE@EXAMPLE.COM.." is: one profile, one identity.
        assert store.resolve("email", "Jane@Example.com.") == store.resolve(
            "email", "jane@example.com"
        )
        assert store.get_profile("f3").id == store.get_profile("f2").id


def test_the_default_region_is_read_in_any_case_and_an_unknown_one_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from martech.errors import ConfigError

    # "se" in an env file made every national number invalid: rejected rows on import, phones
    # dropped (counted, never shown) on an SDK write or a pull.
    monkeypatch.setenv("MARTECH_DEFAULT_REGION", "se")
    assert normalize_phone("070-123 45 67") == "+46701234567"
    monkeypatch.setenv("MARTECH_DEFAULT_REGION", " gb ")
    assert normalize_phone("020 7946 0958") == "+442079460958"
    monkeypatch.setenv("MARTECH_DEFAULT_REGION", "UK")  # not ISO 3166: GB is
    csv = tmp_path / "people.csv"
    csv.write_text("id,phone\na,020 7946 0958\n")
    with Store(tmp_path / "m.duckdb") as store:
        with pytest.raises(ConfigError, match="MARTECH_DEFAULT_REGION 'UK'"):
            import_file(store, "profiles", csv)
        with pytest.raises(ConfigError, match="MARTECH_DEFAULT_REGION 'UK'"):
            store.upsert_profiles(pa.table({"id": ["b"], "identities": ['{"phone": "020"}']}))
        assert store.count("profiles") == 0
        # E.164 numbers need no region: a store of them is not held up by the setting.
        store.upsert_profiles(pa.table({"id": ["c"], "identities": ['{"email": "c@example.com"}']}))
        assert store.count("profiles") == 1


# ------------------------------------------------------------------ Unicode: one form (NFC)

#: (precomposed NFC spelling, the same address decomposed, NFD): one person each.
NFC_NFD = [
    ("josé@example.com", "jose\u0301@example.com"),
    ("åsa@exempel.se", "a\u030asa@exempel.se"),
    ("JOSÉ@EXAMPLE.COM", "JOSE\u0301@EXAMPLE.COM"),  # upper case, both spellings
    ("zoë@müller.de", "zoe\u0308@mu\u0308ller.de"),  # the domain too (an IDN, as written)
    ("ng\u1ed9c@example.vn", "ngo\u0323\u0302c@example.vn"),  # two marks, in canonical order
]


def _owner_emails(store: Store, ids: list[str]) -> list[set[str]]:
    """Per given id: the emails the person it resolves to holds (empty when it holds none or
    was never stored)."""
    out = []
    for pid in ids:
        profile = store.get_profile(pid, events=0)
        owner = profile.id if profile is not None else pid
        out.append({v for k, v in store.all_identities(owner) if k == "email"})
    return out


class _TwoRoutes:
    """A store written by the SDK's bulk upsert and one by the file import, kept open across
    calls (ids never repeat; people share only emails, so each holds one at most)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.upserted = Store(folder / "upserted.duckdb")
        self.imported = Store(folder / "imported.duckdb")
        self.calls = 0

    def close(self) -> None:
        self.upserted.close()
        self.imported.close()

    def store(self, values: list[str]) -> tuple[list[set[str]], list[set[str]]]:
        """The emails each value's person holds, through either route (one row per value)."""
        self.calls += 1
        ids = [f"c{self.calls}p{i}" for i in range(len(values))]
        self.upserted.upsert_profiles(
            pa.table(
                {
                    "id": ids,
                    "identities": [orjson.dumps({"email": v}).decode() for v in values],
                }
            )
        )
        jsonl = self.folder / "people.jsonl"
        jsonl.write_bytes(
            b"".join(
                orjson.dumps({"id": i, "email": v}) + b"\n"
                for i, v in zip(ids, values, strict=True)
            )
        )
        import_file(self.imported, "profiles", jsonl)
        return _owner_emails(self.upserted, ids), _owner_emails(self.imported, ids)


@pytest.fixture(scope="module")
def two_routes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_TwoRoutes]:
    routes = _TwoRoutes(tmp_path_factory.mktemp("routes"))
    yield routes
    routes.close()


@pytest.mark.parametrize(("nfc", "nfd"), NFC_NFD, ids=[nfc for nfc, _ in NFC_NFD])
def test_the_nfc_and_nfd_spellings_of_an_email_are_one_identity_on_every_route(
    tmp_path: Path, nfc: str, nfd: str
) -> None:
    from martech.identity import normalize_email

    stored = normalize_email(nfc)
    assert stored == unicodedata.normalize("NFC", nfc.lower())
    assert normalize_email(nfd) == stored
    csv = tmp_path / "people.csv"
    csv.write_text(f"id,email\nnfc,{nfc}\nnfd,{nfd}\n", encoding="utf-8")
    with Store(tmp_path / "m.duckdb") as store:
        summary = import_file(store, "profiles", csv)
        assert (summary.rejected, summary.merged) == (0, 1)  # one person
        assert store.all_identities(store.get_profile("nfd", events=0).id) == [("email", stored)]
        # The SDK's upsert and resolve read either spelling as that person too.
        store.upsert_profiles(
            pa.table({"id": ["sdk"], "identities": [orjson.dumps({"email": nfd}).decode()]})
        )
        assert store.get_profile("sdk", events=0).id == store.get_profile("nfc", events=0).id
        assert store.resolve("email", nfd) == store.resolve("email", nfc) is not None
        assert store.count("profiles") == 1


@pytest.mark.parametrize(("nfc", "nfd"), NFC_NFD, ids=[nfc for nfc, _ in NFC_NFD])
def test_the_nfc_and_nfd_spellings_of_an_email_hash_alike_for_meta_and_mailchimp(
    nfc: str, nfd: str
) -> None:
    from martech_connectors.mailchimp.mapping import subscriber_hash
    from martech_connectors.meta.mapping import hash_value

    assert hash_value("EMAIL", nfc) == hash_value("EMAIL", nfd) != ""
    assert subscriber_hash(nfc) == subscriber_hash(nfd)
    # And the one a stored (normalized) address gives: what a sync sends.
    from martech.identity import normalize_email

    stored = normalize_email(nfd)
    assert stored is not None
    assert hash_value("EMAIL", stored) == hash_value("EMAIL", nfc)
    assert subscriber_hash(stored) == subscriber_hash(nfd)


#: Inputs where SQL's own string functions and Python's differ: the SQL paths must still give
#: what ``normalize_email`` gives (case mapping, whitespace, composition).
UNICODE_EDGES = [
    "\u0130stanbul@example.com",  # İ: Python lowercases to i + combining dot, DuckDB to i
    "ΟΔΟΣ@example.gr",  # a final capital sigma: Python gives final U+03C2, DuckDB U+03C3
    "\u00a0jane@example.com\u00a0",  # no-break spaces around it: trimmed by both
    "\u3000jane@example.com",  # an ideographic space: whitespace to Python, not to trim()
    "jane\x1cdoe@example.com",  # a separator control: whitespace to Python's \s, not RE2's
    "jane\x0bdoe@example.com",  # a vertical tab, likewise
    "\tjane@example.com\n",  # ASCII whitespace around it
    "jane\u00a0doe@example.com",  # a no-break space inside: no email
    "\u212aelvin@example.com",  # the Kelvin sign: NFC makes it K, lowercased k
    "\uff4a\uff41\uff4e\uff45@example.com",  # fullwidth jane: NFC keeps it (NFKC would fold)
    "jose\u0301@example.com.",  # decomposed, and a trailing dot
    "e\u0301@e\u0301.e\u0301",
]


def test_python_and_sql_normalize_unicode_edge_cases_alike(two_routes: _TwoRoutes) -> None:
    from martech.identity import normalize_email

    values = [v for nfc, nfd in NFC_NFD for v in (nfc, nfd)] + UNICODE_EDGES
    want = [{e} - {None} for e in map(normalize_email, values)]
    assert two_routes.store(values) == (want, want)


_EMAILISH = st.sampled_from(
    [
        *"aAzZ09.+-_@ ",
        *("\t", "\x0b", "\x1c", "\u00a0", "\u3000", "\u2000", "\u0130", "\u03a3", "\u212a"),
        *("é", "e\u0301", "É", "E\u0301", "\u0301", "\u0308", "\u0323", "ß", "\u1e9e", "\uff41"),
    ]
)


@given(
    values=st.lists(
        st.builds(
            lambda a, b, c: f"{a}@{b}.{c}",
            *(st.lists(_EMAILISH, max_size=6).map("".join) for _ in range(3)),
        )
        | st.lists(_EMAILISH, max_size=12).map("".join),
        min_size=1,
        max_size=24,
    )
)
@settings(max_examples=30)
def test_the_store_stores_what_normalize_email_gives(
    two_routes: _TwoRoutes, values: list[str]
) -> None:
    # The bulk upsert and the file import normalize in SQL (a Python fallback for what SQL
    # cannot do alike); whatever the text, each row holds exactly normalize_email's answer.
    from martech.identity import normalize_email

    want = [{e} - {None} for e in map(normalize_email, values)]
    upserted, imported = two_routes.store(values)
    assert upserted == want
    assert imported == want


@given(st.text(max_size=20))
def test_normalize_email_is_idempotent_and_nfc(value: str) -> None:
    from martech.identity import normalize_email

    once = normalize_email(value)
    if once is not None:
        assert normalize_email(once) == once
        assert unicodedata.is_normalized("NFC", once)


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12))
def test_the_ascii_pattern_sql_uses_is_the_email_pattern_on_printable_ascii(value: str) -> None:
    from martech.identity import ASCII_EMAIL_PATTERN, EMAIL_PATTERN

    for text in (value, value.replace("a", "@", 1), f"{value}@{value}.x"):
        assert bool(re.fullmatch(ASCII_EMAIL_PATTERN, text)) == bool(
            re.fullmatch(EMAIL_PATTERN, text)
        )


@given(
    st.one_of(
        st.text(max_size=24),
        st.builds(
            lambda local, domain, tail: f"{local}@{domain}.{tail}",
            st.text(max_size=8),
            st.text(max_size=8),
            st.text(max_size=4),
        ),
    )
)
def test_normalize_email_skips_nfc_only_where_it_changes_nothing(value: str) -> None:
    # normalize_email leaves out the NFC call for ASCII text (a sync normalizes every member it
    # sends); its answer is still the definition's: trim, lowercase, NFC, drop a final dot, match.
    from martech.identity import EMAIL_PATTERN, normalize_email

    text = unicodedata.normalize("NFC", value.strip().lower()).rstrip(".")
    assert normalize_email(value) == (text if re.fullmatch(EMAIL_PATTERN, text) else None)
