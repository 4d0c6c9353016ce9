"""The sync ledger in the store: what this tool sent where, batch by batch, and its runs.

Tables (schema v1 + v3 + v5, see ``martech.store.MIGRATIONS``):

- ``sync_ledger``: one row per (destination, audience, member) — the folded state: ``present``
  (we added it and it is there), ``removed`` (we removed it), ``rejected`` (the vendor refused
  the add; the next run tries again). Only ``present`` rows count as "last sent".
- ``sync_runs``: one row per run, with its status (running / stopped / interrupted / failed /
  complete), ``started_upto`` (the highest batch it may have started) and ``resume_after``.
- ``sync_plan_items``: a run's intent, written before anything is sent: every item with its
  deterministic batch number. A resumed run replays exactly these batches.
- ``sync_batches`` + ``sync_ledger_log``: per-batch results, appended in one transaction per
  group commit: a row per batch, and a log row only for each item the vendor refused (with its
  reason). Every other item of a committed batch is done (``present``, or ``removed`` for a
  remove), so its state comes from the run's plan. When a run ends or stops, its batches not yet
  ``folded`` are folded into ``sync_ledger``: a million sent members are one append per batch
  while sending and one set-based fold at the end, not a million log rows.

A batch is committed or it is not: a kill -9 loses at most the batches that were in flight, and
those are found again as ``batch <= started_upto`` without a ``sync_batches`` row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from ..store import fetch_one, fetch_scalar
from .diff import Diff, check_mode

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: Run states; every state but ``complete`` and ``failed`` is resumed by the next apply.
UNFINISHED = ("running", "stopped", "interrupted")


@dataclass
class BatchRecord:
    """What one batch did, ready to commit; only its refused items reach the ledger log."""

    batch: int
    op: str
    keys: list[str]
    hashes: list[str | None]
    states: list[str]
    reasons: list[str | None]
    requests: int = 0

    @property
    def sent(self) -> int:
        return sum(1 for s in self.states if s != "rejected")

    @property
    def rejected(self) -> int:
        return sum(1 for s in self.states if s == "rejected")


@dataclass
class RunInfo:
    """One row of ``sync_runs`` as ``martech sync status`` shows it."""

    run_id: str
    destination: str
    audience: str
    segment_key: str | None
    mode: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    started_upto: int
    resume_after: datetime | None
    summary: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ reading


def query_arrow(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pa.Table:
    """A query's whole result as an Arrow table."""
    table = con.sql(sql, params=params).to_arrow_table()
    assert table is not None
    return table


def last_sent(
    con: duckdb.DuckDBPyConnection, destination: str, audience: str
) -> dict[str, str | None]:
    """Members this tool added to the audience and has not removed: key -> payload hash."""
    rows = con.execute(
        "SELECT profile_id, payload_hash FROM sync_ledger "
        "WHERE destination = ? AND audience = ? AND state = 'present'",
        [destination, audience],
    ).fetchall()
    return {k: h for k, h in rows}


def diff_sql(
    con: duckdb.DuckDBPyConnection, destination: str, audience: str, desired: str, mode: str
) -> str:
    """SQL for the diff of the ledger against table ``desired`` (profile_id, payload_hash).

    Yields ``(op, profile_id, payload_hash)`` ordered by op then key — the same answer as
    :func:`martech.sync.diff.diff`, for audiences too large for Python sets. ``desired`` is a
    table name we chose (never user input); destination and audience are bound parameters.
    """
    check_mode(mode)
    last = (
        "SELECT profile_id, payload_hash FROM sync_ledger "
        "WHERE destination = $destination AND audience = $audience AND state = 'present'"
    )
    parts = [
        f"SELECT 'add' AS op, d.profile_id, d.payload_hash FROM {desired} d "
        f"ANTI JOIN ({last}) l ON l.profile_id = d.profile_id"
    ]
    if mode == "mirror":
        parts.append(
            f"SELECT 'remove' AS op, l.profile_id, l.payload_hash FROM ({last}) l "
            f"ANTI JOIN {desired} d ON d.profile_id = l.profile_id"
        )
    elif mode == "upsert":
        parts.append(
            f"SELECT 'update' AS op, d.profile_id, d.payload_hash FROM {desired} d "
            f"JOIN ({last}) l ON l.profile_id = d.profile_id "
            "WHERE l.payload_hash IS DISTINCT FROM d.payload_hash"
        )
    return " UNION ALL ".join(parts)


def diff_in_store(
    con: duckdb.DuckDBPyConnection,
    destination: str,
    audience: str,
    desired: pa.Table,
    mode: str,
) -> Diff:
    """:func:`diff_sql` run over an Arrow ``desired`` table, as a :class:`Diff`."""
    con.register("_martech_desired", desired)
    try:
        rows = con.execute(
            diff_sql(con, destination, audience, "_martech_desired", mode)
            + " ORDER BY op, profile_id",
            {"destination": destination, "audience": audience},
        ).fetchall()
    finally:
        con.unregister("_martech_desired")
    out: dict[str, list[str]] = {"add": [], "remove": [], "update": []}
    for op, key, _ in rows:
        out[op].append(key)
    return Diff(tuple(out["add"]), tuple(out["remove"]), tuple(out["update"]))


def recorded_scope(con: duckdb.DuckDBPyConnection, destination: str, audience: str) -> str | None:
    """Where the latest run to this audience that recorded it was sent (its connector's
    ``ledger_scope()``), if any run did and the ledger still holds members it sent."""
    return fetch_scalar(  # type: ignore[no-any-return]
        con,
        """SELECT json_extract_string(summary, '$.scope') FROM sync_runs
           WHERE destination = ? AND audience = ?
             AND json_extract_string(summary, '$.scope') IS NOT NULL
             AND EXISTS (SELECT 1 FROM sync_ledger
                         WHERE destination = ? AND audience = ? AND state = 'present')
           ORDER BY started_at DESC LIMIT 1""",
        [destination, audience, destination, audience],
    )


def unfinished_run(
    con: duckdb.DuckDBPyConnection, destination: str, audience: str
) -> RunInfo | None:
    """The run for this audience that did not finish (at most one: apply resumes it first)."""
    runs = list_runs(con, destination=destination, audience=audience, statuses=UNFINISHED, limit=1)
    return runs[0] if runs else None


def list_runs(
    con: duckdb.DuckDBPyConnection,
    *,
    destination: str | None = None,
    audience: str | None = None,
    statuses: Sequence[str] = (),
    limit: int = 10,
) -> list[RunInfo]:
    """The latest runs, newest first."""
    where, params = ["TRUE"], []
    if destination is not None:
        where.append("destination = ?")
        params.append(destination)
    if audience is not None:
        where.append("audience = ?")
        params.append(audience)
    if statuses:
        where.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(statuses)
    rows = con.execute(
        "SELECT run_id, destination, audience, segment_key, mode, timezone('UTC', started_at), "
        "timezone('UTC', finished_at), status, started_upto, timezone('UTC', resume_after), "
        f"summary FROM sync_runs WHERE {' AND '.join(where)} "
        "ORDER BY started_at DESC, run_id DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [
        RunInfo(
            run_id=r[0],
            destination=r[1],
            audience=r[2],
            segment_key=r[3],
            mode=r[4],
            started_at=_utc(r[5]),
            finished_at=_utc(r[6]) if r[6] else None,
            status=r[7],
            started_upto=-1 if r[8] is None else int(r[8]),
            resume_after=_utc(r[9]) if r[9] else None,
            summary=orjson.loads(r[10]) if r[10] else {},
        )
        for r in rows
    ]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def committed_batches(con: duckdb.DuckDBPyConnection, run_id: str) -> set[int]:
    rows = con.execute("SELECT batch FROM sync_batches WHERE run_id = ?", [run_id]).fetchall()
    return {int(b) for (b,) in rows}


def run_totals(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[int, int, int]:
    """(sent, rejected, requests) over the committed batches of a run."""
    row = fetch_one(
        con,
        "SELECT coalesce(sum(sent), 0), coalesce(sum(rejected), 0), coalesce(sum(requests), 0) "
        "FROM sync_batches WHERE run_id = ?",
        [run_id],
    )
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def rejected_items(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, str]:
    """Refused items of a run not yet folded (read before :func:`fold`)."""
    rows = con.execute(
        "SELECT profile_id, reason FROM sync_ledger_log WHERE run_id = ? AND state = 'rejected'",
        [run_id],
    ).fetchall()
    return {k: r or "rejected" for k, r in rows}


# ------------------------------------------------------------------------------------ writing


def start_run(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    destination: str,
    audience: str,
    segment_key: str | None,
    mode: str,
    items: pa.Table,
    summary: dict[str, Any],
) -> None:
    """Record the run and its intent (every planned item with its batch) in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO sync_runs (run_id, destination, audience, segment_key, mode, started_at, "
            "status, summary, started_upto) VALUES (?, ?, ?, ?, ?, now(), 'running', ?, -1)",
            [run_id, destination, audience, segment_key, mode, orjson.dumps(summary).decode()],
        )
        con.register("_martech_items", items)
        con.execute(
            "INSERT INTO sync_plan_items SELECT ?, batch, op, profile_id, payload_hash "
            "FROM _martech_items",
            [run_id],
        )
        con.unregister("_martech_items")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def set_started_upto(con: duckdb.DuckDBPyConnection, run_id: str, upto: int) -> None:
    """Durably note that batches up to ``upto`` may be sent (written before they are)."""
    con.execute("UPDATE sync_runs SET started_upto = ? WHERE run_id = ?", [upto, run_id])


def commit_batches(
    con: duckdb.DuckDBPyConnection, run_id: str, records: Iterable[BatchRecord]
) -> None:
    """Record finished batches, all in one transaction (group commit): a ``sync_batches`` row
    each, and a ledger-log row for each refused item."""
    import pyarrow as pa

    records = list(records)
    if not records:
        return
    cols: dict[str, list[Any]] = {
        "batch": [],
        "op": [],
        "profile_id": [],
        "state": [],
        "payload_hash": [],
        "reason": [],
    }
    for rec in records:
        if not rec.rejected:
            continue  # the common case: nothing refused, nothing to log item by item
        for key, state, payload_hash, reason in zip(
            rec.keys, rec.states, rec.hashes, rec.reasons, strict=True
        ):
            if state == "rejected":
                cols["batch"].append(rec.batch)
                cols["op"].append(rec.op)
                cols["profile_id"].append(key)
                cols["state"].append(state)
                cols["payload_hash"].append(payload_hash)
                cols["reason"].append(reason)
    table = pa.table(
        cols,
        schema=pa.schema(
            [
                ("batch", pa.int64()),
                ("op", pa.string()),
                ("profile_id", pa.string()),
                ("state", pa.string()),
                ("payload_hash", pa.string()),
                ("reason", pa.string()),
            ]
        ),
    )
    summary = pa.table(
        {
            "batch": [r.batch for r in records],
            "op": [r.op for r in records],
            "items": [len(r.keys) for r in records],
            "sent": [r.sent for r in records],
            "rejected": [r.rejected for r in records],
            "requests": [r.requests for r in records],
        }
    )
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_martech_log", table)
        con.register("_martech_batches", summary)
        if table.num_rows:
            con.execute(
                "INSERT INTO sync_ledger_log (run_id, batch, op, profile_id, state, "
                "payload_hash, reason) SELECT ?, batch, op, profile_id, state, payload_hash, "
                "reason FROM _martech_log",
                [run_id],
            )
        con.execute(
            "INSERT INTO sync_batches (run_id, batch, op, items, sent, rejected, requests) "
            "SELECT ?, batch, op, items, sent, rejected, requests FROM _martech_batches",
            [run_id],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_martech_log")
        con.unregister("_martech_batches")


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    destination: str,
    audience: str,
    rows: str,
    params: Sequence[Any] = (),
) -> None:
    """Write ``rows`` (SQL selecting ``profile_id, state, payload_hash, batch_id, run_id,
    updated_at``, one row per member) to ``sync_ledger`` for (destination, audience), replacing
    those members' rows. The table has no key to replace on (store migration 7): every writer
    comes through here, which deletes the rows it rewrites before appending, so a member keeps
    one row per audience. Runs inside the caller's transaction."""
    con.execute(
        "DELETE FROM sync_ledger WHERE destination = ? AND audience = ? "
        f"AND profile_id IN (SELECT profile_id FROM ({rows}))",
        [destination, audience, *params],
    )
    con.execute(
        "INSERT INTO sync_ledger (destination, audience, profile_id, state, payload_hash, "
        "batch_id, run_id, updated_at) SELECT ?, ?, profile_id, state, payload_hash, batch_id, "
        f"run_id, updated_at FROM ({rows})",
        [destination, audience, *params],
    )


def fold(con: duckdb.DuckDBPyConnection, run_id: str, destination: str, audience: str) -> None:
    """Fold a run's committed, not yet folded batches into ``sync_ledger``; idempotent.

    Each planned item of such a batch is ``present`` (``removed`` for a remove) unless the log
    says the vendor refused it; the latest batch per member wins. A refused update or remove
    leaves the member as it was, so only refused adds are folded.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE TEMP TABLE _martech_fold AS "
            "SELECT p.profile_id, "
            "  CASE WHEN r.profile_id IS NOT NULL THEN 'rejected' "
            "       WHEN p.op = 'remove' THEN 'removed' ELSE 'present' END AS state, "
            "  p.payload_hash, CAST(p.batch AS VARCHAR) AS batch_id, p.run_id, "
            "  b.committed_at AS updated_at "
            "FROM sync_plan_items p "
            "JOIN sync_batches b ON b.run_id = p.run_id AND b.batch = p.batch AND b.op = p.op "
            "  AND NOT coalesce(b.folded, false) "
            "LEFT JOIN sync_ledger_log r ON r.run_id = p.run_id AND r.batch = p.batch "
            "  AND r.profile_id = p.profile_id AND r.state = 'rejected' "
            "WHERE p.run_id = ? AND NOT (r.profile_id IS NOT NULL AND p.op <> 'add') "
            "QUALIFY row_number() OVER (PARTITION BY p.profile_id ORDER BY p.batch DESC) = 1",
            [run_id],
        )
        replace_rows(con, destination, audience, "SELECT * FROM _martech_fold")
        con.execute("DROP TABLE _martech_fold")
        con.execute(
            "UPDATE sync_batches SET folded = true "
            "WHERE run_id = ? AND NOT coalesce(folded, false)",
            [run_id],
        )
        con.execute("DELETE FROM sync_ledger_log WHERE run_id = ?", [run_id])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    status: str,
    summary: dict[str, Any],
    resume_after: datetime | None = None,
) -> None:
    """Record how a run ended; a complete run's intent rows are no longer needed."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "UPDATE sync_runs SET status = ?, finished_at = now(), summary = ?, resume_after = ? "
            "WHERE run_id = ?",
            [status, orjson.dumps(summary).decode(), resume_after, run_id],
        )
        if status == "complete":
            con.execute("DELETE FROM sync_plan_items WHERE run_id = ?", [run_id])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def plan_items(con: duckdb.DuckDBPyConnection, run_id: str) -> pa.Table:
    """A run's intent: (batch, op, profile_id, payload_hash) ordered by batch."""
    return query_arrow(
        con,
        "SELECT batch, op, profile_id, payload_hash FROM sync_plan_items WHERE run_id = ? "
        "ORDER BY batch, profile_id",
        [run_id],
    )


def run_count(con: duckdb.DuckDBPyConnection) -> int:
    return int(fetch_scalar(con, "SELECT count(*) FROM sync_runs"))


__all__ = [
    "UNFINISHED",
    "BatchRecord",
    "RunInfo",
    "commit_batches",
    "committed_batches",
    "diff_in_store",
    "diff_sql",
    "finish_run",
    "fold",
    "last_sent",
    "list_runs",
    "plan_items",
    "query_arrow",
    "recorded_scope",
    "rejected_items",
    "replace_rows",
    "run_totals",
    "set_started_upto",
    "start_run",
    "unfinished_run",
]
