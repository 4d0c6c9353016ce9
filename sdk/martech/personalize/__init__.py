"""Personalization: placements, strategies, the fallback chain, batch decisions and lift.

Import what you need from here; ``import martech.personalize`` loads no store and no plugins.
``decide`` and ``lift`` are both submodules and their main functions: the functions are imported
eagerly here so that ``martech.personalize.decide`` / ``.lift`` are always the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .decide import DecideContext, decide, decide_outcome, suppressed
from .lift import LiftRow, lift, plant_lift

if TYPE_CHECKING:
    from .batch import BatchSummary, decide_batch
    from .bucketing import bucket
    from .neighbours import refresh_neighbours
    from .placements import Placement, Rule, example_placements, load_placements, parse_placements
    from .strategies import Miss, Pick, Strategy

_EXPORTS: dict[str, str] = {
    "BatchSummary": "batch",
    "decide_batch": "batch",
    "bucket": "bucketing",
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
