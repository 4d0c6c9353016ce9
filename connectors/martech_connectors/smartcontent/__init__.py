"""SmartContent: a (fictional) CMS whose "AI personalization" decides by two coarse attributes.

It ships with martech as the audit's built-in example of a capability sold as personalization
that is really segmentation: ``martech audit connector:smartcontent --claim personalization
--fail-on-overclaim`` exits non-zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from martech import hookimpl


@hookimpl
def martech_register_connectors(register: Callable[[Any], None]) -> None:
    from .connector import SmartContentConnector

    register(SmartContentConnector)
