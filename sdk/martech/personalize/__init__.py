"""Personalization: placements, strategies, the fallback chain, batch decisions and lift.

Import what you need from here; ``import martech.personalize`` is cheap (no store, no plugins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .batch import BatchSummary, decide_batch
    from .bucketing import bucket
    from .decide import DecideContext, decide, decide_outcome, suppressed
    from .lift import LiftRow, lift, plant_lift
    from .neighbours import refresh_neighbours
    from .placements import Placement, Rule, example_placements, load_placements, parse_placements
    from .strategies import Miss, Pick, Strategy

_EXPORTS = {
    "BatchSummary": "batch",
    "decide_batch": "batch",
    "bucket": "bucketing",
    "DecideContext": "decide",
    "decide": "decide",
    "decide_outcome": "decide",
    "suppressed": "decide",
    "LiftRow": "lift",
    "lift": "lift",
    "plant_lift": "lift",
    "refresh_neighbours": "neighbours",
    "Placement": "placements",
    "Rule": "placements",
    "example_placements": "placements",
    "load_placements": "placements",
    "parse_placements": "placements",
    "Miss": "strategies",
    "Pick": "strategies",
    "Strategy": "strategies",
}

__all__ = [
    "BatchSummary",
    "DecideContext",
    "LiftRow",
    "Miss",
    "Pick",
    "Placement",
    "Rule",
    "Strategy",
    "bucket",
    "decide",
    "decide_batch",
    "decide_outcome",
    "example_placements",
    "lift",
    "load_placements",
    "parse_placements",
    "plant_lift",
    "refresh_neighbours",
    "suppressed",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'martech.personalize' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
