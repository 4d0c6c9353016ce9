"""Reading CSV, JSONL and Parquet files into DuckDB, row numbers kept, parse errors collected.

Each reader leaves a temp table ``_mt_src`` on the connection with ``_rn`` (the row number shown
in reject files: the file's line for CSV and JSONL, the 1-based row for Parquet) and the file's
columns, plus the rows the parser itself could not read. Nothing here loops over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from martech._sql import sql_ident, sql_json_path, sql_str
from martech.errors import ValidationError

if TYPE_CHECKING:
    import duckdb

Format = Literal["csv", "jsonl", "parquet"]
SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


#: DuckDB types whose text is never empty nor padded: ``text`` and ``missing`` need no trim.
_NEVER_BLANK = ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
                "DATE", "TIME", "TIMESTAMP", "UUID")  # fmt: skip


@dataclass
class Source:
    """A file read into ``_mt_src`` on a DuckDB connection."""

    path: Path
    format: Format
    columns: dict[str, str]  # name -> DuckDB type
    rows: int = 0
    #: (row number, reason, raw line) for rows the parser refused
    parse_rejects: list[tuple[int, str, str]] = field(default_factory=list)

    def text(self, column: str) -> str:
        """SQL for the column's value as VARCHAR (NULL when absent or empty)."""
        if self.format == "jsonl":  # trimmed as CSV is: " a@x.io " is a@x.io in either
            return f"nullif(trim(_j->>{sql_json_path(column)}), '')"
        if self.format == "csv":
            return f"nullif(trim({sql_ident(column)}), '')"
        if self.never_blank(column):
            return f"{sql_ident(column)}::VARCHAR"
        return f"nullif(trim({sql_ident(column)}::VARCHAR), '')"

    def missing(self, column: str) -> str:
        """SQL that is true when the column's value is absent or empty (``text(column) IS NULL``,
        without turning a typed Parquet value into text)."""
        if self.never_blank(column):
            return f"{sql_ident(column)} IS NULL"
        return f"{self.text(column)} IS NULL"

    def never_blank(self, column: str) -> bool:
        """A typed Parquet column whose text is never empty or padded (numbers, booleans, times)."""
        return self.format == "parquet" and self.columns[column].startswith(_NEVER_BLANK)

    def json(self, column: str) -> str:
        """SQL for the column's value keeping its type (JSON for JSONL, the typed value for
        Parquet, text for CSV), for ``to_json``."""
        if self.format == "jsonl":
            return f"_j->{sql_json_path(column)}"
        if self.format == "parquet":
            return sql_ident(column)
        return self.text(column)

    def object(self, column: str) -> str:
        """SQL for a column holding a whole JSON object (as JSON text, a struct or a map)."""
        if self.format == "jsonl":
            v = self.json(column)
            text = f"TRY_CAST({v}->>'$' AS JSON)"
            return f"CASE WHEN json_type({v}) = 'VARCHAR' THEN {text} ELSE {v} END"
        if self.format == "parquet" and not self.columns[column].startswith(("VARCHAR", "JSON")):
            return f"to_json({sql_ident(column)})"
        return f"TRY_CAST({self.text(column)} AS JSON)"

    def raw(self, column: str) -> str:
        """SQL for the column as-is (typed for Parquet)."""
        if self.format == "parquet":
            return sql_ident(column)
        return self.text(column)

    def nonfinite(self, column: str) -> str | None:
        """SQL that is true when the column's value is or holds NaN or ±Infinity (which JSON cannot
        store), or None when the column cannot hold one (CSV text, Parquet text and integers)."""
        if self.format == "jsonl":
            v = self.json(column)
            return (
                f"CASE json_type({v}) WHEN 'DOUBLE' THEN NOT isfinite(({v})::DOUBLE) "
                f"WHEN 'OBJECT' THEN {nonfinite_json(f'({v})::VARCHAR')} "
                f"WHEN 'ARRAY' THEN {nonfinite_json(f'({v})::VARCHAR')} ELSE false END"
            )
        if self.format != "parquet":
            return None
        kind = self.columns[column]
        if kind.startswith(("FLOAT", "DOUBLE")):
            return f"NOT isfinite({sql_ident(column)})"
        nested = kind.startswith(("STRUCT", "MAP")) or kind.endswith("]")
        if nested and ("FLOAT" in kind or "DOUBLE" in kind):
            return nonfinite_json(f"to_json({sql_ident(column)})::VARCHAR", written=True)
        return None

    def object_nonfinite(self, column: str) -> str | None:
        """``nonfinite`` for a whole-object column (see ``object``): read from the column's text,
        not from the parsed object (no second parse per row)."""
        if self.format == "jsonl":
            return nonfinite_json(f"({self.object(column)})::VARCHAR")
        if self.format == "csv":
            return nonfinite_json(self.text(column))
        kind = self.columns[column]
        if kind.startswith(("VARCHAR", "JSON")):
            return nonfinite_json(f"{sql_ident(column)}::VARCHAR", written=True)
        return self.nonfinite(column)


#: After taking the strings out of JSON text, a letter other than those of true/false/null and
#: of an exponent is NaN or Infinity (DuckDB's reader takes nan, inf, Infinity in any case), and
#: an exponent of 309 or more overflows a double.
_NONFINITE_RE = (
    r"[bcdghijkmopqvwxyzBCDGHIJKMOPQVWXYZ]|[nN][aA][nN]"
    r"|[eE]\+?0*(309|3[1-9][0-9]|[4-9][0-9][0-9]|[1-9][0-9]{3,})"
)
_JSON_STRING_RE = r'"([^"\\]|\\.)*"'


#: Cheap first look (one scan, no copy): a NaN or Infinity where a value starts, or a long
#: exponent. Strings can match too; only the rows that do get the exact check.
_NONFINITE_HINT = r"(?i)[:,\[]\s*[+-]?(nan|inf)|[0-9]e\+?0*[0-9]{3}"


def nonfinite_json(text: str, *, written: bool = False) -> str:
    """SQL that is true when JSON text ``text`` holds a NaN or an infinite number.

    ``written``: the text was written by a program (a Parquet column), whose JSON writers spell
    these ``NaN`` and ``Infinity`` (Python's json, DuckDB): two substring searches find the rows
    to check, a tenth of the cost of the case-blind pattern hand-written text needs.
    """
    stripped = f"regexp_replace({text}, {sql_str(_JSON_STRING_RE)}, '', 'g')"
    hint = (
        f"contains({text}, 'NaN') OR contains({text}, 'Infinity')"
        if written
        else f"regexp_matches({text}, {sql_str(_NONFINITE_HINT)})"
    )
    return (
        f"CASE WHEN {hint} THEN regexp_matches({stripped}, {sql_str(_NONFINITE_RE)}) ELSE false END"
    )


def detect_format(path: Path, given: str | None) -> Format:
    if given:
        if given not in ("csv", "jsonl", "parquet"):
            raise ValidationError(f"--format: expected csv, jsonl or parquet, got {given!r}")
        return given  # type: ignore[return-value]
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ValidationError(
            f"cannot tell the format of {path.name} from its suffix; "
            "pass --format csv, jsonl or parquet"
        )
    return fmt


def read(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: Format,
    *,
    delimiter: str | None = None,
) -> Source:
    """Read ``path`` into the temp table ``_mt_src``."""
    import duckdb

    if not path.is_file():
        raise ValidationError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise ValidationError(f"{path.name} is empty")
    try:
        if fmt == "csv":
            return _read_csv(con, path, delimiter)
        if fmt == "jsonl":
            return _read_jsonl(con, path)
        return _read_parquet(con, path)
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        raise ValidationError(f"cannot read {path.name} as {fmt}: {message}") from None


#: Ways to write a delimiter a shell makes hard to type.
_DELIMITERS = {"\\t": "\t", "tab": "\t", "\\x09": "\t"}

#: DuckDB's longest line (its default ``max_line_size``): a longer one is a "line too long" reject.
MAX_LINE = 2 << 20
#: A line this long may be longer than DuckDB's read buffer, which skips such a line without
#: reporting it (~31 MB with DuckDB 2.0's defaults) instead of rejecting it.
_LONG_LINE = 8 << 20


def _buffer_option(path: Path) -> str:
    """``read_csv`` options making every line over :data:`MAX_LINE` a reject, the longest too.

    Empty for the usual file. A file with a line of :data:`_LONG_LINE` or more gets a read
    buffer larger than its longest line, so DuckDB reports it as too long instead of dropping
    it. One pass of ``memchr`` over files larger than that finds them (a line that long fills
    a whole half-sized block without a newline); only then are the lines measured.
    """
    size = path.stat().st_size
    if size < _LONG_LINE:
        return ""
    block = _LONG_LINE // 2
    with path.open("rb") as fh:
        if all(b"\n" in chunk for chunk in iter(lambda: fh.read(block), b"")):
            return ""
    import numpy as np

    longest, start, offset = 0, 0, 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + offset
            if len(ends):
                longest = max(longest, int(ends[0]) - start, int(np.diff(ends).max(initial=0)))
                start = int(ends[-1]) + 1
            offset += len(chunk)
    longest = max(longest, size - start)
    if longest < _LONG_LINE:
        return ""
    return f", max_line_size={MAX_LINE}, buffer_size={longest + (1 << 20)}"


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, delimiter: str | None) -> Source:
    # Read the header ourselves and switch DuckDB's sniffer off: a broken row further down (an
    # unterminated quote) would otherwise make it guess one wide column, or fail.
    import csv

    with path.open("rb") as fh:
        header = fh.readline().decode("utf-8-sig", "replace").rstrip("\r\n")
    if delimiter:
        delimiter = _DELIMITERS.get(delimiter.lower(), delimiter)
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise ValidationError(
                f"--delimiter {delimiter!r}: expected one character, such as , ; | or \\t (tab)"
            )
    else:
        counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    names: list[str] = []
    taken: set[str] = set()  # DuckDB's names ignore case: "name" and "Name" are one column
    for i, name in enumerate(next(csv.reader([header], delimiter=delimiter), [])):
        name = name.strip() or f"column{i}"
        while name.lower() in taken:
            name += "_"
        names.append(name)
        taken.add(name.lower())
    spec = "{" + ", ".join(f"{sql_str(n)}: 'VARCHAR'" for n in names) + "}"
    delim = f", delim={sql_str(delimiter)}, columns={spec}, auto_detect=false"
    delim += _buffer_option(path)
    for t in ("_mt_rej_err", "_mt_rej_scan"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _mt_src AS
            SELECT row_number() OVER () AS _rn, *
            FROM read_csv({sql_str(str(path))}, header=true, all_varchar=true, quote='"',
                          escape='"', store_rejects=true, rejects_table='_mt_rej_err',
                          rejects_scan='_mt_rej_scan'{delim})"""
    )
    columns = _describe(con)
    rejects = con.execute(
        "SELECT DISTINCT line, error_type, coalesce(column_name, ''), csv_line FROM _mt_rej_err "
        "ORDER BY line"
    ).fetchall()
    for t in ("_mt_rej_err", "_mt_rej_scan"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    bad_lines = sorted({int(r[0]) for r in rejects})
    last_record = _count(con) + len(bad_lines) + 1  # the header is record 1
    parse_rejects = []
    for line, error, column, raw in rejects:
        reason = _CSV_REASONS.get(str(error), str(error).lower())
        expected = len(columns)
        if error == "MISSING COLUMNS":
            got = len(str(raw).split(delimiter or ","))
            reason = f"{reason}: expected {expected} columns, found {got}"
            if line == last_record:  # the file's last record: cut short, most likely
                reason += " (the file may be truncated)"
        elif column:
            reason = f"{reason} (column {column!r})"
        parse_rejects.append((int(line), reason, str(raw)))
    # Rows are numbered by record (header 1), the records the parser refused skipped; then, when
    # the file has more lines than records (quoted fields spanning lines, blank lines), records
    # are renumbered to the file line they start on, the number an editor shows.
    _number_lines(con, "_mt_src", bad_lines, first=2)
    rows = _count(con) + len(bad_lines)
    starts = _record_lines(path, rows + 1)
    if starts is not None:
        import pyarrow as pa

        con.register("_mt_starts", pa.table({"_rec": range(1, len(starts) + 1), "_line": starts}))
        con.execute("UPDATE _mt_src SET _rn = s._line FROM _mt_starts s WHERE _mt_src._rn = s._rec")
        con.unregister("_mt_starts")
        parse_rejects = [(int(starts[r - 1]), why, raw) for r, why, raw in parse_rejects]
    return Source(path, "csv", columns, rows, parse_rejects)


def _record_lines(path: Path, records: int) -> list[int] | None:
    """The file line each CSV record (header included) starts on, or None when every record is
    one line (the common case: one pass counting newlines) or the file cannot be split the way
    the parser did (an unbalanced quote): then records keep their record numbers."""
    chunk = 1 << 24
    with path.open("rb") as fh:
        newlines = sum(block.count(b"\n") for block in iter(lambda: fh.read(chunk), b""))
        size = fh.tell()
        fh.seek(size - 1)
        unterminated = fh.read(1) != b"\n"
    if newlines + unterminated == records:
        return None
    import numpy as np

    nl_parts, quote_parts, crs = [], [], []
    with path.open("rb") as fh:
        offset = 0
        for block in iter(lambda: fh.read(chunk), b""):
            data = np.frombuffer(block, dtype=np.uint8)
            nl = np.flatnonzero(data == 10)
            nl_parts.append(nl + offset)
            quote_parts.append(np.flatnonzero(data == 34) + offset)
            crs.append(nl[(nl > 0) & (data[np.maximum(nl - 1, 0)] == 13)] + offset)
            offset += len(block)
    nls = np.concatenate(nl_parts)
    quotes = np.concatenate(quote_parts)
    # A newline ends a record when an even number of quotes comes before it.
    ends = nls[np.searchsorted(quotes, nls) % 2 == 0]
    line_of_end = np.searchsorted(nls, ends)  # 0-based line of each record's last newline
    starts = np.concatenate(([0], ends + 1))
    start_lines = np.concatenate(([1], line_of_end + 2))
    stops = np.concatenate((ends, [size]))
    if not unterminated:  # the last newline ends the file, no record after it
        starts, start_lines, stops = starts[:-1], start_lines[:-1], stops[:-1]
    length = stops - starts
    cr_ended = np.isin(stops, np.concatenate(crs)) if crs else np.zeros(len(stops), bool)
    blank = (length == 0) | ((length == 1) & cr_ended)
    lines = start_lines[~blank]
    if len(lines) != records:
        return None
    return [int(x) for x in lines]


_CSV_REASONS = {
    "MISSING COLUMNS": "row has too few columns",
    "TOO MANY COLUMNS": "row has too many columns",
    "UNQUOTED VALUE": "badly quoted value",
    "LINE SIZE OVER MAXIMUM": "line too long",
    "INVALID ENCODING": "invalid UTF-8",
    "CAST": "value could not be read",
}


def _number_lines(
    con: duckdb.DuckDBPyConnection, table: str, bad_lines: list[int], *, first: int
) -> None:
    """Renumber ``table._rn`` (1, 2, … over the rows read) to file lines: the first row is line
    ``first``, and the lines the parser refused (``bad_lines``, file lines) are skipped."""
    if not bad_lines:
        if first != 1:
            con.execute(f"UPDATE {table} SET _rn = _rn + {first - 1}")
        return
    import numpy as np
    import pyarrow as pa

    rn = np.array([r[0] for r in con.execute(f"SELECT _rn FROM {table} ORDER BY _rn").fetchall()])
    lines = rn + (first - 1)
    for bad in sorted(bad_lines):
        lines = np.where(lines >= bad, lines + 1, lines)
    con.register("_mt_renumber", pa.table({"_rn": rn, "_line": lines}))
    con.execute(f"UPDATE {table} SET _rn = l._line FROM _mt_renumber l WHERE {table}._rn = l._rn")
    con.unregister("_mt_renumber")


def _refuse_a_json_array(path: Path) -> None:
    """A file that opens with ``[`` is one JSON array (a ``.json`` export), not JSON Lines: read
    line by line, each record ending in a comma would be a reject and the last one imported."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16).decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if head.startswith("["):
        raise ValidationError(
            f"{path.name} holds a JSON array, not JSON Lines (one object per line); nothing was "
            f"imported. Convert it first, e.g. jq -c '.[]' {path.name} > {path.stem}.jsonl"
        )


def _read_jsonl(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    _refuse_a_json_array(path)
    # Lines as text: a line that is not UTF-8 is refused by the reader (kept with its line
    # number, the rest of the file read), one that is not JSON is found below.
    for t in ("_mt_rej_err", "_mt_rej_scan"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _mt_lines AS
            SELECT row_number() OVER () AS _rn, line
            FROM read_csv({sql_str(str(path))}, columns={{'line': 'VARCHAR'}}, header=false,
                          delim=chr(1), quote='', escape='', auto_detect=false,
                          strict_mode=false, null_padding=true, store_rejects=true,
                          rejects_table='_mt_rej_err',
                          rejects_scan='_mt_rej_scan'{_buffer_option(path)})"""
    )
    refused = con.execute(
        "SELECT DISTINCT line, error_type, csv_line FROM _mt_rej_err ORDER BY line"
    ).fetchall()
    for t in ("_mt_rej_err", "_mt_rej_scan"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    refused_lines = sorted({int(r[0]) for r in refused})
    _number_lines(con, "_mt_lines", refused_lines, first=1)
    bad = [
        (int(line), _CSV_REASONS.get(str(error), str(error).lower()), str(raw))
        for line, error, raw in refused
    ]
    bad += con.execute(
        "SELECT _rn, CASE WHEN NOT json_valid(line) THEN 'invalid JSON' "
        "ELSE 'not a JSON object' END, line FROM _mt_lines "
        "WHERE line IS NOT NULL AND trim(line) <> '' "
        "AND (NOT json_valid(line) OR json_type(line::JSON) <> 'OBJECT') ORDER BY _rn"
    ).fetchall()
    bad.sort()
    last = max(
        [con.execute("SELECT max(_rn) FROM _mt_lines").fetchall()[0][0] or 0, *refused_lines]
    )
    parse_rejects = []
    for rn, reason, line in bad:
        if rn == last and reason == "invalid JSON":
            reason += " (the file may be truncated)"
        parse_rejects.append((int(rn), reason, str(line)))
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _mt_src AS
           SELECT _rn, line::JSON AS _j FROM _mt_lines
           WHERE line IS NOT NULL AND trim(line) <> '' AND json_valid(line)
             AND json_type(line::JSON) = 'OBJECT'"""
    )
    keys = con.execute(
        """SELECT k FROM (SELECT _rn, unnest(json_keys(_j)) AS k,
                                 unnest(range(len(json_keys(_j)))) AS i FROM _mt_src)
           GROUP BY k ORDER BY min(_rn), min(i)"""
    ).fetchall()
    rows = _count(con) + len(bad)
    con.execute("DROP TABLE IF EXISTS _mt_lines")
    return Source(path, "jsonl", {str(k[0]): "JSON" for k in keys}, rows, parse_rejects)


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW _mt_src AS
            SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _rn
            FROM read_parquet({sql_str(str(path))}, file_row_number=true)"""
    )
    columns = _describe(con)
    rows = int(
        con.execute(
            f"SELECT sum(num_rows) FROM parquet_file_metadata({sql_str(str(path))})"
        ).fetchall()[0][0]
        or 0
    )
    return Source(path, "parquet", columns, rows)


def drop(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    kind = "VIEW" if source.format == "parquet" else "TABLE"
    con.execute(f"DROP {kind} IF EXISTS _mt_src")


def _describe(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute("DESCRIBE SELECT * FROM _mt_src").fetchall()
    return {str(r[0]): str(r[1]) for r in rows if r[0] != "_rn"}


def _count(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM _mt_src").fetchall()[0][0])
