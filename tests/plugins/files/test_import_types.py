"""Trait and property types on import: what a CSV value's look decides, what it never decides
(leading zeros, more than 15 digits), and types pinned per column (``types=`` / ``--type``)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from martech.cli import main
from martech.errors import MappingError
from martech_plugins.files.importer import import_file, load_mapping, load_types


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def rejects(summary) -> dict[int, str]:
    assert summary.rejects_file is not None
    lines = Path(summary.rejects_file).read_text().splitlines()
    return {r["row"]: r["reason"] for r in map(orjson.loads, lines)}


def test_digits_a_number_would_change_stay_text(martech_store, tmp_path):
    f = write(
        tmp_path / "p.csv",
        "id,zip,customer_code,card,ratio,age,price\n"
        "c1,02134,007,1234567890123456,1234567890.1234567,34,9.90\n"
        "c2,10001,012,9876543210987654,0.5,51,10\n",
    )
    import_file(martech_store, "profiles", f)
    assert martech_store.get_profile("c1").traits == {
        "zip": "02134",
        "customer_code": "007",
        "card": "1234567890123456",  # 16 digits: a double would round it
        "ratio": "1234567890.1234567",  # 17 digits
        "age": 34,
        "price": 9.9,
    }
    assert martech_store.get_profile("c2").traits["card"] == "9876543210987654"


def test_a_trait_stored_as_text_stays_text_in_a_later_file(martech_store, tmp_path):
    """The second file's zip codes have no leading zero: typed by its values alone they would
    be numbers beside the first file's text, and `zip eq "10001"` would miss those people."""
    first = write(tmp_path / "a.csv", "id,zip,age\nc1,02134,34\n")
    second = write(tmp_path / "b.csv", "id,zip,age,visits\nc2,10001,51,3\nc3,94105,28,4\n")
    import_file(martech_store, "profiles", first)
    import_file(martech_store, "profiles", second)
    assert martech_store.get_profile("c2").traits == {"zip": "10001", "age": 51, "visits": 3}
    assert martech_store.get_profile("c3").traits["zip"] == "94105"
    assert martech_store.get_profile("c1").traits == {"zip": "02134", "age": 34}


def test_fifteen_digits_are_still_a_number(martech_store, tmp_path):
    f = write(
        tmp_path / "p.csv",
        "id,n,neg,d\nc1,123456789012345,-5,-1234567890.12345\nc2,0,-0.25,1.5\n",
    )
    import_file(martech_store, "profiles", f)
    c1 = martech_store.get_profile("c1").traits
    assert c1 == {"n": 123456789012345, "neg": -5.0, "d": -1234567890.12345}
    assert martech_store.get_profile("c2").traits == {"n": 0, "neg": -0.25, "d": 1.5}


def test_a_pinned_type_wins_over_what_the_values_look_like(martech_store, tmp_path):
    f = write(
        tmp_path / "p.csv",
        "id,zip,age,score,vip,note\nc1,10001,034,7,yes,12\nc2,94105,51,2.5,off,\n",
    )
    types = {"zip": "text", "age": "int", "score": "number", "vip": "bool", "note": "text"}
    s = import_file(martech_store, "profiles", f, types=types)
    assert s.rejected == 0
    c1, c2 = martech_store.get_profile("c1"), martech_store.get_profile("c2")
    assert c1.traits == {"zip": "10001", "age": 34, "score": 7.0, "vip": True, "note": "12"}
    assert c2.traits == {"zip": "94105", "age": 51, "score": 2.5, "vip": False}
    stored = martech_store.con.execute(
        "SELECT json_type(traits->'$.score') FROM profiles WHERE id = 'c1'"
    ).fetchall()
    assert stored == [("DOUBLE",)]  # 7 pinned as a number is stored as one, not as an integer


def test_a_value_that_does_not_fit_its_pinned_type_rejects_its_row(martech_store, tmp_path):
    f = write(
        tmp_path / "p.csv",
        "id,age,score,vip\n"
        "ok,30,1.5,true\n"
        "a,thirty,1,yes\n"
        "b,1.5,1,yes\n"
        "c,40,lots,yes\n"
        "d,40,1e999,yes\n"
        "e,40,1,maybe\n"
        "f,99999999999999999999,1,no\n",
    )
    s = import_file(
        martech_store, "profiles", f, types={"age": "int", "score": "number", "vip": "bool"}
    )
    assert (s.imported, s.rejected) == (1, 6)
    assert rejects(s) == {
        3: "trait age (column 'age'): 'thirty' is not an integer (its type is pinned to int)",
        4: "trait age (column 'age'): '1.5' is not an integer (its type is pinned to int)",
        5: "trait score (column 'score'): 'lots' is not a number (its type is pinned to number)",
        6: "trait score (column 'score'): '1e999' is not a finite number (its type is pinned "
        "to number)",
        7: "trait vip (column 'vip'): 'maybe' is not true/false, yes/no or 1/0 (its type is "
        "pinned to bool)",
        8: "trait age (column 'age'): '[phone]' is too large for an integer (its type is "
        "pinned to int)",
    }
    assert martech_store.get_profile("ok").traits == {"age": 30, "score": 1.5, "vip": True}


def test_event_properties_take_pinned_types_and_jsonl_values_too(martech_store, tmp_path):
    f = write(
        tmp_path / "e.jsonl",
        '{"profile_id":"p","type":"view","ts":"2026-01-01T00:00:00Z","zip":2134,"qty":"3"}\n'
        '{"profile_id":"p","type":"view","ts":"2026-01-02T00:00:00Z","zip":"02134","qty":"x"}\n',
    )
    s = import_file(martech_store, "events", f, types={"zip": "text", "qty": "int"})
    assert (s.inserted, s.rejected) == (1, 1)
    props = martech_store.con.execute("SELECT properties::VARCHAR FROM events").fetchall()
    assert orjson.loads(props[0][0]) == {"zip": "2134", "qty": 3}
    assert rejects(s) == {
        2: "property qty (column 'qty'): 'x' is not an integer (its type is pinned to int)"
    }


@pytest.mark.parametrize(
    ("types", "message"),
    [
        ({"zip": "txt"}, "type of column 'zip': 'txt' is not one of text, int, number, bool"),
        ({"postcode": "text"}, "type of column 'postcode': the column is not in the file"),
        (
            {"email": "text"},
            "type of column 'email': only trait columns take a type; it is mapped to email",
        ),
    ],
    ids=["unknown-type", "missing-column", "fixed-target"],
)
def test_a_bad_type_pin_is_an_error_naming_the_column_before_anything_is_written(
    martech_store, tmp_path, types, message
):
    f = write(tmp_path / "p.csv", "id,email,zip\nc1,a@x.io,02134\n")
    with pytest.raises(MappingError, match="^" + message) as caught:
        import_file(martech_store, "profiles", f, types=types)
    assert caught.value.field == next(iter(types))
    assert martech_store.count("profiles") == 0


def test_a_column_dropped_by_ignore_extra_cannot_take_a_type(martech_store, tmp_path):
    f = write(tmp_path / "p.csv", "id,zip\nc1,02134\n")
    with pytest.raises(MappingError, match="it is not imported"):
        import_file(martech_store, "profiles", f, extra="ignore", types={"zip": "int"})


def test_type_aliases_flags_and_a_mapping_files_types(tmp_path):
    m = write(
        tmp_path / "map.yaml",
        "columns:\n  id: cid\ntypes:\n  zip: string\n  age: integer\n",
    )
    assert load_mapping(m) == ({"id": "cid"}, "keep")
    assert load_types(m, ["age=float", "vip=boolean"]) == {
        "zip": "text",
        "age": "number",
        "vip": "bool",
    }
    flat = write(tmp_path / "flat.yaml", "id: cid\ntypes:\n  zip: text\n")
    assert load_mapping(flat) == ({"id": "cid"}, "keep")
    assert load_types(flat) == {"zip": "text"}
    with pytest.raises(MappingError, match=r"^--type 'zip': expected column=type, e\.g\. zip=text"):
        load_types(None, ["zip"])
    with pytest.raises(MappingError, match="'txt' is not one of text, int, number, bool"):
        load_types(None, ["zip=txt"])
    bad = write(tmp_path / "bad.yaml", "columns:\n  id: cid\ntypes: [zip]\n")
    with pytest.raises(MappingError, match="'types' must be a mapping of column: type"):
        load_types(bad)


def test_cli_import_type_flags(tmp_path, capsys):
    f = write(tmp_path / "p.csv", "id,zip,age\nc1,10001,34\nc2,94105,x\n")
    home = str(tmp_path / "home")
    code = main(["--home", home, "import", "profiles", str(f), "--type", "zip=text",
                 "--type", "age=int", "--json"])  # fmt: skip
    assert code == 0
    out = orjson.loads(capsys.readouterr().out)
    assert (out["imported"], out["rejected"]) == (1, 1)
    code = main(["--home", home, "profiles", "show", "c1", "--json"])
    assert code == 0
    assert orjson.loads(capsys.readouterr().out)["traits"] == {"zip": "10001", "age": 34}
    code = main(["--home", home, "import", "profiles", str(f), "--type", "zip"])
    assert code == 2
    assert "--type 'zip': expected column=type" in capsys.readouterr().err
    code = main(["--home", home, "import", "events", str(f), "--type", "zip=date"])
    assert code == 2
    assert "'date' is not one of text, int, number, bool" in capsys.readouterr().err
