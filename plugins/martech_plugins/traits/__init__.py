"""Built-in computed traits: RFM, CLV, lifecycle stage, purchaser flags, email openers, engagement,
churn risk. Registered through the same hook a third-party plugin would use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from martech import hookimpl


@hookimpl
def martech_register_traits(register: Callable[[Any], None]) -> None:
    from .builtin import BUILTIN_TRAITS

    for trait in BUILTIN_TRAITS:
        register(trait)
