"""Cases where decide_batch and decide once disagreed, each pinned on a tiny store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from martech.models import Decision, Event, Profile
from martech.personalize.batch import decide_batch
from martech.personalize.decide import DecideContext, decide
from martech.personalize.neighbours import load_neighbours, refresh_neighbours
from martech.personalize.placements import parse_placements
from martech.store import Store

from .conftest import AS_OF, STRATEGIES


def _placement(rules: list[dict[str, Any]], *extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": "p",
        "channel": "web",
        "holdout": 0,
        "default": "d",
        "variants": [
            {
                "id": "d",
                "kind": "template",
                "template": "Hi {{skill}}",
                "defaults": {"skill": "you"},
            },
            {"id": "a", "kind": "static", "content": "A"},
            *extra,
        ],
        "rules": rules,
    }


def both(
    store: Store,
    placement: dict[str, Any],
    people: list[Profile],
    *,
    memberships: dict[str, frozenset[str]] | None = None,
) -> list[tuple[Decision, tuple[Any, ...]]]:
    """Each person's decision from decide and the row decide_batch stored for them."""
    store.upsert_profiles(people)
    refresh_neighbours(store, full=True)
    ctx = DecideContext(
        placements=parse_placements([placement], strategies=STRATEGIES),
        catalogue={
            r[0]: (r[1], r[2], r[3])
            for r in store.con.execute(
                "SELECT item_id, name, category, price FROM items"
            ).fetchall()
        },
        neighbours=load_neighbours(store),
        memberships=memberships or {},
        strategies=STRATEGIES,
        now=AS_OF,
        store=store,
    )
    decide_batch(store, "p", context=ctx)
    rows = {
        r[0]: r
        for r in store.con.execute(
            "SELECT profile_id, variant_id, level, content, segment_keys, reasons FROM decisions"
        ).fetchall()
    }
    return [(decide(p, "p", context=ctx), rows[p.id]) for p in people]


def _same(d: Decision, row: tuple[Any, ...]) -> None:
    assert (d.variant_id, d.level.value, d.content, d.segment_keys) == (
        row[1],
        row[2],
        row[3],
        list(row[4]),
    )


def test_a_computed_trait_without_a_value_leaves_the_stored_trait_in_both_paths(
    martech_store: Store,
) -> None:
    martech_store.con.execute(
        "INSERT INTO computed_traits (profile_id, name, value) VALUES ('x', 'skill', NULL), "
        "('y', 'skill', 'null'), ('z', 'skill', '\"pro\"')"
    )
    people = [
        Profile(id="x", traits={"skill": "pro"}),
        Profile(id="y", traits={"skill": "pro"}),
        Profile(id="z", traits={"skill": "novice"}),
    ]
    rule = {"variant": "a", "trait": "skill", "equals": "pro"}
    for d, row in both(martech_store, _placement([rule]), people):
        _same(d, row)
        assert d.variant_id == "a", d.reasons


def test_two_rules_on_one_segment_name_it_once_in_the_segment_keys(
    martech_store: Store,
) -> None:
    rules = [{"variant": "a", "segment": "s"}, {"variant": "d", "segment": "s"}]
    [(d, row)] = both(
        martech_store, _placement(rules), [Profile(id="x")], memberships={"s": frozenset({"x"})}
    )
    _same(d, row)
    assert d.segment_keys == ["s"]


def test_an_item_with_an_empty_name_is_named_by_its_id_in_both_paths(
    martech_store: Store,
) -> None:
    martech_store.con.execute(
        "INSERT INTO items VALUES ('A', '', 'reels', 1.0, NULL), ('B', 'Bee', 'reels', 2.0, NULL)"
    )

    def ev(kind: str, item: str, hours: float) -> Event:
        return Event(type=kind, item_id=item, ts=AS_OF - timedelta(hours=hours))

    people = [
        Profile(id="buyer", events=[ev("purchase", "A", 5)]),
        Profile(id="viewer", events=[ev("view", "B", 50), ev("view", "A", 3)]),
        Profile(id="other", events=[ev("view", "A", 60), ev("view", "B", 60)]),
    ]
    for strategy in ("post_purchase", "because_you_viewed"):
        rec = {
            "id": "r",
            "kind": "recommendation",
            "strategy": strategy,
            "template": "{{reason}}: {{items}}",
        }
        for d, row in both(martech_store, _placement([{"variant": "r"}], rec), people):
            _same(d, row)
            if d.level.value == "personalization":
                assert d.content.endswith("A: Bee"), d.content


def test_a_holdout_under_half_a_percent_is_not_called_0_percent(martech_store: Store) -> None:
    from martech.personalize.bucketing import bucket, share_text

    assert [share_text(s) for s in (0.001, 0.005, 0.1, 0.125, 1 / 3, 1.0)] == [
        "0.1%",
        "0.5%",
        "10%",
        "12.5%",
        "33.33%",
        "100%",
    ]
    placement = {**_placement([]), "holdout": 0.005}
    held = next(f"u{i}" for i in range(10_000) if bucket(f"u{i}", "p") < 50)
    [(d, row)] = both(martech_store, placement, [Profile(id=held)])
    assert d.holdout
    assert d.reasons == list(row[5])
    assert "(0.5% holdout)" in d.reasons[0]


def test_content_is_plain_text_inserted_verbatim_in_both_paths(martech_store: Store) -> None:
    people = [Profile(id="x", traits={"skill": "<b>Tom & 'Jo'</b> {{skill}}"}), Profile(id="y")]
    [(dx, rx), (dy, ry)] = both(martech_store, _placement([]), people)
    assert dx.content == rx[3] == "Hi <b>Tom & 'Jo'</b> {{skill}}"
    assert dy.content == ry[3] == "Hi you"
