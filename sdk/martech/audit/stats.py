"""The few statistics the audit needs, pure and dependency-free.

- :func:`fisher_greater` — exact one-sided test that treatment pairs change more often than the
  control pairs (identical profiles called twice). Fisher's exact test is the permutation test
  of a 2x2 table: it asks how often a random relabelling of the pairs as treatment/control would
  put this many changes in the treatment group (AdFisher's permutation test, exactly).
- :func:`holm` — Holm-Bonferroni adjustment across the many factors tested at once (Sunlight).
- :func:`binom_cdf` — the chance of seeing at most ``x`` changes if the true rate were ``p``: how
  sure a *negative* finding is (a dependence this strong would not have been missed).
- :func:`wilson` — a binomial interval for a change fraction, for the report.
- :func:`entropy`, :func:`conditional_entropy` — in bits; H(output | attributes) near zero means
  the attributes determine the output.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(x1: int, n1: int, x0: int, n0: int) -> float:
    """P-value that the change rate x1/n1 exceeds x0/n0 (one-sided Fisher exact test)."""
    if n1 <= 0:
        return 1.0
    total_changes = x1 + x0
    total = n1 + n0
    denominator = _log_comb(total, total_changes)
    p = 0.0
    for k in range(x1, min(n1, total_changes) + 1):
        if total_changes - k > n0:
            continue
        p += math.exp(_log_comb(n1, k) + _log_comb(n0, total_changes - k) - denominator)
    return min(1.0, p)


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values (monotone), keyed as given."""
    ordered = sorted(pvalues.items(), key=lambda kv: kv[1])
    m = len(ordered)
    adjusted: dict[str, float] = {}
    running = 0.0
    for i, (key, p) in enumerate(ordered):
        running = max(running, min(1.0, (m - i) * p))
        adjusted[key] = running
    return adjusted


def binom_cdf(x: int, n: int, p: float) -> float:
    """P(X <= x) for X ~ Binomial(n, p)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if x >= n else 0.0
    total = 0.0
    for k in range(0, min(x, n) + 1):
        total += math.exp(_log_comb(n, k) + k * math.log(p) + (n - k) * math.log1p(-p))
    return min(1.0, total)


def wilson(x: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion x/n."""
    if n == 0:
        return (0.0, 1.0)
    phat = x / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def entropy(values: Sequence[Hashable]) -> float:
    """Plug-in Shannon entropy in bits."""
    n = len(values)
    if n == 0:
        return 0.0
    h = -sum((c / n) * math.log2(c / n) for c in Counter(values).values())
    return h if h > 0 else 0.0  # one class: 0.0, not -0.0 (printed as "-0.0 bits")


def conditional_entropy(outputs: Sequence[Hashable], given: Sequence[Hashable]) -> float:
    """H(outputs | given) in bits: the output's uncertainty left once ``given`` is known."""
    n = len(outputs)
    if n == 0:
        return 0.0
    groups: dict[Hashable, list[Hashable]] = {}
    for out, g in zip(outputs, given, strict=True):
        groups.setdefault(g, []).append(out)
    return sum(len(members) / n * entropy(members) for members in groups.values())


def class_sizes(outputs: Sequence[Hashable]) -> list[int]:
    """Sizes of the groups of identical outputs, largest first."""
    return sorted(Counter(outputs).values(), reverse=True)


def median(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
