"""Plan a sync: who may be sent, what changes, in which batches, how many requests, how long.

Eligibility is decided here, before anything leaves the machine, in this order (the first
reason that applies is reported):

1. ``unknown_profile`` — the key is not a profile in the store.
2. ``no_consent:<channel>`` — the destination's channel needs explicit consent ``true``:
   ESPs need ``email``, ad platforms need ``ad``. CRMs and CMSs need none: a CRM list is the
   company's own record keeping, not a marketing send (the ESP that mails them checks again).
3. ``suppressed:list`` — the profile id, or one of its email/phone identities, is on the
   ``suppressions`` list given to the sync.
4. ``suppressed:complained`` / ``suppressed:unsubscribed`` — for the email channel, the person
   has an ``email_complaint`` / ``email_unsubscribe`` event in the store.
5. ``no_identity:<keys>`` — the profile has none of the identity kinds the destination can match
   on (``Connector.identity_keys``).
6. ``below_minimum_audience:<n>`` — a connector with a ``match_quality(members)`` pre-flight
   (Meta) says the audience would hold fewer than its minimum of distinct matchable people
   (the members already there plus the matchable uploads): adds and updates wait (removes still
   go) until the segment is large enough. The report over the uploads (counts only) is
   :attr:`PreparedSync.match_quality` and lands in the run's summary.

Everything else is a desired member with a payload (its identities for the destination, plus the
traits the sync was asked to send) and a payload hash, and the diff against the ledger runs in
DuckDB (:func:`martech.sync.ledger.diff_sql`). Batches are cut deterministically by count and by
bytes, so a resumed run replays the very same batches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..connector import Connector, Limits
from ..errors import ConfigError
from ..models import SyncMode, SyncPlan
from .diff import check_mode
from .ledger import diff_sql, fold, query_arrow, recorded_scope, unfinished_run

if TYPE_CHECKING:
    import duckdb
    import numpy as np
    import pyarrow as pa

    from ..store import Store

#: The consent channel each connector kind needs (None: no marketing consent needed).
CONSENT_CHANNEL: dict[str, str | None] = {
    "esp": "email",
    "ads": "ad",
    "crm": None,
    "cms": None,
    "other": None,
}
#: Seconds one request is assumed to take when estimating duration from concurrency limits.
ASSUMED_LATENCY = 0.1
_OP_ORDER = {"remove": 0, "add": 1, "update": 2}
_TRAIT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")


@dataclass(frozen=True)
class SyncSpec:
    """What to sync: the audience at the destination, the desired members and how.

    :param audience: The destination's audience name (created if missing).
    :param members: Profile ids that should be in the audience (e.g. a segment's members).
    :param mode: mirror / add_only / upsert (see :mod:`martech.sync.diff`).
    :param segment_key: For the record (``martech sync status``).
    :param suppressions: Profile ids, emails or phones never to send, whatever the segment says.
    :param traits: Trait names sent with each member (and hashed, so upsert sees changes).
    :param allow_empty: Let a mirror sync of an empty segment remove everyone it added. Off by
        default: a segment that matches nobody is more often a typo (a misspelled trait or
        event type) than the wish to empty an audience.
    """

    audience: str
    members: Collection[str]
    mode: SyncMode = "mirror"
    segment_key: str | None = None
    suppressions: Collection[str] = ()
    traits: tuple[str, ...] = ()
    allow_empty: bool = False

    def __post_init__(self) -> None:
        check_mode(self.mode)
        if not self.audience:
            raise ConfigError("audience: expected a non-empty audience name")
        for name in self.traits:
            if not _TRAIT_NAME.match(name):
                raise ConfigError(f"traits: {name!r} is not a trait name (letters, digits, _ -)")


@dataclass
class PreparedSync:
    """A plan plus what apply needs: the items with their batches and payloads."""

    destination: str
    spec: SyncSpec
    plan: SyncPlan
    #: batch, op, profile_id, payload_hash, identities (JSON), traits (JSON), size
    items: pa.Table
    invalid: dict[str, str] = field(default_factory=dict)
    desired: int = 0
    #: The connector's match-quality pre-flight over the members uploaded (counts only, plus
    #: ``already_there`` and ``audience_after``), when it has one and the plan uploads anyone.
    match_quality: dict[str, Any] | None = None
    #: The interrupted run apply finishes first, when there is one: ``run_id``,
    #: ``uncertain_add_batches`` (started, not committed) and ``reads_back`` (whether the
    #: connector reads the audience back to check them, requests the plan does not count, or
    #: sends them again, which the plan counts).
    resumes: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        reasons: dict[str, int] = {}
        for reason in self.invalid.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        return {
            "desired": self.desired,
            "adds": len(self.plan.adds),
            "removes": len(self.plan.removes),
            "updates": len(self.plan.updates),
            "requests": self.plan.requests,
            "estimated_seconds": self.plan.estimated_seconds,
            "invalid": len(self.invalid),
            "invalid_reasons": reasons,
            **({"match_quality": self.match_quality} if self.match_quality is not None else {}),
        }


def consent_channel(connector: Connector | type[Connector]) -> str | None:
    """The consent channel this connector's kind needs, or None."""
    return CONSENT_CHANNEL.get(connector.kind)


def normalize_suppressions(values: Collection[str]) -> list[str]:
    """Suppression entries as the store holds them: emails lowercased, phones E.164, ids as-is."""
    from ..identity import normalize_email, normalize_phone

    out: set[str] = set()
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        out.add(value)
        if "@" in value:
            email = normalize_email(value)
            if email:
                out.add(email)
        elif value.startswith("+") or value[:1].isdigit():
            phone = normalize_phone(value)
            if phone:
                out.add(phone)
    return sorted(out)


def payload_sql(
    members: str, identity_keys: Sequence[str], traits: Sequence[str]
) -> tuple[str, list[Any]]:
    """SQL + params: (profile_id, identities JSON, traits JSON, payload_hash, size) per member.

    ``members`` is a table name we chose with a ``profile_id`` column. Identities are the ones
    the destination matches on, ordered by kind; the payload hash covers exactly what is sent.
    """
    params: list[Any] = [list(identity_keys) if len(identity_keys) != 1 else identity_keys[0]]
    if traits:
        pairs = []
        for name in traits:
            pairs.append("?, json_extract(p.traits, ?)")
            params.extend([name, f'$."{name}"'])
        traits_expr = f"CAST(json_object({', '.join(pairs)}) AS VARCHAR)"
    else:
        traits_expr = "'{}'"
    # A person holds one value per kind here, however many the store has for them (two
    # addresses after a merge, say): the smallest, so the choice is the same on every run and a
    # person is one member, never one per address.
    if len(identity_keys) == 1:
        # One identity kind (the common case): the same JSON text, one per person.
        ids_sql = f"""
            SELECT i.profile_id,
                '{{' || CAST(to_json(i.kind) AS VARCHAR) || ':'
                    || CAST(to_json(min(i.value)) AS VARCHAR) || '}}' AS identities
            FROM identities i SEMI JOIN {members} m ON m.profile_id = i.profile_id
            WHERE i.kind = ? GROUP BY i.profile_id, i.kind"""
    else:
        ids_sql = f"""
            SELECT profile_id,
                CAST(to_json(map_from_entries(list({{'k': kind, 'v': value}} ORDER BY kind)))
                     AS VARCHAR) AS identities
            FROM (SELECT i.profile_id, i.kind, min(i.value) AS value
                  FROM identities i SEMI JOIN {members} m ON m.profile_id = i.profile_id
                  WHERE list_contains(?, i.kind) GROUP BY ALL)
            GROUP BY profile_id"""
    sql = f"""
        WITH ids AS ({ids_sql}
        ), payload AS (
            SELECT m.profile_id, ids.identities,
                   CASE WHEN p.id IS NULL THEN NULL ELSE {traits_expr} END AS traits
            FROM (SELECT DISTINCT profile_id FROM {members}) m
            LEFT JOIN ids ON ids.profile_id = m.profile_id
            LEFT JOIN profiles p ON p.id = m.profile_id
        )
        SELECT profile_id, identities, traits,
               CASE WHEN identities IS NULL THEN NULL
                    ELSE md5(identities || '|' || coalesce(traits, '{{}}'))[:16]
               END AS payload_hash,
               CAST(coalesce(strlen(identities), 0) + coalesce(strlen(traits), 0) + 16
                    AS BIGINT) AS size
        FROM payload
    """
    return sql, params


def assign_batches(
    ops: Sequence[str], sizes: Sequence[int], *, batch_count: int, batch_bytes: int | None
) -> list[int]:
    """Batch number per item: a new batch when the op changes, or count or bytes would overflow.

    Pure and deterministic: the same items in the same order always get the same batches.
    """
    out: list[int] = []
    batch, n, size, prev = -1, 0, 0, None
    for op, item_size in zip(ops, sizes, strict=True):
        if (
            op != prev
            or n >= batch_count
            or (batch_bytes is not None and n and size + item_size > batch_bytes)
        ):
            batch, n, size, prev = batch + 1, 0, 0, op
        out.append(batch)
        n += 1
        size += item_size
    return out


def estimate_seconds(
    limits: Limits, requests: int, latency: float = ASSUMED_LATENCY, *, sequential: int = 0
) -> float:
    """Time for ``requests`` within the declared rate and concurrency (latency assumed), plus a
    day's wait for each further day of ``daily_quota`` the requests need. ``sequential`` of
    them go one after another before the rest (finding and creating the audience)."""
    if requests == 0:
        return 0.0
    parallel = max(requests - sequential, 0)
    by_concurrency = (math.ceil(parallel / limits.concurrency) + sequential) * latency
    rps = limits.requests_per_second
    by_rate = requests / rps if rps else 0.0
    days_waited = (requests - 1) // limits.daily_quota if limits.daily_quota else 0
    return round(max(by_concurrency, by_rate) + days_waited * 86_400.0, 3)


def count_requests(
    limits: Limits, items: pa.Table, *, audience_known: bool
) -> tuple[int, int, int]:
    """(batch, lookup, resolve) requests for the planned ``items``, from the declared limits.

    One request per batch; when there is any batch, ``limits.audience_requests`` to find the
    audience first, and one more to create it unless ``audience_known`` (the ledger has sent to
    it); per batch, the connector's declared extras for its op (``add_extra_requests`` for adds
    and updates, ``remove_extra_requests`` for removes), none for a batch whose members all
    carry the ``extras_skipped_with`` identity. Extras are what a batch may cost at most: a
    vendor that needs them only for some members (Mailchimp subscribing people new to the list)
    sends fewer when none of them are.
    """
    import numpy as np
    import pyarrow.compute as pc

    if items.num_rows == 0:
        return 0, 0, 0
    starts, _ = runs(items.column("batch").to_numpy())
    lookups = limits.audience_requests
    if lookups and not audience_known:
        lookups += 1
    if not (limits.add_extra_requests or limits.remove_extra_requests):
        return len(starts), lookups, 0
    ops = np.asarray(items.column("op").take(starts).to_pylist())
    extra = np.where(ops == "remove", limits.remove_extra_requests, limits.add_extra_requests)
    if limits.extras_skipped_with:
        # Identities are JSON objects we wrote: a kind appears as a quoted key.
        carries = pc.match_substring(items.column("identities"), f'"{limits.extras_skipped_with}":')
        every = pc.fill_null(carries, False).to_numpy(zero_copy_only=False).astype(np.int8)
        extra = np.where(np.minimum.reduceat(every, starts) == 1, 0, extra)
    return len(starts), lookups, int(extra.sum())


def _uncertain_adds(con: duckdb.DuckDBPyConnection, run_id: str, started_upto: int) -> int:
    """Add batches of an unfinished run that may have reached the vendor: started (at most
    ``started_upto``), not committed. Apply reads the audience back to check them."""
    from ..store import fetch_scalar

    return int(
        fetch_scalar(
            con,
            """SELECT count(DISTINCT batch) FROM sync_plan_items
               WHERE run_id = ? AND op = 'add' AND batch <= ?
                 AND batch NOT IN (SELECT batch FROM sync_batches WHERE run_id = ?)""",
            [run_id, started_upto, run_id],
        )
        or 0
    )


def _audience_known(con: duckdb.DuckDBPyConnection, destination: str, audience: str) -> bool:
    """True when the ledger holds anyone ever sent to this audience: the vendor has it."""
    from ..store import fetch_scalar

    return bool(
        fetch_scalar(
            con,
            "SELECT EXISTS (SELECT 1 FROM sync_ledger WHERE destination = ? AND audience = ?)",
            [destination, audience],
        )
    )


def eligibility_sql(members: str, identity_keys: Sequence[str]) -> str:
    """SQL: ``(profile_id, reason)`` per distinct member of table ``members``, NULL if eligible.

    Named parameters: ``suppress`` (ids, emails, phones), ``channel`` (or NULL), ``kinds`` (one
    kind, or a list when there are several) and ``no_identity`` (that reason's text). Nothing
    per member is built here (no payload, no hash): an unchanged audience of a million members
    costs a few joins.
    """
    kinds = "i.kind = $kinds" if len(identity_keys) == 1 else "list_contains($kinds, i.kind)"
    return f"""
        WITH m AS (SELECT DISTINCT profile_id FROM {members}),
        supp AS (
            SELECT profile_id FROM identities WHERE list_contains($suppress, value)
            UNION SELECT unnest($suppress) AS profile_id
        ),
        ev AS (
            SELECT profile_id, bool_or(type = 'email_complaint') AS complained,
                   bool_or(type = 'email_unsubscribe') AS unsubscribed
            FROM events SEMI JOIN m USING (profile_id)
            WHERE type IN ('email_complaint', 'email_unsubscribe') AND $channel = 'email'
            GROUP BY profile_id
        ),
        SELECT m.profile_id,
            CASE
                WHEN p.id IS NULL THEN 'unknown_profile'
                WHEN $channel IS NOT NULL
                     AND coalesce(json_extract_string(p.consent, '$.' || $channel), '') <> 'true'
                     THEN 'no_consent:' || $channel
                WHEN m.profile_id IN (SELECT profile_id FROM supp) THEN 'suppressed:list'
                WHEN ev.complained THEN 'suppressed:complained'
                WHEN ev.unsubscribed THEN 'suppressed:unsubscribed'
                WHEN NOT EXISTS (
                    SELECT 1 FROM identities i WHERE i.profile_id = m.profile_id AND {kinds}
                ) THEN $no_identity
            END AS reason
        FROM m LEFT JOIN profiles p ON p.id = m.profile_id
        LEFT JOIN ev ON ev.profile_id = m.profile_id
    """


def prepare(store: Store, connector: Connector | type[Connector], spec: SyncSpec) -> PreparedSync:
    """Eligibility, the diff against the ledger, payloads and batches, all in DuckDB.

    Only the members that change get a payload (identities, traits, hash): re-planning an
    unchanged audience builds none. In upsert mode every desired member's hash is needed to
    find the changed ones, so there all of them get one.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    con = store.con
    destination = connector.name
    if not isinstance(connector, type):
        if not connector.supports("push_audience"):
            offers = ", ".join(c.name for c in connector.capabilities()) or "nothing"
            raise ConfigError(
                f"--to {destination}: it does not take audiences (no 'push_audience'; it offers "
                f"{offers}); sync to a connector that does (martech plugins lists them)"
            )
        _check_scope(con, connector, spec.audience)
    # Batches a killed run committed are facts: fold them so the diff sees them.
    pending = unfinished_run(con, destination, spec.audience)
    resumes = None
    if pending is not None:
        fold(con, pending.run_id, destination, spec.audience)
        cls = connector if isinstance(connector, type) else type(connector)
        resumes = {
            "run_id": pending.run_id,
            "uncertain_add_batches": _uncertain_adds(con, pending.run_id, pending.started_upto),
            "reads_back": cls.read_members is not Connector.read_members,
        }
    wanted = spec.members if isinstance(spec.members, list | tuple) else list(spec.members)
    members = pa.table({"profile_id": pa.array(wanted, pa.string())})
    channel = consent_channel(connector)
    suppress = normalize_suppressions(spec.suppressions)
    id_keys = list(connector.identity_keys)
    con.register("_martech_members", members)
    try:
        rows = query_arrow(
            con,
            eligibility_sql("_martech_members", id_keys),
            {
                "suppress": suppress,
                "channel": channel,
                "kinds": id_keys[0] if len(id_keys) == 1 else id_keys,
                "no_identity": "no_identity:" + "/".join(id_keys),
            },
        )
    finally:
        con.unregister("_martech_members")
    reason = rows.column("reason")
    invalid: dict[str, str] = {}
    desired = rows.select(["profile_id"])
    if reason.null_count < rows.num_rows:  # someone is not eligible
        refused = rows.filter(pc.is_valid(reason))
        keys, why = refused.column("profile_id").to_pylist(), refused.column("reason").to_pylist()
        invalid = dict(zip(keys, why, strict=True))
        desired = desired.filter(pc.is_null(reason))
    items, invalid_removes = _diff_items(store, connector, spec, desired)
    invalid.update(invalid_removes)
    quality = None
    if not isinstance(connector, type) and hasattr(connector, "match_quality"):
        quality, items, held = _preflight(connector, desired.num_rows, items)
        invalid.update(held)
    limits = connector.limits
    if limits.batch_bytes is not None:
        batch = assign_batches(
            items.column("op").to_pylist(),
            items.column("size").to_pylist(),
            batch_count=limits.batch_count,
            batch_bytes=limits.batch_bytes,
        )
        items = items.append_column("batch", pa.array(batch, pa.int64()))
    else:
        items = _number_batches(items, limits.batch_count)
    batches, lookups, resolves = count_requests(
        limits, items, audience_known=_audience_known(con, destination, spec.audience)
    )
    requests = batches + lookups + resolves
    # Items are ordered removes, adds, updates: each op's keys are one slice.
    key_column, at = items.column("profile_id"), 0
    by_op: dict[str, tuple[str, ...]] = {}
    for op in ("remove", "add", "update"):
        count = pc.sum(pc.equal(items.column("op"), op)).as_py() or 0
        by_op[op] = tuple(key_column.slice(at, count).to_pylist())
        at += count
    if spec.mode == "mirror" and not wanted and by_op["remove"] and not spec.allow_empty:
        raise ConfigError(
            f"{destination}:{spec.audience}: the segment has no members now, so a mirror sync "
            f"would remove all {len(by_op['remove']):,} members it added; check the segment "
            "(a misspelled trait or event type matches nobody), or pass --allow-empty "
            "(allow_empty=True) to empty the audience"
        )
    plan = SyncPlan(
        destination=destination,
        audience=spec.audience,
        mode=spec.mode,
        adds=by_op["add"],
        removes=by_op["remove"],
        updates=by_op["update"],
        requests=requests,
        lookup_requests=lookups,
        resolve_requests=resolves,
        estimated_seconds=estimate_seconds(limits, requests, sequential=lookups),
        estimated_seconds_min=estimate_seconds(limits, requests - resolves, sequential=lookups),
        daily_quota=limits.daily_quota,
    )
    return PreparedSync(
        destination=destination,
        spec=spec,
        plan=plan,
        items=items,
        invalid=invalid,
        desired=desired.num_rows,
        match_quality=quality,
        resumes=resumes,
    )


def _preflight(
    connector: Connector, desired: int, items: pa.Table
) -> tuple[dict[str, Any] | None, pa.Table, dict[str, str]]:
    """(report, items, held back): the connector's match-quality report over the members about
    to be uploaded (adds and updates), and, when the audience would then hold fewer than its
    minimum, those adds and updates held back.

    The audience is counted as the ``desired`` members not uploaded now (the ledger has them
    there, and they were matchable when sent) plus the distinct matchable uploads. Only
    uploaded members are normalized, so a 1% change costs 1% of the audience. A plan that only
    removes builds nothing, and a removal (consent withdrawn, say) is never held back.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..connector import MemberBatch

    sending = pc.is_in(items.column("op"), pa.array(["add", "update"]))
    if not pc.any(sending).as_py():
        return None, items, {}
    uploads = items.filter(sending)
    members = MemberBatch(
        uploads.column("profile_id").to_pylist(),
        uploads.column("identities").to_pylist(),
        uploads.column("traits").to_pylist(),
    )
    report = connector.match_quality(members)  # type: ignore[attr-defined]
    data: dict[str, Any] = report.model_dump()
    kept = desired - uploads.num_rows
    audience = kept + report.matchable - report.duplicates
    data.update(
        already_there=kept, audience_after=audience, meets_minimum=audience >= report.minimum
    )
    if data["meets_minimum"]:
        return data, items, {}
    reason = f"below_minimum_audience:{report.minimum}"
    held = uploads.column("profile_id").to_pylist()
    return data, items.filter(pc.invert(sending)), dict.fromkeys(held, reason)


def _check_scope(con: duckdb.DuckDBPyConnection, connector: Connector, audience: str) -> None:
    """Refuse to trust the ledger of an audience the connector now reaches somewhere else
    (another list, account or API): it records what the old place holds."""
    was = recorded_scope(con, connector.name, audience)
    now = connector.ledger_scope()
    if was is not None and was != now:
        raise ConfigError(
            f"{connector.name}:{audience}: the sync ledger records what {was} holds, but the "
            f"connector now points at {now}; to sync this segment there, give the audience "
            f"another name (--to {connector.name}:{audience}_2), or point the connector back"
        )


def runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal consecutive ``values`` starts, and its length."""
    import numpy as np

    if len(values) == 0:
        return np.array([], np.int64), np.array([], np.int64)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return starts, np.diff(np.r_[starts, len(values)])


def _number_batches(items: pa.Table, batch_count: int) -> pa.Table:
    """:func:`assign_batches` with no byte cap, vectorized: items are ordered by op, each op's
    run is cut every ``batch_count`` items, batch numbers continue across ops."""
    import numpy as np
    import pyarrow as pa

    n = items.num_rows
    # Where each op's run starts (items are ordered by op), and its first batch number.
    starts, lengths = runs(np.asarray(items.column("op").to_numpy(zero_copy_only=False)))
    first = np.r_[0, np.cumsum(-(-lengths // batch_count))[:-1]]
    run = np.repeat(np.arange(len(starts)), lengths)
    batch = first[run] + (np.arange(n) - starts[run]) // batch_count
    return items.append_column("batch", pa.array(batch.astype(np.int64), pa.int64()))


def _diff_items(
    store: Store, connector: Connector | type[Connector], spec: SyncSpec, desired: pa.Table
) -> tuple[pa.Table, dict[str, str]]:
    """The diff as ordered items with payloads (only changed members get one).

    ``desired`` holds the eligible members' ``profile_id``. Adds and updates carry the hash of
    the payload about to be sent; removes carry the hash the ledger recorded for them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    con = store.con
    id_keys = list(connector.identity_keys)
    registered: list[str] = []

    def register(name: str, table: pa.Table) -> None:
        con.register(name, table)
        registered.append(name)

    try:
        if spec.mode == "upsert":
            # Every desired member's hash: the diff compares them with the ledger's.
            register("_martech_wanted", desired)
            payload, params = payload_sql("_martech_wanted", id_keys, spec.traits)
            hashed = query_arrow(con, f"SELECT profile_id, payload_hash FROM ({payload})", params)
        else:
            hashed = desired.append_column("payload_hash", pa.nulls(desired.num_rows, pa.string()))
        register("_martech_desired", hashed)
        sql = diff_sql(con, connector.name, spec.audience, "_martech_desired", spec.mode)
        ops = query_arrow(con, sql, {"destination": connector.name, "audience": spec.audience})
        if ops.num_rows == 0:  # nothing changes: no payloads to build
            rows = ops.append_column("identities", pa.nulls(0, pa.string()))
            rows = rows.append_column("traits", pa.nulls(0, pa.string()))
            return rows.append_column("size", pa.nulls(0, pa.int64())), {}
        register("_martech_ops", ops)
        payload, params = payload_sql("_martech_ops", id_keys, spec.traits)
        rows = query_arrow(
            con,
            f"""
            WITH p AS ({payload})
            SELECT o.op, o.profile_id,
                   CASE WHEN o.op = 'remove' THEN o.payload_hash ELSE p.payload_hash END
                       AS payload_hash,
                   p.identities, coalesce(p.traits, '{{}}') AS traits,
                   coalesce(p.size, 16) AS size
            FROM _martech_ops o LEFT JOIN p ON p.profile_id = o.profile_id
            ORDER BY CASE o.op WHEN 'remove' THEN 0 WHEN 'add' THEN 1 ELSE 2 END, o.profile_id
            """,
            params,
        )
    finally:
        for name in registered:
            con.unregister(name)
    no_id = pc.and_(pc.equal(rows.column("op"), "remove"), pc.is_null(rows.column("identities")))
    if not pc.any(no_id).as_py():
        return rows, {}
    invalid = {
        k: "no_identity_for_remove:" + "/".join(connector.identity_keys)
        for k in rows.filter(no_id).column("profile_id").to_pylist()
    }
    return rows.filter(pc.invert(no_id)), invalid


__all__ = [
    "ASSUMED_LATENCY",
    "CONSENT_CHANNEL",
    "PreparedSync",
    "SyncSpec",
    "assign_batches",
    "consent_channel",
    "count_requests",
    "eligibility_sql",
    "estimate_seconds",
    "normalize_suppressions",
    "payload_sql",
    "prepare",
]
