"""``martech audit``: probe a tool as a black box and label what it really does, with evidence.

::

    from martech.audit import audit_target
    report = audit_target("connector:smartcontent", budget=2000, seed=0)
    report.level, report.confidence, report.claimed, report.overclaim
    print(report.to_json())

Targets: a Python callable (``Profile -> id | content | ContentVariant | Decision``, sync or
async) or its ``"module:function"`` path, ``"connector:NAME[:capability]"``, or a
:class:`~martech.audit.targets.Target` (e.g. ``HttpTarget(load_http_spec(path))``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..models import Level
from .report import AuditReport, render_table, structural_report
from .targets import (
    PROBED_CAPABILITIES,
    STRUCTURAL_CAPABILITIES,
    CallableTarget,
    HttpSpec,
    HttpTarget,
    Target,
    load_http_spec,
    parse_target,
)

DEFAULT_BUDGET = 2000


def as_target(
    target: Target | str | Callable[..., Any], *, live: bool = False, placement: str = "home"
) -> Target:
    if isinstance(target, Target):
        return target
    if isinstance(target, str):
        return parse_target(target, live=live, placement=placement)
    return CallableTarget(target)


async def audit_async(
    target: Target | str | Callable[..., Any],
    *,
    population: Any = None,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    claim: Level | str | None = None,
    live: bool = False,
    placement: str = "home",
) -> AuditReport:
    """The async form of :func:`audit_target` (for callers already in an event loop)."""
    from .engine import audit
    from .sources import resolve

    if isinstance(target, str) and target.startswith("connector:"):
        parts = target.split(":")
        if len(parts) == 3 and parts[2] in STRUCTURAL_CAPABILITIES:
            return _structural(parts[1], parts[2], claim)
    pop = resolve(population, seed=seed)
    t = as_target(target, live=live, placement=placement)
    return await audit(
        t,
        pop.profiles,
        categories=pop.categories,
        budget=budget,
        seed=seed,
        claim=Level(claim) if claim else None,
        population=pop.label,
    )


def audit_target(
    target: Target | str | Callable[..., Any],
    *,
    population: Any = None,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    claim: Level | str | None = None,
    live: bool = False,
    placement: str = "home",
) -> AuditReport:
    """Audit one target and return its report.

    :param target: a callable, ``"module:function"``, ``"connector:NAME[:capability]"`` or a
        :class:`Target`.
    :param population: None for the synthetic shop population, ``"store"``, a file path
        (JSONL/CSV/Parquet), a ``martech.population.Population`` or a list of Profiles.
    :param budget: the most calls the audit may make (default 2,000).
    :param seed: makes probes and the label reproducible.
    :param claim: the level the vendor claims (default: what the connector declares).
    """
    import asyncio

    return asyncio.run(
        audit_async(
            target,
            population=population,
            budget=budget,
            seed=seed,
            claim=claim,
            live=live,
            placement=placement,
        )
    )


def _structural(name: str, capability: str, claim: Level | str | None) -> AuditReport:
    from .targets import capabilities_of, connector_class

    caps = {c.name: c for c in capabilities_of(connector_class(name))}
    claimed = (
        Level(claim) if claim else (caps[capability].claimed_level if capability in caps else None)
    )
    return structural_report(f"connector:{name}:{capability}", capability, claimed)


def audit_connectors(
    *, population: Any = None, budget: int = DEFAULT_BUDGET, seed: int = 0
) -> list[AuditReport]:
    """Every installed connector's auditable capabilities, probed against their emulators."""
    from ..plugins import registry
    from .targets import capabilities_of

    pop = None
    reports: list[AuditReport] = []
    for name, cls in sorted(registry().connectors.items()):
        for cap in capabilities_of(cls):
            if cap.name in STRUCTURAL_CAPABILITIES:
                reports.append(
                    structural_report(f"connector:{name}:{cap.name}", cap.name, cap.claimed_level)
                )
            elif cap.name in PROBED_CAPABILITIES:
                if pop is None:
                    from .sources import resolve

                    pop = resolve(population, seed=seed)
                reports.append(
                    audit_target(
                        f"connector:{name}:{cap.name}", population=pop, budget=budget, seed=seed
                    )
                )
    return reports


__all__ = [
    "AuditReport",
    "CallableTarget",
    "HttpSpec",
    "HttpTarget",
    "Target",
    "audit_async",
    "audit_connectors",
    "audit_target",
    "load_http_spec",
    "render_table",
]
