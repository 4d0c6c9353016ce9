"""A condition on a categorical computed trait with a value it never takes is a warning.

HubSpot's ``lifecyclestage`` lands in the stored trait ``lifecycle_stage`` (subscriber, lead,
customer); once ``martech traits compute`` materializes the computed ``lifecycle_stage``
(prospect, new, active, lapsing, lapsed), segments read that one, and ``eq: customer`` silently
selects no one. ``rfm_segment: champion`` (for champions) is the same mistake.
"""

from __future__ import annotations

from datetime import UTC, datetime

from martech.models import Event, Profile
from martech.segments import members, parse_segments
from martech.segments.lint import lint_segments, store_vocabulary
from martech.segments.traits import compute_traits, registered_traits

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)

RULES = {
    "crm_customers": {"rule": {"trait": "lifecycle_stage", "eq": "customer"}},
    "champs": {"rule": {"trait": "rfm_segment", "in": ["champion", "loyal_customers"]}},
    "not_champs": {"rule": {"trait": "rfm_segment", "ne": "champion"}},
    "fine": {"rule": {"trait": "lifecycle_stage", "in": ["new", "customer"]}},
    "also_fine": {"rule": {"trait": "rfm_segment", "eq": "champions"}},
}


def test_a_value_a_categorical_computed_trait_never_takes_is_named(martech_store):
    buyer = Profile(id="buyer", events=[Event(type="purchase", ts=AS_OF, value=5)])
    martech_store.upsert_profiles(
        [buyer, *(Profile(id=f"p{i}", traits={"lifecycle_stage": "customer"}) for i in range(3))]
    )
    compute_traits(martech_store, ["lifecycle_stage", "rfm_segment"], as_of=AS_OF)
    segments = parse_segments(RULES)
    # the stored 'customer' is no longer read: the segment is empty
    assert members(martech_store, segments[0], as_of=AS_OF) == set()
    vocab = store_vocabulary(martech_store)
    warnings = lint_segments(segments, vocab, registered=registered_traits())
    by_segment = {w.segment: w for w in warnings}
    assert sorted(by_segment) == ["champs", "crm_customers", "not_champs"]
    crm = by_segment["crm_customers"]
    assert crm.path == "rule.value"
    assert crm.kind == "unknown_value"
    assert "'customer'" in crm.message
    assert "prospect, new, active, lapsing, lapsed" in crm.message
    assert "stored trait 'lifecycle_stage'" in crm.message  # the shadowed CRM field
    assert "never matches" in crm.message
    assert "did you mean 'champions'" in by_segment["champs"].message
    assert "everyone" in by_segment["not_champs"].message
    # given only names (no values known), nothing is second-guessed
    assert lint_segments(segments, vocab, registered=set(registered_traits())) == []


def test_segments_validate_shows_it(martech_store, tmp_path, monkeypatch, capsys):
    from martech.cli import main

    martech_store.upsert_profiles([Profile(id="p", traits={"lifecycle_stage": "customer"})])
    compute_traits(martech_store, ["lifecycle_stage"], as_of=AS_OF)
    path = martech_store.path
    martech_store.close()
    monkeypatch.setenv("MARTECH_HOME", str(path.parent))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "segments.yml").write_text(
        "segments:\n  crm_customers: {rule: {trait: lifecycle_stage, eq: customer}}\n"
    )
    assert main(["segments", "validate"]) == 0
    err = capsys.readouterr().err
    assert "crm_customers" in err
    assert "takes only prospect, new, active, lapsing, lapsed" in err
