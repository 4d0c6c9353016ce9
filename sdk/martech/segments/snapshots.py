"""Membership snapshots: who was in each segment when, and who entered or left since last time.

``take_snapshots`` evaluates segments once (one pass, see :func:`martech.segments.evaluate`) and
stores, per segment, a row in ``segment_snapshots`` (key, version, time, count, members hash)
plus its members in ``segment_members``, all in one transaction. Entered / exited are computed in
SQL against the previous snapshot in time (``taken_at`` = the ``as_of`` evaluated, so a backfill
compares with the one before it) of the same key, whatever its version (the report says when
the definition changed in between, since then the difference is partly the rule's doing).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..models import RuleSegment, _canonical_hash
from .rules import dependency_order, resolve_versions

if TYPE_CHECKING:
    from ..store import Store


@dataclass(frozen=True)
class SnapshotReport:
    """One stored snapshot and how it differs from the previous one of the same segment."""

    key: str
    version: str
    snapshot_id: int
    taken_at: datetime
    count: int
    members_hash: str
    min_size: int
    previous_id: int | None = None
    previous_version: str | None = None
    entered: int = 0
    exited: int = 0

    @property
    def version_changed(self) -> bool:
        return self.previous_version is not None and self.previous_version != self.version

    @property
    def below_min_size(self) -> bool:
        return self.count < self.min_size

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version": self.version,
            "snapshot_id": self.snapshot_id,
            "taken_at": self.taken_at.isoformat(),
            "count": self.count,
            "members_hash": self.members_hash,
            "min_size": self.min_size,
            "below_min_size": self.below_min_size,
            "previous_id": self.previous_id,
            "previous_version": self.previous_version,
            "version_changed": self.version_changed,
            "entered": self.entered,
            "exited": self.exited,
        }


def members_hash(members: Iterable[str]) -> str:
    """Stable hash of a member set (same function as ``AudienceSnapshot.hash``)."""
    return _canonical_hash(sorted(members))


def take_snapshots(
    store: Store,
    segments: Iterable[RuleSegment] | Mapping[str, RuleSegment],
    *,
    keys: Collection[str] | None = None,
    as_of: datetime | None = None,
    computed: Collection[str] | None = None,
) -> list[SnapshotReport]:
    """Evaluate ``keys`` (default: all) and store one snapshot per segment; return what changed."""
    import pyarrow as pa

    from . import evaluate

    seg_list = list(segments.values()) if isinstance(segments, Mapping) else list(segments)
    by_key = {s.key: s for s in seg_list}
    if keys is not None:
        from ..errors import SegmentDefinitionError

        unknown = [k for k in keys if k not in by_key]
        if unknown:
            raise SegmentDefinitionError(
                f"unknown segment {unknown[0]!r}; defined: {', '.join(sorted(by_key))}",
                field="key",
            )
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    result = evaluate(store, seg_list, as_of=moment, computed=computed, only=keys)
    # Versions covering the referenced segments' definitions too (segments built in Python
    # are not resolved yet): a referenced rule's change is this segment's change.
    wanted = [by_key[k] for k in result]
    by_key = {s.key: s for s in resolve_versions(dependency_order(wanted, by_key).values())}
    reports: list[SnapshotReport] = []
    con = store.con
    with store.transaction():
        next_id = int(
            con.execute("SELECT coalesce(max(snapshot_id), 0) FROM segment_snapshots").fetchall()[
                0
            ][0]
        )
        for key, ids in result.items():
            seg = by_key[key]
            next_id += 1
            # The one before in time: a backfill (--as-of in the past) is not "since" a later one.
            prev = con.execute(
                "SELECT snapshot_id, version FROM segment_snapshots WHERE segment_key = ? "
                "AND taken_at <= ? ORDER BY taken_at DESC, snapshot_id DESC LIMIT 1",
                [key, moment],
            ).fetchall()
            digest = members_hash(ids)
            con.execute(
                "INSERT INTO segment_snapshots VALUES (?, ?, ?, ?, ?, ?)",
                [next_id, key, seg.version, moment, len(ids), digest],
            )
            table = pa.table({"profile_id": pa.array(sorted(ids), pa.string())})
            con.register("_martech_snapshot_members", table)
            try:
                con.execute(
                    "INSERT INTO segment_members "
                    "SELECT ?, profile_id FROM _martech_snapshot_members",
                    [next_id],
                )
            finally:
                con.unregister("_martech_snapshot_members")
            entered = exited = 0
            prev_id = prev_version = None
            if prev:
                prev_id, prev_version = int(prev[0][0]), str(prev[0][1])
                entered, exited = _changes(store, prev_id, next_id)
            reports.append(
                SnapshotReport(
                    key=key,
                    version=seg.version,
                    snapshot_id=next_id,
                    taken_at=moment,
                    count=len(ids),
                    members_hash=digest,
                    min_size=seg.min_size,
                    previous_id=prev_id,
                    previous_version=prev_version,
                    entered=entered,
                    exited=exited,
                )
            )
    return reports


def _changes(store: Store, before: int, after: int) -> tuple[int, int]:
    row = store.con.execute(
        """
        SELECT
          count(*) FILTER (WHERE b.profile_id IS NULL),
          count(*) FILTER (WHERE a.profile_id IS NULL)
        FROM (SELECT profile_id FROM segment_members WHERE snapshot_id = ?) a
        FULL OUTER JOIN (SELECT profile_id FROM segment_members WHERE snapshot_id = ?) b
          ON a.profile_id = b.profile_id
        """,
        [after, before],
    ).fetchall()[0]
    return int(row[0]), int(row[1])


def snapshot_members(store: Store, snapshot_id: int) -> set[str]:
    """The members stored with one snapshot."""
    rows = store.con.execute(
        "SELECT profile_id FROM segment_members WHERE snapshot_id = ?", [snapshot_id]
    ).fetchall()
    return {str(r[0]) for r in rows}


def latest_snapshot(store: Store, key: str) -> dict[str, Any] | None:
    """The snapshot of a segment with the latest ``taken_at`` (its ``as_of``; the last taken of
    those), as personalize reads it: snapshot_id, version, taken_at, count, hash; or None."""
    rows = store.con.execute(
        "SELECT snapshot_id, version, timezone('UTC', taken_at), member_count, members_hash "
        "FROM segment_snapshots WHERE segment_key = ? ORDER BY taken_at DESC, snapshot_id DESC "
        "LIMIT 1",
        [key],
    ).fetchall()
    if not rows:
        return None
    sid, version, taken, count, digest = rows[0]
    return {
        "snapshot_id": int(sid),
        "version": str(version),
        "taken_at": taken.replace(tzinfo=UTC),
        "count": int(count),
        "members_hash": str(digest),
    }
