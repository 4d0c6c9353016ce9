"""HubSpot CRM connector for martech (built in, registered through the ``martech`` entry point)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from martech import hookimpl


@hookimpl
def martech_register_connectors(register: Callable[[type[Any]], None]) -> None:
    from .connector import HubSpotConnector

    register(HubSpotConnector)
