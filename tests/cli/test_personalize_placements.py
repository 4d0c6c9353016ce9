"""``martech personalize placements`` reads like the rules it lists, as decide's reasons do."""

from __future__ import annotations

import pytest

from martech.cli import main


def test_placements_lists_cells_as_conditions_and_recommendations_by_strategy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["personalize", "placements"]) == 0
    out = capsys.readouterr().out
    cell = (
        "lake_beginner_kit: cell interest=fishing + skill_level=beginner + water_type=lake + "
        "preferred_tackle=spinning + budget_tier=budget"
    )
    assert cell in out
    assert "reels_you_viewed: recommendation (browse_abandonment)" in out
    assert "{'" not in out  # no Python dict
