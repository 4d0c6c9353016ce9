"""Probes vary exactly one thing, use only what the population shows, and mask tokens."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from martech import Event, Profile
from martech.audit.probes import (
    Vocabulary,
    behaviour_probes,
    id_only,
    mask,
    redact_output,
    trait_pair,
)

TS = datetime(2025, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def vocab(probe_population):
    return Vocabulary.from_profiles(probe_population.profiles, probe_population.categories)


@pytest.fixture(scope="module")
def shopper(probe_population):
    return next(p for p in probe_population.profiles if sum(1 for e in p.events if e.item_id) >= 3)


def test_vocabulary_holds_population_traits_items_and_categories(vocab, probe_population):
    assert {"country", "interest", "first_name", "loyalty_member"} <= set(vocab.traits)
    assert vocab.has_categories
    assert "view" in vocab.event_types
    seen = {e.item_id for p in probe_population.profiles for e in p.events if e.item_id}
    assert seen <= set(vocab.items)


def test_trait_pair_changes_one_trait_to_an_observed_value(vocab, shopper):
    rng = random.Random(1)
    for trait in ("country", "interest", "budget_tier"):
        probe = trait_pair(shopper, trait, vocab, rng, base=0)
        assert probe is not None
        changed = {k for k in shopper.traits if shopper.traits[k] != probe.profile.traits[k]}
        assert changed == {trait}
        assert probe.profile.traits[trait] in vocab.traits[trait]
        assert probe.profile.events == shopper.events
        assert probe.profile.id == shopper.id


def test_trait_pair_of_a_personal_trait_does_not_name_the_values(vocab, shopper):
    probe = trait_pair(shopper, "first_name", vocab, random.Random(2), base=0)
    assert probe is not None
    assert probe.change == "first_name changed"
    assert str(shopper.traits["first_name"]) not in probe.change


def test_id_only_keeps_traits_and_events_and_replaces_every_identity(shopper):
    probe = id_only(shopper, seed=3, base=0)
    assert probe.profile.traits == shopper.traits
    assert probe.profile.events == shopper.events
    assert probe.profile.id != shopper.id
    assert set(probe.profile.identities) == set(shopper.identities)
    assert not set(probe.profile.identities.values()) & set(shopper.identities.values())


def test_item_swap_keeps_types_times_values_and_categories(vocab, shopper):
    (probe,) = behaviour_probes("item_swap", shopper, vocab, random.Random(4), base=0)
    before, after = shopper.events, probe.profile.events
    assert [(e.type, e.ts, e.value) for e in before] == [(e.type, e.ts, e.value) for e in after]
    assert [vocab.items.get(e.item_id or "") for e in before] == [
        vocab.items.get(e.item_id or "") for e in after
    ]
    assert [e.item_id for e in before] != [e.item_id for e in after]


def test_one_event_pair_differs_only_in_an_item_of_the_same_category(vocab, shopper):
    x, y = behaviour_probes("one_event", shopper, vocab, random.Random(5), base=0)
    ex, ey = x.profile.events[-1], y.profile.events[-1]
    assert x.profile.events[:-1] == y.profile.events[:-1] == shopper.events
    assert (ex.type, ex.ts) == (ey.type, ey.ts)
    assert ex.item_id != ey.item_id
    assert vocab.items[ex.item_id or ""] == vocab.items[ey.item_id or ""]


def test_category_swap_moves_every_item_to_another_category(vocab, shopper):
    (probe,) = behaviour_probes("category_swap", shopper, vocab, random.Random(6), base=0)
    for a, b in zip(shopper.events, probe.profile.events, strict=True):
        if a.item_id and vocab.items.get(a.item_id) in vocab.by_category:
            assert vocab.items[b.item_id or ""] != vocab.items[a.item_id]


def test_recency_and_frequency_keep_the_items(vocab, shopper):
    (older,) = behaviour_probes("recency", shopper, vocab, random.Random(7), base=0)
    (twice,) = behaviour_probes("frequency", shopper, vocab, random.Random(7), base=0)
    items = sorted(e.item_id or "" for e in shopper.events)
    assert sorted(e.item_id or "" for e in older.profile.events) == items
    assert max(e.ts for e in older.profile.events) < max(e.ts for e in shopper.events)
    assert len(twice.profile.events) == 2 * len(shopper.events)


def _person(**traits):
    return Profile(
        id="p-123",
        identities={"email": "anna.berg@example.com"},
        traits={"first_name": "Anna", "city": "Nice", "country": "IN", "age": 34, **traits},
        events=[Event(type="view", item_id="SKU-00034", ts=TS)],
    )


def test_mask_replaces_the_persons_own_values_with_trait_names():
    out = mask("Hi ANNA, news from Nice for anna.berg@example.com", _person())
    assert out == "Hi «first_name», news from «city» for «email»"


def test_mask_leaves_short_codes_in_other_case_and_numbers_inside_ids_alone():
    out = mask("Ships in 2 days: SKU-00034 for $34.00, IN stock", _person())
    assert out == "Ships in 2 days: SKU-00034 for $34.00, «country» stock"


def test_two_people_with_a_merge_token_look_identical_after_masking():
    a, b = _person(), _person(first_name="Bob")
    assert mask("Hi Anna!", a) == mask("Hi Bob!", b)


def test_redacted_output_is_short_and_pii_free():
    text = redact_output("Dear Anna " + "x" * 400, _person())
    assert "Anna" not in text
    assert len(text) <= 160
