"""Identity normalization as a nightly import relies on it: one person, one identity, whichever
route (file import, SDK upsert, resolve) and whichever process settings the value came through."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa
import pytest

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
