"""Mailchimp Marketing API v3: pull audience members, push segments as static segments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from martech import hookimpl


@hookimpl
def martech_register_connectors(register: Callable[[Any], None]) -> None:
    from .connector import MailchimpConnector

    register(MailchimpConnector)
