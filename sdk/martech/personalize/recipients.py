"""Who gets a placement's stored decisions by email, with their items: the input of an ESP push.

``martech decide --all -p P`` (or ``--segment``) stores one decision per person in ``decisions``;
the web reads the same rows. An ESP push sends each person *their* row: the items (with names,
and urls when the catalogue's ``properties`` carry a ``url``), the variant, the level and the
rendered content. Everything is read set-based, in one query.

Who is sent: people with a stored decision for the placement, an email identity and email consent
(as the store holds it now, so consent withdrawn since the decision counts) who are **not in the
holdout**. The holdout is left untouched: what it sees is the template's own fallback, the same
default the web shows it, and nothing about the experiment reaches the ESP. People who matched no
rule (level ``default``, no items) are sent, with empty slots, so items from an earlier push do not
linger in their merge fields.
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


_LATEST = """
    latest AS (
        SELECT profile_id, variant_id, level, holdout, content, tactic,
               coalesce(items, []::VARCHAR[]) AS items
        FROM decisions WHERE placement = ?
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


def recommendation_members(store: Store, placement_key: str) -> list[Recipient]:
    """The people to send ``placement_key``'s stored decisions to, ordered by profile id.

    Raises :class:`ConfigError` when no decisions are stored for the placement.
    """
    _require_decisions(store, placement_key)
    rows = store.con.execute(
        f"""WITH {_LATEST},
        eligible AS (
            SELECT l.*, e.email FROM latest l
            JOIN profiles p ON p.id = l.profile_id
            JOIN emails e ON e.profile_id = l.profile_id
            WHERE NOT l.holdout AND json_extract_string(p.consent, '$.email') = 'true'),
        slots AS (
            SELECT u.profile_id, u.ord, u.item_id, k.name,
                   json_extract_string(k.properties, '$.url') AS url
            FROM (SELECT profile_id, unnest(items) AS item_id,
                         generate_subscripts(items, 1) AS ord FROM eligible) u
            LEFT JOIN items k ON k.item_id = u.item_id),
        recs AS (
            SELECT profile_id, list([item_id, name, url] ORDER BY ord) AS recs
            FROM slots GROUP BY ALL)
        SELECT e.profile_id, e.email, e.variant_id, e.level, e.tactic, e.content, r.recs
        FROM eligible e LEFT JOIN recs r ON r.profile_id = e.profile_id
        ORDER BY e.profile_id""",
        [placement_key],
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
        )
        for pid, email, variant, level, tactic, content, recs in rows
    ]


def recipient_counts(store: Store, placement_key: str) -> dict[str, Any]:
    """How the stored decisions split: sent, and left out for holdout, consent or no email."""
    _require_decisions(store, placement_key)
    row = store.con.execute(
        f"""WITH {_LATEST}
        SELECT count(*),
               count(*) FILTER (WHERE l.holdout),
               count(*) FILTER (WHERE NOT l.holdout AND coalesce(
                   json_extract_string(p.consent, '$.email'), '') <> 'true'),
               count(*) FILTER (WHERE json_extract_string(p.consent,
                   '$.email') = 'true' AND e.email IS NULL)
        FROM latest l LEFT JOIN profiles p ON p.id = l.profile_id
        LEFT JOIN emails e ON e.profile_id = l.profile_id""",
        [placement_key],
    ).fetchall()[0]
    decided, holdout, no_consent, no_email = (int(v) for v in row)
    return {
        "decided": decided,
        "holdout": holdout,
        "no_consent": no_consent,
        "no_email": no_email,
        "recipients": decided - holdout - no_consent - no_email,
    }


__all__ = ["Recipient", "RecommendedItem", "recipient_counts", "recommendation_members"]
