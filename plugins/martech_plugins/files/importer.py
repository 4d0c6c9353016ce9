"""Import profiles and events from CSV, JSONL or Parquet into the store, in bulk.

The file is read by DuckDB (:mod:`.source`), mapped column by column and validated in SQL (one
pass gives each row a ``reason`` or none, and its values in the store's shape, into a temp table;
the rejects and the good rows are read from it), and the good rows go to the store through
:meth:`Store.upsert_profiles_from` / :meth:`Store.append_events_from`. Bad rows never abort an
import: they land in a reject file (JSONL: ``row``, ``reason``, ``record`` with emails and phones
redacted). Problems with the file or the mapping as a whole (a mapped column that does not exist,
a Parquet column of the wrong type, no id column at all) raise a :class:`MartechError` naming the
column, before anything is written.

Mapping targets: profiles ``id``, ``email``, ``phone``, ``identities.<kind>``, ``traits.<name>``,
``consent.<channel>``; events ``profile_id``, ``type``, ``item_id``, ``ts``, ``value``,
``properties.<name>``. Unmapped columns become traits (profiles) or properties (events) unless
``extra="ignore"``. Well-known column names map themselves (``email``, ``customer_id``,
``consent_email``, ``timestamp``, …).

Trait and property types: JSONL and Parquet values keep the file's types. A CSV column whose
values all look like integers, decimals or true/false is stored typed, except digits a number
would change: a leading zero (``02134``, ``007``) or more than 15 digits (card numbers, long ids;
a double, which segments compare numbers as, keeps 15) keep the column text, and so does a
trait the store already holds as text (a zip column without a leading zero in this file). Else
it is decided per file; ``types={"zip": "text"}`` (``--type zip=text``, or ``types:`` in a
mapping file) pins a column's type in every format: ``text``, ``int``, ``number`` or ``bool``.
A value that is not of its pinned type rejects its row.

Events: an event already stored (same profile, type, item and time) is skipped and counted in
``duplicates``, so a file imported again adds nothing. Two identical rows of one file are two
events (two views in the same second) unless ``skip_repeats``: then a row repeating an event
given earlier in the file is skipped too, the first one kept, and counted as ``repeated`` as
well. Finding repeats is one more pass over the file's rows (~1 s per 10M on two cores), which
is why it is asked for rather than always done.

Per-row rules: a timestamp needs a time and a zone (``Z`` or an offset); a date alone or a
zone-less time is rejected as naive, never read in the machine's zone. NaN and ±Infinity (which
JSON cannot hold) reject their row wherever they are: the event value, a trait or property, or
inside a whole-object column. A whole ``consent`` object may name only the channels in
:data:`martech.models.CHANNELS`, each a boolean or a true/false spelling the ``consent_*``
columns take, stored as JSON booleans. An email or phone is checked the same whichever way it
arrives (``email``/``phone``, ``identities.email``/``identities.phone``, or inside a whole
``identities`` object). JSONL values are trimmed as CSV values are. Reject files mask emails
and any run of seven or more digits (phone numbers), ISO dates excepted, in records and reasons.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from martech._sql import sql_ident, sql_json_path, sql_str
from martech.errors import MappingError, ValidationError
from martech.identity import default_region, normalize_email_sql
from martech.models import CHANNELS, EVENT_TYPES

from . import source as src

if TYPE_CHECKING:
    from martech.store import Store

Kind = Literal["profiles", "events"]
_E164_RE = r"\+[1-9][0-9]{7,14}"
# A zone after a time: ``2026-03-05`` is a date (its ``-05`` is the day, not an offset).
_TZ_RE = r"[Tt ][0-9]{2}(:?[0-9]{2}){0,2}([.,][0-9]+)? ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# Membership by regex, not IN (...) / list_contains: DuckDB plans those as a join per use, which
# is far slower per row and cannot be pruned from a view.
_TRUE = "'true|t|1|yes|y|on'"
_FALSE = "'false|f|0|no|n|off'"

#: Column names that map themselves when no mapping names them (first match wins).
AUTO: dict[Kind, dict[str, tuple[str, ...]]] = {
    "profiles": {
        "id": ("id", "profile_id", "customer_id", "user_id", "contact_id"),
        "email": ("email", "email_address", "e_mail"),
        "phone": ("phone", "phone_number", "mobile", "mobile_phone"),
    },
    "events": {
        "profile_id": ("profile_id", "user_id", "customer_id", "contact_id", "id"),
        "type": ("type", "event", "event_type", "event_name"),
        "item_id": ("item_id", "sku", "product_id"),
        "ts": ("ts", "timestamp", "time", "occurred_at", "event_time", "created_at"),
        "value": ("value", "revenue", "amount", "order_value"),
    },
}
_FIXED: dict[Kind, tuple[str, ...]] = {
    "profiles": ("id", "email", "phone"),
    "events": ("profile_id", "type", "item_id", "ts", "value"),
}
_PREFIXES: dict[Kind, tuple[str, ...]] = {
    "profiles": ("identities.", "traits.", "consent."),
    "events": ("properties.",),
}


@dataclass(frozen=True)
class ImportSummary:
    """What one import did. ``inserted``/``updated`` are profiles; events count as ``inserted``,
    with ``duplicates`` the rows skipped as events already stored (re-imports add nothing) or
    repeating an event earlier in the file (``repeated``, with ``skip_repeats``)."""

    kind: str
    file: str
    format: str
    rows: int
    imported: int
    inserted: int
    updated: int
    duplicates: int
    rejected: int
    rejects_file: str | None
    seconds: float
    mapping: dict[str, str] = field(default_factory=dict)
    #: profiles: ids found to be a person stored (or given) under another id, merged there
    merged: int = 0
    #: profiles: rows that repeated an id given earlier in the file (folded into it); events
    #: with ``skip_repeats``: rows repeating an event (profile, type, item, ts) earlier in the
    #: file, skipped (and counted in ``duplicates``)
    repeated: int = 0
    #: profiles: identity values left out as placeholders (one value on more than
    #: ``martech._bulk.MAX_PROFILES_PER_IDENTITY`` profiles, such as noemail@example.com)
    placeholder_identities: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_mapping(path: Path | None, flags: list[str] | None = None) -> tuple[dict[str, str], str]:
    """A mapping file (YAML or JSON: ``{target: column}``, optionally under ``columns:`` with an
    ``extra: traits|ignore`` key) plus ``target=column`` flags (flags win). Returns (map, extra)."""
    mapping: dict[str, str] = {}
    extra = "keep"
    if path is not None:
        if not path.is_file():
            raise MappingError(f"mapping file not found: {path}")
        import yaml

        try:
            data = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
        except yaml.YAMLError as exc:
            raise MappingError(f"mapping file {path.name} is not valid YAML/JSON: {exc}") from None
        if not isinstance(data, dict):
            raise MappingError(f"mapping file {path.name}: expected a mapping of target: column")
        if "columns" in data:
            extra = str(data.get("extra", "keep"))
            data = data["columns"]
            if not isinstance(data, dict):
                raise MappingError(f"mapping file {path.name}: 'columns' must be a mapping")
        else:
            data = {k: v for k, v in data.items() if k != "types"}  # read by load_types
        for target, column in data.items():
            if not isinstance(column, str):
                raise MappingError(
                    f"mapping {target}: expected a column name (string), got {column!r}"
                )
            mapping[str(target)] = column
    for flag in flags or []:
        target, sep, column = flag.partition("=")
        if not sep or not target.strip() or not column.strip():
            raise MappingError(f"--map {flag!r}: expected target=column, e.g. id=customer_id")
        mapping[target.strip()] = column.strip()
    if extra in ("traits", "properties"):
        extra = "keep"
    if extra not in ("keep", "ignore"):
        raise MappingError(f"mapping extra: expected traits, properties or ignore, got {extra!r}")
    return mapping, extra


#: The types a column can be pinned to, and the other names each goes by.
TYPES: dict[str, tuple[str, ...]] = {
    "text": ("string", "str"),
    "int": ("integer",),
    "number": ("float", "double", "decimal"),
    "bool": ("boolean",),
}
_TYPE_NAMES = {alias: name for name, aliases in TYPES.items() for alias in (name, *aliases)}


def pinned_type(column: str, given: object) -> str:
    """The type ``given`` names (``text``, ``int``, ``number``, ``bool`` or an alias of one)."""
    name = _TYPE_NAMES.get(str(given).strip().lower()) if isinstance(given, str) else None
    if name is None:
        raise MappingError(
            f"type of column {column!r}: {given!r} is not one of {', '.join(TYPES)} "
            f"(or {', '.join(a for aliases in TYPES.values() for a in aliases)})",
            field=column,
        )
    return name


def load_types(path: Path | None, flags: list[str] | None = None) -> dict[str, str]:
    """Column types pinned by a mapping file's ``types:`` (``{column: type}``) plus
    ``column=type`` flags (flags win). Returns ``{column: text|int|number|bool}``."""
    types: dict[str, str] = {}
    if path is not None:
        import yaml

        try:  # load_mapping has read it already: a missing or broken file is reported there
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            data = None
        given = data.get("types") if isinstance(data, dict) else None
        if given is not None and not isinstance(given, dict):
            raise MappingError(
                f"mapping file {path.name}: 'types' must be a mapping of column: type, "
                "e.g. zip: text"
            )
        for column, name in (given or {}).items():
            types[str(column)] = pinned_type(str(column), name)
    for flag in flags or []:
        column, sep, name = flag.partition("=")
        if not sep or not column.strip() or not name.strip():
            raise MappingError(f"--type {flag!r}: expected column=type, e.g. zip=text")
        types[column.strip()] = pinned_type(column.strip(), name)
    return types


def _check_types(
    kind: Kind, columns: list[str], cols: dict[str, str], types: dict[str, str]
) -> dict[str, str]:
    """``types`` with each name checked, for columns of the file read as traits/properties."""
    prefix = "traits." if kind == "profiles" else "properties."
    what = "trait" if kind == "profiles" else "property"
    checked = {}
    for column, given in types.items():
        name = pinned_type(column, given)
        if column not in columns:
            raise MappingError(
                f"type of column {column!r}: the column is not in the file "
                f"(columns: {', '.join(columns[:30])})",
                field=column,
            )
        targets = [t for t, c in cols.items() if c == column]
        if not any(t.startswith(prefix) for t in targets):
            where = (
                f"it is mapped to {', '.join(t.lstrip('@') for t in targets)}"
                if targets
                else "it is not imported (extra columns are ignored)"
            )
            raise MappingError(
                f"type of column {column!r}: only {what} columns take a type; {where}",
                field=column,
            )
        checked[column] = name
    return checked


def resolve_mapping(
    kind: Kind, columns: list[str], mapping: dict[str, str], extra: str = "keep"
) -> dict[str, str]:
    """target -> source column: explicit mapping, then well-known names, then extras."""
    for target, column in mapping.items():
        if target not in _FIXED[kind] and not (
            target.startswith(_PREFIXES[kind]) and len(target.split(".", 1)[1]) > 0
        ):
            allowed = (
                ", ".join(_FIXED[kind]) + ", " + ", ".join(p + "<name>" for p in _PREFIXES[kind])
            )
            raise MappingError(f"mapping target {target!r} is not one of: {allowed}")
        if target.startswith("consent.") and target[8:] not in CHANNELS:
            raise MappingError(
                f"mapping target {target!r}: unknown channel; expected one of {', '.join(CHANNELS)}"
            )
        if column not in columns:
            raise MappingError(
                f"mapping {target}={column}: column {column!r} is not in the file "
                f"(columns: {', '.join(columns[:30])})"
            )
    resolved = dict(mapping)
    used = set(mapping.values())
    lower = {c.lower(): c for c in columns}
    for target, candidates in AUTO[kind].items():
        if target in resolved:
            continue
        for name in candidates:
            # A column mapped to id that is also the email or phone is that identity as well.
            shared = kind == "profiles" and target in ("email", "phone")
            if name in lower and (
                lower[name] not in used or (shared and lower[name] == resolved.get("id"))
            ):
                resolved[target] = lower[name]
                used.add(lower[name])
                break
    if kind == "profiles":
        for c in columns:
            low = c.lower()
            if c in used or not low.startswith("consent_"):
                continue
            if low[8:] in CHANNELS or low[8:] == "ads":
                resolved.setdefault("consent." + ("ad" if low[8:] == "ads" else low[8:]), c)
                used.add(c)
    # Whole-object columns in the store's own shape.
    for special in ("traits", "consent", "identities", "properties"):
        wanted = (kind == "profiles") == (special != "properties")
        if wanted and special in columns and special not in used:
            resolved["@" + special] = special
            used.add(special)
    if extra == "keep":
        prefix = "traits." if kind == "profiles" else "properties."
        for c in columns:
            if c not in used:
                resolved.setdefault(prefix + c, c)
    required = "id" if kind == "profiles" else "profile_id"
    if required not in resolved:
        raise MappingError(
            f"no {required} column: name one with --map {required}=COLUMN "
            f"(columns: {', '.join(columns[:30])})"
        )
    if kind == "events":
        for needed in ("type", "ts"):
            if needed not in resolved:
                raise MappingError(
                    f"no {needed} column: name one with --map {needed}=COLUMN "
                    f"(columns: {', '.join(columns[:30])})"
                )
    return resolved


def import_file(
    store: Store,
    kind: Kind,
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    extra: str = "keep",
    fmt: str | None = None,
    strict: bool = False,
    rejects: str | Path | None = None,
    delimiter: str | None = None,
    types: dict[str, str] | None = None,
    skip_repeats: bool = False,
) -> ImportSummary:
    """Import ``kind`` records from ``path`` into ``store``; see the module docstring.

    ``types``: ``{column: type}`` pinning trait or property columns to ``text``, ``int``,
    ``number`` or ``bool`` (see :func:`load_types`); a bad name or a column that is not a trait
    or property of this import is a :class:`MappingError` naming it, before anything is written.
    ``skip_repeats`` (events): store a row repeating an event earlier in the file once.
    """
    start = time.perf_counter()
    path = Path(path)
    con = store.con
    fmt_ = src.detect_format(path, fmt)
    source = src.read(con, path, fmt_, delimiter=delimiter)
    try:
        cols = resolve_mapping(kind, list(source.columns), mapping or {}, extra)
        pinned = _check_types(kind, list(source.columns), cols, types or {})
        _check_parquet_types(source, kind, cols)
        if kind == "profiles":
            staged = _stage_profiles(con, source, cols, pinned)
        else:
            staged = _stage_events(con, source, cols, pinned, strict=strict)
        # Validate and convert once: every check and value is computed in this one pass, the
        # rejects and the good rows are then read from the (in-memory) result.
        con.execute(f"CREATE OR REPLACE TEMP TABLE _mt_stage AS {staged}")
        rejects_path = Path(rejects) if rejects else path.with_name(path.name + ".rejects.jsonl")
        rejected = _write_rejects(con, source, cols, rejects_path)
        good = "SELECT * EXCLUDE (_reason) FROM _mt_stage WHERE _reason IS NULL"
        con.execute(f"CREATE OR REPLACE TEMP VIEW _mt_good AS {good}")
        n_good = source.rows - rejected
        inserted = updated = duplicates = merged = repeated = placeholders = 0
        if kind == "profiles":
            # The table itself, rejects taken out: the store reads it in place, in file order.
            if rejected:
                con.execute("DELETE FROM _mt_stage WHERE _reason IS NOT NULL")
            # The email and phone columns were normalized and checked above (a bad one rejects
            # its row); identities from elsewhere are checked by the store as usual.
            normalized = "@identities" not in cols and not (
                {"identities.email", "identities.phone"} & cols.keys()
            )
            counts = store.upsert_profiles_from("_mt_stage", normalized=normalized)
            inserted, updated = counts.inserted, counts.updated
            merged, repeated = counts.merged, counts.repeated
            placeholders = counts.placeholder_identities
            imported = n_good
        else:
            # _rn: a row repeating an event earlier in the file is a duplicate, the first kept.
            appended = store.append_events_from(
                "_mt_good", first_by="_rn" if skip_repeats else None
            )
            inserted, repeated = appended.inserted, appended.repeated
            duplicates = n_good - inserted
            imported = inserted
    finally:
        con.execute("DROP VIEW IF EXISTS _mt_good")
        con.execute("DROP TABLE IF EXISTS _mt_stage")
        src.drop(con, source)
    return ImportSummary(
        kind=kind,
        file=str(path),
        format=fmt_,
        rows=source.rows,
        imported=imported,
        inserted=inserted,
        updated=updated,
        duplicates=duplicates,
        merged=merged,
        repeated=repeated,
        placeholder_identities=placeholders,
        rejected=rejected,
        rejects_file=str(rejects_path) if rejected else None,
        seconds=round(time.perf_counter() - start, 3),
        mapping={k: v for k, v in cols.items() if not k.startswith("@")},
    )


# ------------------------------------------------------------------------------------ checking

#: Parquet timestamps with a zone, as DuckDB names them: microseconds (or coarser) and the
#: nanoseconds pandas writes tz-aware datetimes in.
_PARQUET_TIMESTAMPTZ = ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS")
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")  # fmt: skip
_INTEGER = _NUMERIC[:9]


def _check_parquet_types(source: src.Source, kind: Kind, cols: dict[str, str]) -> None:
    """Parquet is typed: a column of the wrong type is a file problem, reported before writing."""
    if source.format != "parquet":
        return

    def expect(target: str, ok: tuple[str, ...], what: str) -> None:
        column = cols.get(target)
        if column is None:
            return
        actual = source.columns[column]
        if not actual.startswith(ok):
            raise ValidationError(
                f"{source.path.name}: column {column!r} (mapped to {target}) has Parquet type "
                f"{actual}; expected {what}"
            )

    text = ("VARCHAR",)
    if kind == "profiles":
        expect("id", text + _INTEGER, "text or an integer")
        expect("email", text, "text")
        expect("phone", text + _INTEGER, "text")
        for target in cols:
            if target.startswith("consent."):
                expect(target, ("BOOLEAN", *text), "a boolean")
        return
    expect("profile_id", text + _INTEGER, "text or an integer")
    expect("type", text, "text")
    expect("item_id", text + _INTEGER, "text or an integer")
    expect("value", _NUMERIC, "a number")
    column = cols["ts"]
    actual = source.columns[column]
    if actual == "TIMESTAMP" or actual.startswith("TIMESTAMP_"):
        raise ValidationError(
            f"{source.path.name}: column {column!r} (mapped to ts) holds timestamps without a time "
            "zone (naive); write them as UTC-adjusted timestamps (TIMESTAMP WITH TIME ZONE)"
        )
    if actual not in _PARQUET_TIMESTAMPTZ and actual != "VARCHAR":
        raise ValidationError(
            f"{source.path.name}: column {column!r} (mapped to ts) has Parquet type {actual}; "
            "expected a timestamp with time zone or ISO 8601 text with an offset"
        )


def _reason(cases: list[tuple[str, str]]) -> str:
    """A CASE giving the first failing check's message, or NULL."""
    if not cases:
        return "NULL::VARCHAR"
    return "CASE " + " ".join(f"WHEN {cond} THEN {msg}" for cond, msg in cases) + " END"


def _infer_csv_types(con: Any, source: src.Source, columns: list[str]) -> dict[str, str]:
    """For CSV traits/properties: a column whose values all look like ints/numbers/booleans is
    stored typed; anything else stays text. Digits a number would change keep their column
    text: a leading zero (02134, 007) or more than 15 digits, which a double (what segments
    compare numbers as) cannot hold exactly."""
    if source.format != "csv" or not columns:
        return {}
    int_re, num_re = r"-?(0|[1-9][0-9]{0,14})", r"-?(0|[1-9][0-9]*)\.[0-9]+"
    parts = []
    for c in columns:
        t = source.text(c)
        parts += [
            f"bool_and({t} IS NULL OR regexp_full_match({t}, '{int_re}'))",
            f"bool_and({t} IS NULL OR regexp_full_match({t}, '{int_re}|{num_re}'))",
            f"bool_and({t} IS NULL OR lower({t}) IN ('true', 'false'))",
            f"count({t})",
        ]
    row = con.execute(f"SELECT {', '.join(parts)} FROM _mt_src").fetchall()[0]
    types = {}
    decimals = []
    for i, c in enumerate(columns):
        is_int, is_num, is_bool, n = row[4 * i : 4 * i + 4]
        if not n:
            continue
        types[c] = "BIGINT" if is_int else "DOUBLE" if is_num else "BOOLEAN" if is_bool else ""
        if types[c] == "DOUBLE":
            decimals.append(c)
    if decimals:
        # Digits and the point, the sign left out ('-' sorts before every digit): counted only
        # for the columns that look like decimals, a second pass costing most columns nothing.
        longest = [
            f"max(strlen({source.text(c)}) - ({source.text(c)} < '0')::INT)" for c in decimals
        ]
        widths = con.execute(f"SELECT {', '.join(longest)} FROM _mt_src").fetchall()[0]
        for c, width in zip(decimals, widths, strict=True):
            if width > 16:  # more than 15 digits
                types[c] = ""
    return {c: t for c, t in types.items() if t}


def _stored_as_text(con: Any, traits: list[str]) -> set[str]:
    """The ``traits`` some stored profile holds as a string (one pass over the profiles)."""
    if not traits or not con.execute("SELECT 1 FROM profiles LIMIT 1").fetchall():
        return set()
    paths = ", ".join(sql_json_path(t) for t in traits)
    row = con.execute(
        "SELECT "
        + ", ".join(f"bool_or(t[{i + 1}] = 'VARCHAR')" for i in range(len(traits)))
        + f" FROM (SELECT json_type(traits, [{paths}]) AS t FROM profiles)"
    ).fetchall()[0]
    return {t for t, text in zip(traits, row, strict=True) if text}


def _values(
    con: Any,
    source: src.Source,
    pairs: list[tuple[str, str]],
    pinned: dict[str, str],
    what: str,
    checks: list[tuple[str, str]],
) -> list[tuple[str, str]]:
    """(name, SQL value) of trait or property columns (``pairs``: name, column): a pinned type,
    else the type CSV values look like, else the file's own; their checks added to ``checks``."""
    inferred = _infer_csv_types(con, source, [c for _, c in pairs if c not in pinned])
    if what == "trait" and inferred:
        # A trait the store already holds as text stays text: a zip code typed by its values
        # is text in a file with 02134 and a number in one without, and segments compare by type.
        by_name = {name: c for name, c in pairs if c in inferred}
        for name in _stored_as_text(con, list(by_name)):
            del inferred[by_name[name]]
    values = []
    for name, c in pairs:
        if c in pinned:
            values.append(
                (name, _pinned_sql(source, f"{what} {name} (column {c!r})", c, pinned[c], checks))
            )
            continue
        values.append(
            (
                name,
                f"TRY_CAST({source.text(c)} AS {inferred[c]})" if c in inferred else source.json(c),
            )
        )
        bad = source.nonfinite(c)
        if bad:
            checks.append((bad, sql_str(f"{what} {name} (column {c!r}) is NaN or infinite")))
    return values


#: An integer as text: digits, and a zero fraction a typed number's text may carry (``34.0``).
_PINNED_INT_RE = r"[+-]?[0-9]+([.]0*)?"
_PINNED_NUMBER_RE = r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?"


def _pinned_sql(
    source: src.Source, label: str, column: str, kind: str, checks: list[tuple[str, str]]
) -> str:
    """SQL for a column's value as its pinned type ``kind``, adding a check that rejects a row
    whose value is not of it (the reason quoting the value, masked as reasons are)."""
    v = source.text(column)

    def reason(problem: str) -> str:
        return (
            f"{sql_str(label + ': ' + chr(39))} || {v} || "
            f"{sql_str(f'{chr(39)} {problem} (its type is pinned to {kind})')}"
        )

    def pinned(pattern: str, problem: str, value: str, unfit: str, unfit_problem: str) -> str:
        """``value``, with a reject for text not matching ``pattern`` and for a cast ``unfit``."""
        checks.append(
            (f"{v} IS NOT NULL AND NOT regexp_full_match({v}, {sql_str(pattern)})", reason(problem))
        )
        checks.append((f"{v} IS NOT NULL AND ({unfit})", reason(unfit_problem)))
        return value

    if kind == "text":
        return v
    if kind == "int":
        # DuckDB's own cast also reads 1.5 (as 2), 1_000 and 0x10: the pattern decides.
        value = f"TRY_CAST(regexp_extract({v}, '^[+-]?[0-9]+') AS BIGINT)"
        return pinned(
            _PINNED_INT_RE, "is not an integer", value, f"{value} IS NULL",
            "is too large for an integer",
        )  # fmt: skip
    if kind == "number":
        value = f"TRY_CAST({v} AS DOUBLE)"
        return pinned(
            _PINNED_NUMBER_RE, "is not a number", value,
            f"{value} IS NULL OR NOT isfinite({value})", "is not a finite number",
        )  # fmt: skip
    lower = f"lower({v})"
    checks.append((_bad_bool(lower), reason(f"is not {_BOOL_SPELLINGS}")))
    return _bool_sql(lower)


def _object(pairs: list[tuple[str, str]], base: str | None = None) -> str:
    """JSON object text from (key, SQL value) pairs, null values left out.

    Built by string concatenation (``concat_ws`` skips NULLs, and ``'"k":' || NULL`` is NULL):
    several times faster than json_object + json_merge_patch at a million rows.
    """
    import orjson

    members = [
        f"{sql_str(orjson.dumps(k).decode() + ':')} || nullif(to_json({v})::VARCHAR, 'null')"
        for k, v in pairs
    ]
    obj = "('{' || concat_ws(',', " + ", ".join(members) + ") || '}')" if members else "'{}'"
    if base:
        return f"json_merge_patch(coalesce(({base})::JSON, '{{}}'), {obj})"
    return obj


def _phone_sql(given: str) -> str:
    """SQL normalizing the phone text in column ``given`` to E.164 (NULL when invalid)."""
    raw = f"regexp_replace({given}, '[\\s().-]', '', 'g')"
    # NULL first: the Python fallback would otherwise be called for every row without one.
    # A "(0)" is a trunk prefix (+44 (0)20 …): dropping only the separators would keep its 0
    # (+4402…, not a number), so such a phone is read by phonenumbers, as the SDK reads it.
    return (
        f"CASE WHEN {given} IS NULL THEN NULL "
        f"WHEN regexp_full_match({given}, '{_E164_RE}') THEN {given} "
        f"WHEN regexp_full_match({raw}, '{_E164_RE}') AND NOT contains({given}, '(0') "
        f"THEN {raw} "
        f"ELSE martech_normalize_phone({given}) END"
    )


def _phone_reason(column: str, where: str = "") -> str:
    region = default_region()  # a ConfigError, before anything is written, for an unknown one
    return sql_str(
        f"invalid phone number{where} (column {column!r}); expected E.164 (+1415…) or a "
        f"national number of region {region} (MARTECH_DEFAULT_REGION)"
    )


def _bool_sql(v: str) -> str:
    return (
        f"CASE WHEN regexp_full_match({v}, {_TRUE}) THEN true "
        f"WHEN regexp_full_match({v}, {_FALSE}) THEN false END"
    )


def _bad_bool(v: str) -> str:
    return f"{v} IS NOT NULL AND NOT regexp_full_match({v}, {_TRUE[:-1]}|{_FALSE[1:]})"


_BOOL_SPELLINGS = "true/false, yes/no or 1/0"
_CONSENT_SPELLINGS = f"expected {_BOOL_SPELLINGS}"


def _stage_profiles(
    con: Any, source: src.Source, cols: dict[str, str], pinned: dict[str, str]
) -> str:
    """The SELECT giving each row its ``_reason`` (or NULL) and its values in the store's shape.

    Three levels: the file's values as text (``__mt_*`` columns), the values derived from them
    (normalized phones, a consent object's channels), then the checks and the objects, which
    read those columns instead of repeating the expressions (one flat CASE over repeated
    expressions costs several times more per row).
    """
    # martech_normalize_phone and _email: registered when the (writable) store opened
    t = source.text
    first: list[str] = []  # level 1: SQL AS name, over the file's columns
    second: list[str] = []  # level 2: SQL AS name, over level 1

    def once(name: str, sql: str) -> str:
        first.append(f"{sql} AS {name}")
        return name

    def then(name: str, sql: str) -> str:
        second.append(f"{sql} AS {name}")
        return name

    checks: list[tuple[str, str]] = []
    id_col = cols["id"]
    id_ = once("__mt_id", t(id_col))
    checks.append((f"{id_} IS NULL", sql_str(f"missing id (column {id_col!r})")))
    identities: list[tuple[str, str]] = []

    def email(given_sql: str, name: str, column: str, where: str = "") -> str:
        given = once(f"{name}_given", given_sql)
        e = then(name, normalize_email_sql(given))  # as normalize_email: NULL when no email
        checks.append(
            (
                f"{given} IS NOT NULL AND {e} IS NULL",
                sql_str(f"invalid email{where} (column {column!r})"),
            )
        )
        return e

    def phone_check(given: str, name: str, column: str, where: str = "") -> str:
        phone = then(name, _phone_sql(given))
        checks.append((f"{given} IS NOT NULL AND {phone} IS NULL", _phone_reason(column, where)))
        return phone

    if "email" in cols:
        identities.append(("email", email(t(cols["email"]), "__mt_email", cols["email"])))
    if "phone" in cols:
        given = once("__mt_phone_given", t(cols["phone"]))
        identities.append(("phone", phone_check(given, "__mt_phone", cols["phone"])))
    for i, (target, column) in enumerate(cols.items()):
        if not target.startswith("identities."):
            continue
        kind = target[11:]
        # The same checks as the email and phone columns: a bad value rejects its row.
        if kind == "email":
            identities.append((kind, email(t(column), f"__mt_ident_{i}", column)))
        elif kind == "phone":
            given = once(f"__mt_ident_{i}", t(column))
            identities.append((kind, phone_check(given, f"__mt_ident_phone_{i}", column)))
        else:
            identities.append((kind, t(column)))  # in stored form: the store takes it as it is
    base_ids = None
    if "@identities" in cols:
        column = cols["@identities"]
        base_ids = once("__mt_ids_obj", source.object(column))
        checks.append(
            (
                f"{t(column)} IS NOT NULL AND json_type({base_ids}) IS DISTINCT FROM 'OBJECT'",
                sql_str(f"identities (column {column!r}) is not a JSON object"),
            )
        )
        given = f"nullif(trim({base_ids}->>'$.email'), '')"
        email(given, "__mt_ids_email", column, " in identities.email")
        given = once("__mt_ids_phone", f"nullif(trim({base_ids}->>'$.phone'), '')")
        phone_check(given, "__mt_ids_phone_e164", column, " in identities.phone")
    consent: dict[str, str] = {}
    for i, (target, column) in enumerate(cols.items()):
        if not target.startswith("consent."):
            continue
        if source.format == "parquet" and source.columns[column] == "BOOLEAN":
            consent[target[8:]] = source.raw(column)  # typed: nothing to check
            continue
        v = once(f"__mt_consent_{i}", f"lower({t(column)})")
        consent[target[8:]] = _bool_sql(v)
        checks.append(
            (
                _bad_bool(v),
                sql_str(f"consent {target[8:]} (column {column!r}): {_CONSENT_SPELLINGS}"),
            )
        )
    if "@consent" in cols:
        # A whole consent object: known channels only, each a boolean or one of the spellings
        # the consent_<channel> columns take, stored as a JSON boolean.
        column = cols["@consent"]
        obj = once("__mt_consent_obj", source.object(column))
        checks.append(
            (
                f"{t(column)} IS NOT NULL AND json_type({obj}) IS DISTINCT FROM 'OBJECT'",
                sql_str(f"consent (column {column!r}) is not a JSON object"),
            )
        )
        known = sql_str("|".join(re.escape(c) for c in CHANNELS))
        unknown = then(
            "__mt_consent_unknown",
            f"CASE WHEN json_type({obj}) = 'OBJECT' THEN list_filter(json_keys({obj}), "
            f"lambda k: NOT regexp_full_match(k, {known}))[1] END",
        )
        checks.append(
            (
                f"{unknown} IS NOT NULL",
                f"{sql_str(f'consent (column {column!r}): unknown channel ')} || "
                f"{sql_str(chr(39))} || {unknown} || "
                f"{sql_str(chr(39) + '; expected one of ' + ', '.join(CHANNELS))}",
            )
        )
        for ch in CHANNELS:
            v = then(f"__mt_consent_obj_{ch}", f"lower(nullif(trim({obj}->>'$.{ch}'), ''))")
            checks.append(
                (_bad_bool(v), sql_str(f"consent {ch} (column {column!r}): {_CONSENT_SPELLINGS}"))
            )
            # A consent_<channel> column wins over the object, as it always has.
            column_value = consent.get(ch)
            consent[ch] = (
                f"coalesce({column_value}, {_bool_sql(v)})" if column_value else _bool_sql(v)
            )
    trait_cols = [(k[7:], c) for k, c in cols.items() if k.startswith("traits.")]
    traits = _values(con, source, trait_cols, pinned, "trait", checks)
    base_traits = None
    if "@traits" in cols:
        base_traits = once("__mt_traits_obj", source.object(cols["@traits"]))
        _nonfinite_object(source, cols["@traits"], checks)
    if base_ids is not None:
        _nonfinite_object(source, cols["@identities"], checks)
    if base_ids is not None:
        ids = f"{_object(identities, base_ids)}::JSON"
    elif identities and len({k.lower() for k, _ in identities}) == len(identities):
        # Columns as they are (a STRUCT): the store reads each kind without a JSON round trip.
        ids = "struct_pack(" + ", ".join(f"{sql_ident(k)} := {v}" for k, v in identities) + ")"
    elif identities:  # a kind named twice (struct fields would clash): as a JSON object
        ids = f"{_object(identities)}::JSON"
    else:
        ids = "NULL::JSON"
    level2 = f"SELECT *, {', '.join(second)} FROM " if second else "SELECT * FROM "
    return f"""SELECT _rn, {_reason(checks)} AS _reason, {id_} AS id,
                      {_object(traits, base_traits)}::JSON AS traits,
                      {_object(list(consent.items()))}::JSON AS consent,
                      {ids} AS identities
               FROM ({level2}(SELECT *, {", ".join(first)} FROM _mt_src))"""


def _nonfinite_object(source: src.Source, column: str, checks: list[tuple[str, str]]) -> None:
    """Reject a row whose whole-object column holds NaN or ±Infinity (JSON has neither)."""
    bad = source.object_nonfinite(column)
    if bad:
        checks.append(
            (bad, sql_str(f"{column} (column {column!r}) holds a NaN or infinite number"))
        )


def _stage_events(
    con: Any, source: src.Source, cols: dict[str, str], pinned: dict[str, str], *, strict: bool
) -> str:
    """The SELECT giving each row its ``_reason`` (or NULL) and its values in the store's shape."""
    t = source.text
    checks: list[tuple[str, str]] = []
    pid, typ, ts_col = cols["profile_id"], cols["type"], cols["ts"]
    checks.append((source.missing(pid), sql_str(f"missing profile id (column {pid!r})")))
    checks.append((source.missing(typ), sql_str(f"missing event type (column {typ!r})")))
    if strict:
        known = sql_str("|".join(re.escape(x) for x in sorted(EVENT_TYPES)))
        checks.append(
            (
                f"NOT regexp_full_match({t(typ)}, {known})",
                f"'unknown event type ''' || {t(typ)} || ''' (column {sql_str(typ)[1:-1]}, strict "
                f"mode; known types: {', '.join(sorted(EVENT_TYPES))})'",
            )
        )
    checks.append((source.missing(ts_col), sql_str(f"missing timestamp (column {ts_col!r})")))
    if source.format == "parquet" and source.columns[ts_col] in _PARQUET_TIMESTAMPTZ:
        ts = source.raw(ts_col)
        if source.columns[ts_col] == "TIMESTAMPTZ_NS":  # pandas' unit, cut to microseconds
            ts += "::TIMESTAMPTZ"
    else:
        tv = t(ts_col)
        ts = f"CASE WHEN regexp_matches({tv}, '{_TZ_RE}') THEN TRY_CAST({tv} AS TIMESTAMPTZ) END"
        # A date alone is rejected as a naive timestamp is: which day it is depends on the zone.
        checks.append(
            (
                f"regexp_full_match({tv}, '{_DATE_RE}')",
                f"'date without a time and zone ''' || {tv} || ''' (column "
                f"{sql_str(ts_col)[1:-1]}): give a time and Z or an offset, such as ' "
                f"|| {tv} || 'T00:00:00Z'",
            )
        )
        checks.append(
            (
                f"NOT regexp_matches({tv}, '{_TZ_RE}') AND TRY_CAST({tv} AS TIMESTAMP) IS NOT NULL",
                f"'naive timestamp ''' || {tv} || ''' (column {sql_str(ts_col)[1:-1]}): "
                "add Z or an offset such as +00:00'",
            )
        )
        # A number is said to be one (the reject file masks its digits as a phone's): an epoch
        # is not read, for seconds, milliseconds and microseconds look alike.
        epoch = sql_str(
            f"timestamp (column {ts_col}) is a number, not ISO 8601 text: epoch times are not "
            "read; write them as 2026-01-01T10:00:00Z"
        )
        checks.append(
            (
                f"TRY_CAST({tv} AS TIMESTAMPTZ) IS NULL",
                f"CASE WHEN regexp_full_match({tv}, '-?[0-9]+([.][0-9]+)?') THEN {epoch} ELSE "
                f"'timestamp ''' || {tv} || ''' (column {sql_str(ts_col)[1:-1]}) is not ISO 8601' "
                "END",
            )
        )
    value = "NULL::DOUBLE"
    if "value" in cols:
        vc = cols["value"]
        if source.format == "parquet":
            value = f"{source.raw(vc)}::DOUBLE"
        else:
            value = f"TRY_CAST({t(vc)} AS DOUBLE)"
            checks.append(
                (
                    f"{t(vc)} IS NOT NULL AND {value} IS NULL",
                    f"'value ''' || {t(vc)} || ''' (column {sql_str(vc)[1:-1]}) is not a number'",
                )
            )
        checks.append(
            (
                f"NOT isfinite({value})",
                f"'value ''' || ({value})::VARCHAR || ''' (column {sql_str(vc)[1:-1]}) is not a "
                "finite number'",
            )
        )
    item = t(cols["item_id"]) if "item_id" in cols else "NULL::VARCHAR"
    prop_cols = [(k[11:], c) for k, c in cols.items() if k.startswith("properties.")]
    props = _values(con, source, prop_cols, pinned, "property", checks)
    base = source.object(cols["@properties"]) if "@properties" in cols else None
    if base:
        _nonfinite_object(source, cols["@properties"], checks)
    if props:
        properties = _object(props, base)
    elif base:  # the store's own shape: keep the object as it is, no re-serializing
        properties = f"CASE WHEN json_type({base}) = 'OBJECT' THEN {base} END"
        raw_props = source.text(cols["@properties"])
        checks.append(
            (
                f"{raw_props} IS NOT NULL AND json_type({base}) IS DISTINCT FROM 'OBJECT'",
                sql_str(f"properties (column {cols['@properties']!r}) is not a JSON object"),
            )
        )
    else:
        properties = "NULL"
    # Properties stay typed JSON: the store takes them without parsing them again.
    return f"""SELECT _rn, {_reason(checks)} AS _reason, {t(pid)} AS profile_id, {t(typ)} AS type,
                      {item} AS item_id, {ts} AS ts, {value} AS value,
                      nullif(({properties})::JSON, '{{}}') AS properties
               FROM _mt_src"""


# ------------------------------------------------------------------------------------- rejects

_REDACT_EMAIL = r"[^@\s\"',;<>]+@[^@\s\"',;<>]+\.[A-Za-z]{2,}"
# Seven or more digits, with spaces, dots, dashes or parentheses between them and an optional
# leading +: any phone number, national ones without separators too (0701234567). Stricter than
# martech.http.redact on purpose (that one keeps bare digit runs, vendor ids, in log lines): a
# reject file holds customer data. ISO dates are kept (set apart first, see redact_sql).
_REDACT_PHONE = r"\+?\(?[0-9](?:[ ().-]{0,2}[0-9]){6,}"
_ISO_DATE = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"


def redact_sql(expr: str) -> str:
    """SQL that masks anything shaped like an email or a phone number in a text value."""
    # A date's dashes become chr(1) while phones are masked (its 8 digits would look like one).
    dated = f"regexp_replace({expr}, {sql_str(_ISO_DATE)}, '\\1\x01\\2\x01\\3', 'g')"
    masked = (
        f"regexp_replace(regexp_replace({dated}, {sql_str(_REDACT_EMAIL)}, '[email]', 'g'), "
        f"{sql_str(_REDACT_PHONE)}, '[phone]', 'g')"
    )
    return f"replace({masked}, chr(1), '-')"


def _write_rejects(con: Any, source: src.Source, cols: dict[str, str], path: Path) -> int:
    """Write rejected rows (validation and parse failures) to ``path``; returns how many."""
    import pyarrow as pa

    pii = {cols.get("email"), cols.get("phone")} - {None}
    pairs = []
    for c in source.columns:
        value = source.text(c)
        hidden = f"CASE WHEN {value} IS NOT NULL THEN '[redacted]' END"
        pairs.append((c, hidden if c in pii else redact_sql(value)))
    record = "json_object(" + ", ".join(f"{sql_str(k)}, {v}" for k, v in pairs) + ")"
    # Count first: a clean file (the common case) needs no reject table.
    failed = con.execute("SELECT count(*) FROM _mt_stage WHERE _reason IS NOT NULL").fetchall()
    where = "WHERE _reason IS NOT NULL" if failed[0][0] else "LIMIT 0"
    # A reason may quote the value it refuses (a timestamp, a value, an event type): masked as
    # the record is, for a shifted column puts an email or a phone there.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _mt_rejects AS
            SELECT _rn AS row, {redact_sql("_reason")} AS reason, NULL::VARCHAR AS record
            FROM _mt_stage {where}"""
    )
    if failed[0][0]:
        con.execute(
            f"""UPDATE _mt_rejects SET record = r.record FROM (
                  SELECT _rn, {record}::VARCHAR AS record FROM _mt_src
                  WHERE _rn IN (SELECT row FROM _mt_rejects)) r
                WHERE _mt_rejects.row = r._rn"""
        )
    if source.parse_rejects:
        con.register(
            "_mt_parse",
            pa.table(
                {
                    "row": [r[0] for r in source.parse_rejects],
                    "reason": [r[1] for r in source.parse_rejects],
                    "line": [r[2] for r in source.parse_rejects],
                }
            ),
        )
        con.execute(
            f"""INSERT INTO _mt_rejects SELECT row, reason,
                   json_object('line', {redact_sql("line")})::VARCHAR FROM _mt_parse"""
        )
        con.unregister("_mt_parse")
    n = int(con.execute("SELECT count(*) FROM _mt_rejects").fetchall()[0][0])
    if n:
        path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT row, reason, record::JSON AS record FROM _mt_rejects ORDER BY row) "
            f"TO {sql_str(str(path))} (FORMAT json)"
        )
    elif path.is_file():
        path.unlink()  # a reject file left by an earlier import of this file is no longer true
    con.execute("DROP TABLE IF EXISTS _mt_rejects")
    return n
