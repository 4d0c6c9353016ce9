"""The data model every part of martech relies on. Pure data: no I/O here.

Our own definitions forbid unknown fields (a typo is an error, not a silent no-op); vendor data that
passes through keeps unknown fields in ``Profile.traits``.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    Field,
    JsonValue,
    PrivateAttr,
    computed_field,
    field_validator,
    model_validator,
)

Channel = Literal["email", "web", "push", "sms", "ad"]
CHANNELS: tuple[str, ...] = ("email", "web", "push", "sms", "ad")

#: Event types martech knows. Other types are accepted unless strict mode is on.
EVENT_TYPES: frozenset[str] = frozenset(
    {
        "session_start",
        "view",
        "add_to_cart",
        "remove_from_cart",
        "purchase",
        "refund",
        "email_send",
        "email_open",
        "email_click",
        "email_unsubscribe",
        "email_complaint",
        "click",
        "search",
        "signup",
    }
)


class _Model(BaseModel, frozen=True, extra="forbid"):
    """Base for our own definitions: unknown fields are an error, never silently dropped."""


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timezone-aware datetime expected (got a naive one; add +00:00 or Z)")
    return value.astimezone(UTC)


# --------------------------------------------------------------------------------------- profiles


class Event(_Model, frozen=True):
    """One thing a person did, at one moment."""

    type: str = Field(min_length=1, description="view, add_to_cart, purchase, email_open, …")
    item_id: str | None = Field(default=None, description="Catalogue item the event concerns.")
    ts: datetime = Field(description="When it happened; timezone-aware, stored as UTC.")
    value: float | None = Field(default=None, description="Order value, revenue, quantity…")
    properties: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("ts")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _aware_utc(value)


class Profile(_Model, frozen=True):
    """One person as martech knows them: identities, traits, behaviour and consent."""

    id: str = Field(min_length=1, description="Stable martech profile id.")
    identities: dict[str, str] = Field(
        default_factory=dict,
        description="email, phone, and external ids such as 'hubspot' or 'mailchimp'.",
    )
    traits: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="first_name, country, lifecycle_stage…; unknown vendor fields land here too.",
    )
    events: list[Event] = Field(
        default_factory=list, description="Recent behaviour; the store holds the full history."
    )
    consent: dict[str, bool] = Field(default_factory=dict, description="Per channel opt-in.")

    @field_validator("consent")
    @classmethod
    def _known_channels(cls, value: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(value) - set(CHANNELS))
        if unknown:
            raise ValueError(
                f"unknown channel {unknown[0]!r}; expected one of {', '.join(CHANNELS)}"
            )
        return value


def check_event_type(event_type: str, *, strict: bool) -> None:
    """Refuse an event type martech does not know, in strict mode only."""
    if strict and event_type not in EVENT_TYPES:
        raise ValueError(
            f"unknown event type {event_type!r} (strict mode); expected one of "
            + ", ".join(sorted(EVENT_TYPES))
        )


# --------------------------------------------------------------------------------------- segments

TraitOp = Literal[
    "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains", "exists", "is_null"
]
TRAIT_OPS: tuple[str, ...] = TraitOp.__args__  # type: ignore[attr-defined]
EventMeasure = Literal["count", "sum", "first", "last"]
CompareOp = Literal["eq", "ne", "gt", "gte", "lt", "lte", "between"]


def _representable(value: Any) -> Any:
    """A rule value every engine can hold: no NaN or infinity (YAML's .nan and .inf), no integer
    beyond 64 bits. Lists are checked item by item."""
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("value: expected a finite number (not .nan or .inf)")
        if isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63:
            raise ValueError("value: expected an integer within 64 bits")
    return value


class TraitCondition(_Model, frozen=True):
    """A condition on one trait (stored or computed)."""

    kind: Literal["trait"] = "trait"
    trait: str = Field(min_length=1)
    op: TraitOp
    value: JsonValue = None

    _finite = field_validator("value")(_representable)

    @model_validator(mode="after")
    def _value_fits_op(self) -> TraitCondition:
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} expects a list value")
        if self.op == "between" and not (isinstance(self.value, list) and len(self.value) == 2):
            raise ValueError("op 'between' expects a list of two values [low, high]")
        if self.op not in ("exists", "is_null") and self.value is None:
            raise ValueError(f"op {self.op!r} expects a value")
        return self


class Window(_Model, frozen=True):
    """When events count: the last ``days`` days, or an absolute [start, end) range."""

    days: int | None = Field(default=None, gt=0, description="Relative: the last N days.")
    start: datetime | None = None
    end: datetime | None = None

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _aware_utc(value)

    @model_validator(mode="after")
    def _one_form(self) -> Window:
        if self.days is None and self.start is None and self.end is None:
            raise ValueError("a window needs 'days' or 'start'/'end'")
        if self.days is not None and (self.start or self.end):
            raise ValueError("a window is either relative ('days') or absolute ('start'/'end')")
        return self


class EventCondition(_Model, frozen=True):
    """A condition on a person's events: count / sum of value / first / last occurrence."""

    kind: Literal["event"] = "event"
    event: str = Field(min_length=1, description="Event type, e.g. purchase.")
    measure: EventMeasure = "count"
    item_id: str | None = None
    category: str | None = Field(default=None, description="Item category (from the catalogue).")
    window: Window | None = None
    op: CompareOp = "gte"
    value: JsonValue = Field(
        default=1,
        description="Number for count/sum; for first/last, days ago (a number) or a timestamp.",
    )

    _finite = field_validator("value")(_representable)


class SegmentRef(_Model, frozen=True):
    """Membership of another segment."""

    kind: Literal["segment"] = "segment"
    segment: str = Field(min_length=1)


class All(_Model, frozen=True):
    kind: Literal["all"] = "all"
    all: list[Condition]


class Any_(_Model, frozen=True):
    kind: Literal["any"] = "any"
    any: list[Condition]


class Not(_Model, frozen=True, populate_by_name=True):
    kind: Literal["not"] = "not"
    not_: Condition = Field(alias="not")


Condition = Annotated[
    All | Any_ | Not | TraitCondition | EventCondition | SegmentRef, Field(discriminator="kind")
]
for _cls in (All, Any_, Not):
    _cls.model_rebuild()


def _canonical_hash(payload: Any) -> str:
    data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()[:16]


class Segment(_Model, frozen=True):
    """A named group of profiles. Abstract: see :class:`RuleSegment`."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", description="Stable identifier.")
    name: str = ""
    description: str = ""
    min_size: int = Field(default=0, ge=0, description="Below this a segment is not worth a send.")
    # (key, version) of each segment the rule references, once resolved among its segments
    # (martech.segments.rules.resolve_versions; parse_segments does it). Derived, never input.
    _referenced: tuple[tuple[str, str], ...] = PrivateAttr(default=())

    @model_validator(mode="before")
    @classmethod
    def _version_is_derived(cls, data: Any) -> Any:
        # A dumped segment carries its computed version; reloading it must work, and the
        # version is always recomputed from the definition, never taken from input.
        if isinstance(data, dict) and "version" in data:
            data = {k: v for k, v in data.items() if k != "version"}
        return data

    def definition(self) -> dict[str, Any]:
        """The part of the segment that decides membership (what ``version`` hashes)."""
        raise NotImplementedError(f"{type(self).__name__} must define definition()")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def version(self) -> str:
        """Hash of the normalized definition and of the versions of the segments it references
        (so transitively of theirs): changes exactly when membership rules change. References
        count once resolved (:func:`~martech.segments.rules.resolve_versions`, which
        ``parse_segments`` and ``take_snapshots`` apply); a segment that references none has
        the hash of its definition alone."""
        if not self._referenced:
            return _canonical_hash(self.definition())
        return _canonical_hash(
            {"definition": self.definition(), "references": dict(self._referenced)}
        )


class RuleSegment(Segment, frozen=True):
    """A segment defined by a condition tree, compiled to SQL."""

    kind: Literal["rule"] = "rule"
    rule: Condition

    def definition(self) -> dict[str, Any]:
        return {"kind": self.kind, "rule": self.rule.model_dump(mode="json", by_alias=True)}


# ---------------------------------------------------------------------------------------- content


class ContentVariant(_Model, frozen=True):
    """One piece of content a placement can show. Abstract: static, template or recommendation."""

    id: str = Field(min_length=1)
    channel: Channel
    placement: str = Field(min_length=1)


class StaticVariant(ContentVariant, frozen=True):
    kind: Literal["static"] = "static"
    content: str = Field(description="Rendered as-is for every recipient.")


class TemplateVariant(ContentVariant, frozen=True):
    kind: Literal["template"] = "template"
    template: str = Field(description="Text with merge tokens such as {{first_name}}.")
    defaults: dict[str, str] = Field(
        default_factory=dict, description="Value used when a person lacks a token's trait."
    )


class RecommendationVariant(ContentVariant, frozen=True):
    kind: Literal["recommendation"] = "recommendation"
    strategy: str = Field(description="Registered strategy that fills the slots per person.")
    slots: int = Field(default=4, ge=1, le=50)
    template: str = Field(
        default="{{items}}", description="Text around the items; {{items}} is the slot list."
    )


AnyVariant = Annotated[
    StaticVariant | TemplateVariant | RecommendationVariant, Field(discriminator="kind")
]


class DecisionLevel(str, Enum):
    """The level a decision actually used, from most to least specific."""

    personalization = "personalization"
    micro_segment = "micro_segment"
    segment = "segment"
    default = "default"


class Decision(_Model, frozen=True):
    """What one person is shown in one placement, and why."""

    profile_id: str
    placement: str
    variant_id: str
    content: str
    level: DecisionLevel
    segment_keys: list[str] = Field(default_factory=list)
    bucket: int = Field(ge=0, description="Deterministic bucket 0..9999 for profile+experiment.")
    holdout: bool = False
    reasons: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------------------------ capabilities


class Level(str, Enum):
    """What a capability really does, ordered from least to most individual."""

    broadcast = "broadcast"
    random = "random"
    token_only = "token_only"
    segmentation = "segmentation"
    micro_segmentation = "micro_segmentation"
    personalization = "personalization"

    @property
    def rank(self) -> int:
        return _LEVEL_ORDER.index(self)

    # str would compare alphabetically; every comparison goes through rank instead.
    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Level):
            return NotImplemented
        return self.rank >= other.rank

    __hash__ = str.__hash__


_LEVEL_ORDER = list(Level)

CapabilityName = Literal["pull_profiles", "pull_events", "push_audience", "push_content", "decide"]


class Capability(_Model, frozen=True):
    """What a connector offers, what its vendor claims, and which inputs it says it uses."""

    name: CapabilityName
    claimed_level: Level | None = Field(
        default=None, description="The level the vendor markets (for decide / push_content)."
    )
    inputs: list[str] = Field(
        default_factory=list, description="Profile fields it declares to use: traits.x, events…"
    )
    description: str = ""


# -------------------------------------------------------------------------------------------- sync

SyncMode = Literal["mirror", "add_only", "upsert"]


class AudienceSnapshot(_Model, frozen=True):
    """The members last sent to one destination audience."""

    destination: str
    audience: str
    members: frozenset[str]
    taken_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def hash(self) -> str:
        return _canonical_hash(sorted(self.members))


class SyncPlan(_Model, frozen=True):
    """What a sync would do, before it does it."""

    destination: str
    audience: str
    mode: SyncMode
    adds: tuple[str, ...] = ()
    removes: tuple[str, ...] = ()
    updates: tuple[str, ...] = ()
    requests: int = Field(
        default=0,
        ge=0,
        description="HTTP calls needed, from declared limits: one per batch, plus "
        "``lookup_requests`` and ``resolve_requests``.",
    )
    lookup_requests: int = Field(
        default=0,
        ge=0,
        description="Of ``requests``: finding the audience before the first batch, and creating "
        "it on a first sync (``Limits.audience_requests``).",
    )
    resolve_requests: int = Field(
        default=0,
        ge=0,
        description="Of ``requests``: the vendor's extra calls within batches, at most "
        "(``Limits.add_extra_requests`` / ``remove_extra_requests``), e.g. HubSpot resolving "
        "emails to record ids.",
    )
    estimated_seconds: float = Field(
        default=0.0, ge=0, description="Time for all ``requests``, extras included."
    )
    estimated_seconds_min: float = Field(
        default=0.0,
        ge=0,
        description="Time without the ``resolve_requests`` (a vendor needing none of its "
        "extras); equal to ``estimated_seconds`` when there are none.",
    )
    daily_quota: int | None = Field(
        default=None, description="The destination's requests per day, when it declares one."
    )

    @property
    def is_empty(self) -> bool:
        return not (self.adds or self.removes or self.updates)

    @property
    def batch_requests(self) -> int:
        """Of ``requests``: one per batch of members."""
        return self.requests - self.lookup_requests - self.resolve_requests


class SyncResult(_Model, frozen=True):
    """What a sync did, item by item where the vendor said so."""

    destination: str
    audience: str
    sent: int = Field(
        default=0,
        description="Members the run sent; a run resumed after an interruption counts what it "
        "sent before it too (the run's total, not this call's).",
    )
    invalid: dict[str, str] = Field(default_factory=dict, description="key -> why not sendable")
    rejected: dict[str, str] = Field(default_factory=dict, description="key -> vendor's reason")
    dead_lettered: int = 0
    requests: int = 0
    checkpoint: str | None = Field(default=None, description="Last committed batch id.")
    complete: bool = True
    resume_after: datetime | None = None
