"""Who gets a placement's stored decisions by email, with their items: the input of an ESP push.

``martech decide --all -p P`` (or ``--segment``) stores one decision per person in ``decisions``;
the web reads the same rows. An ESP push sends each person *their* row: the items (with names,
and urls when the catalogue's ``properties`` carry a ``url``), the variant, the level and the
rendered content. Everything is read set-based, in one query.

Who is sent: people with a stored decision for the placement, an email identity and email consent
(as the store holds it now, so consent withdrawn since the decision counts) who are **not in the
holdout**. The holdout is left untouched: what it sees is the template's own fallback, the same
default the web shows it, and nothing about the experiment reaches the ESP. One exception: someone
an earlier push to the same fields reached (the ``ledger`` says so) who is now in the holdout is
sent once with every field blank (``cleared``), or their email would keep showing the items the
web no longer gives them and the holdout would not be one. People who matched no rule (level
``default``, no items) are sent, with empty slots, so items from an earlier push do not linger in
their merge fields.

Each recipient carries a payload hash (address, variant, level, text, items with names and urls).
With a ``ledger`` — (destination, audience) rows in ``sync_ledger`` — people whose hash equals the
one last sent successfully are left out: a second push of unchanged decisions sends nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..store import Store


@dataclass(frozen=True)
class RecommendedItem:
    """One recommended item: its id and, when the catalogue has them, its name and url."""

    item_id: str
    name: str | None = None
    url: str | None = None

    @property
    def label(self) -> str:
        """What an email shows: the catalogue name, else the item id."""
        return self.name or self.item_id


@dataclass(frozen=True)
class Recipient:
    """One person's stored decision for a placement, addressed by email."""

    profile_id: str
    email: str = field(repr=False)  # never in a repr, so never in a log line by accident
    placement: str
    variant_id: str
    level: str
    tactic: str | None
    content: str | None
    items: tuple[RecommendedItem, ...] = ()
    payload_hash: str = ""
    #: Every field blank: a holdout member an earlier push reached (nothing else is said).
    cleared: bool = False


_LATEST = """
    latest AS (
        SELECT profile_id, variant_id, level, holdout, content, tactic,
               coalesce(items, []::VARCHAR[]) AS items
        FROM decisions WHERE placement = $placement
        QUALIFY row_number() OVER (PARTITION BY profile_id ORDER BY decided_at DESC) = 1),
    emails AS (
        SELECT profile_id, min(value) AS email FROM identities WHERE kind = 'email' GROUP BY ALL)
"""


def _require_decisions(store: Store, placement_key: str) -> None:
    from ..store import fetch_scalar

    if not fetch_scalar(
        store.con, "SELECT count(*) FROM decisions WHERE placement = ?", [placement_key]
    ):
        raise ConfigError(
            f"no decisions stored for placement {placement_key!r}; run "
            f"`martech decide --all -p {placement_key}` (or `--segment KEY`) first"
        )


def recommendation_members(
    store: Store,
    placement_key: str,
    *,
    ledger: tuple[str, str] | None = None,
    resend: bool = False,
) -> list[Recipient]:
    """The people to send ``placement_key``'s stored decisions to, ordered by profile id.

    ``ledger``: (destination, audience) in ``sync_ledger``; people whose payload hash is the one
    last sent there are left out (unless ``resend``), and holdout members it holds as sent come
    back ``cleared``. Raises :class:`ConfigError` when no decisions are stored for the placement.
    """
    _require_decisions(store, placement_key)
    destination, audience = ledger or ("", "")
    rows = store.con.execute(
        f"""WITH {_LATEST},
        consented AS (
            SELECT l.*, e.email FROM latest l
            JOIN profiles p ON p.id = l.profile_id
            JOIN emails e ON e.profile_id = l.profile_id
            WHERE json_extract_string(p.consent, '$.email') = 'true'),
        reached AS (
            SELECT profile_id FROM sync_ledger
            WHERE destination = $destination AND audience = $audience AND state = 'present'),
        eligible AS (
            SELECT * REPLACE (CASE WHEN holdout THEN '' ELSE variant_id END AS variant_id,
                              CASE WHEN holdout THEN '' ELSE level END AS level,
                              CASE WHEN holdout THEN NULL ELSE content END AS content,
                              CASE WHEN holdout THEN NULL ELSE tactic END AS tactic,
                              CASE WHEN holdout THEN []::VARCHAR[] ELSE items END AS items)
            FROM consented
            WHERE NOT holdout OR profile_id IN (SELECT profile_id FROM reached)),
        slots AS (
            SELECT u.profile_id, u.ord, u.item_id, k.name,
                   json_extract_string(k.properties, '$.url') AS url
            FROM (SELECT profile_id, unnest(items) AS item_id,
                         generate_subscripts(items, 1) AS ord FROM eligible) u
            LEFT JOIN items k ON k.item_id = u.item_id),
        recs AS (
            SELECT profile_id, list([item_id, name, url] ORDER BY ord) AS recs
            FROM slots GROUP BY ALL),
        hashed AS (
            SELECT e.profile_id, e.email, e.variant_id, e.level, e.tactic, e.content, r.recs,
                   e.holdout,
                   md5(concat_ws('|', e.email, e.variant_id, e.level, coalesce(e.content, ''),
                       coalesce(CAST(r.recs AS VARCHAR), '')))[:16] AS payload_hash
            FROM eligible e LEFT JOIN recs r ON r.profile_id = e.profile_id)
        SELECT h.* FROM hashed h
        WHERE $resend AND NOT h.holdout OR NOT EXISTS (
            SELECT 1 FROM sync_ledger s
            WHERE s.destination = $destination AND s.audience = $audience
              AND s.state = 'present' AND s.profile_id = h.profile_id
              AND s.payload_hash = h.payload_hash)
        ORDER BY h.profile_id""",
        {
            "placement": placement_key,
            "destination": destination,
            "audience": audience,
            "resend": resend,
        },
    ).fetchall()
    return [
        Recipient(
            profile_id=pid,
            email=email,
            placement=placement_key,
            variant_id=variant,
            level=level,
            tactic=tactic,
            content=content,
            items=tuple(RecommendedItem(i, n, u) for i, n, u in recs or ()),
            payload_hash=digest,
            cleared=holdout,
        )
        for pid, email, variant, level, tactic, content, recs, holdout, digest in rows
    ]


def record_sent(
    store: Store, destination: str, audience: str, sent: list[Recipient], run_id: str
) -> int:
    """Note ``sent`` (recipients the vendor accepted) in ``sync_ledger``; returns rows written."""
    import pyarrow as pa

    from ..sync.ledger import replace_rows

    if not sent:
        return 0
    table = pa.table(
        {
            "profile_id": pa.array([r.profile_id for r in sent], pa.string()),
            "payload_hash": pa.array([r.payload_hash for r in sent], pa.string()),
        }
    )
    store.con.register("_martech_sent", table)
    try:
        with store.transaction():
            replace_rows(
                store.con,
                destination,
                audience,
                "SELECT profile_id, 'present' AS state, payload_hash, ? AS batch_id, "
                "? AS run_id, now() AS updated_at FROM _martech_sent",
                [run_id, run_id],
            )
    finally:
        store.con.unregister("_martech_sent")
    return len(sent)


def recipient_counts(store: Store, placement_key: str) -> dict[str, Any]:
    """How the stored decisions split: sent, and left out for holdout, consent or no email."""
    _require_decisions(store, placement_key)
    row = store.con.execute(
        f"""WITH {_LATEST}
        SELECT count(*),
               count(*) FILTER (WHERE l.holdout),
               count(*) FILTER (WHERE NOT l.holdout AND coalesce(
                   json_extract_string(p.consent, '$.email'), '') <> 'true'),
               count(*) FILTER (WHERE NOT l.holdout AND json_extract_string(p.consent,
                   '$.email') = 'true' AND e.email IS NULL)
        FROM latest l LEFT JOIN profiles p ON p.id = l.profile_id
        LEFT JOIN emails e ON e.profile_id = l.profile_id""",
        {"placement": placement_key},
    ).fetchall()[0]
    decided, holdout, no_consent, no_email = (int(v) for v in row)
    return {
        "decided": decided,
        "holdout": holdout,
        "no_consent": no_consent,
        "no_email": no_email,
        "recipients": decided - holdout - no_consent - no_email,
    }


__all__ = [
    "Recipient",
    "RecommendedItem",
    "recipient_counts",
    "recommendation_members",
    "record_sent",
]
