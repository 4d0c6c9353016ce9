"""A placeholder identity (the noemail@example.com a CRM puts where an email is required) must not
merge everyone carrying it into one person: a value more than MAX_PROFILES_PER_IDENTITY profiles
claim in one batch is left out, counted, and reported; a few people sharing one still merge."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from martech._bulk import MAX_PROFILES_PER_IDENTITY
from martech.store import Store
from martech_plugins.files.importer import import_file

N = MAX_PROFILES_PER_IDENTITY + 50


def test_an_import_with_a_placeholder_email_keeps_every_person(tmp_path: Path) -> None:
    csv = tmp_path / "crm.csv"
    rows = [f"c{i},noemail@example.com,+4791{i:06d}\n" for i in range(N)]
    # Three people of one family share an address: that is a person-level link, kept.
    rows += [f"f{i},family@example.com,\n" for i in range(3)]
    csv.write_text("id,email,phone\n" + "".join(rows))
    with Store(tmp_path / "m.duckdb") as store:
        store.upsert_profiles([])  # not a first load: the general path
        summary = import_file(store, "profiles", csv)
        assert summary.inserted == N + 1
        assert summary.merged == 2
        assert summary.placeholder_identities == N
        assert store.count("profiles") == N + 1
        assert store.resolve("email", "noemail@example.com") is None
        assert store.get_profile("c7").identities == {"phone": "+4791000007"}
        assert store.get_profile("f2").id == "f0"


def test_a_stored_owner_of_a_placeholder_does_not_absorb_a_batch_carrying_it(
    tmp_path: Path,
) -> None:
    def batch(ids: list[str]) -> pa.Table:
        return pa.table(
            {
                "id": ids,
                "identities": [orjson.dumps({"email": "none@none.com"}).decode()] * len(ids),
            }
        )

    with Store(tmp_path / "m.duckdb") as store:
        store.upsert_profiles(batch(["owner"]))
        counts = store.upsert_profiles(batch([f"p{i}" for i in range(N)]))
        assert (counts.inserted, counts.merged, counts.placeholder_identities) == (N, 0, N)
        assert store.count("profiles") == N + 1
        assert store.resolve("email", "none@none.com") == "owner"
        # A first load into an empty store is guarded as well.
    with Store(tmp_path / "fresh.duckdb") as store:
        counts = store.upsert_profiles(batch([f"p{i}" for i in range(N)]))
        assert (counts.inserted, counts.merged, counts.placeholder_identities) == (N, 0, N)
        assert store.count("identities") == 0


def test_a_pull_reports_the_identities_it_left_out(tmp_path: Path) -> None:
    from martech.connector import Connector, ConnectorConfig, PullPage
    from martech.http import run_sync
    from martech.models import Profile
    from martech.pulling import pull

    class Crm(Connector):
        name = "crm"
        kind = "other"

        async def pull_profiles(self, *, since=None, cursor=None):  # type: ignore[no-untyped-def]
            people = [
                Profile(id=f"c{i}", identities={"email": "noemail@example.com"}) for i in range(N)
            ]
            yield PullPage(profiles=people[:60], cursor="60")
            bad = Profile(id="x", identities={"email": "not an email"})
            yield PullPage(profiles=[*people[60:], bad], cursor="end")

    with Store(tmp_path / "m.duckdb") as store:
        connector = Crm(config=ConnectorConfig(base_url="http://unused.test"))
        result = run_sync(pull(connector, store))
        assert (result.placeholder_identities, result.unusable_identities) == (N, 1)
        assert store.count("profiles") == N + 1


def test_a_placeholder_arriving_a_few_a_day_stops_merging_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two new contacts a day with the placeholder: each batch alone is far below the limit, but
    the stored owner has absorbed the earlier days' contacts, and those count too."""
    from martech import _bulk

    monkeypatch.setattr(_bulk, "MAX_PROFILES_PER_IDENTITY", 5)

    def day(n: int) -> pa.Table:
        ids = [f"d{n}a", f"d{n}b"]
        email = orjson.dumps({"email": "none@none.com"}).decode()
        return pa.table({"id": ids, "identities": [email] * 2})

    with Store(tmp_path / "m.duckdb") as store:
        left_out = [store.upsert_profiles(day(n)).placeholder_identities for n in range(10)]
        # Days 0-2 merge (2, then 1 + 2, then 3 + 2 profiles: at most 5); from day 3 on the
        # owner's 5 absorbed profiles + 2 new ones would pass the limit.
        assert left_out == [0, 0, 0] + [2] * 7
        assert store.resolve("email", "none@none.com") == "d0a"
        assert store.count("profiles") == 1 + 14
        assert store.get_profile("d9b").identities == {}
        assert store.get_profile("d2b").id == "d0a"
