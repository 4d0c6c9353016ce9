"""Built-in personalization strategies: recommenders, triggers, cell and segment choosers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from martech import hookimpl


@hookimpl
def martech_register_strategies(register: Callable[[Any], None]) -> None:
    from martech.personalize.strategies import builtin_strategies

    for strategy in builtin_strategies():
        register(strategy)
