"""Property: ``decide_batch`` (SQL) and ``decide`` (Python) give the same decision for everyone.

Small random stores (profiles with random events, traits, computed traits and consent; a catalogue
that misses some of the items people touched) and random placements built from the shipped
strategies (recommendations with random params and slots, cells, segments, traits, holdouts,
seeds, template defaults) are decided both ways and compared field by field: variant, level,
items, bucket, holdout, tactic, segment keys, content and the reasons batch documents (the first
and the bucket / holdout note; batch leaves out the per-level "skipped" notes).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from martech.models import Event, Profile
from martech.personalize.batch import decide_batch
from martech.personalize.decide import DecideContext, decide_outcome
from martech.personalize.neighbours import load_neighbours, refresh_neighbours
from martech.personalize.placements import parse_placements
from martech.store import Store

from .conftest import AS_OF, STRATEGIES

ITEMS = [f"I{i}" for i in range(8)]  # I6, I7 are never in the catalogue
TRAITS = ["skill", "water", "interest", "first_name", "n", "a.b", 'q"t', "sp ace"]
TOKENS = ["skill", "water", "interest", "first_name", "n"]
VALUES = st.one_of(
    st.sampled_from(["beginner", "lake", "fishing", "", "x'y", "Ünï"]),
    st.integers(-2, 3),
    st.booleans(),
    st.sampled_from([0.5, 2.0, 1e-7]),
    st.none(),
    st.lists(st.sampled_from(["a", "b"]), max_size=2),
)
RULE_VALUES = st.one_of(
    st.sampled_from(["beginner", "lake", "fishing", "x'y", "Ünï"]),
    st.integers(-2, 3),
    st.booleans(),
    st.lists(st.sampled_from(["beginner", "lake", 1, True]), min_size=1, max_size=3),
)
SEGMENTS = ["s1", "s2"]
ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
RECOMMENDERS = sorted(n for n, s in STRATEGIES.items() if s.level.value == "personalization")


@st.composite
def events(draw: st.DrawFn) -> list[Event]:
    out = []
    for _ in range(draw(st.integers(0, 7))):
        ts = AS_OF + timedelta(minutes=draw(st.integers(-10 * 1440, 1440)))
        out.append(
            Event(
                type=draw(st.sampled_from(["view", "view", "add_to_cart", "purchase", "open"])),
                item_id=draw(st.one_of(st.none(), st.sampled_from(ITEMS))),
                ts=ts.astimezone(draw(st.sampled_from(ZONES))),
            )
        )
    return out


@st.composite
def profiles(draw: st.DrawFn) -> list[Profile]:
    ids = draw(
        st.lists(st.text("ab'é\"1", min_size=1, max_size=4), min_size=1, max_size=8, unique=True)
    )
    return [
        Profile(
            id=pid,
            traits=draw(st.dictionaries(st.sampled_from(TRAITS), VALUES, max_size=4)),
            consent=draw(st.dictionaries(st.sampled_from(["email", "web", "sms"]), st.booleans())),
            events=draw(events()),
        )
        for pid in ids
    ]


@st.composite
def rules(draw: st.DrawFn, recs: list[str]) -> list[dict[str, Any]]:
    """0-4 rules; ``recs`` are the strategies of the recommendation variants r0, r1, …"""
    out: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["rec", "cell", "segment", "trait"]))
        if kind == "rec" and recs:
            i = draw(st.integers(0, len(recs) - 1))
            known = STRATEGIES[recs[i]].defaults
            params: dict[str, Any] = {}
            if draw(st.booleans()):
                params["min_events"] = draw(st.integers(0, 4))
            if "window_days" in known and draw(st.booleans()):
                params["window_days"] = draw(st.sampled_from([0.5, 1, 3, 30]))
            if "seeds" in known and draw(st.booleans()):
                params["seeds"] = draw(st.integers(1, 3))
            out.append({"variant": f"r{i}", "params": params})
        elif kind == "cell":
            cell = draw(
                st.dictionaries(st.sampled_from(TRAITS), RULE_VALUES, min_size=1, max_size=2)
            )
            out.append({"variant": draw(st.sampled_from(["a", "t"])), "cell": cell})
        elif kind == "segment":
            out.append(
                {
                    "variant": draw(st.sampled_from(["a", "t"])),
                    "segment": draw(st.sampled_from(SEGMENTS)),
                }
            )
        elif kind == "trait":
            out.append(
                {
                    "variant": draw(st.sampled_from(["a", "t"])),
                    "trait": draw(st.sampled_from(TRAITS)),
                    "equals": draw(RULE_VALUES),
                }
            )
    return out


@st.composite
def placements(draw: st.DrawFn) -> dict[str, Any]:
    tokens = draw(st.lists(st.sampled_from(TOKENS), max_size=3, unique=True))
    template = " ".join(["Hi"] + [f"{{{{{t}}}}}" for t in tokens]) or "Hi"
    defaults = {t: draw(st.sampled_from(["", "friend", "{x}", "d'f"])) for t in tokens}
    recs = [
        {
            "id": f"r{i}",
            "kind": "recommendation",
            "strategy": draw(st.sampled_from(RECOMMENDERS)),
            "slots": draw(st.integers(1, 3)),
            "template": draw(st.sampled_from(["{{reason}}: {{items}}", "{{items}}", "Top"])),
        }
        for i in range(draw(st.integers(0, 2)))
    ]
    default_kind = draw(st.sampled_from(["static", "template"]))
    variants = [
        {"id": "d", "kind": "static", "content": "Default <b>&</b>"}
        if default_kind == "static"
        else {"id": "d", "kind": "template", "template": template, "defaults": defaults},
        {"id": "a", "kind": "static", "content": "A"},
        {"id": "t", "kind": "template", "template": template, "defaults": defaults},
        *recs,
    ]
    return {
        "key": "p",
        "channel": draw(st.sampled_from(["web", "email", "sms"])),
        "holdout": draw(st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0])),
        "experiment": draw(st.one_of(st.none(), st.sampled_from(["exp'1", "ünï", "e"]))),
        "default": "d",
        "variants": variants,
        "rules": draw(rules([str(r["strategy"]) for r in recs])),
    }


@st.composite
def catalogues(draw: st.DrawFn) -> dict[str, tuple[str | None, str | None, float | None]]:
    return {
        item: (
            draw(st.sampled_from([f"Item {item}", "", None, "O'Neil"])),
            draw(st.sampled_from(["reels", "rods", None])),
            draw(st.sampled_from([10.0, 50.0, None])),
        )
        for item in ITEMS[:6]
        if draw(st.integers(0, 5))  # now and then an item is missing from the catalogue too
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("prop") / "martech.duckdb"
    s = Store(path)
    try:
        yield s
    finally:
        s.close()


def _fill(
    store: Store,
    people: list[Profile],
    catalogue: dict[str, tuple[str | None, str | None, float | None]],
    computed: dict[str, dict[str, Any]],
) -> None:
    con = store.con
    for table in (
        "profiles",
        "identities",
        "events",
        "items",
        "item_pairs",
        "item_neighbours",
        "computed_traits",
        "decisions",
        "checkpoints",
    ):
        con.execute(f"DELETE FROM {table}")
    store.upsert_profiles(people)
    for item, (name, cat, price) in catalogue.items():
        con.execute("INSERT INTO items VALUES (?, ?, ?, ?, NULL)", [item, name, cat, price])
    for pid, traits in computed.items():
        for name, value in traits.items():
            # a trait computed without a value: JSON null for some ids, SQL NULL for others
            con.execute(
                "INSERT INTO computed_traits (profile_id, name, value) VALUES (?, ?, ?)",
                [
                    pid,
                    name,
                    orjson.dumps(value).decode() if value is not None or pid < "b" else None,
                ],
            )
    refresh_neighbours(store, full=True)


def _batch_rows(store: Store) -> dict[str, tuple[Any, ...]]:
    rows = store.con.execute(
        "SELECT profile_id, variant_id, level, bucket, holdout, content, items, tactic, "
        "segment_keys, reasons FROM _final"
    ).fetchall()
    return {r[0]: r for r in rows}


def _documented_reasons(reasons: list[str]) -> list[str]:
    """The reasons batch keeps: the first (level / holdout) and the bucket note; a
    personalization strategy's first reason is its own shorter SQL summary, so only the level
    that starts it is compared."""
    if reasons[0].startswith("holdout:"):
        return reasons
    first = reasons[0]
    if first.startswith("personalization:"):
        first = "personalization:"
    return [first, reasons[-1]]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    people=profiles(),
    placement=placements(),
    catalogue=catalogues(),
    data=st.data(),
)
def test_batch_gives_the_same_decision_as_decide(
    store: Store,
    people: list[Profile],
    placement: dict[str, Any],
    catalogue: dict[str, tuple[str | None, str | None, float | None]],
    data: st.DataObject,
) -> None:
    computed = {
        p.id: data.draw(
            st.dictionaries(
                st.sampled_from(["skill", "interest", "first_name"]), VALUES, max_size=2
            )
        )
        for p in people
        if data.draw(st.booleans())
    }
    memberships = {
        k: frozenset(p.id for p in people if data.draw(st.booleans(), label=f"{k}:{p.id}"))
        for k in SEGMENTS
    }
    _fill(store, people, catalogue, computed)
    pls = parse_placements([placement], strategies=STRATEGIES)
    ctx = DecideContext(
        placements=pls,
        catalogue={
            r[0]: (r[1], r[2], r[3])
            for r in store.con.execute(
                "SELECT item_id, name, category, price FROM items"
            ).fetchall()
        },
        neighbours=load_neighbours(store),
        memberships=memberships,
        strategies=STRATEGIES,
        now=AS_OF.astimezone(data.draw(st.sampled_from(ZONES), label="now's zone")),
        store=store,
    )
    summary = decide_batch(store, "p", context=ctx, write=False)
    rows = _batch_rows(store)
    assert summary.decided == len(rows)
    assert summary.decided + summary.suppressed == len(people)
    for profile in people:
        out = decide_outcome(profile, "p", context=ctx)
        d = out.decision
        if d.variant_id == "":
            assert profile.id not in rows, profile.id
            continue
        got = rows[profile.id]
        want = (
            d.variant_id,
            d.level.value,
            d.bucket,
            d.holdout,
            d.content,
            list(out.items),
            out.tactic,
            d.segment_keys,
            _documented_reasons(d.reasons),
        )
        assert want == (
            got[1],
            got[2],
            got[3],
            got[4],
            got[5],
            list(got[6]),
            got[7],
            list(got[8]),
            _documented_reasons(list(got[9])),
        ), (profile, d.reasons)
