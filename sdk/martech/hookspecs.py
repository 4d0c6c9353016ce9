"""The hooks a martech plugin can implement, project name ``martech``.

Every hook hands the plugin a ``register`` callback (as llm and tox do): the host validates,
deduplicates and records who registered what, so ``martech plugins`` can show it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer

    from .connector import Connector

hookspec = pluggy.HookspecMarker("martech")
hookimpl = pluggy.HookimplMarker("martech")


@hookspec
def martech_register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register connector classes. Called once, when the registry is first needed.

    :param register: Call ``register(MyConnector)`` once per class (what the hook returns is
        not registered). The class must subclass :class:`martech.Connector` and have a unique
        ``name`` of lowercase letters, digits and underscores, a ``kind``, a ``Config`` that
        subclasses :class:`martech.ConnectorConfig` and ``limits`` a :class:`martech.Limits`;
        a duplicate name raises :class:`martech.errors.DuplicateRegistrationError` naming both
        plugins.
    """


@hookspec
def martech_register_traits(register: Callable[[Any], None]) -> None:
    """Register computed traits (RFM, CLV, lifecycle stage, churn risk, …).

    :param register: Call ``register(trait)`` with a :class:`martech.segments.traits.ComputedTrait`
        (an object with a unique ``name`` and a ``sql`` method returning the SELECT that computes
        it per profile). A duplicate name raises.
    """


@hookspec
def martech_register_strategies(register: Callable[[Any], None]) -> None:
    """Register personalization strategies (recommenders, triggers, segment choosers).

    :param register: Call ``register(strategy)`` with a
        :class:`martech.personalize.strategies.Strategy` that has a unique ``name``, the ``level``
        it delivers and the minimum data it needs. A duplicate name raises.
    """


@hookspec
def martech_register_segment_kinds(register: Callable[[type[Any]], None]) -> None:
    """Register segment kinds beyond :class:`martech.RuleSegment`.

    :param register: Call ``register(MySegment)`` with a subclass of :class:`martech.Segment`
        whose ``kind`` literal is unique and which can compile to SQL. A duplicate kind raises.
    """


@hookspec
def martech_register_commands(cli: typer.Typer) -> None:
    """Add commands to the ``martech`` CLI.

    :param cli: The root :class:`typer.Typer` app; add commands or sub-apps to it
        (``cli.command()(fn)`` or ``cli.add_typer(app, name=...)``).
    """
