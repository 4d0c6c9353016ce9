"""File import edge cases a nightly load meets: what a reject file may say, odd CSV shapes,
and what is kept when a file is imported twice."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from martech.errors import ValidationError
from martech_plugins.files.importer import import_file


def rejects(summary) -> dict[int, dict]:
    assert summary.rejects_file is not None
    lines = Path(summary.rejects_file).read_text().splitlines()
    return {r["row"]: r for r in map(orjson.loads, lines)}


def test_a_reject_reason_quoting_the_value_masks_emails_and_phones(martech_store, tmp_path):
    # Shifted columns put an email in the ts, value or type column: the reason quotes the value,
    # and the reject file promises no emails and no phone numbers.
    csv = tmp_path / "events.csv"
    csv.write_text(
        "profile_id,type,ts,value\n"
        "p1,view,jane@example.com,1\n"
        "p1,view,2026-01-01T10:00:00Z,+1 415 555 0100\n"
        "p1,jane@example.com,2026-01-01T10:00:00Z,1\n"
        "p1,view,2026-01-01,1\n"
    )
    summary = import_file(martech_store, "events", csv, strict=True)
    by_row = rejects(summary)
    text = Path(summary.rejects_file).read_text()
    assert "jane@example.com" not in text
    assert "415 555 0100" not in text
    assert by_row[2]["reason"] == "timestamp '[email]' (column ts) is not ISO 8601"
    assert by_row[3]["reason"] == "value '[phone]' (column value) is not a number"
    assert by_row[4]["reason"].startswith("unknown event type '[email]' (column type, strict")
    # A date stays readable: the reason still shows what to write instead.
    assert "'2026-01-01'" in by_row[5]["reason"]
    assert "2026-01-01T00:00:00Z" in by_row[5]["reason"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_line_longer_than_the_readers_buffer_is_rejected_not_silently_lost(
    martech_store, tmp_path, fmt
):
    # DuckDB's reader, keeping rejects, skipped a line of more than ~31 MB without a word: the
    # summary counted one row fewer than the file had and rejected none. A 3 MB line was
    # reported "line too long" all along; a 40 MB one must be too.
    big = "x" * (40 << 20)
    path = tmp_path / f"people.{fmt}"
    if fmt == "csv":
        path.write_text(f"id,note\na,1\nhuge,{big}\nz,2\n")
    else:
        path.write_text(
            '{"id": "a"}\n' + orjson.dumps({"id": "huge", "note": big}).decode() + '\n{"id": "z"}\n'
        )
    del big
    summary = import_file(martech_store, "profiles", path)
    assert (summary.rows, summary.imported, summary.rejected) == (3, 2, 1)
    (reject,) = rejects(summary).values()
    assert reject["row"] == (3 if fmt == "csv" else 2)
    assert reject["reason"] == "line too long"
    assert martech_store.get_profile("z") is not None


def test_csv_headers_differing_only_by_case_are_read_as_two_columns(martech_store, tmp_path):
    # An export with "name" and "Name" (two systems' fields side by side): DuckDB's column
    # names ignore case, so the file could not be read at all ("Duplicate named argument").
    csv = tmp_path / "people.csv"
    csv.write_text("id,name,Name,name\np1,first,second,third\n")
    summary = import_file(martech_store, "profiles", csv)
    assert (summary.imported, summary.rejected) == (1, 0)
    assert martech_store.get_profile("p1").traits == {
        "name": "first",
        "Name_": "second",
        "name__": "third",
    }


def test_parquet_nanosecond_timestamps_with_a_zone_are_read(martech_store, tmp_path):
    # pandas writes tz-aware datetimes as timestamp[ns, tz] (TIMESTAMPTZ_NS to DuckDB): a
    # timestamp with a zone all the same, refused as "expected a timestamp with time zone".
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    when = dt.datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=dt.UTC)
    path = tmp_path / "events.parquet"
    pq.write_table(
        pa.table(
            {
                "profile_id": ["a", "b"],
                "type": ["view", "view"],
                "ts": pa.array([when, None], type=pa.timestamp("ns", tz="Europe/Oslo")),
            }
        ),
        path,
    )
    summary = import_file(martech_store, "events", path)
    assert (summary.imported, summary.rejected) == (1, 1)
    assert rejects(summary)[2]["reason"] == "missing timestamp (column 'ts')"
    stored = martech_store.con.execute("SELECT ts FROM events").fetchall()
    assert stored[0][0].astimezone(dt.UTC) == when
    # Naive nanoseconds stay refused, as naive microseconds are.
    naive = tmp_path / "naive.parquet"
    pq.write_table(
        pa.table({"profile_id": ["a"], "type": ["view"], "ts": pa.array([1], pa.timestamp("ns"))}),
        naive,
    )
    with pytest.raises(ValidationError, match="without a time zone"):
        import_file(martech_store, "events", naive)


def test_an_epoch_timestamp_is_rejected_saying_it_is_one(martech_store, tmp_path):
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text(
        '{"profile_id": "a", "type": "view", "ts": 1767261600}\n'
        '{"profile_id": "a", "type": "view", "ts": "1767261600123"}\n'
        '{"profile_id": "a", "type": "view", "ts": "2026-01-01T10:00:00+05:30"}\n'
        '{"profile_id": "a", "type": "view", "ts": "yesterday"}\n'
    )
    summary = import_file(martech_store, "events", jsonl)
    assert (summary.imported, summary.rejected) == (1, 3)
    by_row = rejects(summary)
    assert by_row[1]["reason"].startswith("timestamp (column ts) is a number, not ISO 8601 text")
    assert by_row[2]["reason"] == by_row[1]["reason"]
    assert by_row[4]["reason"] == "timestamp 'yesterday' (column ts) is not ISO 8601"


@pytest.mark.parametrize(
    "text",
    [
        '[\n  {"id": "a", "email": "a@example.com"},\n  {"id": "b"}\n]\n',
        '\ufeff  [{"id": "a"}, {"id": "b"}]',
    ],
)
def test_a_json_array_file_is_refused_before_anything_is_written(martech_store, tmp_path, text):
    # A .json export is often one array, pretty-printed: read as JSON Lines, every line ending
    # in a comma was rejected and the last record imported, a partial import that succeeded.
    path = tmp_path / "people.json"
    path.write_text(text)
    with pytest.raises(ValidationError, match=r"people\.json holds a JSON array, not JSON Lines"):
        import_file(martech_store, "profiles", path)
    assert martech_store.count("profiles") == 0
    assert not (tmp_path / "people.json.rejects.jsonl").exists()
