"""``decide(profile, placement, context=…)``: one person, one placement, one honest decision.

The chain runs personalization -> micro-segment -> segment -> default. Each rule of the placement
asks its strategy; a strategy without enough data about the person answers "miss, because …" and
the next rule is tried. The :class:`~martech.Decision` names the level actually used, the reasons
(including why more specific levels were skipped), the segment keys, the bucket and the holdout.

Determinism: the bucket is a stable hash of profile id + experiment key (:mod:`.bucketing`); the
holdout (buckets below ``holdout * 10000``) gets the default variant, and the decision records
which tactic it *would* have received, so lift compares like with like. Consent: a placement on a
channel the person has not consented to shows nothing (:func:`suppressed` is true, with the reason).

Everything that does not depend on the person (the ordered chain, parsed params, compiled
templates, the catalogue and neighbours) is prepared once in a :class:`DecideContext`, which keeps
a decision to tens of microseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, StoreError
from ..models import (
    Decision,
    DecisionLevel,
    Profile,
    RecommendationVariant,
    RuleSegment,
    TemplateVariant,
)
from .bucketing import bucket, holdout_threshold, share_text
from .placements import Placement, Rule, render, strategy_problem
from .strategies import Miss, PersonView, Strategy, _text

if TYPE_CHECKING:
    from ..models import AnyVariant, Segment
    from ..store import Store

LEVEL_ORDER = (
    DecisionLevel.personalization,
    DecisionLevel.micro_segment,
    DecisionLevel.segment,
    DecisionLevel.default,
)


@dataclass(frozen=True, slots=True)
class Step:
    """One rule of a placement, resolved: its strategy, parameters and variant."""

    index: int
    rule: Rule
    strategy: Strategy
    params: Mapping[str, float]
    variant: AnyVariant

    @property
    def level(self) -> DecisionLevel:
        return self.strategy.level


def _skipped(step: Step, why: str) -> str:
    """Why a step of the chain was passed over: ``personalization (browse_abandonment) skipped: …``.

    The strategy is named only when its name is not its level's (``segment skipped: …``, never
    ``segment (segment) skipped: …``).
    """
    name = step.level.value
    if step.strategy.name != name:
        name = f"{name} ({step.strategy.name})"
    return f"{name} skipped: {why}"


@dataclass
class DecideContext:
    """What decisions read besides the person, prepared once.

    ``catalogue`` maps item id -> (name, category, price); ``neighbours`` item -> ((item, score), …)
    best first; ``memberships`` segment key -> profile ids; ``computed`` profile id -> computed
    traits (merged over stored traits). With a ``store`` and no ``computed``, computed traits are
    read per profile on demand.
    """

    placements: Mapping[str, Placement]
    catalogue: Mapping[str, tuple[str, str | None, float | None]] = field(default_factory=dict)
    neighbours: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    memberships: Mapping[str, frozenset[str]] = field(default_factory=dict)
    computed: Mapping[str, Mapping[str, Any]] | None = None
    strategies: Mapping[str, Strategy] | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    store: Store | None = None
    _chains: dict[str, tuple[Step, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ConfigError("DecideContext.now must be timezone-aware")
        if self.strategies is None:
            from ..plugins import registry

            self.strategies = dict(registry().strategies)
        for key in self.placements:
            self.chain(key)  # validate every rule now, not at the first decision

    @classmethod
    def from_store(
        cls,
        store: Store,
        placements: Mapping[str, Placement] | None = None,
        *,
        segments: Iterable[Segment] = (),
        now: datetime | None = None,
        preload_computed: bool = False,
        strategies: Mapping[str, Strategy] | None = None,
        only: Iterable[str] | None = None,
    ) -> DecideContext:
        """Load the catalogue, neighbours and the memberships of the segments rules name.

        A rule's ``segment: key`` is resolved from ``segments`` (evaluated as of ``now``) or else
        from the latest snapshot of that key in the store; neither is a :class:`ConfigError`.
        ``only`` keeps just these placement keys (an unknown one is a ConfigError naming those
        defined), so a segment another placement of the file names is neither needed nor read.
        """
        from .neighbours import load_neighbours
        from .placements import example_placements

        placements = placements if placements is not None else example_placements()
        if only is not None:
            wanted = list(dict.fromkeys(only))
            unknown = [k for k in wanted if k not in placements]
            if unknown:
                known = ", ".join(sorted(placements)) or "none"
                raise ConfigError(f"unknown placement {unknown[0]!r}; defined: {known}")
            placements = {k: placements[k] for k in wanted}
        now = now or datetime.now(UTC)
        catalogue = {
            r[0]: (r[1], r[2], r[3])
            for r in store.con.execute(
                "SELECT item_id, name, category, price FROM items"
            ).fetchall()
        }
        keys = {r.segment for p in placements.values() for r in p.rules if r.segment}
        memberships = load_memberships(store, keys, segments, as_of=now)
        computed: dict[str, dict[str, Any]] | None = None
        if preload_computed:
            names = referenced_traits(placements)
            computed = {}
            if names:
                rows = store.con.execute(
                    "SELECT profile_id, name, value FROM computed_traits "
                    "WHERE list_contains(?, name)",
                    [sorted(names)],
                ).fetchall()
                import orjson

                for pid, name, value in rows:
                    computed.setdefault(pid, {})[name] = orjson.loads(value) if value else None
        return cls(
            placements=placements,
            catalogue=catalogue,
            neighbours=load_neighbours(store),
            memberships=memberships,
            computed=computed,
            strategies=strategies,
            now=now,
            store=store,
        )

    def placement(self, key: str) -> Placement:
        try:
            return self.placements[key]
        except KeyError:
            known = ", ".join(sorted(self.placements)) or "none"
            raise ConfigError(f"unknown placement {key!r}; defined: {known}") from None

    def chain(self, key: str) -> tuple[Step, ...]:
        """The placement's rules, resolved and ordered most specific level first (stable)."""
        cached = self._chains.get(key)
        if cached is not None:
            return cached
        ordered = self._resolve(self.placement(key))
        self._chains[key] = ordered
        return ordered

    def chain_of(self, placement: Placement) -> tuple[Step, ...]:
        """:meth:`chain` for a Placement object: the context's cached chain when it is the
        context's placement of that key, else its own rules, resolved (not cached)."""
        known = self.placements.get(placement.key)
        if known is placement or known == placement:
            return self.chain(placement.key)
        return self._resolve(placement)

    def _resolve(self, placement: Placement) -> tuple[Step, ...]:
        key = placement.key
        assert self.strategies is not None
        problem = strategy_problem(placement, self.strategies)
        if problem is not None:
            raise ConfigError(f"placements.{key}.{problem[0]}: {problem[1]}")
        steps = []
        for i, rule in enumerate(placement.rules):
            variant = placement.variant(rule.variant)
            name = rule.strategy_name or (
                variant.strategy if isinstance(variant, RecommendationVariant) else ""
            )
            strategy = self.strategies[name]
            steps.append(Step(i, rule, strategy, strategy.params(rule), variant))
        return tuple(sorted(steps, key=lambda s: (LEVEL_ORDER.index(s.level), s.index)))

    def traits_of(self, profile: Profile) -> Mapping[str, Any]:
        """Stored traits with computed traits (lifecycle_stage, rfm_segment, …) over them; a
        computed trait without a value does not hide a stored one."""
        extra: Mapping[str, Any] | None
        if self.computed is not None:
            extra = self.computed.get(profile.id)
        elif self.store is not None:
            import orjson

            rows = self.store.con.execute(
                "SELECT name, value FROM computed_traits WHERE profile_id = ?", [profile.id]
            ).fetchall()
            extra = {n: orjson.loads(v) if v else None for n, v in rows}
        else:
            extra = None
        if not extra:
            return profile.traits
        # A computed trait without a value (NULL or JSON null) leaves the stored one, as the
        # batch path's coalesce(computed, stored) does.
        merged = dict(profile.traits)
        for name, value in extra.items():
            if value is not None:
                merged[name] = value
        return merged


def referenced_traits(placements: Mapping[str, Placement]) -> set[str]:
    """Traits any rule or template of these placements reads."""
    from .placements import template_tokens

    names: set[str] = set()
    for p in placements.values():
        for r in p.rules:
            if r.cell:
                names.update(r.cell)
            if r.trait:
                names.add(r.trait)
        for v in p.variants:
            if isinstance(v, TemplateVariant):
                names.update(template_tokens(v.template))
    return names


def uncomputed_traits(store: Store, placement: Placement) -> list[str]:
    """Computed traits (lifecycle_stage, rfm_segment, …) the placement's rules read but the store
    has never computed: no row in ``computed_traits`` and no stored profile trait of that name.

    Every rule on one of them misses for everyone until ``martech traits compute`` runs; the CLI
    warns with this. Not part of :func:`decide`, which never touches the store for it.
    """
    from ..segments.traits import registered_traits

    names: set[str] = set()
    for r in placement.rules:
        if r.cell:
            names.update(r.cell)
        if r.trait:
            names.add(r.trait)
    names &= set(registered_traits())
    if not names:
        return []
    wanted = sorted(names)
    have = {
        r[0]
        for r in store.con.execute(
            "SELECT DISTINCT name FROM computed_traits WHERE list_contains(?, name)", [wanted]
        ).fetchall()
    }
    missing = [n for n in wanted if n not in have]
    if not missing:
        return []
    from .._sql import sql_json_path

    stored = ", ".join(
        f"bool_or(json_exists(traits, {sql_json_path(n)})) AS c{i}" for i, n in enumerate(missing)
    )
    row = store.con.execute(f"SELECT {stored} FROM profiles").fetchone()
    return [n for n, found in zip(missing, row or (), strict=False) if not found]


def load_memberships(
    store: Store,
    keys: Iterable[str],
    segments: Iterable[Segment] = (),
    *,
    as_of: datetime | None = None,
) -> dict[str, frozenset[str]]:
    """Members of each segment key: evaluated from ``segments`` as of ``as_of`` (default now) if
    given, else the latest snapshot."""
    keys = set(keys)
    defined = {s.key: s for s in segments}
    out: dict[str, frozenset[str]] = {}
    if keys & set(defined):
        from ..segments import evaluate

        evaluated = evaluate(
            store, [s for s in defined.values() if isinstance(s, RuleSegment)], as_of=as_of
        )
        out.update({k: frozenset(evaluated[k]) for k in keys & set(defined)})
    for key in sorted(keys - set(out)):
        snapshot = store.con.execute(
            "SELECT snapshot_id FROM segment_snapshots WHERE segment_key = ? "
            "ORDER BY taken_at DESC, snapshot_id DESC LIMIT 1",
            [key],
        ).fetchall()
        if not snapshot:
            raise ConfigError(
                f"segment {key!r} is neither defined (`--segments FILE` on the command line, "
                "segments= in Python) nor snapshotted in the store (`martech segments eval "
                f"{key}` stores one)"
            )
        rows = store.con.execute(
            "SELECT profile_id FROM segment_members WHERE snapshot_id = ?", [snapshot[0][0]]
        ).fetchall()
        out[key] = frozenset(r[0] for r in rows)
    return out


SUPPRESSED_PREFIX = "suppressed:"


def suppressed(decision: Decision) -> bool:
    """Whether the decision shows nothing because the person has not consented to the channel."""
    return (
        decision.variant_id == ""
        and bool(decision.reasons)
        and decision.reasons[0].startswith(SUPPRESSED_PREFIX)
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decision plus what the store keeps beside it: the tactic and the recommended items."""

    decision: Decision
    tactic: str
    items: tuple[str, ...]


def decide(
    profile: Profile | str, placement: str | Placement, *, context: DecideContext
) -> Decision:
    """Choose what ``profile`` sees in ``placement``, walking the fallback chain. See module doc."""
    return decide_outcome(profile, placement, context=context).decision


def decide_outcome(
    profile: Profile | str, placement: str | Placement, *, context: DecideContext
) -> Outcome:
    """:func:`decide`, also returning the tactic used (or that the holdout would have had) and the
    recommended item ids (for ESP merge fields)."""
    if isinstance(profile, str):
        if context.store is None:
            raise ConfigError("decide() got a profile id; pass a Profile or a context with a store")
        found = context.store.get_profile(profile, identities=False)  # decide never reads them
        if found is None:
            raise StoreError(f"no profile {profile!r} in the store")
        profile = found
    if isinstance(placement, Placement):  # its own rules, even if the context has another
        pl, chain = placement, context.chain_of(placement)
    else:
        pl = context.placement(placement)
        chain = context.chain(pl.key)
    b = bucket(profile.id, pl.seed)
    consent_key = pl.consent_key
    if consent_key is not None and profile.consent.get(consent_key) is not True:
        state = "withdrawn" if consent_key in profile.consent else "not given"
        return Outcome(
            Decision(
                profile_id=profile.id,
                placement=pl.key,
                variant_id="",
                content="",
                level=DecisionLevel.default,
                bucket=b,
                reasons=[f"{SUPPRESSED_PREFIX} {consent_key} consent {state}; nothing is shown"],
            ),
            "suppressed",
            (),
        )
    traits = context.traits_of(profile)
    person = PersonView(profile.id, traits, profile.events, context.now)
    skipped: list[str] = []
    chosen: Step | None = None
    items: tuple[str, ...] = ()
    reason = caption = ""
    for step in chain:
        if step.level is DecisionLevel.personalization:
            person.build()
        result = step.strategy.choose(person, step.rule, step.params, context)
        if isinstance(result, Miss):
            skipped.append(_skipped(step, result.reason))
            continue
        if isinstance(step.variant, RecommendationVariant):
            kept = [i for i in result.items if i in context.catalogue]
            dropped = [i for i in result.items if i not in context.catalogue]
            if dropped:
                skipped.append(
                    f"{step.strategy.name} dropped {len(dropped)} item(s) not in the catalogue: "
                    + ", ".join(dropped[:3])
                )
            if not kept:
                skipped.append(_skipped(step, "no catalogue item left"))
                continue
            items = tuple(kept[: step.variant.slots])
        chosen, reason, caption = step, result.reason, result.caption
        break
    segment_keys = sorted(  # each key once, even when several rules name it (as batch)
        {k for k in _segment_keys(pl) if profile.id in context.memberships.get(k, ())}
    )
    if chosen is not None and chosen.rule.trait is not None:
        segment_keys.append(f"{chosen.rule.trait}={_text(traits.get(chosen.rule.trait))}")
    threshold = holdout_threshold(pl.holdout)
    tactic = chosen.strategy.name if chosen else "default"
    bucket_note = f"bucket {b} of {pl.seed!r}"
    if b < threshold:
        would = f"{chosen.variant.id} ({tactic})" if chosen else "the default too"
        default = pl.variant(pl.default or "")
        return Outcome(
            Decision(
                profile_id=profile.id,
                placement=pl.key,
                variant_id=default.id,
                content=_content(default, traits, (), "", context),
                level=DecisionLevel.default,
                segment_keys=segment_keys,
                bucket=b,
                holdout=True,
                reasons=[
                    f"holdout: {bucket_note} < {threshold} ({share_text(pl.holdout)} holdout) "
                    f"gets the default; would have shown {would}"
                ],
            ),
            tactic,
            (),
        )
    if chosen is None:
        default = pl.variant(pl.default or "")
        level = DecisionLevel.default
        reasons = ["default: no rule matched", *_once(skipped), bucket_note]
        variant = default
    else:
        variant, level = chosen.variant, chosen.level
        reasons = [f"{level.value}: {reason}", *_once(skipped), bucket_note]
    return Outcome(
        Decision(
            profile_id=profile.id,
            placement=pl.key,
            variant_id=variant.id,
            content=_content(variant, traits, items, caption, context),
            level=level,
            segment_keys=segment_keys,
            bucket=b,
            holdout=False,
            reasons=reasons,
        ),
        tactic,
        items,
    )


def _once(notes: list[str]) -> list[str]:
    """Each note once, in order; one several rules gave says how many (``… (5 rules)``)."""
    counts: dict[str, int] = {}
    for note in notes:
        counts[note] = counts.get(note, 0) + 1
    return [n if c == 1 else f"{n} ({c} rules)" for n, c in counts.items()]


def _segment_keys(placement: Placement) -> list[str]:
    return [r.segment for r in placement.rules if r.segment]


def _content(
    variant: AnyVariant,
    traits: Mapping[str, Any],
    items: tuple[str, ...],
    caption: str,
    context: DecideContext,
) -> str:
    if isinstance(variant, TemplateVariant):
        values = {t: _text(traits.get(t)) for t in variant.defaults}
        return render(variant.template, values, variant.defaults)
    if isinstance(variant, RecommendationVariant):
        names = ", ".join(context.catalogue[i][0] or i for i in items)
        return render(variant.template, {"items": names, "reason": caption}, {})
    return variant.content
