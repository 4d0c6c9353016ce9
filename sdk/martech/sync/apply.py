"""Apply a sync: send the planned batches, commit each to the ledger, survive crashes and limits.

How it stays correct:

- **Intent first.** A run writes its planned items, each with a deterministic batch number, before
  anything is sent (``sync_plan_items``), and durably raises ``started_upto`` before starting a
  batch past it. A kill -9 leaves committed batches (``sync_batches``), batches that surely never
  started (``> started_upto``) and a few *uncertain* ones in between.
- **Resume replays the same run.** The next apply finishes an unfinished run before planning a new
  one: committed batches are skipped; uncertain adds are reconciled by reading the audience when
  the connector can (``read_members``; ``vendor_key(member)`` maps a member to what it yields),
  otherwise re-sent — adding a member twice is idempotent by contract (the conformance kit checks
  it). Uncertain removes and updates are re-sent (idempotent as well).
- **Removes reach every address.** A payload names one value per identity kind (the smallest the
  store holds), but the add may have gone out with another one (the email changed since, or a
  merge brought a second): a remove also names the profile's other values of those kinds, as
  extra members with the same key (cut to ``limits.batch_count`` per request). Removing a
  non-member is a no-op by contract.
- **One transaction per commit.** A finished batch's per-item results go to the ledger log in one
  DuckDB transaction; when the writer falls behind, several finished batches share one
  transaction (group commit) — each batch is still all-or-nothing.
- **Within limits.** At most ``limits.concurrency`` batches are in flight; the HTTP layer adds the
  shared per-credential budget and honours Retry-After. A wait that would pass ``deadline`` stops
  the run cleanly with ``resume_after``.
- **Bad records isolated.** A batch the vendor refuses as a whole is bisected until the refused
  records are alone, within :func:`split_budget` requests per batch (a vendor refusing every
  request — a bad audience, a malformed payload — would otherwise cost two per member); members
  the budget leaves unisolated are refused with the vendor's reason, and retried next run. Each
  item ends ``sent``, ``rejected`` (with the vendor's reason, redacted) or, at planning time,
  ``invalid``. Refused and invalid items go to the dead-letter JSONL.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..connector import AudienceMember, BatchOutcome, Connector, MemberBatch
from ..errors import (
    AuthError,
    ConfigError,
    DeadlineExceededError,
    FatalVendorError,
    RejectedError,
    RetriableVendorError,
)
from ..models import SyncResult
from . import ledger
from .deadletter import DeadLetter
from .ledger import query_arrow
from .plan import PreparedSync, SyncSpec, payload_sql, prepare, runs

if TYPE_CHECKING:
    import pyarrow as pa

    from ..store import Store

T = TypeVar("T")

#: A whole-batch refusal with one of these statuses is bisected to find the bad records.
SPLIT_STATUSES = frozenset({400, 413, 422})
#: Extra attempts of a batch after the HTTP layer's own retries ran out.
ENGINE_RETRIES = 2
#: Seconds the ledger writer waits for more finished batches before committing fewer than
#: ``concurrency`` of them: a DuckDB transaction costs ~5 ms of CPU whatever its size, so
#: batches share one. Commits only come later; what is durable stays exactly as before.
COMMIT_LINGER = 0.02
#: The longest the engine itself waits before retrying a batch; a vendor asking for longer
#: stops the run with ``resume_after`` at the vendor's time.
ENGINE_MAX_WAIT = 60.0


def split_budget(size: int) -> int:
    """Requests a refused batch of ``size`` members may spend on isolating its bad records:
    enough to bisect down to four of them, at least 16."""
    return max(16, 8 * math.ceil(math.log2(max(size, 2))))


@dataclass
class _Stop:
    status: str
    reason: str
    resume_after: datetime | None = None
    error: BaseException | None = None


@dataclass
class _Batch:
    number: int
    op: str
    start: int
    length: int


@dataclass
class _Run:
    """Everything one execution of a run shares."""

    store: Store
    connector: Connector
    run_id: str
    audience: str
    items: pa.Table
    deadline: datetime | None
    dead_letter: DeadLetter | None
    started_upto: int
    identity_keys: tuple[str, ...] = ()
    #: Remove keys -> their other identity values (JSON objects), see _other_identities.
    extra: dict[str, list[str]] = field(default_factory=dict)
    audience_id: str = ""
    stop: _Stop | None = None
    rejected: dict[str, str] = field(default_factory=dict)
    committed: list[int] = field(default_factory=list)
    requests: int = 0
    rng: random.Random = field(default_factory=random.Random)


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def apply(
    store: Store,
    connector: Connector,
    spec: SyncSpec,
    *,
    deadline: datetime | None = None,
    dead_letter: str | Path | None = None,
) -> SyncResult:
    """Finish any unfinished run for this audience, then plan and send ``spec``. Blocking."""
    from ..http import run_sync

    return run_sync(apply_async(store, connector, spec, deadline=deadline, dead_letter=dead_letter))


async def apply_async(
    store: Store,
    connector: Connector,
    spec: SyncSpec,
    *,
    deadline: datetime | None = None,
    dead_letter: str | Path | None = None,
) -> SyncResult:
    """:func:`apply` for async callers."""
    letters = DeadLetter(Path(dead_letter)) if dead_letter else None
    results: list[SyncResult] = []
    pending = ledger.unfinished_run(store.con, connector.name, spec.audience)
    if pending is not None:
        result = await resume_async(store, connector, pending, deadline=deadline, letters=letters)
        results.append(result)
        if not result.complete:
            return result
    prepared = prepare(store, connector, spec)
    results.append(
        await execute_async(store, connector, prepared, deadline=deadline, letters=letters)
    )
    return combine(
        results, retried=(prepared.plan.adds, prepared.plan.removes, prepared.plan.updates)
    )


async def execute_async(
    store: Store,
    connector: Connector,
    prepared: PreparedSync,
    *,
    deadline: datetime | None = None,
    letters: DeadLetter | None = None,
) -> SyncResult:
    """Record the run's intent, report invalid members, send the batches."""
    spec = prepared.spec
    run_id = new_run_id()
    summary = {
        **prepared.summary(),
        "traits": list(spec.traits),
        "identity_keys": list(connector.identity_keys),
        "scope": connector.ledger_scope(),
    }
    ledger.start_run(
        store.con,
        run_id=run_id,
        destination=connector.name,
        audience=spec.audience,
        segment_key=spec.segment_key,
        mode=spec.mode,
        items=prepared.items.select(["batch", "op", "profile_id", "payload_hash"]),
        summary=summary,
    )
    if letters is not None:
        letters.write_many(run_id, connector.name, spec.audience, "invalid", prepared.invalid)
    run = _Run(
        store=store,
        connector=connector,
        run_id=run_id,
        audience=spec.audience,
        items=prepared.items,
        deadline=deadline,
        dead_letter=letters,
        started_upto=-1,
        identity_keys=tuple(connector.identity_keys),
    )
    result = await _execute(run, committed=set(), uncertain=set(), summary=summary)
    return result.model_copy(update={"invalid": dict(prepared.invalid)})


async def resume_async(
    store: Store,
    connector: Connector,
    info: ledger.RunInfo,
    *,
    deadline: datetime | None = None,
    letters: DeadLetter | None = None,
) -> SyncResult:
    """Finish an unfinished run: skip committed batches, reconcile uncertain ones, send the rest."""
    con = store.con
    traits = tuple(info.summary.get("traits", ()))
    id_keys = list(info.summary.get("identity_keys", connector.identity_keys))
    intent = ledger.plan_items(con, info.run_id)
    con.register("_martech_resume", intent)
    try:
        payload, params = payload_sql("_martech_resume", id_keys, traits)
        con.register("_martech_resume_payload", query_arrow(con, payload, params))
        items = query_arrow(
            con,
            "SELECT r.batch, r.op, r.profile_id, r.payload_hash, p.identities, "
            "coalesce(p.traits, '{}') AS traits, coalesce(p.size, 16) AS size "
            "FROM _martech_resume r LEFT JOIN _martech_resume_payload p USING (profile_id) "
            "ORDER BY r.batch, r.profile_id",
        )
    finally:
        con.unregister("_martech_resume")
        con.unregister("_martech_resume_payload")
    committed = ledger.committed_batches(con, info.run_id)
    uncertain = {
        b
        for b in set(items.column("batch").to_pylist())
        if b not in committed and b <= info.started_upto
    }
    con.execute("UPDATE sync_runs SET status = 'running' WHERE run_id = ?", [info.run_id])
    run = _Run(
        store=store,
        connector=connector,
        run_id=info.run_id,
        audience=info.audience,
        items=items,
        deadline=deadline,
        dead_letter=letters,
        started_upto=info.started_upto,
        identity_keys=tuple(id_keys),
    )
    summary = {**info.summary, "resumed": info.summary.get("resumed", 0) + 1}
    return await _execute(run, committed=committed, uncertain=uncertain, summary=summary)


def combine(results: Sequence[SyncResult], *, retried: Sequence[Sequence[str]] = ()) -> SyncResult:
    """One result for a resumed run followed by a fresh one.

    ``retried`` holds the key lists the last run planned: an earlier refusal of one of those is
    replaced by what the last run did with it (sent, or refused again). The runs share one
    dead-letter file, so the last result's count already holds the earlier ones'.
    """
    last = results[-1]
    if len(results) == 1:
        return last
    invalid: dict[str, str] = {}
    rejected: dict[str, str] = {}
    for r in results[:-1]:
        invalid.update(r.invalid)
        rejected.update(r.rejected)
    if rejected:
        again = {k for keys in retried for k in keys}
        rejected = {k: v for k, v in rejected.items() if k not in again}
    invalid.update(last.invalid)
    rejected.update(last.rejected)
    return last.model_copy(
        update={
            "sent": sum(r.sent for r in results),
            "requests": sum(r.requests for r in results),
            "invalid": invalid,
            "rejected": rejected,
        }
    )


# ------------------------------------------------------------------------------------ engine


def _batches(items: pa.Table) -> list[_Batch]:
    """The runs of equal batch numbers in ``items`` (ordered by batch)."""
    numbers = items.column("batch").to_numpy()
    starts, lengths = runs(numbers)
    ops = items.column("op").take(starts).to_pylist()
    return [
        _Batch(number=int(numbers[s]), op=op, start=int(s), length=int(k))
        for s, k, op in zip(starts, lengths, ops, strict=True)
    ]


def _members(
    items: pa.Table, batch: _Batch, extra: dict[str, list[str]]
) -> tuple[MemberBatch, list[str], list[str | None]]:
    """A batch's members as columns (no object per member unless the connector asks), its
    keys, and their payload hashes. A remove batch also names the members' other identity
    values (``extra``), as more members with the same keys."""
    part = items.slice(batch.start, batch.length)
    keys = part.column("profile_id").to_pylist()
    identities = part.column("identities").to_pylist()
    traits = part.column("traits").to_pylist()
    members = MemberBatch(keys, identities, traits)
    if extra and batch.op == "remove":
        more = [(k, other) for k in keys if k in extra for other in extra[k]]
        if more:
            members = MemberBatch(
                keys + [k for k, _ in more],
                identities + [other for _, other in more],
                traits + ["{}"] * len(more),
            )
    return members, keys, part.column("payload_hash").to_pylist()


def _other_identities(con: Any, items: pa.Table, kinds: Sequence[str]) -> dict[str, list[str]]:
    """Remove key -> JSON objects ``{kind: value}`` of its identity values of ``kinds`` other
    than the one its payload names (the smallest per kind); empty when nobody has more."""
    import pyarrow.compute as pc

    removes = items.filter(pc.equal(items.column("op"), "remove")).select(["profile_id"])
    if removes.num_rows == 0 or not kinds:
        return {}
    con.register("_martech_removes", removes)
    try:
        rows = con.execute(
            "SELECT profile_id, CAST(json_object(kind, value) AS VARCHAR) FROM ("
            "  SELECT i.profile_id, i.kind, i.value, "
            "         min(i.value) OVER (PARTITION BY i.profile_id, i.kind) AS chosen "
            "  FROM identities i SEMI JOIN _martech_removes r ON r.profile_id = i.profile_id "
            "  WHERE list_contains(?, i.kind)) "
            "WHERE value <> chosen ORDER BY ALL",
            [list(kinds)],
        ).fetchall()
    finally:
        con.unregister("_martech_removes")
    out: dict[str, list[str]] = {}
    for key, other in rows:
        out.setdefault(key, []).append(other)
    return out


async def _execute(
    run: _Run, *, committed: set[int], uncertain: set[int], summary: dict[str, Any]
) -> SyncResult:
    con, connector = run.store.con, run.connector
    todo = [b for b in _batches(run.items) if b.number not in committed]
    http = connector.http
    saved_deadline = http.deadline
    http.deadline = run.deadline
    requests_before = http.requests
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="martech-ledger")

    async def db(fn: Callable[..., T], *args: Any) -> T:
        return await loop.run_in_executor(executor, fn, *args)

    concurrency = connector.limits.concurrency
    window = max(8, 2 * concurrency)
    queue: asyncio.Queue[ledger.BatchRecord | None] = asyncio.Queue(maxsize=4 * concurrency)
    writer = asyncio.create_task(_writer(run, queue, db, group=concurrency))
    tasks: list[asyncio.Task[None]] = []
    try:
        if todo:
            if any(b.op == "remove" for b in todo):
                run.extra = await db(_other_identities, con, run.items, run.identity_keys)
            run.audience_id = await _guard(run, connector.ensure_audience(run.audience))
            present = None
            if run.stop is None and any(b.number in uncertain and b.op == "add" for b in todo):
                present = await _guard(run, _vendor_present(connector, run.audience_id))
            slots = asyncio.Semaphore(concurrency)
            for batch in todo:
                if run.stop is not None:
                    break
                if batch.number > run.started_upto:
                    run.started_upto = batch.number + window
                    await db(ledger.set_started_upto, con, run.run_id, run.started_upto)
                await slots.acquire()
                if run.stop is not None:
                    slots.release()
                    break
                reconcile = present if batch.number in uncertain else None
                task = asyncio.create_task(_one(run, batch, queue, reconcile))
                tasks.append(task)
                task.add_done_callback(lambda t: _settled(run, t, slots))
            await asyncio.gather(*tasks, return_exceptions=True)
    except BaseException as exc:
        _stop(run, _Stop("interrupted", f"{type(exc).__name__}: {exc}", error=exc))
    if run.stop is not None and run.stop.error is not None:
        for task in tasks:
            task.cancel()
    try:
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await queue.put(None)
        await asyncio.gather(writer, return_exceptions=True)
        executor.shutdown(wait=True)
        http.deadline = saved_deadline
    run.requests = http.requests - requests_before
    return _finish(run, summary)


def _settled(run: _Run, task: asyncio.Task[None], slots: asyncio.Semaphore) -> None:
    """A batch task ended: free its slot; an unexpected error interrupts the whole run."""
    slots.release()
    if not task.cancelled() and (exc := task.exception()) is not None:
        _stop(run, _Stop("interrupted", f"{type(exc).__name__}: {exc}", error=exc))


async def _guard(run: _Run, coro: Any) -> Any:
    """Await a setup call; a deadline or retriable failure stops the run instead of raising."""
    try:
        return await coro
    except DeadlineExceededError as exc:
        run.stop = _Stop("stopped", str(exc), exc.resume_after)
    except RetriableVendorError as exc:
        resume = datetime.now(UTC) + timedelta(seconds=exc.retry_after or 60)
        run.stop = _Stop("interrupted", str(exc), resume)
    except (AuthError, FatalVendorError, ConfigError) as exc:
        run.stop = _Stop("failed", str(exc), error=exc)
    return None


def _finish(run: _Run, summary: dict[str, Any]) -> SyncResult:
    con = run.store.con
    rejected = {**ledger.rejected_items(con, run.run_id), **run.rejected}
    ledger.fold(con, run.run_id, run.connector.name, run.audience)
    sent, _, batch_requests = ledger.run_totals(con, run.run_id)
    stop = run.stop
    status = "complete" if stop is None else stop.status
    summary = {
        **summary,
        "sent": sent,
        "rejected": len(rejected),
        "requests": summary.get("requests_sent", 0) + run.requests,
        "requests_sent": summary.get("requests_sent", 0) + run.requests,
        "batch_requests": batch_requests,
        "stop_reason": None if stop is None else _redact(stop.reason),
    }
    ledger.finish_run(
        con,
        run.run_id,
        status=status,
        summary=summary,
        resume_after=None if stop is None else stop.resume_after,
    )
    if (
        stop is not None
        and stop.error is not None
        and not isinstance(stop.error, RetriableVendorError | DeadlineExceededError)
    ):
        raise stop.error
    last = max(ledger.committed_batches(con, run.run_id), default=None)
    return SyncResult(
        destination=run.connector.name,
        audience=run.audience,
        sent=sent,
        rejected=rejected,
        dead_lettered=run.dead_letter.count if run.dead_letter else 0,
        requests=run.requests,
        checkpoint=None if last is None else f"{run.run_id}:{last}",
        complete=stop is None,
        resume_after=None if stop is None else stop.resume_after,
    )


async def _writer(
    run: _Run,
    queue: asyncio.Queue[ledger.BatchRecord | None],
    db: Callable[..., Any],
    *,
    group: int,
) -> None:
    """Commit finished batches in order of arrival; drain what queued up into one transaction.

    With fewer than ``group`` waiting, wait :data:`COMMIT_LINGER` first so more join it. A
    commit (or dead-letter write) that fails stops the run with that error; the writer then only
    drains the queue, so no batch task waits on it forever and no later batch is recorded.
    """
    con = run.store.con
    done = False
    failed = False
    while not done:
        first = await queue.get()
        records = [] if first is None else [first]
        done = first is None
        if not done and queue.qsize() < group - 1:
            await asyncio.sleep(COMMIT_LINGER)
        while not done and not queue.empty():
            nxt = queue.get_nowait()
            if nxt is None:
                done = True
            else:
                records.append(nxt)
        if records and not failed:
            try:
                await db(ledger.commit_batches, con, run.run_id, records)
                run.committed.extend(r.batch for r in records)
                if run.dead_letter is not None:
                    _dead_letter(run, records)
            except Exception as exc:
                failed = True
                _stop(run, _Stop("interrupted", f"{type(exc).__name__}: {exc}", error=exc))


def _dead_letter(run: _Run, records: Sequence[ledger.BatchRecord]) -> None:
    assert run.dead_letter is not None
    for rec in records:
        bad = {
            k: r or "rejected"
            for k, s, r in zip(rec.keys, rec.states, rec.reasons, strict=True)
            if s == "rejected"
        }
        if bad:
            run.dead_letter.write_many(
                run.run_id, run.connector.name, run.audience, "rejected", bad
            )


async def _one(
    run: _Run,
    batch: _Batch,
    queue: asyncio.Queue[ledger.BatchRecord | None],
    present: set[str] | None,
) -> None:
    everyone, keys, hashes = _members(run.items, batch, run.extra)
    done_state = "removed" if batch.op == "remove" else "present"
    rejected: dict[str, str] = {}
    requests = 0
    members: Sequence[AudienceMember] = everyone
    if present is not None and batch.op == "add":
        # An uncertain batch of a killed run: what the vendor already has is done.
        key_of = getattr(run.connector, "vendor_key", None)
        members = [m for m in everyone if (key_of(m) if key_of else m.key) not in present]
    if members:
        result = await _send_cut(run, batch.op, members)
        if result is None:
            return  # the run is stopping; this batch stays uncommitted
        rejected, requests = result
    refused = [k for k in keys if k in rejected] if rejected else []
    if refused:
        states = ["rejected" if k in rejected else done_state for k in keys]
        reasons = [rejected.get(k) for k in keys]
        for k in refused:
            run.rejected[k] = rejected[k] or "rejected"
    else:  # the common case: every item done, no per-item work
        states = [done_state] * len(keys)
        reasons = [None] * len(keys)
    record = ledger.BatchRecord(
        batch=batch.number,
        op=batch.op,
        keys=keys,
        hashes=hashes,
        states=states,
        reasons=reasons,
        requests=requests,
    )
    await queue.put(record)


async def _send_cut(
    run: _Run, op: str, members: Sequence[AudienceMember]
) -> tuple[dict[str, str], int] | None:
    """:func:`_send` in requests of at most ``limits.batch_count`` members (a remove batch with
    extra identities can hold more)."""
    size = run.connector.limits.batch_count
    if len(members) <= size:
        return await _send(run, op, members)
    rejected: dict[str, str] = {}
    requests = 0
    for start in range(0, len(members), size):
        result = await _send(run, op, members[start : start + size])
        if result is None:
            return None
        rejected.update(result[0])
        requests += result[1]
    return rejected, requests


async def _send(
    run: _Run, op: str, members: Sequence[AudienceMember], budget: list[int] | None = None
) -> tuple[dict[str, str], int] | None:
    """Send one batch (bisecting refusals): (refused key -> reason, requests), or None.

    Every member not named as refused was done (added, removed or updated). ``budget`` holds
    the split requests the batch has left (set on its first refusal).
    """
    connector = run.connector
    call = connector.remove_members if op == "remove" else connector.add_members
    attempt = 0
    while True:
        if run.stop is not None:
            return None
        try:
            outcome: BatchOutcome = await call(run.audience_id, members)
            break
        except DeadlineExceededError as exc:
            _stop(run, _Stop("stopped", str(exc), exc.resume_after))
            return None
        except RetriableVendorError as exc:
            attempt += 1
            wait = exc.retry_after if exc.retry_after is not None else 2.0**attempt
            resume = datetime.now(UTC) + timedelta(seconds=wait)
            if (
                attempt > ENGINE_RETRIES
                or wait > ENGINE_MAX_WAIT  # sooner than the vendor asks would not honour it
                or (run.deadline is not None and resume > run.deadline)
            ):
                _stop(
                    run,
                    _Stop("interrupted" if run.deadline is None else "stopped", str(exc), resume),
                )
                return None
            await asyncio.sleep(wait * run.rng.uniform(0.8, 1.0))
        except RejectedError as exc:
            return await _split(run, op, members, exc, exc.items, budget)
        except AuthError as exc:
            _stop(run, _Stop("failed", str(exc), error=exc))
            return None
        except FatalVendorError as exc:
            if exc.status in SPLIT_STATUSES:
                return await _split(run, op, members, exc, {}, budget)
            _stop(run, _Stop("failed", str(exc), error=exc))
            return None
    rejected = {key: _redact(reason) for key, reason in outcome.rejected.items()}
    return rejected, outcome.requests


async def _split(
    run: _Run,
    op: str,
    members: Sequence[AudienceMember],
    exc: Exception,
    named: dict[str, str],
    budget: list[int] | None = None,
) -> tuple[dict[str, str], int] | None:
    """Isolate refused records: drop the ones the vendor named, else bisect; within budget."""
    if budget is None:
        budget = [split_budget(len(members))]
    keys = {m.key for m in members}
    if named and set(named) <= keys and len(named) < len(members):
        rejected = {k: _redact(r) for k, r in named.items()}
        rest = [m for m in members if m.key not in named]
        if budget[0] <= 0:
            return {**_unisolated(rest, exc), **rejected}, 1
        budget[0] -= 1
        result = await _send(run, op, rest, budget)
        if result is None:
            return None
        rejected.update(result[0])
        return rejected, result[1] + 1
    if len(members) == 1:
        reason = named.get(members[0].key) or str(exc)
        return {members[0].key: _redact(reason)}, 1
    mid = len(members) // 2
    total: dict[str, str] = {}
    requests = 1
    for half in (members[:mid], members[mid:]):
        if budget[0] <= 0:
            total.update(_unisolated(half, exc))
            continue
        budget[0] -= 1
        result = await _send(run, op, half, budget)
        if result is None:
            return None
        total.update(result[0])
        requests += result[1]
    return total, requests


def _unisolated(members: Sequence[AudienceMember], exc: Exception) -> dict[str, str]:
    """Members of a refused batch the split budget could not test alone: refused, with the
    vendor's answer to the batch."""
    reason = _redact(f"refused in a batch the split budget could not narrow down: {exc}")
    return dict.fromkeys((m.key for m in members), reason)


def _stop(run: _Run, stop: _Stop) -> None:
    """Record why the run stops; a failure or crash outranks a clean stop."""
    if run.stop is None or (stop.error is not None and run.stop.error is None):
        run.stop = stop


def _redact(text: str) -> str:
    from ..http import redact

    return redact(text)


async def _vendor_present(connector: Connector, audience_id: str) -> set[str] | None:
    """Every member key the vendor reports for the audience, or None if it cannot say."""
    try:
        stream = connector.read_members(audience_id)
    except ConfigError:
        return None
    return {key async for key in stream}


__all__ = [
    "COMMIT_LINGER",
    "ENGINE_RETRIES",
    "SPLIT_STATUSES",
    "apply",
    "apply_async",
    "combine",
    "execute_async",
    "new_run_id",
    "resume_async",
    "split_budget",
]
