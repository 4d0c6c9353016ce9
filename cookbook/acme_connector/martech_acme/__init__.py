"""martech plugin: registers the Acme connector."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from martech import hookimpl


@hookimpl
def martech_register_connectors(register: Callable[[Any], None]) -> None:
    from .connector import AcmeConnector

    register(AcmeConnector)
