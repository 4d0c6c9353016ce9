"""Evaluating segments as of a moment before their computed traits were computed is a warning.

``segments eval --as-of 2026-03-01`` sees only events up to 1 March, but reads computed traits
as they were materialized: computed as of 1 June, ``lifecycle_stage`` counts the purchases of
March to May, and a backtest silently mixes the two moments.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from martech.models import Event, Profile
from martech.segments import parse_segments
from martech.segments.lint import lint_segments, store_vocabulary
from martech.segments.traits import compute_traits

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
SEGMENTS = {
    "active": {"rule": {"trait": "lifecycle_stage", "eq": "active"}},
    "buyers": {"rule": {"event": "purchase"}},
}


def store_with_traits(store):
    store.upsert_profiles(
        [Profile(id="p", events=[Event(type="purchase", ts=AS_OF - timedelta(days=20))])]
    )
    compute_traits(store, ["lifecycle_stage"], as_of=AS_OF)
    return store


def test_a_computed_trait_computed_after_the_evaluation_moment_is_named(martech_store):
    vocab = store_vocabulary(store_with_traits(martech_store))
    segments = parse_segments(SEGMENTS)
    earlier = AS_OF - timedelta(days=90)
    (warning,) = lint_segments(segments, vocab, as_of=earlier)
    assert (warning.segment, warning.path, warning.kind) == (
        "active",
        "rule.trait",
        "computed_after_as_of",
    )
    assert "2026-06-01" in warning.message
    assert "2026-03-03" in warning.message
    assert "martech traits compute --as-of" in warning.message
    assert lint_segments(segments, vocab, as_of=AS_OF) == []
    assert lint_segments(segments, vocab, as_of=AS_OF + timedelta(days=1)) == []
    assert lint_segments(segments, vocab) == []


def test_segments_eval_as_of_before_the_traits_warns(martech_store, tmp_path, monkeypatch, capsys):
    from martech.cli import main

    store_with_traits(martech_store)
    path = martech_store.path
    martech_store.close()
    monkeypatch.setenv("MARTECH_HOME", str(path.parent))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "segments.yml").write_text(
        "segments:\n  active: {rule: {trait: lifecycle_stage, eq: active}}\n"
    )
    assert main(["segments", "eval", "--no-save", "--as-of", "2026-03-01T00:00:00Z"]) == 0
    assert "computed as of 2026-06-01" in capsys.readouterr().err
    assert main(["segments", "eval", "--no-save", "--as-of", "2026-06-01T00:00:00Z"]) == 0
    assert "warning" not in capsys.readouterr().err
