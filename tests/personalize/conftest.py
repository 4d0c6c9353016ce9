"""Fixtures for personalization tests: a small synthetic store and hand-built contexts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from martech.http.budget import forget_budgets
from martech.models import Event, Profile
from martech.personalize.decide import DecideContext
from martech.personalize.placements import parse_placements
from martech.personalize.strategies import builtin_strategies
from martech.store import Store
from martech_connectors.mailchimp.emulator import MailchimpEmulator

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
STRATEGIES = {s.name: s for s in builtin_strategies()}


def lift_placement(holdout: float) -> dict[str, object]:
    """Placement ``t``: co-occurrence recommendations, else a static default, web (no consent
    needed), with ``holdout`` of people getting the default: what the lift tests decide."""
    return {
        "key": "t",
        "channel": "web",
        "holdout": holdout,
        "default": "d",
        "variants": [
            {"id": "d", "kind": "static", "content": "x"},
            {"id": "r", "kind": "recommendation", "strategy": "co_occurrence"},
        ],
        "rules": [{"variant": "r", "params": {"min_events": 1}}],
    }


def decide_lift_placement(store: Store, *, people: int, seed: int, holdout: float) -> Store:
    """Fill ``store`` with a synthetic population, its neighbours, and batch decisions for
    :func:`lift_placement` (the decisions lift compares)."""
    from martech.personalize.batch import decide_batch
    from martech.personalize.neighbours import refresh_neighbours
    from martech.population import generate, write_store

    write_store(store, generate(people, seed=seed, as_of=AS_OF))
    refresh_neighbours(store)
    ctx = DecideContext.from_store(store, parse_placements([lift_placement(holdout)]), now=AS_OF)
    decide_batch(store, "t", context=ctx)
    return store


@pytest.fixture(scope="session")
def pop_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A 3,000-person synthetic population with neighbours computed (shared, treat as read-only)."""
    from martech.personalize.neighbours import refresh_neighbours
    from martech.population import generate, write_store

    path: Path = tmp_path_factory.mktemp("pop") / "martech.duckdb"
    store = Store(path)
    write_store(store, generate(3000, seed=11, as_of=AS_OF))
    refresh_neighbours(store)
    try:
        yield store
    finally:
        store.close()


def ago(**kw: float) -> datetime:
    return AS_OF - timedelta(**kw)


def ev(kind: str, item: str | None, **kw: float) -> Event:
    return Event(type=kind, item_id=item, ts=ago(**kw))


CATALOGUE = {
    "R1": ("Lake Spin Reel", "reels", 40.0),
    "R2": ("Budget Spin Reel", "reels", 30.0),
    "R3": ("Pro Spin Reel", "reels", 120.0),
    "D1": ("Spinning Rod", "rods", 60.0),
    "L1": ("Lure Pack", "lures", 9.0),
    "T1": ("Tent", "tents", 250.0),
}
NEIGHBOURS = {
    "R1": (("D1", 9), ("L1", 7), ("R3", 5), ("R2", 2)),
    "R2": (("R1", 2), ("L1", 1)),
    "D1": (("R1", 9), ("L1", 3)),
    "L1": (("R1", 7), ("D1", 3)),
    "T1": (("GHOST", 4),),
}

HERO = {
    "key": "hero",
    "channel": "email",
    "holdout": 0.0,
    "default": "generic",
    "variants": [
        {
            "id": "viewed",
            "kind": "recommendation",
            "strategy": "browse_abandonment",
            "slots": 2,
            "template": "{{reason}} {{items}}",
        },
        {
            "id": "kit",
            "kind": "template",
            "template": "{{first_name}}, lake kit",
            "defaults": {"first_name": "Hi"},
        },
        {"id": "fishing", "kind": "static", "content": "Fishing news"},
        {"id": "generic", "kind": "static", "content": "Gear up"},
    ],
    "rules": [
        {"variant": "fishing", "trait": "interest", "equals": "fishing"},
        {"variant": "kit", "cell": {"skill_level": "beginner", "water_type": "lake"}},
        {"variant": "viewed", "params": {"window_days": 2}},
    ],
}


def make_context(*placements: dict, **kw: object) -> DecideContext:
    pls = parse_placements(list(placements or [HERO]))
    return DecideContext(
        placements=pls,
        catalogue=CATALOGUE,
        neighbours=NEIGHBOURS,
        strategies=STRATEGIES,
        now=AS_OF,
        **kw,  # type: ignore[arg-type]
    )


def person(events: list[Event] | None = None, pid: str = "gary", **traits: object) -> Profile:
    return Profile(id=pid, traits=dict(traits), events=events or [], consent={"email": True})


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MailchimpEmulator]:
    """A served emulator that MARTECH_MAILCHIMP_* points at (no martech.toml)."""
    from martech.sandbox import serve

    forget_budgets()
    monkeypatch.chdir(tmp_path)
    with serve("mailchimp") as (emulator, url):
        for key, value in emulator.connection(url).items():
            monkeypatch.setenv(f"MARTECH_MAILCHIMP_{key.upper()}", value)
        assert isinstance(emulator, MailchimpEmulator)
        yield emulator
