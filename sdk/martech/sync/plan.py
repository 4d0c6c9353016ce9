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
from .ledger import diff_sql, fold, query_arrow, unfinished_run

if TYPE_CHECKING:
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
    """

    audience: str
    members: Collection[str]
    mode: SyncMode = "mirror"
    segment_key: str | None = None
    suppressions: Collection[str] = ()
    traits: tuple[str, ...] = ()

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
    if len(identity_keys) == 1:
        # One identity kind (the common case): no aggregation, the same JSON text.
        ids_sql = f"""
            SELECT i.profile_id,
                '{{' || CAST(to_json(i.kind) AS VARCHAR) || ':'
                    || CAST(to_json(i.value) AS VARCHAR) || '}}' AS identities
            FROM identities i SEMI JOIN {members} m ON m.profile_id = i.profile_id
            WHERE i.kind = ?"""
    else:
        ids_sql = f"""
            SELECT i.profile_id,
                CAST(to_json(map_from_entries(list({{'k': i.kind, 'v': i.value}} ORDER BY i.kind)))
                     AS VARCHAR) AS identities
            FROM identities i SEMI JOIN {members} m ON m.profile_id = i.profile_id
            WHERE list_contains(?, i.kind)
            GROUP BY i.profile_id"""
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


def estimate_seconds(limits: Limits, requests: int, latency: float = ASSUMED_LATENCY) -> float:
    """Time for ``requests`` within the declared rate and concurrency (latency assumed)."""
    if requests == 0:
        return 0.0
    by_concurrency = math.ceil(requests / limits.concurrency) * latency
    rps = limits.requests_per_second
    by_rate = requests / rps if rps else 0.0
    return round(max(by_concurrency, by_rate), 3)


def prepare(store: Store, connector: Connector | type[Connector], spec: SyncSpec) -> PreparedSync:
    """Eligibility, payloads, the diff against the ledger and the batches, all in DuckDB."""
    import pyarrow as pa

    con = store.con
    destination = connector.name
    # Batches a killed run committed are facts: fold them so the diff sees them.
    pending = unfinished_run(con, destination, spec.audience)
    if pending is not None:
        fold(con, pending.run_id, destination, spec.audience)
    keys = list(dict.fromkeys(spec.members))
    members = pa.table({"profile_id": pa.array(keys, pa.string())})
    channel = consent_channel(connector)
    suppress = normalize_suppressions(spec.suppressions)
    id_keys = list(connector.identity_keys)
    con.register("_martech_members", members)
    try:
        payload, params = payload_sql("_martech_members", id_keys, spec.traits)
        rows = query_arrow(
            con,
            f"""
            WITH pl AS ({payload}),
            supp AS (
                SELECT profile_id FROM identities WHERE list_contains(?, value)
                UNION SELECT unnest(?) AS profile_id
            ),
            ev AS (
                SELECT profile_id, bool_or(type = 'email_complaint') AS complained,
                       bool_or(type = 'email_unsubscribe') AS unsubscribed
                FROM events SEMI JOIN _martech_members m USING (profile_id)
                WHERE type IN ('email_complaint', 'email_unsubscribe') AND ? = 'email'
                GROUP BY profile_id
            )
            SELECT pl.profile_id,
                CASE
                    WHEN p.id IS NULL THEN 'unknown_profile'
                    WHEN ? IS NOT NULL
                         AND coalesce(json_extract_string(p.consent, '$.' || ?), '') <> 'true'
                         THEN 'no_consent:' || ?
                    WHEN pl.profile_id IN (SELECT profile_id FROM supp) THEN 'suppressed:list'
                    WHEN ev.complained THEN 'suppressed:complained'
                    WHEN ev.unsubscribed THEN 'suppressed:unsubscribed'
                    WHEN pl.identities IS NULL THEN ?
                END AS reason,
                pl.identities, pl.traits, pl.payload_hash, pl.size
            FROM pl LEFT JOIN profiles p ON p.id = pl.profile_id
            LEFT JOIN ev ON ev.profile_id = pl.profile_id
            """,
            [
                *params,
                suppress,
                suppress,
                channel,
                channel,
                channel,
                channel,
                "no_identity:" + "/".join(id_keys),
            ],
        )
    finally:
        con.unregister("_martech_members")
    reasons = rows.column("reason").to_pylist()
    invalid = {
        k: r for k, r in zip(rows.column("profile_id").to_pylist(), reasons, strict=True) if r
    }
    import pyarrow.compute as pc

    desired = rows.filter(pc.is_null(rows.column("reason")))
    items, invalid_removes = _diff_items(store, connector, spec, desired)
    invalid.update(invalid_removes)
    limits = connector.limits
    ops = items.column("op").to_pylist()
    batch = assign_batches(
        ops,
        items.column("size").to_pylist(),
        batch_count=limits.batch_count,
        batch_bytes=limits.batch_bytes,
    )
    items = items.append_column("batch", pa.array(batch, pa.int64()))
    requests = (batch[-1] + 1) if batch else 0
    by_op: dict[str, list[str]] = {"add": [], "remove": [], "update": []}
    for op, key in zip(ops, items.column("profile_id").to_pylist(), strict=True):
        by_op[op].append(key)
    plan = SyncPlan(
        destination=destination,
        audience=spec.audience,
        mode=spec.mode,
        adds=tuple(by_op["add"]),
        removes=tuple(by_op["remove"]),
        updates=tuple(by_op["update"]),
        requests=requests,
        estimated_seconds=estimate_seconds(limits, requests),
    )
    return PreparedSync(
        destination=destination,
        spec=spec,
        plan=plan,
        items=items,
        invalid=invalid,
        desired=desired.num_rows,
    )


def _diff_items(
    store: Store, connector: Connector | type[Connector], spec: SyncSpec, desired: pa.Table
) -> tuple[pa.Table, dict[str, str]]:
    """The diff as ordered items with payloads; removes get their payload from the store."""
    import pyarrow.compute as pc

    con = store.con
    registered: list[str] = []

    def register(name: str, table: pa.Table) -> None:
        con.register(name, table)
        registered.append(name)

    try:
        register("_martech_desired", desired)
        sql = diff_sql(con, connector.name, spec.audience, "_martech_desired", spec.mode)
        ops = query_arrow(con, sql, {"destination": connector.name, "audience": spec.audience})
        register("_martech_ops", ops)
        register("_martech_removes", ops.filter(pc.equal(ops.column("op"), "remove")))
        payload, params = payload_sql(
            "_martech_removes", list(connector.identity_keys), spec.traits
        )
        register("_martech_remove_payload", query_arrow(con, payload, params))
        rows = query_arrow(
            con,
            """
            SELECT o.op, o.profile_id, o.payload_hash,
                   coalesce(d.identities, rp.identities) AS identities,
                   coalesce(d.traits, rp.traits, '{}') AS traits,
                   coalesce(d.size, rp.size, 16) AS size
            FROM _martech_ops o
            LEFT JOIN _martech_desired d ON o.op <> 'remove' AND d.profile_id = o.profile_id
            LEFT JOIN _martech_remove_payload rp
                ON o.op = 'remove' AND rp.profile_id = o.profile_id
            ORDER BY CASE o.op WHEN 'remove' THEN 0 WHEN 'add' THEN 1 ELSE 2 END, o.profile_id
            """,
        )
    finally:
        for name in registered:
            con.unregister(name)
    no_id = pc.and_(pc.equal(rows.column("op"), "remove"), pc.is_null(rows.column("identities")))
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
    "estimate_seconds",
    "normalize_suppressions",
    "payload_sql",
    "prepare",
]
