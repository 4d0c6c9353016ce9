"""Membership snapshots: entered / exited against the snapshot before in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from martech.models import Event, Profile
from martech.segments import parse_segments
from martech.segments.snapshots import latest_snapshot, snapshot_members, take_snapshots

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
(RECENT,) = parse_segments({"recent": {"rule": {"event": "view", "window": "last 7 days"}}})


def load(store) -> None:
    # a viewed 20 days before AS_OF, b 10 days before, c 1 day before
    people = {"a": 20, "b": 10, "c": 1}
    store.upsert_profiles(
        [Profile(id=p, events=[Event(type="view", ts=AS_OF - d * DAY)]) for p, d in people.items()]
    )


def test_entered_and_exited_count_who_changed_since_the_last_snapshot(martech_store):
    load(martech_store)
    (first,) = take_snapshots(martech_store, [RECENT], as_of=AS_OF - 15 * DAY)  # a
    (second,) = take_snapshots(martech_store, [RECENT], as_of=AS_OF - 5 * DAY)  # b
    assert (first.count, first.previous_id) == (1, None)
    assert snapshot_members(martech_store, second.snapshot_id) == {"b"}
    assert (second.previous_id, second.entered, second.exited) == (first.snapshot_id, 1, 1)


def test_a_backfilled_snapshot_is_not_taken_for_the_newest(martech_store):
    """Snapshots taken out of order (a backfill with --as-of) compare with the one before in
    time, and the latest snapshot is the latest in time, as personalize reads it."""
    load(martech_store)
    (now,) = take_snapshots(martech_store, [RECENT], as_of=AS_OF)  # c
    (early,) = take_snapshots(martech_store, [RECENT], as_of=AS_OF - 15 * DAY)  # a
    (middle,) = take_snapshots(martech_store, [RECENT], as_of=AS_OF - 5 * DAY)  # b
    assert early.previous_id is None
    assert (middle.previous_id, middle.entered, middle.exited) == (early.snapshot_id, 1, 1)
    latest = latest_snapshot(martech_store, "recent")
    assert latest is not None
    assert latest["snapshot_id"] == now.snapshot_id
    (later,) = take_snapshots(martech_store, [RECENT], as_of=AS_OF + DAY)  # c
    assert (later.previous_id, later.entered, later.exited) == (now.snapshot_id, 0, 0)
