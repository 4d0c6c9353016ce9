"""File import, per-row validation a data engineer relies on: dates are not zones, NaN and
Infinity are refused, whole-object consent and identities are checked like their columns, JSONL
behaves as CSV does, and reject files hold no phone numbers."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from martech.cli import main
from martech_plugins.files.importer import import_file, load_mapping


def rejects(summary) -> dict[int, dict]:
    assert summary.rejects_file is not None
    lines = Path(summary.rejects_file).read_text().splitlines()
    return {r["row"]: r for r in map(orjson.loads, lines)}


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def stored_events(store) -> list[tuple]:
    return store.con.execute(
        "SELECT profile_id, timezone('UTC', ts), value FROM events ORDER BY profile_id"
    ).fetchall()


def test_a_bare_date_is_rejected_as_naive_never_read_in_the_local_zone(
    martech_store, tmp_path, monkeypatch
):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        f = write(
            tmp_path / "d.csv",
            "user_id,event,timestamp\nu1,view,2026-03-05\nu2,view,2026-03-05T10:00:00-05\n"
            "u3,view,2026-03-05T10:00:00Z\nu4,view,2026-03-05 10:00\n",
        )
        s = import_file(martech_store, "events", f)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert (s.rows, s.imported, s.rejected) == (4, 2, 2)
    bad = rejects(s)
    assert bad[2]["reason"] == (
        "date without a time and zone '2026-03-05' (column timestamp): give a time and Z or an "
        "offset, such as 2026-03-05T00:00:00Z"
    )
    assert bad[5]["reason"].startswith("naive timestamp '2026-03-05 10:00'")
    # an hour-only offset after a time is still an offset
    assert stored_events(martech_store) == [
        ("u2", datetime(2026, 3, 5, 15, 0), None),
        ("u3", datetime(2026, 3, 5, 10, 0), None),
    ]


def test_non_finite_event_values_are_rejected_naming_the_column(martech_store, tmp_path):
    f = write(
        tmp_path / "e.csv",
        "user_id,event,timestamp,revenue\n"
        "u1,purchase,2026-01-01T00:00:00Z,NaN\nu2,purchase,2026-01-01T00:00:00Z,inf\n"
        "u3,purchase,2026-01-01T00:00:00Z,-1e999\nu4,purchase,2026-01-01T00:00:00Z,1e3\n",
    )
    s = import_file(martech_store, "events", f)
    assert (s.imported, s.rejected) == (1, 3)
    bad = rejects(s)
    assert bad[2]["reason"] == "value 'nan' (column revenue) is not a finite number"
    assert bad[3]["reason"] == "value 'inf' (column revenue) is not a finite number"
    assert bad[4]["reason"] == "value '-inf' (column revenue) is not a finite number"
    assert stored_events(martech_store) == [("u4", datetime(2026, 1, 1), 1000.0)]


def test_jsonl_nan_and_infinity_in_traits_and_properties_are_rejected(martech_store, tmp_path):
    f = write(
        tmp_path / "p.jsonl",
        '{"id":"n1","score":NaN}\n{"id":"n2","score":1.5}\n{"id":"n3","score":[1,-Infinity]}\n'
        '{"id":"n4","traits":{"x":{"y":1e999}}}\n{"id":"n5","traits":{"x":"NaN"},"score":2}\n',
    )
    s = import_file(martech_store, "profiles", f)
    assert (s.imported, s.rejected) == (2, 3)
    bad = rejects(s)
    assert bad[1]["reason"] == "trait score (column 'score') is NaN or infinite"
    assert bad[3]["reason"] == "trait score (column 'score') is NaN or infinite"
    assert bad[4]["reason"] == "traits (column 'traits') holds a NaN or infinite number"
    assert martech_store.get_profile("n2").traits == {"score": 1.5}
    assert martech_store.get_profile("n5").traits == {"x": "NaN", "score": 2}  # text is text
    assert martech_store.get_profile("n1") is None
    e = write(
        tmp_path / "e.jsonl",
        '{"profile_id":"a","type":"view","ts":"2026-01-01T00:00:00Z","price":Infinity}\n'
        '{"profile_id":"b","type":"view","ts":"2026-01-01T00:00:00Z","price":3}\n',
    )
    s = import_file(martech_store, "events", e)
    assert (s.imported, s.rejected) == (1, 1)
    assert rejects(s)[1]["reason"] == "property price (column 'price') is NaN or infinite"


def test_parquet_nan_trait_is_rejected_and_the_profile_reads_back(martech_store, tmp_path):
    f = tmp_path / "p.parquet"
    pq.write_table(
        pa.table({"id": ["a", "b", "c"], "score": [float("nan"), 2.5, float("-inf")]}), f
    )
    s = import_file(martech_store, "profiles", f)
    assert (s.imported, s.rejected) == (1, 2)
    assert rejects(s)[1]["reason"] == "trait score (column 'score') is NaN or infinite"
    assert martech_store.get_profile("b").traits == {"score": 2.5}


def test_a_consent_object_is_checked_and_stored_as_booleans(martech_store, tmp_path):
    f = write(
        tmp_path / "c.jsonl",
        '{"id":"w1","consent":{"whatsapp":true}}\n{"id":"w2","consent":{"email":"maybe"}}\n'
        '{"id":"w3","consent":{"sms":"yes","email":" No ","push":1,"web":null}}\n'
        '{"id":"w4","consent":"{\\"ad\\": \\"true\\"}"}\n{"id":"w5","consent":["sms"]}\n'
        '{"id":"w6","consent":{"sms":true},"consent_sms":"no"}\n',
    )
    s = import_file(martech_store, "profiles", f)
    assert (s.imported, s.rejected) == (3, 3)
    bad = rejects(s)
    assert bad[1]["reason"] == (
        "consent (column 'consent'): unknown channel 'whatsapp'; expected one of email, web, "
        "push, sms, ad"
    )
    assert (
        bad[2]["reason"] == "consent email (column 'consent'): expected true/false, yes/no or 1/0"
    )
    assert bad[5]["reason"] == "consent (column 'consent') is not a JSON object"
    stored = dict(martech_store.con.execute("SELECT id, consent::VARCHAR FROM profiles").fetchall())
    assert orjson.loads(stored["w3"]) == {"email": False, "push": True, "sms": True}
    assert orjson.loads(stored["w4"]) == {"ad": True}
    assert orjson.loads(stored["w6"]) == {"sms": False}  # the consent_sms column wins
    assert martech_store.get_profile("w3").consent == {"email": False, "push": True, "sms": True}


def test_identities_are_checked_on_every_route(martech_store, tmp_path):
    f = write(
        tmp_path / "i.jsonl",
        '{"id":"a","identities":{"phone":"garbage"}}\n'
        '{"id":"b","identities":{"email":"not-an-email","crm":"C1"}}\n'
        '{"id":"c","identities":{"phone":"(415) 555-0100","crm":" C3 "}}\n'
        '{"id":"d","identities":"oops"}\n',
    )
    s = import_file(martech_store, "profiles", f)
    assert (s.imported, s.rejected) == (1, 3)
    bad = rejects(s)
    assert bad[1]["reason"].startswith(
        "invalid phone number in identities.phone (column 'identities'); expected E.164"
    )
    assert "national number of region US" in bad[1]["reason"]
    assert bad[2]["reason"] == "invalid email in identities.email (column 'identities')"
    assert bad[4]["reason"] == "identities (column 'identities') is not a JSON object"
    assert martech_store.resolve("phone", "+14155550100") == "c"
    g = write(tmp_path / "i.csv", "id,tel,mail\ne,12,\nf,,bad@\ng,415 555 0101,G@x.io\n")
    m, _ = load_mapping(None, ["id=id", "identities.phone=tel", "identities.email=mail"])
    s = import_file(martech_store, "profiles", g, mapping=m)
    assert (s.imported, s.rejected) == (1, 2)
    bad = rejects(s)
    assert bad[2]["reason"].startswith("invalid phone number (column 'tel')")
    assert bad[3]["reason"] == "invalid email (column 'mail')"
    assert martech_store.resolve("phone", "+14155550101") == "g"
    assert martech_store.resolve("email", "g@x.io") == "g"


def test_jsonl_values_are_trimmed_and_a_non_utf8_line_rejects_only_itself(martech_store, tmp_path):
    f = write(
        tmp_path / "p.jsonl",
        b'{"id":" j2 ","email":" Dan@Example.com "}\n{"id":"b\xff","email":"b@x.io"}\n'
        b'{"id":"c","email":"c@x.io"}\n{"id":"d","email":"bad"}\n',
    )
    s = import_file(martech_store, "profiles", f)
    assert (s.rows, s.imported, s.rejected) == (4, 2, 2)
    bad = rejects(s)
    assert bad[2]["reason"] == "invalid UTF-8"
    assert bad[4]["reason"] == "invalid email (column 'email')"  # file line, not shifted
    assert martech_store.resolve("email", "dan@example.com") == "j2"
    assert martech_store.get_profile("c") is not None


def test_reject_files_hold_no_phone_numbers(martech_store, tmp_path):
    f = write(
        tmp_path / "m.csv",
        "id;email;city;notes;x\nm1;m1@x.io;Oslo;ok;1\n"
        "m3;m3@x.io;Köln;;extra;4155552676\n"
        "m4;bad-email;Rome;call 0701234567 or +46 70 123 45 67 (415) 555-0123;2026-01-02\n",
    )
    s = import_file(martech_store, "profiles", f)
    assert (s.imported, s.rejected) == (1, 2)
    text = Path(s.rejects_file).read_text()
    for digits in ("4155552676", "0701234567", "123 45 67", "555-0123", "m3@x.io"):
        assert digits not in text
    bad = rejects(s)
    assert bad[3]["record"]["line"] == "m3;[email];Köln;;extra;[phone]"
    assert bad[4]["record"]["notes"] == "call [phone] or [phone]"
    assert bad[4]["record"]["x"] == "2026-01-02"  # a date is not a phone


def test_cli_tab_delimiter_stale_rejects_and_id_mapped_to_email(tmp_path, capsys):
    home = str(tmp_path / "home")
    f = write(tmp_path / "p.tsv", "email\tname\nA@x.io\tAnn\nnot-an-email\tBob\n")
    code = main(["--home", home, "import", "profiles", str(f), "--delimiter", "\\t",
                 "--map", "id=email", "--json"])  # fmt: skip
    assert code == 0
    out = orjson.loads(capsys.readouterr().out)
    assert (out["imported"], out["rejected"]) == (1, 1)
    assert out["mapping"]["id"] == out["mapping"]["email"] == "email"
    stale = tmp_path / "p.tsv.rejects.jsonl"
    assert stale.is_file()
    write(f, "email\tname\nA@x.io\tAnn\n")
    code = main(["--home", home, "import", "profiles", str(f), "--delimiter", "\t", "--map",
                 "id=email", "--json"])  # fmt: skip
    assert code == 0
    out = orjson.loads(capsys.readouterr().out)
    assert (out["imported"], out["rejected"], out["rejects_file"]) == (1, 0, None)
    assert not stale.exists()  # a clean re-import removes the earlier reject file
    code = main(["--home", home, "import", "profiles", str(f), "--delimiter", "ab"])
    assert code == 2
    assert "--delimiter 'ab': expected one character" in capsys.readouterr().err
    from martech.store import Store

    with Store(Path(home) / "martech.duckdb") as store:
        assert store.resolve("email", "a@x.io") == "A@x.io"


@pytest.mark.parametrize("name", ["profile_id", "id"])
def test_events_id_column_is_unaffected_by_identity_sharing(martech_store, tmp_path, name):
    f = write(tmp_path / "e.csv", f"{name},type,ts\np,view,2026-01-01T00:00:00Z\n")
    s = import_file(martech_store, "events", f)
    assert (s.imported, s.rejected, s.mapping["profile_id"]) == (1, 0, name)


def test_parquet_event_properties_written_with_nan_are_rejected(martech_store, tmp_path):
    """Python's json.dumps writes NaN and Infinity by default: such a properties column is
    refused by row, the others imported."""
    import json

    f = tmp_path / "e.parquet"
    props = [json.dumps({"price": x}) for x in (float("nan"), 2.0, float("-inf"))]
    pq.write_table(
        pa.table(
            {
                "profile_id": ["a", "b", "c"],
                "type": ["view"] * 3,
                "ts": ["2026-01-01T00:00:00Z"] * 3,
                "value": [1.0, float("inf"), 3.0],
                "properties": props,
            }
        ),
        f,
    )
    s = import_file(martech_store, "events", f)
    assert (s.imported, s.rejected) == (0, 3)
    bad = {row: r["reason"] for row, r in rejects(s).items()}
    assert bad == {
        1: "properties (column 'properties') holds a NaN or infinite number",
        2: "value 'inf' (column value) is not a finite number",
        3: "properties (column 'properties') holds a NaN or infinite number",
    }


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_csv_reject_rows_are_the_file_lines_an_editor_shows(martech_store, tmp_path, eol):
    """Quoted fields spanning lines and blank lines do not shift the row numbers after them."""
    text = (
        'id,notes,city\na,"two\nlines",Oslo\nb,x\nc,"three\nmore\nlines",Rome\n'
        "d,ok@x.io,Bern\n\ne,bad@,Nice\nf,f@x.io,Oslo\n"
    )
    f = write(tmp_path / "ml.csv", text.replace("\n", eol).encode())
    s = import_file(martech_store, "profiles", f, mapping={"email": "notes"})
    assert (s.rows, s.imported, s.rejected) == (6, 2, 4)
    bad = {row: r["reason"] for row, r in rejects(s).items()}
    assert bad == {
        2: "invalid email (column 'notes')",
        # mid-file: not the last record, so not called truncated
        4: "row has too few columns: expected 3 columns, found 2",
        5: "invalid email (column 'notes')",
        10: "invalid email (column 'notes')",
    }
    assert martech_store.get_profile("d").identities == {"email": "ok@x.io"}
