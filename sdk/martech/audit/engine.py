"""Run an audit: plan the budget, call the target with every probe, hand the rubric the results.

The only I/O is the target's calls (and loading the probe population). Calls are sequential and
counted; the plan never exceeds the budget, and a guard refuses a call past it. The same
``seed``, population and target give the same probes, calls and label.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, MartechError
from ..models import Level, Profile
from .probes import (
    BEHAVIOUR_LABELS,
    BEHAVIOUR_PROBES,
    Probe,
    Vocabulary,
    as_set,
    behaviour_probes,
    has_item_history,
    id_only,
    mask,
    redact_output,
    sample_bases,
    trait_pair,
)
from .report import AuditReport
from .rubric import Observations, Pair, Verdict, classify
from .targets import CallCapReached, Target

#: Default and smallest budgets (calls per audit).
DEFAULT_BUDGET = 2000
MIN_BUDGET = 200
#: Stop when more than this share of calls failed (after at least MIN_CALLS_FOR_ERRORS calls).
MAX_ERROR_SHARE = 0.2
MIN_CALLS_FOR_ERRORS = 20


@dataclass(frozen=True)
class Plan:
    """How the budget is spent. Shares are of the budget; see :func:`plan_budget`."""

    base: int
    repeat: int
    id_only: int
    per_trait: int
    behaviour: int

    def calls(self, n_traits: int) -> int:
        kinds = len(BEHAVIOUR_PROBES) + 1  # one_event costs two calls
        return (
            self.base
            + self.repeat
            + self.id_only
            + self.per_trait * n_traits
            + kinds * (self.behaviour)
        )


def plan_budget(budget: int, n_traits: int, population: int, *, name: str = "--budget") -> Plan:
    """Split ``budget`` calls: 15% base sample, 5% + 5% controls, 24.5% behaviour, ≤ 40/trait.

    :param name: what set the budget, for the error (``--budget``, or a spec's ``max_calls``).
    """
    if budget < MIN_BUDGET:
        raise ConfigError(f"{name} {budget}: at least {MIN_BUDGET} calls are needed for an audit")
    base = min(population, max(20, int(0.15 * budget)))
    repeat = min(base, max(10, int(0.05 * budget)))
    ids = min(base, max(10, int(0.05 * budget)))
    behaviour = min(base, max(8, int(0.035 * budget)))
    kinds = len(BEHAVIOUR_PROBES) + 1
    left = budget - base - repeat - ids - kinds * behaviour
    per_trait = min(40, left // max(1, n_traits))
    if per_trait < 6:
        raise ConfigError(
            f"{name} {budget}: too small for {n_traits} traits (needs about "
            f"{budget - left + 6 * n_traits} calls)"
        )
    return Plan(base=base, repeat=repeat, id_only=ids, per_trait=per_trait, behaviour=behaviour)


class _Runner:
    """Counts calls, enforces the cap, turns vendor failures into missing observations."""

    def __init__(self, target: Target, cap: int) -> None:
        self.target = target
        self.cap = cap
        self.calls = 0
        self.errors = 0
        self.error_kinds: Counter[str] = Counter()
        self.answered = 0  # calls the tool answered at all, even with an error status
        self.raw: set[str] = set()
        self.spent: str = ""  # why the requests ran out (retries took part of them)
        self.unsent = 0

    async def __call__(self, profile: Profile) -> str | None:
        """The output, or None when the call failed (a missing observation, never content)."""
        if self.calls >= self.cap:
            raise ConfigError(f"audit budget of {self.cap} calls exhausted")
        if self.spent:
            self.unsent += 1
            return None
        try:
            out = await self.target.call(profile)
        except CallCapReached as exc:
            # Retries after 429s took the requests the last probes needed: those probes are
            # not sent. Run in random order, they are a random subset, left out like failures.
            self.spent = str(exc)
            self.unsent += 1
            return None
        except Exception as exc:  # a tool failing on some probes is an observation, up to a point
            self.calls += 1
            self.errors += 1
            # A VendorError without an HTTP status never reached the tool (refused, timed out,
            # after its retries): before any answer at all, it is not up, and every further
            # probe would wait as long again.
            # The tool's message may name the probe person (its email, phone): masked as in
            # the reports before it becomes ours.
            said = mask(str(exc), profile)
            if getattr(exc, "status", 0) is None and not self.answered:
                raise ConfigError(
                    f"audit target {self.target.name!r} cannot be reached: {said}"
                ) from exc
            if getattr(exc, "status", None) is not None:
                self.answered += 1
            if self.calls >= MIN_CALLS_FOR_ERRORS and self.errors > MAX_ERROR_SHARE * self.calls:
                if isinstance(exc, MartechError):
                    exc.args = (said, *exc.args[1:])
                    raise
                raise ConfigError(
                    f"audit target {self.target.name!r} failed on {self.errors} of "
                    f"{self.calls} calls; last: {type(exc).__name__}: {said}"
                ) from exc
            self.error_kinds[type(exc).__name__] += 1
            return None
        self.calls += 1
        self.answered += 1
        # Runs of whitespace are layout, not content: text wrapped to a width breaks its lines
        # where a merge token's length puts them, which read as a decision on first_name.
        out = " ".join(out.split())
        self.raw.add(out)
        return out


async def probe_target(
    target: Target,
    profiles: Sequence[Profile],
    *,
    categories: Mapping[str, str | None] | None = None,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
) -> tuple[Observations, Vocabulary]:
    """Call ``target`` with every probe; return the PII-free observations."""
    if not profiles:
        raise ConfigError("probe population is empty: nothing to build probes from")
    vocab = Vocabulary.from_profiles(profiles, categories)
    rng = random.Random(seed)
    cap = min(budget, target.max_calls or budget)
    name = f"{target.name}: max_calls" if cap < budget else "--budget"
    plan = plan_budget(cap, len(vocab.traits), len(profiles), name=name)
    run = _Runner(target, cap)
    target.limit_requests(cap)

    # Build every call first, then run them in a seeded random order (AdFisher's randomized
    # assignment): a rotation or drift over time cannot line up with the probe structure.
    calls: list[Probe] = []
    links: list[tuple[int, int, str, str, str]] = []  # (call a, call b, kind, factor, change)

    def add(probe: Probe) -> int:
        calls.append(probe)
        return len(calls) - 1

    bases = [
        Probe("base", "base", p, i) for i, p in enumerate(sample_bases(profiles, plan.base, rng))
    ]
    base_call = [add(b) for b in bases]
    for b in bases[: plan.repeat]:
        again = add(Probe("repeat", "repeat", b.profile, b.base, "identical profile"))
        links.append((base_call[b.base], again, "repeat", "repeat", "identical profile"))
    for b in bases[len(bases) - plan.id_only :]:
        probe = id_only(b.profile, seed=seed, base=b.base)
        links.append((base_call[b.base], add(probe), "id_only", "id", probe.change))
    for t_index, trait in enumerate(vocab.traits):
        made = 0
        rotated = bases[t_index % len(bases) :] + bases[: t_index % len(bases)]
        for b in rotated:
            if made >= plan.per_trait:
                break
            changed = trait_pair(b.profile, trait, vocab, rng, base=b.base)
            if changed is None:
                continue
            made += 1
            links.append((base_call[b.base], add(changed), "trait", trait, changed.change))
    with_history = [b for b in bases if has_item_history(b.profile)][: plan.behaviour]
    no_history_calls = [base_call[b.base] for b in bases if not b.profile.events]
    for kind in BEHAVIOUR_PROBES:
        for b in with_history:
            probes = behaviour_probes(kind, b.profile, vocab, rng, base=b.base)
            if len(probes) == 1:
                call = add(probes[0])
                links.append((base_call[b.base], call, kind, kind, probes[0].change))
                if kind == "no_history":
                    no_history_calls.append(call)
            elif len(probes) == 2:
                x, y = probes
                links.append((add(x), add(y), kind, kind, f"{x.change} vs {y.change}"))

    order = list(range(len(calls)))
    rng.shuffle(order)
    answers: list[str | None] = [None] * len(calls)
    for i in order:
        answers[i] = await run(calls[i].profile)
    if run.unsent > len(calls) // 2:
        raise ConfigError(f"{run.spent}: too few of the {len(calls)} probes were sent to label")
    # A failed call (a 429 after its retries, a timeout, a refusal) is a missing observation:
    # the pairs it is part of are left out. Counted as an output, random failures read as
    # rotation (a broadcast labelled random) and failures in one market as segmentation.
    ok = [a is not None for a in answers]
    raw = [a or "" for a in answers]
    masked = [mask(raw[i], calls[i].profile) if ok[i] else "" for i in range(len(calls))]
    answered_links = [link for link in links if ok[link[0]] and ok[link[1]]]
    pairs = [
        Pair(
            kind=kind,
            factor=factor,
            change=change,
            raw_changed=raw[a] != raw[b],
            masked_changed=masked[a] != masked[b],
            a=redact_output(raw[a], calls[a].profile),
            b=redact_output(raw[b], calls[b].profile),
            set_changed=as_set(masked[a]) != as_set(masked[b]),
            a_key=masked[a],
        )
        for a, b, kind, factor, change in answered_links
    ]
    answered_bases = [b for b in bases if ok[base_call[b.base]]]
    no_history_outputs = [masked[c] for c in no_history_calls if ok[c]]

    obs = Observations(
        pairs=pairs,
        base_outputs=[mask(raw[base_call[b.base]], b.profile) for b in answered_bases],
        base_has_history=[has_item_history(b.profile) for b in answered_bases],
        base_traits=[{k: repr(v) for k, v in b.profile.traits.items()} for b in answered_bases],
        no_history_outputs=no_history_outputs,
        calls=run.calls,
        raw_distinct=len(run.raw),
        masked_distinct=len({masked[i] for i in range(len(calls)) if ok[i]}),
        has_categories=vocab.has_categories,
        errors=run.errors,
        error_kinds=dict(run.error_kinds),
        dropped_pairs=len(links) - len(answered_links),
        unsent=run.unsent,
        spent=run.spent,
    )
    return obs, vocab


# --------------------------------------------------------------------------------- evidence


def choose_evidence(
    verdict: Verdict, pairs: Sequence[Pair], limit: int = 3
) -> list[dict[str, Any]]:
    """Two or three concrete probe pairs that show why the label is what it is."""
    level = verdict.level

    def find(
        kind: str | None, changed: bool, *, factor: str | None = None, raw: bool | None = None
    ) -> Pair | None:
        for p in pairs:
            if kind is not None and p.kind != kind:
                continue
            if factor is not None and p.factor != factor:
                continue
            if p.masked_changed != changed:
                continue
            if raw is not None and p.raw_changed != raw:
                continue
            return p
        return None

    wanted: list[tuple[Pair | None, str]] = []
    if level == Level.personalization:
        wanted += [
            (
                find("item_swap", True),
                "same person, items swapped within their category: output changed",
            ),
            (find("one_event", True), "one extra event on item X vs item Y: outputs differ"),
            (find("trait", False), "a trait changed: output did not"),
        ]
    elif level in (Level.segmentation, Level.micro_segmentation):
        for trait in verdict.traits[:2]:
            wanted.append((find("trait", True, factor=trait), f"{trait} changed: output changed"))
        behaviours = [k for k, v in BEHAVIOUR_LABELS.items() if v in verdict.behaviours]
        for kind in behaviours[:1]:
            wanted.append((find(kind, True), f"{BEHAVIOUR_PROBES[kind]}: output changed"))
        wanted.append(
            (find("item_swap", False), "items swapped within their category: output did not change")
        )
    elif level == Level.token_only:
        if not verdict.token_traits:
            wanted.append((find("id_only", False, raw=True), "another id: only that token differs"))
        for trait in verdict.token_traits[:2]:
            wanted.append(
                (
                    find("trait", False, factor=trait, raw=True),
                    f"{trait} changed: only the merge token differs",
                )
            )
        wanted.append((find("item_swap", False), "behaviour changed: output did not"))
    elif level == Level.random:
        wanted += [
            (find("repeat", True), "identical profile called twice: outputs differ"),
            (find("id_only", True), "same person under another id: output changed"),
            (find("trait", False), "a trait changed: output did not"),
        ]
    else:
        wanted += [
            (find("trait", False), "a trait changed: output did not"),
            (find("no_history", False), "history removed: output did not change"),
            (find("id_only", False), "another id: output did not change"),
        ]
    evidence: list[dict[str, Any]] = []
    for pair, meaning in wanted:
        if pair is None or len(evidence) >= limit:
            continue
        evidence.append(
            {
                "probe": pair.kind,
                "factor": pair.factor,
                "change": pair.change,
                "a": pair.a,
                "b": pair.b,
                "output_changed": pair.masked_changed,
                "raw_changed": pair.raw_changed,
                "meaning": meaning,
            }
        )
    return evidence


async def audit(
    target: Target,
    profiles: Sequence[Profile],
    *,
    categories: Mapping[str, str | None] | None = None,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    claim: Level | None = None,
    population: str = "",
) -> AuditReport:
    """Probe ``target`` and label it. ``claim`` overrides what the target itself claims."""
    started = time.perf_counter()
    try:
        obs, vocab = await probe_target(
            target, profiles, categories=categories, budget=budget, seed=seed
        )
    except MartechError:
        raise
    finally:
        await target.aclose()
    verdict = classify(obs)
    stats = dict(verdict.stats)
    stats["probe_vocabulary"] = {
        "traits": sorted(vocab.traits),
        "event_types": list(vocab.event_types),
        "items": len(vocab.items),
        "categories": len(vocab.by_category),
    }
    claimed = claim or target.claimed
    return AuditReport(
        target=target.name,
        kind=target.kind,
        level=verdict.level,
        confidence=verdict.confidence,
        claimed=claimed,
        calls=obs.calls,
        budget=budget,
        seed=seed,
        population=population,
        reason=verdict.reason,
        traits=verdict.traits,
        behaviours=verdict.behaviours,
        token_traits=verdict.token_traits,
        evidence=choose_evidence(verdict, obs.pairs),
        stats=stats,
        notes=verdict.notes,
        seconds=round(time.perf_counter() - started, 3),
    )
