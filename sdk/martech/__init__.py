"""martech: connect customer data to the tools you market with.

The curated public API. Import from here; submodules are implementation detail unless documented.
Names load on first use (PEP 562), so ``import martech`` stays fast and loads no plugin.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .audit import audit_async, audit_target
    from .connector import (
        AudienceMember,
        BatchOutcome,
        Connector,
        ConnectorConfig,
        Limits,
        ProfileRows,
        PublishedContent,
        PullPage,
    )
    from .errors import (
        AuthError,
        ConfigError,
        DeadlineExceededError,
        FatalVendorError,
        MartechError,
        PluginError,
        RateLimitedError,
        RejectedError,
        RetriableVendorError,
        SchemaVersionError,
        SegmentDefinitionError,
        StoreError,
        StoreLockedError,
        ValidationError,
        VendorError,
    )
    from .hookspecs import hookimpl
    from .models import (
        All,
        Any_,
        AudienceSnapshot,
        Capability,
        ContentVariant,
        Decision,
        DecisionLevel,
        Event,
        EventCondition,
        Level,
        Not,
        Profile,
        RecommendationVariant,
        RuleSegment,
        Segment,
        SegmentRef,
        StaticVariant,
        SyncPlan,
        SyncResult,
        TemplateVariant,
        TraitCondition,
        Window,
    )
    from .personalize import decide_batch, load_placements
    from .personalize.decide import DecideContext, decide
    from .personalize.lift import lift
    from .population import generate, write_store
    from .pulling import PullResult, pull
    from .segments import compile_sql, evaluate, load_segments, parse_segments
    from .segments.traits import compute_traits
    from .store import Store


_LAZY: dict[str, str] = {
    name: module
    for module, names in {
        "connector": (
            "AudienceMember",
            "BatchOutcome",
            "Connector",
            "ConnectorConfig",
            "Limits",
            "ProfileRows",
            "PublishedContent",
            "PullPage",
        ),
        "errors": (
            "AuthError",
            "ConfigError",
            "DeadlineExceededError",
            "FatalVendorError",
            "MartechError",
            "PluginError",
            "RateLimitedError",
            "RejectedError",
            "RetriableVendorError",
            "SchemaVersionError",
            "SegmentDefinitionError",
            "StoreError",
            "StoreLockedError",
            "ValidationError",
            "VendorError",
        ),
        "hookspecs": ("hookimpl",),
        "models": (
            "All",
            "Any_",
            "AudienceSnapshot",
            "Capability",
            "ContentVariant",
            "Decision",
            "DecisionLevel",
            "Event",
            "EventCondition",
            "Level",
            "Not",
            "Profile",
            "RecommendationVariant",
            "RuleSegment",
            "Segment",
            "SegmentRef",
            "StaticVariant",
            "SyncPlan",
            "SyncResult",
            "TemplateVariant",
            "TraitCondition",
            "Window",
        ),
        "store": ("Store",),
        "segments": ("compile_sql", "evaluate", "load_segments", "parse_segments"),
        "segments.traits": ("compute_traits",),
        "personalize": ("decide_batch", "load_placements"),
        "personalize.decide": ("DecideContext", "decide"),
        "personalize.lift": ("lift",),
        "population": ("generate", "write_store"),
        "pulling": ("PullResult", "pull"),
        "audit": ("audit_async", "audit_target"),
    }.items()
    for name in names
}


if TYPE_CHECKING:
    __version__: str
else:
    # Hidden from type checkers, so `from martech import Stroe` is an error there too.

    def __getattr__(name: str) -> _typing.Any:
        if name == "__version__":
            from importlib import metadata

            try:
                value: _typing.Any = metadata.version("martech")
            except metadata.PackageNotFoundError:  # a source tree without install
                value = "0.0.0+unknown"
        elif name in _LAZY:
            value = getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
        else:
            raise AttributeError(f"module 'martech' has no attribute {name!r}")
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "All",
    "Any_",
    "AudienceMember",
    "AudienceSnapshot",
    "AuthError",
    "BatchOutcome",
    "Capability",
    "ConfigError",
    "Connector",
    "ConnectorConfig",
    "ContentVariant",
    "DeadlineExceededError",
    "DecideContext",
    "Decision",
    "DecisionLevel",
    "Event",
    "EventCondition",
    "FatalVendorError",
    "Level",
    "Limits",
    "MartechError",
    "Not",
    "PluginError",
    "Profile",
    "ProfileRows",
    "PublishedContent",
    "PullPage",
    "PullResult",
    "RateLimitedError",
    "RecommendationVariant",
    "RejectedError",
    "RetriableVendorError",
    "RuleSegment",
    "SchemaVersionError",
    "Segment",
    "SegmentDefinitionError",
    "SegmentRef",
    "StaticVariant",
    "Store",
    "StoreError",
    "StoreLockedError",
    "SyncPlan",
    "SyncResult",
    "TemplateVariant",
    "TraitCondition",
    "ValidationError",
    "VendorError",
    "Window",
    "__version__",
    "audit_async",
    "audit_target",
    "compile_sql",
    "compute_traits",
    "decide",
    "decide_batch",
    "evaluate",
    "generate",
    "hookimpl",
    "lift",
    "load_placements",
    "load_segments",
    "parse_segments",
    "pull",
    "write_store",
]
