"""File import: mapping, every bad-input case, reject file contents and counts, idempotence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from martech.cli import main
from martech.errors import MappingError, ValidationError
from martech.population import generate, write_files, write_store
from martech.store import Store
from martech_plugins.files.importer import import_file, load_mapping

AS_OF = datetime(2026, 11, 23, tzinfo=UTC)


def rejects(summary) -> list[dict]:
    assert summary.rejects_file is not None
    return [orjson.loads(x) for x in Path(summary.rejects_file).read_text().splitlines()]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


CSV = """customer_id,Email,Mobile,FirstName,age,zip,opt_in
c1,Ann@Example.com,(415) 555-0123,Ann,34,02134,yes
c2,bob@example.com,,Bob,51,10001,no
,nobody@example.com,+14155550199,Nemo,40,94105,yes
c4,not-an-email,,Dee,28,60601,1
c5,eve@example.com,12,Eve,33,73301,0
c6,fay@example.com,,Fay,45,30301,maybe
"""


def test_csv_profiles_with_flag_mapping_typed_traits_and_rejects(martech_store, tmp_path):
    f = write(tmp_path / "crm.csv", CSV)
    mapping, extra = load_mapping(
        None,
        ["id=customer_id", "email=Email", "phone=Mobile", "traits.first_name=FirstName",
         "consent.email=opt_in"],
    )  # fmt: skip
    s = import_file(martech_store, "profiles", f, mapping=mapping, extra=extra)
    assert (s.rows, s.imported, s.inserted, s.updated, s.rejected) == (6, 2, 2, 0, 4)
    ann = martech_store.get_profile("c1")
    assert ann.identities == {"email": "ann@example.com", "phone": "+14155550123"}
    assert ann.traits == {"first_name": "Ann", "age": 34, "zip": "02134"}  # leading zero kept
    assert ann.consent == {"email": True}
    assert martech_store.get_profile("c2").consent == {"email": False}
    bad = {r["row"]: r for r in rejects(s)}
    assert sorted(bad) == [4, 5, 6, 7]  # file lines (header is line 1)
    assert bad[4]["reason"] == "missing id (column 'customer_id')"
    assert bad[5]["reason"] == "invalid email (column 'Email')"
    assert "invalid phone number (column 'Mobile')" in bad[6]["reason"]
    assert "consent email (column 'opt_in')" in bad[7]["reason"]
    # The rejected row is kept, with emails and phones redacted.
    assert bad[4]["record"]["FirstName"] == "Nemo"
    assert bad[4]["record"]["Email"] == "[redacted]"
    assert bad[4]["record"]["Mobile"] == "[redacted]"
    text = Path(s.rejects_file).read_text()
    assert "nobody@example.com" not in text
    assert "4155550199" not in text


def test_reimporting_profiles_updates_instead_of_duplicating(martech_store, tmp_path):
    f = write(tmp_path / "p.csv", "id,email,plan\na,a@x.io,free\nb,b@x.io,pro\n")
    first = import_file(martech_store, "profiles", f)
    again = import_file(martech_store, "profiles", f)
    assert (first.inserted, first.updated) == (2, 0)
    assert (again.inserted, again.updated, again.rejected) == (0, 2, 0)
    assert martech_store.count("profiles") == 2


def test_profiles_sharing_an_email_merge_into_one(martech_store, tmp_path):
    f = write(tmp_path / "p.jsonl", '{"id": "x1", "email": "Sam@x.io", "city": "Oslo"}\n')
    g = write(tmp_path / "q.jsonl", '{"id": "x2", "email": "sam@x.io", "age": 40}\n')
    import_file(martech_store, "profiles", f)
    import_file(martech_store, "profiles", g)
    assert martech_store.count("profiles") == 1
    assert martech_store.resolve("email", "SAM@x.io") == "x1"
    assert martech_store.get_profile("x1").traits == {"city": "Oslo", "age": 40}


EVENTS = """user,event,sku,when,amount,channel
u1,view,SKU-1,2026-01-05T10:00:00Z,,web
u1,purchase,SKU-1,2026-01-05T12:30:00+02:00,59.90,web
u2,view,SKU-2,2026-01-06T08:00:00,,app
u2,teleport,,2026-01-06T09:00:00Z,,app
,view,SKU-3,2026-01-06T09:00:00Z,,web
u3,purchase,SKU-4,2026-01-07T09:00:00Z,lots,web
u3,view,SKU-4,yesterday,,web
"""


def test_csv_events_naive_timestamp_bad_value_missing_profile_rejected(martech_store, tmp_path):
    f = write(tmp_path / "ev.csv", EVENTS)
    maps = ["profile_id=user", "type=event", "item_id=sku", "ts=when", "value=amount"]
    s = import_file(martech_store, "events", f, mapping=load_mapping(None, maps)[0])
    assert (s.rows, s.imported, s.rejected) == (7, 3, 4)  # 'teleport' allowed: not strict
    bad = {r["row"]: r["reason"] for r in rejects(s)}
    assert "naive timestamp '2026-01-06T08:00:00' (column when)" in bad[4]
    assert bad[6] == "missing profile id (column 'user')"
    assert "'lots' (column amount) is not a number" in bad[7]
    assert "(column when) is not ISO 8601" in bad[8]
    assert martech_store.get_profile("u1") is None  # events may arrive before their profile
    rows = martech_store.con.execute(
        "SELECT timezone('UTC', ts), value, properties FROM events WHERE type = 'purchase'"
    ).fetchall()
    assert rows[0][0] == datetime(2026, 1, 5, 10, 30)  # +02:00 converted to UTC
    assert rows[0][1] == pytest.approx(59.9)
    assert orjson.loads(rows[0][2]) == {"channel": "web"}


def test_strict_mode_rejects_unknown_event_types(martech_store, tmp_path):
    f = write(tmp_path / "ev.csv", EVENTS)
    maps = ["profile_id=user", "type=event", "item_id=sku", "ts=when", "value=amount"]
    s = import_file(martech_store, "events", f, mapping=load_mapping(None, maps)[0], strict=True)
    bad = {r["row"]: r["reason"] for r in rejects(s)}
    assert bad[5].startswith("unknown event type 'teleport' (column event, strict mode")
    assert s.imported == 2


def test_reimporting_events_adds_nothing(martech_store, tmp_path):
    f = write(
        tmp_path / "ev.jsonl", '{"profile_id":"a","type":"view","ts":"2026-01-01T00:00:00Z"}\n'
    )
    assert import_file(martech_store, "events", f).inserted == 1
    again = import_file(martech_store, "events", f)
    assert (again.inserted, again.duplicates) == (0, 1)
    assert martech_store.count("events") == 1


def test_mapping_naming_a_missing_column_is_an_error_naming_it(martech_store, tmp_path):
    f = write(tmp_path / "p.csv", "id,email\na,a@x.io\n")
    with pytest.raises(MappingError, match="column 'Mail' is not in the file"):
        import_file(martech_store, "profiles", f, mapping={"email": "Mail"})
    with pytest.raises(MappingError, match="'colour' is not one of"):
        import_file(martech_store, "profiles", f, mapping={"colour": "email"})
    assert martech_store.count("profiles") == 0


def test_file_without_an_id_column_is_an_error(martech_store, tmp_path):
    f = write(tmp_path / "p.csv", "name,email\nA,a@x.io\n")
    with pytest.raises(MappingError, match="no id column: name one with --map id=COLUMN"):
        import_file(martech_store, "profiles", f)


def test_truncated_csv_keeps_good_rows_and_rejects_the_cut_row(martech_store, tmp_path):
    f = write(tmp_path / "p.csv", "id,email,city\na,a@x.io,Oslo\nb,b@x.io,Rome\nc,c@x.")
    s = import_file(martech_store, "profiles", f)
    assert (s.imported, s.rejected) == (2, 1)
    (bad,) = rejects(s)
    assert bad["row"] == 4
    assert (
        "too few columns: expected 3 columns, found 2 (the file may be truncated)" in bad["reason"]
    )
    assert bad["record"] == {"line": "c,c@x."}  # the cut line is kept as it was


def test_jsonl_invalid_and_truncated_lines_are_rejected(martech_store, tmp_path):
    f = write(
        tmp_path / "p.jsonl",
        '{"id": "a", "email": "a@x.io"}\n[1, 2]\n'
        '{"id": "b", "phone": "+14155550123"}\n{"id": "c", "em',
    )
    s = import_file(martech_store, "profiles", f)
    assert (s.imported, s.rejected) == (2, 2)
    bad = {r["row"]: r["reason"] for r in rejects(s)}
    assert bad == {2: "not a JSON object", 4: "invalid JSON (the file may be truncated)"}
    assert martech_store.resolve("phone", "+1 415 555 0123") == "b"


def test_parquet_with_a_wrong_column_type_is_an_error_naming_it(martech_store, tmp_path):
    f = tmp_path / "ev.parquet"
    pq.write_table(
        pa.table(
            {
                "profile_id": ["a"],
                "type": ["purchase"],
                "ts": pa.array([AS_OF], pa.timestamp("us", tz="UTC")),
                "value": ["12.5"],
            }
        ),
        f,
    )
    with pytest.raises(
        ValidationError, match=r"column 'value' .*Parquet type VARCHAR; expected a number"
    ):
        import_file(martech_store, "events", f)
    assert martech_store.count("events") == 0


def test_parquet_naive_timestamps_are_an_error(martech_store, tmp_path):
    f = tmp_path / "ev.parquet"
    naive = pa.array([datetime(2026, 1, 1)], pa.timestamp("us"))
    pq.write_table(pa.table({"profile_id": ["a"], "type": ["view"], "ts": naive}), f)
    with pytest.raises(ValidationError, match=r"column 'ts' .*without a time zone"):
        import_file(martech_store, "events", f)


def test_parquet_round_trip_equals_writing_the_population_directly(tmp_path):
    pop = generate(800, 3, as_of=AS_OF)
    paths = write_files(pop, tmp_path / "files", "parquet")
    with Store(tmp_path / "a.duckdb") as a, Store(tmp_path / "b.duckdb") as b:
        write_store(a, pop)
        ps = import_file(b, "profiles", paths["profiles"])
        es = import_file(b, "events", paths["events"])
        n = pop.events.num_rows  # the population repeats no event key: every row is stored
        assert (ps.inserted, ps.rejected, es.inserted, es.rejected) == (800, 0, n, 0)
        assert es.repeated == es.duplicates == 0
        assert a.count("events") == n
        for q in (
            "SELECT id, traits::VARCHAR, consent::VARCHAR FROM profiles ORDER BY id",
            "SELECT * FROM identities ORDER BY ALL",
            "SELECT DISTINCT profile_id, type, item_id, ts, value, properties::VARCHAR "
            "FROM events ORDER BY ALL",
        ):
            left = [(r[0], *map(_canon, r[1:])) for r in a.con.execute(q).fetchall()]
            right = [(r[0], *map(_canon, r[1:])) for r in b.con.execute(q).fetchall()]
            assert left == right


def _canon(value):
    """JSON text compared as data (key order may differ)."""
    if isinstance(value, str) and value.startswith("{"):
        return orjson.loads(value)
    return value


def test_mapping_file_yaml_and_ignore_extra(martech_store, tmp_path):
    f = write(tmp_path / "p.csv", "cid,mail,nick,secret\nq1,q@x.io,Q,s3\n")
    m = write(
        tmp_path / "map.yaml",
        "columns:\n  id: cid\n  email: mail\n  traits.nickname: nick\nextra: ignore\n",
    )
    mapping, extra = load_mapping(m)
    import_file(martech_store, "profiles", f, mapping=mapping, extra=extra)
    assert martech_store.get_profile("q1").traits == {"nickname": "Q"}


def test_cli_import_summary_json_and_errors(tmp_path, capsys):
    f = write(tmp_path / "p.csv", "id,email\na,a@x.io\n,b@x.io\n")
    home = str(tmp_path / "home")
    code = main(["--home", home, "import", "profiles", str(f), "--json",
                 "--rejects", str(tmp_path / "r.jsonl")])  # fmt: skip
    assert code == 0
    out = orjson.loads(capsys.readouterr().out)
    assert (out["imported"], out["inserted"], out["rejected"]) == (1, 1, 1)
    assert out["rejects_file"] == str(tmp_path / "r.jsonl")
    code = main(["--home", home, "import", "profiles", str(f), "--map", "email=nope"])
    assert code == 2
    assert "column 'nope' is not in the file" in capsys.readouterr().err
    code = main(["--home", home, "import", "events", str(tmp_path / "missing.csv")])
    assert code != 0
    assert "no such file" in capsys.readouterr().err


def test_plugins_json_lists_the_file_source(capsys):
    assert main(["plugins", "--json"]) == 0
    plugins = {p["name"]: p for p in orjson.loads(capsys.readouterr().out)["plugins"]}
    assert plugins["files"]["error"] is None
    assert "martech_register_commands" in plugins["files"]["hooks"]


def test_unterminated_quote_rejects_the_rest_of_the_file_keeping_its_text(martech_store, tmp_path):
    f = write(tmp_path / "p.csv", 'id,email,city\na,a@x.io,Oslo\nb,b@x.io,"Rome\nc,c@x.io,Bonn\n')
    s = import_file(martech_store, "profiles", f)
    assert (s.imported, s.rejected) == (1, 1)
    (bad,) = rejects(s)
    assert bad["row"] == 3
    assert bad["reason"] == "badly quoted value (column 'city')"
    assert bad["record"]["line"] == 'b,[email],"Rome\nc,[email],Bonn\n'


def test_an_empty_file_is_an_error(martech_store, tmp_path):
    with pytest.raises(ValidationError, match=r"p\.csv is empty"):
        import_file(martech_store, "profiles", write(tmp_path / "p.csv", ""))


def test_parquet_typed_columns_missing_values_are_rejected_by_row(martech_store, tmp_path):
    f = tmp_path / "ev.parquet"
    ts = pa.array([AS_OF, None, AS_OF, AS_OF], pa.timestamp("us", tz="UTC"))
    pq.write_table(
        pa.table(
            {
                "profile_id": pa.array([1, 2, None, 4], pa.int64()),
                "type": ["view", "view", "view", "  "],
                "ts": ts,
                "value": pa.array([1.5, None, None, None], pa.float64()),
                "properties": ['{"a": 1}', None, None, "[1]"],
            }
        ),
        f,
    )
    s = import_file(martech_store, "events", f)
    assert (s.rows, s.imported, s.rejected) == (4, 1, 3)
    bad = {r["row"]: r for r in rejects(s)}
    assert bad[2]["reason"] == "missing timestamp (column 'ts')"
    assert bad[3]["reason"] == "missing profile id (column 'profile_id')"
    assert bad[4]["reason"] == "missing event type (column 'type')"  # blank text is missing
    assert bad[2]["record"]["profile_id"] == "2"
    rows = martech_store.con.execute("SELECT profile_id, value, properties FROM events").fetchall()
    assert [(r[0], r[1], orjson.loads(r[2])) for r in rows] == [("1", 1.5, {"a": 1})]


def test_parquet_boolean_consent_and_typed_traits(martech_store, tmp_path):
    f = tmp_path / "p.parquet"
    pq.write_table(
        pa.table(
            {
                "id": pa.array([7, 8], pa.int64()),
                "email": ["A@x.io", None],
                "consent_email": pa.array([True, None], pa.bool_()),
                "consent_sms": pa.array([False, True], pa.bool_()),
                "age": pa.array([30, None], pa.int64()),
                "vip": pa.array([None, True], pa.bool_()),
            }
        ),
        f,
    )
    s = import_file(martech_store, "profiles", f)
    assert (s.imported, s.rejected) == (2, 0)
    a, b = martech_store.get_profile("7"), martech_store.get_profile("8")
    assert (a.consent, a.traits, a.identities) == (
        {"email": True, "sms": False}, {"age": 30}, {"email": "a@x.io"},
    )  # fmt: skip
    assert (b.consent, b.traits, b.identities) == ({"sms": True}, {"vip": True}, {})


def _contents(store: Store) -> list[list[tuple]]:
    queries = (
        "SELECT id, traits::VARCHAR, consent::VARCHAR FROM profiles WHERE id <> 'zz' ORDER BY id",
        "SELECT * FROM identities WHERE profile_id <> 'zz' ORDER BY ALL",
        "SELECT * FROM profile_aliases ORDER BY ALL",
        "SELECT profile_id, type, item_id, ts, value, properties::VARCHAR FROM events "
        "WHERE profile_id <> 'zz' ORDER BY ALL",
    )
    return [[tuple(map(_canon, r)) for r in store.con.execute(q).fetchall()] for q in queries]


def test_import_into_an_empty_store_equals_the_general_path(tmp_path):
    """An empty store takes the first-load paths (no identity joins, keys built after the load,
    no duplicate check against stored events); a store holding one unrelated profile and event
    takes the general ones. Both must end up with the same profiles, identities and events."""
    pop = generate(300, 5, as_of=AS_OF)
    paths = write_files(pop, tmp_path / "files", "parquet")
    extra = write(
        tmp_path / "more.csv",
        "id,email,phone,city\nm1,Dup@x.io,,Oslo\nm2,dup@x.io,+14155550100,Rome\n"
        "m3,bad-email,,Bonn\nm4,m4@x.io,,Lyon\n",
    )
    events = write(
        tmp_path / "more.jsonl",
        '{"profile_id":"m2","type":"view","ts":"2026-01-01T00:00:00Z"}\n'
        '{"profile_id":"m1","type":"view","ts":"2026-01-02T00:00:00Z","properties":{"a":1}}\n'
        '{"profile_id":"m3","type":"view"}\n',
    )
    summaries = []
    with Store(tmp_path / "empty.duckdb") as a, Store(tmp_path / "seeded.duckdb") as b:
        b.upsert_profiles(
            pa.table({"id": ["zz"], "traits": ["{}"], "consent": ["{}"],
                      "identities": ['{"email": "zz@x.io"}']})
        )  # fmt: skip
        b.con.execute("INSERT INTO events VALUES ('zz', 'view', NULL, now(), NULL, NULL)")
        for store in (a, b):
            summaries.append(
                [
                    (s.inserted, s.updated, s.duplicates, s.rejected)
                    for s in (
                        import_file(store, "profiles", paths["profiles"]),
                        import_file(store, "events", paths["events"]),
                        import_file(store, "profiles", extra, rejects=tmp_path / "r1.jsonl"),
                        import_file(store, "events", events, rejects=tmp_path / "r2.jsonl"),
                        import_file(store, "events", paths["events"]),
                    )
                ]
            )
        assert summaries[0] == summaries[1]
        n = pop.events.num_rows
        assert summaries[0][:2] == [(300, 0, 0, 0), (n, 0, 0, 0)]
        assert summaries[0][2:] == [(2, 0, 0, 1), (2, 0, 0, 1), (0, 0, n, 0)]
        assert _contents(a) == _contents(b)
        assert a.resolve("phone", "+14155550100") == a.resolve("email", "dup@x.io") == "m1"
        assert a.get_profile("m1").traits == {"city": "Rome"}  # the later row wins
        assert a.count("profiles") == 302
        m1 = a.get_profile("m1").events
        assert [(e.ts.day, e.properties) for e in m1] == [(1, {}), (2, {"a": 1})]  # m2's went to m1


def test_a_phone_column_named_like_the_staging_columns_is_reported_by_its_name(
    martech_store, tmp_path
):
    f = write(tmp_path / "p.csv", "id,mobile_phone,email_phone\na,12,x\nb,+1 415 555 0123,y\n")
    s = import_file(martech_store, "profiles", f)
    assert (s.imported, s.rejected) == (1, 1)
    (bad,) = rejects(s)
    assert bad["reason"] == (
        "invalid phone number (column 'mobile_phone'); expected E.164 (+1415…) or a national "
        "number of region US (MARTECH_DEFAULT_REGION)"
    )
    b = martech_store.get_profile("b")
    assert (b.identities, b.traits) == ({"phone": "+14155550123"}, {"email_phone": "y"})


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        # email/phone columns (checked by the importer) plus an external id: a STRUCT of columns
        (
            ["id=id", "email=mail", "phone=tel", "identities.crm=crm"],
            {"email": "ann@x.io", "phone": "+14155550100", "crm": "C-1"},
        ),
        # identities.email skips the importer's email check: the store normalizes it
        (
            ["id=id", "identities.email=mail", "identities.crm=crm"],
            {"email": "ann@x.io", "crm": "C-1"},
        ),
        # a kind named twice in two cases: a JSON object, still normalized by the store
        (
            ["id=id", "email=mail", "identities.Email=mail"],
            {"email": "ann@x.io", "Email": "Ann@X.io"},
        ),
    ],
    ids=["columns", "identities-email", "kind-twice"],
)
def test_identities_reach_the_store_normalized_whichever_way_they_are_mapped(
    martech_store, tmp_path, mapping, expected
):
    f = write(tmp_path / "p.csv", "id,mail,tel,crm\na, Ann@X.io ,(415) 555-0100, C-1 \n")
    m, _ = load_mapping(None, mapping)
    s = import_file(martech_store, "profiles", f, mapping=m, extra="ignore")
    assert (s.imported, s.rejected) == (1, 0)
    stored = dict(martech_store.con.execute("SELECT kind, value FROM identities").fetchall())
    assert stored == expected
    assert martech_store.resolve("email", "ANN@x.io") == "a"


def test_a_jsonl_identity_column_is_trimmed_and_a_blank_one_dropped(martech_store, tmp_path):
    """JSONL values are not trimmed when read (CSV ones are): an ``identities.<kind>`` column
    still reaches the store trimmed, and a blank value is no identity at all."""
    f = write(
        tmp_path / "p.jsonl",
        '{"id": "a", "crm": " C-1 "}\n{"id": "b", "crm": "   "}\n{"id": "c", "crm": "C-1"}\n',
    )
    m, _ = load_mapping(None, ["id=id", "identities.crm=crm"])
    s = import_file(martech_store, "profiles", f, mapping=m, extra="ignore")
    assert (s.imported, s.rejected) == (3, 0)
    stored = martech_store.con.execute("SELECT kind, value, profile_id FROM identities").fetchall()
    assert stored == [("crm", "C-1", "a")]  # c merged into a by the same id
    assert martech_store.resolve("crm", "C-1") == "a"


def test_the_summary_says_what_became_of_every_row(martech_store, tmp_path):
    """4 rows, 2 new profiles: one row repeats an id, another is a person already in the file
    under another id. The summary says so instead of leaving the counts not adding up."""
    f = tmp_path / "p.csv"
    f.write_text(
        "id,email,city\nA,a@x.com,Oslo\nB,b@x.com,Rome\nA,a@x.com,Bergen\nC,a@x.com,Paris\n"
    )
    s = import_file(martech_store, "profiles", f)
    assert (s.imported, s.inserted, s.updated, s.merged, s.repeated) == (4, 2, 0, 1, 1)
    assert martech_store.get_profile("C").id == "A"
    assert martech_store.count("profiles") == 2


@pytest.mark.parametrize("where", ["folder", "under_a_file"])
def test_cli_import_refuses_a_rejects_path_it_cannot_write_before_importing(
    tmp_path, capsys, where
):
    f = write(tmp_path / "p.csv", "id,email\na,a@x.io\n,b@x.io\n")
    home = tmp_path / "home"
    (tmp_path / "afile").write_text("x")
    rejects = tmp_path if where == "folder" else tmp_path / "afile" / "r.jsonl"
    code = main(["--home", str(home), "import", "profiles", str(f), "--rejects", str(rejects)])
    assert code == 2
    err = capsys.readouterr().err
    assert "--rejects" in err
    assert "Traceback" not in err
    assert not home.exists()  # refused before the store was made or written


def test_with_skip_repeats_identical_events_within_one_file_are_stored_once(
    martech_store, tmp_path
):
    """``skip_repeats``: the event key (profile, type, item, time) de-duplicates rows of one
    file as it does a re-import: the first row of the file is kept, later ones count as
    duplicates. Without it each row is an event (test below)."""
    f = write(
        tmp_path / "ev.csv",
        "profile_id,type,item_id,ts,value\n"
        "p1,purchase,i1,2026-01-01T10:00:00Z,5\n"
        "p1,purchase,i1,2026-01-01T11:00:00+01:00,7\n"  # the same instant, later in the file
        "p1,purchase,i1,2026-01-01T10:00:00Z,5\n"
        "p1,view,,2026-01-01T10:00:00Z,\n"
        "p1,view,,2026-01-01T10:00:00Z,\n"  # no item: still the same event
        "p1,view,i1,2026-01-01T10:00:00Z,\n"
        "p2,view,,2026-01-01T10:00:00Z,\n",
    )
    s = import_file(martech_store, "events", f, skip_repeats=True)
    assert (s.rows, s.imported, s.inserted, s.duplicates, s.repeated) == (7, 4, 4, 3, 3)
    assert martech_store.count("events") == 4
    values = martech_store.con.execute(
        "SELECT value FROM events WHERE type = 'purchase'"
    ).fetchall()
    assert values == [(5.0,)]  # the file's first row of the event
    again = import_file(martech_store, "events", f, skip_repeats=True)
    assert (again.inserted, again.duplicates, again.repeated) == (0, 7, 3)


def test_by_default_identical_rows_of_one_file_are_two_events_and_a_reimport_adds_none(
    martech_store, tmp_path
):
    """Two views in the same second are two views; importing the file again adds nothing."""
    f = write(
        tmp_path / "ev.csv",
        "profile_id,type,ts\np,view,2026-01-01T10:00:00Z\np,view,2026-01-01T10:00:00Z\n",
    )
    s = import_file(martech_store, "events", f)
    assert (s.inserted, s.duplicates, s.repeated) == (2, 0, 0)
    again = import_file(martech_store, "events", f)
    assert (again.inserted, again.duplicates, again.repeated) == (0, 2, 0)
    assert martech_store.count("events") == 2


def test_with_skip_repeats_events_of_a_merged_profile_under_both_ids_are_one_event(
    martech_store, tmp_path
):
    people = write(tmp_path / "p.csv", "id,email\nA,a@x.com\nC,a@x.com\n")
    import_file(martech_store, "profiles", people)  # C is A under another id
    f = write(
        tmp_path / "ev.csv",
        "profile_id,type,ts\nA,view,2026-01-01T10:00:00Z\nC,view,2026-01-01T10:00:00Z\n",
    )
    s = import_file(martech_store, "events", f, skip_repeats=True)
    assert (s.inserted, s.duplicates, s.repeated) == (1, 1, 1)
    assert martech_store.con.execute("SELECT profile_id FROM events").fetchall() == [("A",)]


def test_cli_events_summary_names_repeats_in_the_file_apart_from_the_store(tmp_path, capsys):
    f = write(
        tmp_path / "ev.csv",
        "profile_id,type,ts\np,view,2026-01-01T10:00:00Z\np,view,2026-01-01T10:00:00Z\n",
    )
    home = str(tmp_path / "home")
    assert main(["--home", home, "import", "events", str(f), "--skip-repeats"]) == 0
    out = capsys.readouterr().out
    assert "imported 1 of 2 rows" in out
    assert "1 added, 0 already in the store, 1 repeating an event earlier in the file" in out
    assert main(["--home", home, "import", "events", str(f), "--skip-repeats"]) == 0
    out = capsys.readouterr().out
    assert "0 added, 1 already in the store, 1 repeating an event earlier in the file" in out
