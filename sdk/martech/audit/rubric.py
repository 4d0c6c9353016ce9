"""From observations to a label: the decision rules and their thresholds, in one place.

Decision order (audit-method.md): constant -> ``broadcast``; differs only in the person's own
merge tokens -> ``token_only``; varies on identical input or with the id only, and with nothing
about the person -> ``random``; follows the specific items of the person's own history with
person-specific outputs -> ``personalization``; otherwise determined by traits and behaviour
aggregates -> ``segmentation`` (one or two attributes, or few large classes) or
``micro_segmentation`` (three or more attributes combining into many small classes). The highest
level the evidence supports wins: a popular-list fallback for people without history, exploration
noise over a personalized core, or merge tokens on a segment do not pull the label down.

A factor "matters" when its probe pairs change (after masking) significantly more often than the
control pairs -- identical profiles called twice -- by a one-sided Fisher exact (permutation)
test, Holm-adjusted across all factors, *and* by at least ``MIN_EFFECT`` in absolute terms.

The confidence is ``1 - `` the weakest evidence the label rests on: the largest of the p-values
of the findings it needs and, where it needs a factor *not* to matter, the chance that a factor
changing the output in ``DETECTABLE_EFFECT`` more pairs than the noise floor would have looked
like noise. It is not the probability that the label is right; it lies in [0, 0.999], 0.5 means
a guess (variation nothing probed explains) and near 0 means the probes could not tell.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from ..models import Level
from . import stats
from .probes import BEHAVIOUR_LABELS, BEHAVIOUR_PROBES, as_set

#: Holm-adjusted significance level for "this factor changes the output".
ALPHA = 0.01
#: A factor must change the output in this many more pairs than the controls (absolute share).
MIN_EFFECT = 0.10
#: A negative finding is sure when a dependence this much above the noise floor would have shown.
DETECTABLE_EFFECT = 0.25
#: Personalization needs person-specific outputs: distinct outputs / people with history.
PERSONAL_MIN_DISTINCT_SHARE = 0.5
#: Segmentation combines at most this many attributes …
SEGMENT_MAX_ATTRIBUTES = 2
#: … micro-segmentation needs at least this many distinct outputs …
MICRO_MIN_CLASSES = 10
#: … whose median class holds at most this share of the probed people.
MICRO_MAX_MEDIAN_SHARE = 0.05
#: No-history probes count as a fallback when this share of them got one and the same output.
FALLBACK_MIN_SHARE = 0.8
#: When identical calls change this much more often in order than as sets, compare as sets.
ORDER_NOISE_GAP = 0.3
#: A claim the observed label meets counts as confirmed only at this confidence; below it (0.5,
#: unexplained variation, is the usual case) the verdict says "unconfirmed", not "holds".
CONFIRM_AT = 0.9
#: Behaviour probes that describe aggregates (each counts as one attribute of a segment).
AGGREGATE_PROBES = ("category_swap", "recency", "frequency")
#: Behaviour probes that show item-level dependence.
ITEM_PROBES = ("item_swap", "one_event")

THRESHOLDS: dict[str, float] = {
    "alpha_holm": ALPHA,
    "confirm_at": CONFIRM_AT,
    "min_effect": MIN_EFFECT,
    "detectable_effect": DETECTABLE_EFFECT,
    "personal_min_distinct_share": PERSONAL_MIN_DISTINCT_SHARE,
    "segment_max_attributes": SEGMENT_MAX_ATTRIBUTES,
    "micro_min_classes": MICRO_MIN_CLASSES,
    "micro_max_median_share": MICRO_MAX_MEDIAN_SHARE,
    "fallback_min_share": FALLBACK_MIN_SHARE,
    "order_noise_gap": ORDER_NOISE_GAP,
}


@dataclass(frozen=True)
class Pair:
    """Two calls compared: what differed between the inputs, and whether the outputs did."""

    kind: str
    factor: str
    change: str
    raw_changed: bool
    masked_changed: bool
    a: str
    b: str
    set_changed: bool = False
    """the outputs differ as bags of words (order ignored)"""
    a_key: str = ""
    """the full masked output of call a (to count distinct outputs; never reported)"""


@dataclass
class Observations:
    """Everything the probes produced, PII-free (outputs are masked excerpts)."""

    pairs: list[Pair]
    base_outputs: list[str]
    """masked output per base profile"""
    base_has_history: list[bool]
    base_traits: list[dict[str, str]]
    no_history_outputs: list[str]
    calls: int
    raw_distinct: int
    has_categories: bool
    masked_distinct: int = 2
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    """exception type -> calls that failed with it (types only: messages may carry vendor text)"""
    dropped_pairs: int = 0
    """probe pairs left out because one of their two calls failed or was not sent"""
    unsent: int = 0
    """probes not sent: retries after 429s or 5xx took the requests the budget had for them"""
    spent: str = ""


@dataclass(frozen=True)
class FactorTest:
    factor: str
    kind: str
    changed: int
    n: int
    rate: float
    p: float
    p_adjusted: float
    matters: bool
    raw_changed: int = 0
    raw_p: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        low, high = stats.wilson(self.changed, self.n)
        return {
            "factor": self.factor,
            "probe": self.kind,
            "changed": self.changed,
            "pairs": self.n,
            "change_rate": round(self.rate, 3),
            "interval95": [round(low, 3), round(high, 3)],
            "p_holm": _round_p(self.p_adjusted),
            "matters": self.matters,
            "raw_changed": self.raw_changed,
        }


def _round_p(p: float) -> float:
    return float(f"{p:.3g}")


@dataclass
class Verdict:
    level: Level
    confidence: float
    traits: list[str]
    behaviours: list[str]
    token_traits: list[str]
    stats: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    reason: str = ""


def _group(pairs: list[Pair]) -> dict[tuple[str, str], list[Pair]]:
    out: dict[tuple[str, str], list[Pair]] = {}
    for p in pairs:
        out.setdefault((p.kind, p.factor), []).append(p)
    return out


def classify(obs: Observations) -> Verdict:
    """Label the observations; every threshold used is in ``THRESHOLDS``."""
    notes: list[str] = []
    obs = _compare_as_sets_if_order_is_noise(obs, notes)
    groups = _group(obs.pairs)
    controls = groups.get(("repeat", "repeat"), [])
    n0 = len(controls)
    x0 = sum(p.masked_changed for p in controls)
    x0_raw = sum(p.raw_changed for p in controls)
    noise = x0 / n0 if n0 else 0.0

    # --- one test per factor (traits and behaviour), Holm-adjusted together ---------------
    raw_tests: dict[str, tuple[str, int, int, int, float]] = {}
    pvals: dict[str, float] = {}
    for (kind, factor), pairs in groups.items():
        if kind in ("repeat", "id_only"):
            continue
        n1 = len(pairs)
        x1 = sum(p.masked_changed for p in pairs)
        r1 = sum(p.raw_changed for p in pairs)
        key = f"{kind}:{factor}"
        pvals[key] = stats.fisher_greater(x1, n1, x0, n0)
        raw_tests[key] = (kind, x1, n1, r1, stats.fisher_greater(r1, n1, x0_raw, n0))
    adjusted = stats.holm(pvals)
    raw_adjusted = stats.holm({k: v[4] for k, v in raw_tests.items()})
    tests: dict[str, FactorTest] = {}
    for key, (kind, x1, n1, r1, _) in raw_tests.items():
        rate = x1 / n1 if n1 else 0.0
        matters = adjusted[key] < ALPHA and rate - noise >= MIN_EFFECT
        tests[key] = FactorTest(
            factor=key.split(":", 1)[1],
            kind=kind,
            changed=x1,
            n=n1,
            rate=rate,
            p=pvals[key],
            p_adjusted=adjusted[key],
            matters=matters,
            raw_changed=r1,
            raw_p=raw_adjusted[key],
        )

    id_pairs = groups.get(("id_only", "id"), [])
    n_id, x_id = len(id_pairs), sum(p.masked_changed for p in id_pairs)
    p_id = stats.fisher_greater(x_id, n_id, x0, n0)
    id_matters = p_id < ALPHA and n_id > 0 and x_id / n_id - noise >= MIN_EFFECT

    traits = sorted(t.factor for t in tests.values() if t.kind == "trait" and t.matters)
    token_traits = sorted(
        t.factor
        for t in tests.values()
        if t.kind == "trait"
        and not t.matters
        and t.raw_p < ALPHA
        and t.raw_changed / max(1, t.n) - x0_raw / max(1, n0) >= MIN_EFFECT
    )
    behaviours = [
        k for k in BEHAVIOUR_PROBES if tests.get(f"{k}:{k}") and tests[f"{k}:{k}"].matters
    ]
    items_matter = any(b in ITEM_PROBES for b in behaviours)
    aggregates = [b for b in behaviours if b in AGGREGATE_PROBES]
    behaviour_attrs = len(aggregates) or (1 if "no_history" in behaviours else 0)
    n_attributes = len(traits) + behaviour_attrs

    # --- classes among the people the label is about ---------------------------------------
    uses_history = bool(behaviours)
    idx = [i for i, h in enumerate(obs.base_has_history) if h or not uses_history]
    outputs = [obs.base_outputs[i] for i in idx] or obs.base_outputs
    n = len(outputs)
    sizes = stats.class_sizes(outputs)
    k_classes = len(sizes)
    median_size = stats.median(sizes)
    median_share = median_size / n if n else 0.0
    given = [tuple(obs.base_traits[i].get(t, "") for t in traits) for i in idx] if idx else []
    h_out = stats.entropy(outputs)
    h_cond = stats.conditional_entropy(outputs, given) if given else h_out

    # --- fallback for people without history ------------------------------------------------
    fallback_output, fallback_share = None, 0.0
    if obs.no_history_outputs and uses_history:
        top, count = Counter(obs.no_history_outputs).most_common(1)[0]
        if count / len(obs.no_history_outputs) >= FALLBACK_MIN_SHARE:
            fallback_output = top
            fallback_share = sum(o == top for o in obs.base_outputs) / max(1, len(obs.base_outputs))

    def miss(keys: list[str]) -> float:
        """Chance the named factors matter (by DETECTABLE_EFFECT) yet looked like noise."""
        worst = 0.0
        for key in keys:
            t = tests.get(key)
            if t is None or t.matters:
                continue
            worst = max(worst, stats.binom_cdf(t.changed, t.n, min(1.0, noise + DETECTABLE_EFFECT)))
        return worst

    item_keys = [f"{k}:{k}" for k in ITEM_PROBES]
    all_keys = list(tests)
    # Person-specific: among people whose output followed their items, how many distinct outputs
    # (a recommender: nearly one per person; "viewed SKU-42 -> promo": one shared output).
    followed = [p.a_key for p in obs.pairs if p.kind in ITEM_PROBES and p.masked_changed]
    specific_share = len(set(followed)) / len(followed) if followed else 0.0
    tested_items = any(k in tests for k in item_keys)

    if obs.raw_distinct <= 1:
        level = Level.broadcast
        n_pairs = len(obs.pairs)
        support = stats.binom_cdf(0, n_pairs, MIN_EFFECT) if n_pairs else 1.0
        confidence = 1 - support
        reason = f"every one of {obs.calls} calls returned the same output"
    elif obs.masked_distinct <= 1:
        level = Level.token_only
        confidence = 1 - (stats.binom_cdf(0, len(obs.pairs), MIN_EFFECT) if obs.pairs else 1.0)
        reason = (
            "every output is the same once the person's own values are masked "
            f"(merge tokens: {', '.join(token_traits) or 'id or identities'})"
        )
    elif items_matter and specific_share >= PERSONAL_MIN_DISTINCT_SHARE:
        level = Level.personalization
        support = min(tests[k].p_adjusted for k in item_keys if k in tests and tests[k].matters)
        confidence = 1 - support
        reason = (
            "the output follows the specific items in the person's own history "
            f"({k_classes} distinct outputs for {n} people with history; "
            f"{specific_share:.0%} distinct among those whose items changed it)"
        )
    elif traits or behaviours:
        ranked = sorted(t.p_adjusted for t in tests.values() if t.matters)
        micro = (
            n_attributes > SEGMENT_MAX_ATTRIBUTES
            and k_classes >= MICRO_MIN_CLASSES
            and median_share <= MICRO_MAX_MEDIAN_SHARE
        )
        level = Level.micro_segmentation if micro else Level.segmentation
        support = ranked[min(len(ranked), SEGMENT_MAX_ATTRIBUTES + 1) - 1] if micro else ranked[0]
        against = miss(item_keys) if tested_items else 0.5
        if not tested_items:
            notes.append("no item history in the probe population: item-level dependence untested")
        if items_matter:
            notes.append(
                "items change the output, but into few shared outputs "
                f"({specific_share:.0%} distinct): behavioural segmentation, not personalization"
            )
        confidence = 1 - max(support, against)
        shown = aggregates or [b for b in behaviours if b == "no_history"]
        what = ", ".join(traits + [BEHAVIOUR_LABELS[b] for b in shown])
        if "no_history" in behaviours and "no_history" not in shown:
            what += "; people without history get their own output"
        reason = (
            f"{n_attributes} attribute{'s decide' if n_attributes != 1 else ' decides'} the output "
            f"({what}); {k_classes} distinct outputs, median class {median_size:g} of {n}"
        )
    elif token_traits:
        level = Level.token_only
        support = min(tests[f"trait:{t}"].raw_p for t in token_traits)
        confidence = 1 - max(support, miss(all_keys))
        reason = (
            "outputs differ only in the person's own values filled in as merge tokens "
            f"({', '.join(token_traits)})"
        )
    elif x0_raw > 0 or id_matters:
        level = Level.random
        support = 0.0 if x0_raw >= 2 else (p_id if id_matters else 0.5)
        confidence = 1 - max(support, miss(all_keys))
        if noise >= 1 - DETECTABLE_EFFECT:
            # No factor can change the output much more often than identical calls do.
            reason = (
                f"the output changed on {noise:.0%} of identical calls: the probes cannot tell "
                "whether it depends on anything else (a timestamp, request id or rotation in it?)"
            )
        else:
            reason = (
                "the output varies on identical input"
                if x0_raw
                else "the output varies with the id only"
            ) + ", and with nothing else about the person"
    elif x_id > 0:
        # Only the id-only probes changed the output, too few to be significant at this budget:
        # the evidence, weak as it is, points to the id (an A/B split), not to any attribute.
        level = Level.random
        confidence = 1 - max(p_id, miss(all_keys))
        reason = (
            f"only a change of id changed the output ({x_id} of {n_id} id-only pairs; too "
            "few to be sure at this budget), and nothing else about the person"
        )
        notes.append("a larger --budget would test the id with more pairs")
    else:
        level = Level.segmentation
        confidence = 0.5
        reason = "outputs differ between people, but no probed input explains it"
        notes.append("unexplained variation: the tool may use inputs the probes did not vary")

    if noise > 0 and level not in (Level.random, Level.broadcast):
        notes.append(f"{noise:.0%} of identical calls changed: noise over a {level.value} core")
    if id_matters and level not in (Level.random,):
        notes.append("the id alone also changes the output (an experiment or hash bucketing)")
    if obs.errors:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(obs.error_kinds.items()))
        notes.append(
            f"{obs.errors} of {obs.calls} calls failed ({kinds or 'errors'}); a failure is no "
            f"output: {obs.dropped_pairs} probe pair{'s' if obs.dropped_pairs != 1 else ''} "
            "with a failed call were left out"
        )
    if obs.unsent:
        notes.append(
            f"{obs.spent}: the last {obs.unsent} probes were not sent; pairs with one of them "
            "were left out"
        )
    if fallback_output is not None:
        notes.append(
            f"people without history get one fallback output; {fallback_share:.0%} of the "
            "probed population got it"
        )

    stat_block: dict[str, Any] = {
        "noise_floor": {"changed": x0, "pairs": n0, "rate": round(noise, 3)},
        "id_only": {"changed": x_id, "pairs": n_id, "p": _round_p(p_id), "matters": id_matters},
        "factors": [t.as_dict() for t in sorted(tests.values(), key=lambda t: t.p_adjusted)],
        "attributes": n_attributes,
        "distinct_outputs": k_classes,
        "people": n,
        "median_class_size": median_size,
        "median_class_share": round(median_share, 4),
        "item_specific_share": round(specific_share, 3),
        "largest_class_share": round(sizes[0] / n, 4) if sizes else 0.0,
        "entropy_bits": round(h_out, 3),
        "conditional_entropy_bits": round(h_cond, 3),
        "fallback_share": round(fallback_share, 4),
        "fallback": fallback_output is not None,
        "no_history_in_sample": round(
            1 - sum(obs.base_has_history) / max(1, len(obs.base_has_history)), 4
        ),
        "errors": obs.errors,
        "pairs_left_out": obs.dropped_pairs,
        "probes_not_sent": obs.unsent,
        "thresholds": THRESHOLDS,
    }
    return Verdict(
        level=level,
        confidence=round(max(0.0, min(0.999, confidence)), 3),
        traits=traits,
        behaviours=[BEHAVIOUR_LABELS[b] for b in behaviours],
        token_traits=token_traits,
        stats=stat_block,
        notes=notes,
        reason=reason,
    )


def _compare_as_sets_if_order_is_noise(obs: Observations, notes: list[str]) -> Observations:
    """Switch every comparison to bags of words when only the order varies at random."""
    controls = [p for p in obs.pairs if p.kind == "repeat"]
    if not controls:
        return obs
    exact = sum(p.masked_changed for p in controls) / len(controls)
    as_sets = sum(p.set_changed for p in controls) / len(controls)
    if exact - as_sets < ORDER_NOISE_GAP:
        return obs
    notes.append(
        f"the order of the output is random ({exact:.0%} of identical calls reordered it); "
        "outputs were compared as sets of words"
    )
    return replace(
        obs,
        pairs=[replace(p, masked_changed=p.set_changed, a_key=as_set(p.a_key)) for p in obs.pairs],
        base_outputs=[as_set(o) for o in obs.base_outputs],
        no_history_outputs=[as_set(o) for o in obs.no_history_outputs],
    )
