"""martech.pull with columnar pages: ProfileRows, PullPage, chunked writes, kill and resume."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from martech.connector import Connector, ConnectorConfig, ProfileRows, PullPage
from martech.errors import ValidationError
from martech.http import run_sync
from martech.models import Profile
from martech.pulling import checkpoint, pull
from martech.store import Store

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def person(n: int) -> Profile:
    return Profile(
        id=f"p{n:04d}",
        identities={"email": f"user{n}@example.com", "shop": str(n)},
        traits={"n": n, "city": "Oslo" if n % 2 else "Bergen", "vip": n % 3 == 0},
        consent={"email": n % 2 == 0},
    )


class Paged(Connector):
    """Pages of ``size`` profiles out of ``total``; the cursor is the next offset. Yields rows
    (as a columnar connector does) or Profiles; ``die_after`` raises after that many pages."""

    name = "paged"
    kind = "other"

    def __init__(
        self,
        total: int,
        size: int,
        *,
        columnar: bool,
        die_after: int | None = None,
        death: type[BaseException] = RuntimeError,
    ):
        super().__init__(config=ConnectorConfig(base_url="http://unused.test"))
        self.total, self.size, self.columnar, self.die_after = total, size, columnar, die_after
        self.death = death
        self.served: list[int] = []  # offsets of the pages handed out

    async def pull_profiles(
        self, *, since: datetime | None = None, cursor: str | None = None
    ) -> AsyncIterator[PullPage]:
        offset = int(cursor or 0)
        pages = 0
        while offset < self.total:
            if self.die_after is not None and pages == self.die_after:
                raise self.death("killed")
            batch = [person(n) for n in range(offset, min(offset + self.size, self.total))]
            self.served.append(offset)
            offset += len(batch)
            pages += 1
            if self.columnar:
                yield PullPage(rows=ProfileRows.from_profiles(batch), cursor=str(offset))
            else:
                yield PullPage(profiles=batch, cursor=str(offset))


def stored(store: Store) -> tuple[list[Any], list[Any]]:
    profiles = store.con.execute(
        "SELECT id, traits::VARCHAR, consent::VARCHAR FROM profiles ORDER BY id"
    ).fetchall()
    identities = store.con.execute(
        "SELECT kind, value, profile_id FROM identities ORDER BY ALL"
    ).fetchall()
    return profiles, identities


def test_profile_rows_round_trip_profiles() -> None:
    people = [person(n) for n in range(5)]
    rows = ProfileRows.from_profiles(people)
    assert len(rows) == 5
    assert rows.profiles() == people
    both = ProfileRows.concat([rows, ProfileRows.from_profiles([person(9)])])
    assert both.profiles() == [*people, person(9)]
    assert both.to_arrow().num_rows == 6


def test_profile_rows_refuse_ragged_columns_and_invalid_profiles() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        ProfileRows(ids=["a"], identities=[], traits=["{}"], consent=["{}"])
    rows = ProfileRows(ids=["a"], identities=["{}"], traits=["{}"], consent=['{"fax": true}'])
    with pytest.raises(ValidationError, match="consent") as err:
        rows.profiles()
    assert err.value.field == "consent"
    rows = ProfileRows(ids=["a"], identities=["{}"], traits=["{not json"], consent=["{}"])
    with pytest.raises(ValidationError, match="not JSON"):
        rows.profiles()


def test_a_pull_page_derives_rows_from_profiles_and_profiles_from_rows() -> None:
    people = [person(1), person(2)]
    from_profiles = PullPage(profiles=people, cursor="2")
    from_rows = PullPage(rows=ProfileRows.from_profiles(people), cursor="2")
    assert len(from_profiles) == len(from_rows) == 2
    assert from_rows.profiles == people
    assert from_profiles.rows.ids == from_rows.rows.ids
    assert from_profiles.rows.traits == from_rows.rows.traits
    with pytest.raises(TypeError, match="exactly one"):
        PullPage(cursor=None)
    with pytest.raises(TypeError, match="exactly one"):
        PullPage(profiles=people, rows=from_rows.rows, cursor=None)
    with pytest.raises(TypeError, match="Profile objects"):
        PullPage(profiles=[{"id": "x"}], cursor=None)  # type: ignore[list-item]


async def test_columnar_and_profile_pages_store_the_same(tmp_path: Any) -> None:
    results = []
    for columnar in (True, False):
        with Store(tmp_path / f"{columnar}.duckdb") as store:
            result = await pull(Paged(230, 20, columnar=columnar), store, flush_rows=50)
            assert (result.records, result.pages, result.cursor) == (230, 12, "230")
            results.append(stored(store))
    assert results[0] == results[1]
    profiles, identities = results[0]
    assert len(profiles) == 230
    assert len(identities) == 460


@pytest.mark.parametrize(
    ("flush", "kept"),
    [
        # Chunks close at 50 rows: pages 1-3 (60 rows) and 4-6 (120) were written with their
        # cursor; page 7 was still buffered when the pull died.
        ({"flush_rows": 50}, 120),
        # Chunks close on time: with no time to wait, every page is its own chunk.
        ({"flush_rows": 10_000, "flush_seconds": 0.0}, 140),
    ],
)
async def test_a_killed_pull_resumes_from_its_last_chunk_and_loses_or_duplicates_nothing(
    flush: dict[str, Any], kept: int, tmp_path: Any
) -> None:
    with Store(tmp_path / "whole.duckdb") as store:
        await pull(Paged(230, 20, columnar=True), store, flush_rows=50)
        whole = stored(store)
    with Store(tmp_path / "killed.duckdb") as store:
        # A kill: nothing in the process runs after it (a BaseException here, so no handler
        # that saves buffered pages runs either).
        dying = Paged(230, 20, columnar=True, die_after=7, death=Killed)
        with pytest.raises(Killed, match="killed"):
            await pull(dying, store, **flush)
        # What was written went with its cursor: every profile before it, none after.
        assert checkpoint(store, "pull:paged") == str(kept)
        assert store.count("profiles") == kept
        again = Paged(230, 20, columnar=True)
        result = await pull(again, store, **flush)
        assert again.served[0] == kept  # resumed after the last stored chunk
        assert result.records == 230 - kept
        assert stored(store) == whole
        assert checkpoint(store, "pull:paged") == "230"


class Killed(BaseException):
    """Stands for a kill: not an Exception, so the pull's error handling does not see it."""


@pytest.mark.parametrize("flush_rows", [50, 10_000])
async def test_a_connector_that_fails_keeps_what_it_delivered(
    flush_rows: int, tmp_path: Any
) -> None:
    """An error from the connector (say, retries exhausted on page 8): the 7 pages it delivered
    are stored with their cursor, whatever the chunk size, and the next run resumes after them."""
    with Store(tmp_path / "whole.duckdb") as store:
        await pull(Paged(230, 20, columnar=True), store)
        whole = stored(store)
    with Store(tmp_path / "s.duckdb") as store:
        failing = Paged(230, 20, columnar=True, die_after=7)
        with pytest.raises(RuntimeError, match="killed"):
            await pull(failing, store, flush_rows=flush_rows)
        assert checkpoint(store, "pull:paged") == "140"
        assert store.count("profiles") == 140
        again = Paged(230, 20, columnar=True)
        await pull(again, store, flush_rows=flush_rows)
        assert again.served[0] == 140
        assert stored(store) == whole


async def test_a_pull_leaves_the_stores_thread_setting_as_it_found_it(tmp_path: Any) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        store.con.execute("SET threads = 3")
        await pull(Paged(60, 20, columnar=True), store)
        assert store.con.execute("SELECT current_setting('threads')").fetchone() == (3,)
        assert checkpoint(store, "pull:paged") == "60"


def test_a_connector_may_hand_pages_over_as_any_async_iterator(martech_store) -> None:
    """``pull_profiles`` is typed AsyncIterator: one that is not a generator (no aclose) works."""

    class Pages:
        def __init__(self) -> None:
            self.left = [PullPage(profiles=[person(1), person(2)], cursor="2")]

        def __aiter__(self) -> Pages:
            return self

        async def __anext__(self) -> PullPage:
            if not self.left:
                raise StopAsyncIteration
            return self.left.pop()

    class Plain(Connector):
        name = "plain"
        kind = "other"

        def pull_profiles(self, *, since=None, cursor=None):  # type: ignore[no-untyped-def]
            return Pages()

    result = run_sync(
        pull(Plain(config=ConnectorConfig(base_url="http://unused.test")), martech_store)
    )
    assert result.records == 2
    assert martech_store.count("profiles") == 2
