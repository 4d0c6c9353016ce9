"""martech: connect customer data to the tools you market with.

The curated public API. Import from here; submodules are implementation detail unless documented.
"""

from importlib import metadata as _metadata

from .connector import AudienceMember, BatchOutcome, Connector, ConnectorConfig, Limits, PullPage
from .errors import (
    AuthError,
    ConfigError,
    FatalVendorError,
    MartechError,
    PluginError,
    RateLimitedError,
    RejectedError,
    RetriableVendorError,
    SegmentDefinitionError,
    StoreError,
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
from .store import Store

try:
    __version__ = _metadata.version("martech")
except _metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

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
    "PullPage",
    "RateLimitedError",
    "RecommendationVariant",
    "RejectedError",
    "RetriableVendorError",
    "RuleSegment",
    "Segment",
    "SegmentDefinitionError",
    "SegmentRef",
    "StaticVariant",
    "Store",
    "StoreError",
    "SyncPlan",
    "SyncResult",
    "TemplateVariant",
    "TraitCondition",
    "ValidationError",
    "VendorError",
    "Window",
    "__version__",
    "hookimpl",
]
