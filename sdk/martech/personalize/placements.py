"""Placements: where content shows, the variants it can show, and the rules that pick one.

A placement (home-page hero, email hero block, order-confirmation cross-sell, push message, ad
creative) lists its variants, the rules that choose among them and a **default** variant, which
every placement must have: it is what the holdout, a person without consent-free data, or a person
matching no rule sees. Rules come in three kinds, one per level of the fallback chain::

    - variant: recs_for_you                        # personalization: a recommendation variant,
      params: {min_events: 3}                      #   its strategy fills the slots per person
    - variant: lake_beginner                       # micro-segment: a cell of several attributes
      cell: {skill_level: beginner, water_type: lake, preferred_tackle: spinning}
    - variant: fishing_news                        # segment: membership of a segment ...
      segment: fishing
    - variant: welcome                             # ... or one coarse trait (lifecycle, RFM tier)
      trait: lifecycle_stage
      equals: new

Templates are rendered safely: ``{{token}}`` is the only syntax, every token of a template variant
must declare a default (refused at load time otherwise), tokens are replaced in one pass (a value
containing ``{{`` is never expanded again) and nothing is evaluated. A recommendation variant may
use ``{{items}}`` and ``{{reason}}``. Static content containing a token is refused: it would show
raw braces. A token is ``{{name}}`` with letters, digits and ``_`` (spaces inside the braces are
allowed); any other ``{{…}}`` is refused at load time as malformed.

Content is plain text: values are inserted verbatim, never HTML-escaped, the same in
:func:`~martech.personalize.decide` and the batch path (a trait ``<b>Tom & Jo</b>`` comes out as
written). Whatever puts content into HTML (a page, an email template) escapes it there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, JsonValue, TypeAdapter, model_validator
from pydantic import ValidationError as PydanticValidationError

from ..errors import ConfigError, ValidationError
from ..models import (
    CHANNELS,
    AnyVariant,
    Channel,
    RecommendationVariant,
    StaticVariant,
    TemplateVariant,
)
from ..segments.rules import type_name

if TYPE_CHECKING:
    from .strategies import Strategy

_TOKEN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
#: Tokens a recommendation variant's template may use; filled by the strategy.
RECOMMENDATION_TOKENS = frozenset({"items", "reason"})
#: Channel -> the consent key a profile must have set to true (web needs none by default).
#: Profiles store consent under the channel's own name (``Profile.consent`` refuses any other key),
#: so the table is derived from :data:`martech.models.CHANNELS` rather than spelled out again.
CHANNEL_CONSENT: dict[str, str | None] = {c: (None if c == "web" else c) for c in CHANNELS}


class _Definition(BaseModel, frozen=True, extra="forbid"):
    pass


class _At(ValueError):
    """A model check's error at a field path inside the placement (``rules[2].params``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    from .strategies import did_you_mean

    return did_you_mean(word, choices)


class Rule(_Definition, frozen=True):
    """One way to pick a variant. Exactly one of ``cell``, ``segment``, ``trait`` — or none, for a
    personalization rule whose variant is a recommendation variant."""

    variant: str = Field(min_length=1, description="The variant this rule shows.")
    cell: dict[str, JsonValue] | None = Field(
        default=None,
        description="Micro-segment: trait -> value (or list of accepted values); all must match.",
    )
    segment: str | None = Field(
        default=None, description="Segment: membership of this segment key."
    )
    trait: str | None = Field(
        default=None, description="Segment: a coarse trait, e.g. rfm_segment."
    )
    equals: JsonValue = Field(
        default=None, description="The value ``trait`` must have (or a list)."
    )
    params: dict[str, JsonValue] = Field(
        default_factory=dict, description="Strategy parameters: min_events, window_days, …"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [k for k in ("cell", "segment", "trait") if getattr(self, k) is not None]
        if len(kinds) > 1:
            raise ValueError(f"a rule has one of cell, segment, trait; got {' and '.join(kinds)}")
        if self.trait is not None and self.equals is None:
            raise ValueError("a 'trait' rule needs 'equals' (a value or a list of values)")
        if self.cell is not None and not self.cell:
            raise ValueError("'cell' needs at least one attribute")
        from .strategies import accepted

        for name, want in (self.cell or {}).items():
            if not accepted(want):
                raise _At(
                    f"cell.{name}",
                    f"{want!r} is no value (null or an empty list): no person can match it",
                )
        if self.trait is not None and not accepted(self.equals):
            raise _At(
                "equals", f"{self.equals!r} is no value (an empty list): no person can match it"
            )
        for where, names in (
            ("cell", self.cell or ()),
            ("trait", [self.trait] if self.trait is not None else ()),
        ):
            for name in names:
                if not name or name.endswith("\\"):
                    raise _At(
                        where,
                        f"trait name {name!r} cannot be read from stored traits (empty, or "
                        "ending in a backslash)",
                    )
        return self

    @property
    def strategy_name(self) -> str | None:
        """The registered strategy for a cell/segment rule; None for a recommendation rule."""
        if self.cell is not None:
            return "cell"
        if self.segment is not None or self.trait is not None:
            return "segment"
        return None


class Placement(_Definition, frozen=True):
    """A slot that shows one variant per person, chosen by rules with an honest fallback."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", description="Stable identifier.")
    channel: Channel
    description: str = ""
    experiment: str | None = Field(
        default=None, description="Hash seed for bucketing; defaults to the placement key."
    )
    holdout: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Share of people who get the default (control)."
    )
    consent: str | None = Field(
        default=None,
        description="Consent (a channel name) required; default: the channel's own, web none.",
    )
    default: str | None = Field(default=None, description="Variant id shown when nothing else is.")
    variants: list[AnyVariant] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Placement:
        if self.consent is not None and self.consent not in CHANNELS:
            raise _At(
                "consent",
                f"unknown consent key {self.consent!r}; a profile's consent is per channel, one "
                f"of {', '.join(CHANNELS)}{_did_you_mean(self.consent, CHANNELS)}",
            )
        ids = [v.id for v in self.variants]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise _At("variants", f"duplicate variant id {dupes[0]!r}")
        if self.default is None:
            raise _At(
                "default",
                f"placement {self.key!r} has no default variant; set 'default' to one of "
                + ", ".join(ids),
            )
        by_id = {v.id: v for v in self.variants}
        if self.default not in by_id:
            raise _At(
                "default",
                f"default {self.default!r} is not a variant; expected one of {', '.join(ids)}",
            )
        if isinstance(by_id[self.default], RecommendationVariant):
            raise _At(
                "default",
                f"default {self.default!r} is a recommendation variant; the default must need no "
                "data about the person (use a static or template variant)",
            )
        for j, v in enumerate(self.variants):
            if v.placement != self.key or v.channel != self.channel:
                raise _At(
                    f"variants[{j}]",
                    f"variant {v.id!r} belongs to {v.placement!r}/{v.channel}, "
                    f"not {self.key!r}/{self.channel}",
                )
            try:
                check_variant(v)
            except ValueError as exc:
                raise _At(f"variants[{j}]", str(exc)) from None
        for i, rule in enumerate(self.rules):
            if rule.variant not in by_id:
                raise ValueError(
                    f"rules[{i}].variant {rule.variant!r} is not a variant of {self.key!r}"
                )
            is_rec = isinstance(by_id[rule.variant], RecommendationVariant)
            if rule.strategy_name is None and not is_rec:
                raise ValueError(
                    f"rules[{i}] has no cell, segment or trait, so its variant must be a "
                    f"recommendation variant; {rule.variant!r} is not"
                )
            if rule.strategy_name is not None and is_rec:
                raise ValueError(
                    f"rules[{i}]: recommendation variant {rule.variant!r} is chosen by its "
                    "strategy; "
                    "drop cell/segment/trait from this rule"
                )
        return self

    @property
    def seed(self) -> str:
        return self.experiment or self.key

    @property
    def consent_key(self) -> str | None:
        return self.consent if self.consent is not None else CHANNEL_CONSENT[self.channel]

    def variant(self, variant_id: str) -> AnyVariant:
        for v in self.variants:
            if v.id == variant_id:
                return v
        raise KeyError(variant_id)


# ------------------------------------------------------------------------------------ templates


@lru_cache(maxsize=4096)
def compile_template(template: str) -> tuple[tuple[str, str | None], ...]:
    """Split a template into (literal, token-or-None) parts; refuse malformed braces."""
    parts: list[tuple[str, str | None]] = []
    pos = 0
    for m in _TOKEN.finditer(template):
        parts.append((template[pos : m.start()], m.group(1)))
        pos = m.end()
    parts.append((template[pos:], None))
    for literal, _ in parts:
        if "{{" in literal or "}}" in literal:
            bad = literal[literal.find("{{") :][:30] if "{{" in literal else "}}"
            raise ValueError(
                f"malformed merge token near {bad!r}; expected {{{{name}}}} with letters, digits, _"
            )
    return tuple(parts)


def template_tokens(template: str) -> list[str]:
    """The distinct tokens a template names, in order of first use."""
    seen: dict[str, None] = {}
    for _, token in compile_template(template):
        if token is not None:
            seen.setdefault(token, None)
    return list(seen)


def check_variant(variant: AnyVariant) -> None:
    """Refuse, at load time, a variant that could render a raw ``{{…}}``."""
    if isinstance(variant, StaticVariant):
        if _TOKEN.search(variant.content) or "{{" in variant.content:
            raise ValueError(
                f"static variant {variant.id!r} contains a merge token; use kind: template with "
                "a default for each token"
            )
    elif isinstance(variant, TemplateVariant):
        for token in template_tokens(variant.template):
            if token not in variant.defaults:
                raise ValueError(
                    f"template variant {variant.id!r} names token {{{{{token}}}}} without a "
                    f"default; add defaults: {{{token}: ...}}"
                )
            default = variant.defaults[token]
            if "{{" in default or "}}" in default:
                raise ValueError(
                    f"template variant {variant.id!r}: the default of {{{{{token}}}}} "
                    f"({default!r}) contains braces, which would be shown raw (a default is "
                    "not rendered again)"
                )
    else:
        for token in template_tokens(variant.template):
            if token not in RECOMMENDATION_TOKENS:
                raise ValueError(
                    f"recommendation variant {variant.id!r} names token {{{{{token}}}}}; it may "
                    "only use {{items}} and {{reason}}"
                )


def render(template: str, values: Mapping[str, Any], defaults: Mapping[str, str]) -> str:
    """Fill tokens in one pass: a value, else the declared default. Never evaluates anything."""
    out: list[str] = []
    for literal, token in compile_template(template):
        out.append(literal)
        if token is not None:
            value = values.get(token)
            if value is None or value == "":
                out.append(defaults.get(token, ""))
            else:
                out.append(value if isinstance(value, str) else _text(value))
    return "".join(out)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# ------------------------------------------------------------------------------------- loading

_PLACEMENT = TypeAdapter(Placement)


def parse_placements(
    data: Any,
    *,
    source: str = "<placements>",
    strategies: Mapping[str, Strategy] | None = None,
) -> dict[str, Placement]:
    """Placements from parsed YAML/JSON: ``{placements: [...]}``, a list, or a key -> body map.

    Variants may omit ``channel`` and ``placement``; they inherit the placement's. Every
    recommendation variant's strategy and every rule's parameters are checked against
    ``strategies`` (default: the registered ones). Errors name ``source`` and the field path,
    e.g. ``placements.home_hero.rules[2].params.min_events``: a :class:`ValidationError` for the
    shape of a placement, a :class:`ConfigError` for a strategy or parameter it cannot use.
    """
    if isinstance(data, Mapping) and "placements" in data:
        extra = sorted(str(k) for k in data if k != "placements")
        if extra:
            raise ValidationError(
                f"{source}: unknown top-level key {extra[0]!r}; a placements file has only "
                "'placements:' (a list of placements)",
                field=extra[0],
            )
        data = data["placements"]
    items: list[tuple[str, Any]] = []  # (position shown in errors, body)
    if isinstance(data, Mapping):
        for k, v in data.items():
            if v is not None and not isinstance(v, Mapping):
                hint = _did_you_mean(str(k), ["placements"])
                raise ValidationError(
                    f"{source}: unknown top-level key {k!r} (its value is a {type_name(v)}, not a "
                    f"placement){hint}",
                    field=str(k),
                )
            items.append(("", {"key": k, **(v or {})}))
    elif isinstance(data, list):
        items = [(f" (placements[{i}])", raw) for i, raw in enumerate(data)]
    else:
        raise ValidationError(
            f"{source}: expected 'placements:' with a list of placements, or a key -> placement "
            f"map; got a {type_name(data)}"
        )
    registered = strategies
    out: dict[str, Placement] = {}
    for i, (pos, raw) in enumerate(items):
        if not isinstance(raw, Mapping):
            raise ValidationError(
                f"{source}: placements[{i}]: expected a mapping, got a {type_name(raw)}",
                field=f"placements[{i}]",
            )
        body = dict(raw)
        key = body.get("key")
        base = f"placements.{key}" if isinstance(key, str) and key else f"placements[{i}]"
        pos = pos if base != f"placements[{i}]" else ""
        variants = body.get("variants")
        if isinstance(variants, list):
            body["variants"] = [
                {"channel": body.get("channel"), "placement": body.get("key"), **v}
                if isinstance(v, Mapping)
                else v
                for v in variants
            ]
        try:
            placement = _PLACEMENT.validate_python(body)
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            at = (err.get("ctx") or {}).get("error")
            parts = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
            if parts[1:2] and parts[0] == "variants" and parts[1].isdigit():
                parts[2:3] = []  # the variant kind pydantic puts after the index
            loc = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in parts)
            if isinstance(at, _At):
                loc += "." + at.path
            where = (base + loc).replace(".[", "[")
            msg = str(at) if isinstance(at, ValueError) else err["msg"]
            raise ValidationError(
                f"{source}: {where}{pos}: {msg.removeprefix('Value error, ')}", field=where
            ) from None
        if placement.key in out:
            raise ValidationError(
                f"{source}: placements[{i}]: duplicate placement key {placement.key!r}",
                field=f"placements[{i}].key",
            )
        if registered is None:
            from ..plugins import registry

            registered = registry().strategies
        problem = strategy_problem(placement, registered)
        if problem is not None:
            where = f"{base}.{problem[0]}"
            raise ConfigError(f"{source}: {where}{pos}: {problem[1]}")
        out[placement.key] = placement
    return out


def strategy_problem(
    placement: Placement, strategies: Mapping[str, Strategy]
) -> tuple[str, str] | None:
    """The first strategy or parameter ``placement`` names that ``strategies`` cannot serve, as
    ``(field path inside the placement, why)``; None when every rule can run."""
    for j, v in enumerate(placement.variants):
        if isinstance(v, RecommendationVariant) and v.strategy not in strategies:
            installed = ", ".join(sorted(strategies)) or "none installed"
            return f"variants[{j}].strategy", (
                f"unknown strategy {v.strategy!r}{_did_you_mean(v.strategy, strategies)} "
                f"(installed: {installed})"
            )
    for i, rule in enumerate(placement.rules):
        variant = placement.variant(rule.variant)
        name = rule.strategy_name or (
            variant.strategy if isinstance(variant, RecommendationVariant) else ""
        )
        strategy = strategies.get(name)
        if strategy is None:
            installed = ", ".join(sorted(strategies)) or "none installed"
            return f"rules[{i}]", f"unknown strategy {name!r} (installed: {installed})"
        problem = strategy.param_problem(rule.params)
        if problem is not None:
            return f"rules[{i}].params.{problem[0]}", problem[1]
    return None


def load_placements(
    path: str | Path, *, strategies: Mapping[str, Strategy] | None = None
) -> dict[str, Placement]:
    """Placements from a YAML (or JSON) file; a key given twice in one mapping is refused."""
    from ..segments.rules import parse_config_text

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"{p}: cannot read placements file ({exc.strerror})") from None
    data = parse_config_text(text, str(p), ValidationError)
    return parse_placements(data, source=str(p), strategies=strategies)


def example_placements() -> dict[str, Placement]:
    """The placements shipped with martech (``examples.yml``): used by the demo and cookbook."""
    return load_placements(Path(__file__).with_name("examples.yml"))
