"""diff(): the pure function's laws, and the SQL diff over the ledger agrees with it."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martech.errors import ConfigError
from martech.store import Store
from martech.sync import diff, diff_in_store
from martech.sync.plan import assign_batches

keys = st.sampled_from([f"k{i}" for i in range(30)])
hashes = st.sampled_from(["h1", "h2", None])
members = st.dictionaries(keys, hashes, max_size=25)
modes = st.sampled_from(["mirror", "add_only", "upsert"])


def apply_diff(last: dict[str, str | None], want: dict[str, str | None], mode: str) -> set[str]:
    d = diff(last, want, mode)
    return (set(last) - set(d.removes)) | set(d.adds)


@given(members, members)
def test_mirror_ends_exactly_at_the_desired_set(last, want) -> None:  # type: ignore[no-untyped-def]
    assert apply_diff(last, want, "mirror") == set(want)


@given(members, members, st.sampled_from(["add_only", "upsert"]))
def test_add_only_and_upsert_never_remove(last, want, mode) -> None:  # type: ignore[no-untyped-def]
    d = diff(last, want, mode)
    assert d.removes == ()
    assert apply_diff(last, want, mode) == set(last) | set(want)


@given(members, members)
def test_upsert_updates_exactly_the_changed_payloads(last, want) -> None:  # type: ignore[no-untyped-def]
    d = diff(last, want, "upsert")
    assert set(d.updates) == {k for k in want if k in last and last[k] != want[k]}
    assert diff(last, want, "mirror").updates == ()


@given(members, members, modes)
def test_only_members_this_tool_sent_are_ever_removed_and_none_is_added_twice(  # type: ignore[no-untyped-def]
    last, want, mode
) -> None:
    d = diff(last, want, mode)
    assert set(d.removes) <= set(last) - set(want)  # an outsider is never in last_sent
    assert not (set(d.adds) & set(last))
    assert set(d.updates) <= set(last) & set(want)


@given(members, modes)
def test_a_second_diff_after_applying_the_first_is_empty(want, mode) -> None:  # type: ignore[no-untyped-def]
    assert diff(want, want, mode).is_empty


@given(members, members, modes)
def test_outputs_are_sorted_and_disjoint(last, want, mode) -> None:  # type: ignore[no-untyped-def]
    d = diff(last, want, mode)
    for part in (d.adds, d.removes, d.updates):
        assert list(part) == sorted(part)
    assert not (set(d.adds) & set(d.removes))
    assert not (set(d.adds) & set(d.updates))


def test_sets_are_accepted_and_a_bad_mode_names_the_choices() -> None:
    assert diff({"a", "b"}, {"b", "c"}).adds == ("c",)
    with pytest.raises(ConfigError, match="mode: expected one of mirror, add_only, upsert"):
        diff(set(), set(), "replace")


@pytest.fixture(scope="module")
def ledger_store(tmp_path_factory):  # type: ignore[no-untyped-def]
    store = Store(tmp_path_factory.mktemp("diff") / "diff.duckdb")
    yield store
    store.close()


@settings(max_examples=60, deadline=None)
@given(members, members, members, members, modes)
def test_the_sql_diff_agrees_with_the_pure_one(
    ledger_store, last, removed, refused, want, mode
) -> None:  # type: ignore[no-untyped-def]
    con = ledger_store.con
    con.execute("DELETE FROM sync_ledger")
    rows = [(k, "present", h) for k, h in last.items()]
    # Members we removed earlier (not "last sent") must not be removed again.
    rows += [(k, "removed", h) for k, h in removed.items() if k not in last]
    # Refused adds are not "last sent" either: they are added again, never removed.
    rows += [(k, "rejected", h) for k, h in refused.items() if k not in last and k not in removed]
    for key, state, h in rows:
        con.execute(
            "INSERT INTO sync_ledger (destination, audience, profile_id, state, payload_hash, "
            "batch_id, run_id) VALUES ('d', 'a', ?, ?, ?, '0', 'r')",
            [key, state, h],
        )
    con.execute(
        "INSERT INTO sync_ledger (destination, audience, profile_id, state, payload_hash, "
        "batch_id, run_id) VALUES ('other', 'a', 'k1', 'present', 'h1', '0', 'r')"
    )
    desired = pa.table(
        {
            "profile_id": pa.array(list(want), pa.string()),
            "payload_hash": pa.array(list(want.values()), pa.string()),
        }
    )
    assert diff_in_store(con, "d", "a", desired, mode) == diff(last, want, mode)


@given(
    st.lists(
        st.tuples(st.sampled_from(["remove", "add", "update"]), st.integers(1, 60)), max_size=80
    ),
    st.integers(1, 7),
    st.one_of(st.none(), st.integers(60, 200)),
)
def test_batches_respect_count_bytes_and_never_mix_ops(items, count, max_bytes) -> None:  # type: ignore[no-untyped-def]
    items = sorted(items, key=lambda x: ["remove", "add", "update"].index(x[0]))
    ops = [op for op, _ in items]
    sizes = [n for _, n in items]
    batches = assign_batches(ops, sizes, batch_count=count, batch_bytes=max_bytes)
    assert batches == assign_batches(ops, sizes, batch_count=count, batch_bytes=max_bytes)
    assert batches == sorted(batches)
    groups: dict[int, list[int]] = {}
    for i, b in enumerate(batches):
        groups.setdefault(b, []).append(i)
    for idx in groups.values():
        assert len({ops[i] for i in idx}) == 1
        assert len(idx) <= count
        if max_bytes is not None and len(idx) > 1:
            assert sum(sizes[i] for i in idx) <= max_bytes
