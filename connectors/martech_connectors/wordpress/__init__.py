"""WordPress: publish placement variants as posts or reusable blocks over the REST API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from martech import hookimpl


@hookimpl
def martech_register_connectors(register: Callable[[Any], None]) -> None:
    from .connector import WordPressConnector

    register(WordPressConnector)
