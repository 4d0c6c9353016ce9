"""Lift: did a tactic change behaviour, compared with its holdout?

For each (placement, tactic) the stored decisions split into treated and holdout (the holdout got
the default, and its decision records the tactic it *would* have had, so the comparison is like for
like). Outcomes are read from events in the window after each decision: conversion (any purchase),
revenue per recipient (sum of purchase values), unsubscribe and complaint rates. Each metric gets
the treated - holdout difference with a confidence interval: for rates, Wilson score intervals per
arm and Newcombe's hybrid score interval for the difference, which stays honest when an arm has no
events at all (a Wald interval would get a standard error of 0 from an empty arm and call 7
conversions against 0 a lift); for revenue, a normal interval with the larger of Welch's and the
pooled standard error (Welch alone is too narrow for a small holdout with skewed order values; see
:func:`_mean`), not called significant while either arm has fewer than two purchases (its variance
is then unknown, not 0). A comparison with fewer than ``min_per_arm`` people in either arm says so
plainly instead of printing a number to over-read; one that finds no conversion difference says the
smallest difference its arms would have shown 80% of the time, so "no difference" from arms too
small to see one is not read as none.

The ``default`` tactic is a baseline, not a treatment: its treated and holdout people both saw the
default, so their difference is an A/A check (it should include 0) and never reads as "up" or
"down".

Decisions made at or after the latest stored event have had no time to show an outcome (decide
today, events pulled last night): they are counted as ``pending`` and left out of both arms rather
than counted as people who did nothing, which would read as "no difference". Counted decisions
whose window runs past that event are reported as ``partial``: their outcomes so far are all
there is, and the verdict says the window is still open.

:func:`plant_lift` appends outcome events with a known uplift for the treated, seeded, so a test can
check that the estimate's interval recovers what was planted.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import Store

#: One decision per person and placement, under the id their events are stored under now: an id
#: merged into another (profile_aliases) has had its events moved to the survivor, so its own
#: decision would count a person with no outcomes, and two decided ids of one person would count
#: them twice. The latest decision is the one in force, as a re-decision replaces the earlier one.
_DECIDED = """SELECT coalesce(a.profile_id, d.profile_id) AS profile_id, d.placement,
        coalesce(d.tactic, 'default') AS tactic, d.holdout, d.decided_at
    FROM decisions d LEFT JOIN profile_aliases a ON a.alias = d.profile_id
    QUALIFY row_number() OVER (PARTITION BY coalesce(a.profile_id, d.profile_id), d.placement
        ORDER BY d.decided_at DESC, a.alias IS NULL DESC, d.profile_id) = 1"""


def _decided(store: Store) -> str:
    """:data:`_DECIDED`, or plain decisions when no decided id has merged away: a batch stores
    one decision per person and placement, and the ranking costs a second per million."""
    merged = store.con.execute(
        "SELECT EXISTS (SELECT 1 FROM decisions d JOIN profile_aliases a ON a.alias = d.profile_id)"
    ).fetchall()[0][0]
    if merged:
        return _DECIDED
    return (
        "SELECT profile_id, placement, coalesce(tactic, 'default') AS tactic, holdout, "
        "decided_at FROM decisions"
    )


METRICS = ("conversion", "revenue_per_recipient", "unsubscribe_rate", "complaint_rate")


@dataclass(frozen=True)
class Metric:
    """One outcome for treated vs holdout, the difference and its interval."""

    name: str
    treated: float
    holdout: float
    diff: float
    low: float
    high: float
    #: False when the interval cannot be trusted (revenue with fewer than two purchases in an arm).
    estimable: bool = True

    @property
    def significant(self) -> bool:
        return self.estimable and (self.low > 0 or self.high < 0)


@dataclass(frozen=True)
class LiftRow:
    """The comparison for one tactic of one placement."""

    placement: str
    tactic: str
    n_treated: int
    n_holdout: int
    metrics: dict[str, Metric] = field(default_factory=dict)
    verdict: str = ""
    conclusive: bool = False
    #: Decisions newer than the latest stored event: no outcome can be seen yet, so not counted.
    pending: int = 0
    #: Counted decisions whose window runs past the latest stored event (outcomes so far only).
    partial: int = 0


def signed(v: float) -> str:
    """``v`` with its sign at two decimals, or at one significant digit when two decimals would
    round it to 0: a bound of +0.002 shown as "+0.00" reads as an interval that includes 0."""
    shown = f"{v:+.2f}"
    return f"{v:+.1g}" if v and float(shown) == 0 else shown


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(x: float, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval for ``x`` successes out of ``n`` (honest at 0 and at ``n``)."""
    p = x / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate(x1: float, n1: int, x0: float, n0: int, z: float, name: str) -> Metric:
    """Difference of two proportions with Newcombe's hybrid score interval (his method 10)."""
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson(x1, n1, z)
    l0, u0 = wilson(x0, n0, z)
    d = p1 - p0
    low = d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return Metric(name, p1, p0, d, low, high)


def _mean(
    s1: float,
    q1: float,
    k1: float,
    n1: int,
    s0: float,
    q0: float,
    k0: float,
    n0: int,
    z: float,
    name: str,
) -> Metric:
    """Difference of means, normal interval with the larger of Welch's and the pooled standard
    error; ``k1``/``k0`` count non-zero values (purchases) per arm.

    Welch alone is too narrow when one arm is small and values are skewed (a 10% holdout with ~10
    purchases, order values lognormal with sigma 1.5: 82% coverage for a nominal 95%): the small
    arm's variance misses the rare big order most of the time. The pooled variance borrows the
    large arm's tail; Welch's stays when a treatment widens its own arm's spread. With equal arms
    the two are the same.
    """
    m1, m0 = s1 / n1, s0 / n0
    v1 = max(q1 - n1 * m1 * m1, 0.0) / max(n1 - 1, 1)
    v0 = max(q0 - n0 * m0 * m0, 0.0) / max(n0 - 1, 1)
    pooled = ((n1 - 1) * v1 + (n0 - 1) * v0) / max(n1 + n0 - 2, 1)
    se = math.sqrt(max(v1 / n1 + v0 / n0, pooled * (1 / n1 + 1 / n0)))
    d = m1 - m0
    return Metric(name, m1, m0, d, d - z * se, d + z * se, estimable=min(k1, k0) >= 2)


def lift(
    store: Store,
    *,
    tactic: str | None = None,
    placement: str | None = None,
    window_days: float = 7,
    min_per_arm: int = 100,
    confidence: float = 0.95,
) -> list[LiftRow]:
    """Treated vs holdout per (placement, tactic) from stored decisions and later events.

    A ``tactic`` or ``placement`` no stored decision has is a ConfigError naming the stored ones
    (a typo must not read as "nothing to measure"); with no decisions at all the result is empty.
    """
    from ..errors import ConfigError

    if not window_days > 0:
        raise ConfigError(f"window_days must be more than 0, not {window_days:g}")
    if min_per_arm < 1:
        raise ConfigError(f"min_per_arm must be at least 1, not {min_per_arm}")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be between 0 and 1, not {confidence:g}")
    if tactic or placement:
        _check_filters(store, tactic, placement)
    where, params = [], []
    if tactic:
        where.append("d.tactic = ?")
        params.append(tactic)
    if placement:
        where.append("d.placement = ?")
        params.append(placement)
    horizon = store.con.execute("SELECT max(ts) FROM events").fetchall()[0][0]
    filters = " AND ".join(where)
    decided = f"({_decided(store)}) d"

    def per_tactic(condition: str, args: list[object]) -> dict[tuple[str, str], int]:
        """Decisions per (placement, tactic) meeting ``condition`` (and the filters)."""
        rows = store.con.execute(
            f"SELECT placement, tactic, count(*) FROM {decided} WHERE "
            + (f"{filters} AND " if filters else "")
            + f"{condition} GROUP BY ALL",
            [*params, *args],
        ).fetchall()
        return {(pl, tac): int(n) for pl, tac, n in rows}

    pending = per_tactic("(?::TIMESTAMPTZ IS NULL OR decided_at >= ?)", [horizon, horizon])
    partial = per_tactic(
        "decided_at < ? AND decided_at + to_microseconds(CAST(? * 86400e6 AS BIGINT)) > ?",
        [horizon, window_days, horizon],
    )
    where.append("(?::TIMESTAMPTZ IS NOT NULL AND d.decided_at < ?)")
    params += [horizon, horizon]
    sql = f"""
    WITH d AS (SELECT * FROM {decided} WHERE {" AND ".join(where)}),
    o AS (
        SELECT d.placement, d.tactic, d.holdout, d.profile_id,
               count(*) FILTER (WHERE e.type = 'purchase') > 0 AS conv,
               coalesce(sum(e.value) FILTER (WHERE e.type = 'purchase'), 0) AS revenue,
               count(*) FILTER (WHERE e.type = 'email_unsubscribe') > 0 AS unsub,
               count(*) FILTER (WHERE e.type = 'email_complaint') > 0 AS complaint
        FROM d LEFT JOIN events e ON e.profile_id = d.profile_id AND e.ts > d.decided_at
             AND e.ts <= d.decided_at + to_microseconds(CAST(? * 86400e6 AS BIGINT))
             AND e.type IN ('purchase', 'email_unsubscribe', 'email_complaint')
        GROUP BY ALL)
    SELECT placement, tactic, holdout, count(*), sum(conv::INT), sum(revenue),
        sum(revenue * revenue),
           sum(unsub::INT), sum(complaint::INT), count(*) FILTER (WHERE revenue <> 0)
    FROM o GROUP BY ALL ORDER BY placement, tactic, holdout"""
    rows = store.con.execute(sql, [*params, window_days]).fetchall()
    arms: dict[tuple[str, str], dict[bool, tuple[float, ...]]] = {}
    for pl, tac, hold, *vals in rows:
        arms.setdefault((pl, tac), {})[bool(hold)] = tuple(float(v or 0) for v in vals)
    for key in pending:
        arms.setdefault(key, {})
    z = _z(confidence)
    # Bucketing hashes (id, experiment): placements of one experiment hold out the same people,
    # so each one's difference is the effect of them all together, not of that placement alone.
    shared: dict[str, tuple[str, list[str]]] = {}
    for exp, placements in store.con.execute(
        "SELECT experiment, list(DISTINCT placement ORDER BY placement) FROM decisions "
        "WHERE experiment IS NOT NULL GROUP BY ALL HAVING count(DISTINCT placement) > 1"
    ).fetchall():
        for member in placements:
            shared[member] = (exp, [other for other in placements if other != member])
    out = []
    for (pl, tac), arm in sorted(arms.items()):
        t = arm.get(False, (0.0,) * 7)
        h = arm.get(True, (0.0,) * 7)
        n1, n0 = int(t[0]), int(h[0])
        waiting = pending.get((pl, tac), 0)
        young = partial.get((pl, tac), 0)
        open_note = (
            f"; the {window_days:g}-day window is still open for {young:,} of them (outcomes "
            "so far only)"
            if young
            else ""
        )
        if n1 + n0 == 0 and waiting:
            latest = "there are none"
            if horizon is not None:
                latest = f"the latest is {horizon.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            verdict = (
                f"no outcomes yet: all {waiting:,} decisions are newer than the latest stored "
                f"event ({latest}); import or pull the events that follow them"
            )
            out.append(LiftRow(pl, tac, 0, 0, verdict=verdict, pending=waiting, partial=young))
            continue
        if min(n1, n0) == 0:
            # More people will not help: there is no second arm ("too small" would say wait).
            verdict = (
                f"no holdout to compare with: none of the {n1:,} people decided were held out "
                "(lift needs a placement holdout share above 0)"
                if n0 == 0
                else f"no one treated to compare: all {n0:,} people decided were held out"
            )
            out.append(LiftRow(pl, tac, n1, n0, verdict=verdict, pending=waiting, partial=young))
            continue
        if min(n1, n0) < min_per_arm:
            smaller = "holdout" if n0 <= n1 else "treated group"
            verdict = (
                f"too small to conclude: the {smaller} has {min(n1, n0):,} people; "
                f"at least {min_per_arm:,} per arm are needed"
            )
            out.append(LiftRow(pl, tac, n1, n0, verdict=verdict, pending=waiting, partial=young))
            continue
        metrics = {
            "conversion": _rate(t[1], n1, h[1], n0, z, "conversion"),
            "revenue_per_recipient": _mean(
                t[2], t[3], t[6], n1, h[2], h[3], h[6], n0, z, "revenue_per_recipient"
            ),
            "unsubscribe_rate": _rate(t[4], n1, h[4], n0, z, "unsubscribe_rate"),
            "complaint_rate": _rate(t[5], n1, h[5], n0, z, "complaint_rate"),
        }
        c = metrics["conversion"]
        pct = f"{confidence * 100:.10g}% CI"
        conclusive = c.significant and tac != "default"
        ci = f"{signed(c.low * 100)} to {signed(c.high * 100)}"
        if tac == "default":
            # Treated and holdout both saw the default: an A/A check, never an effect.
            gap = "excludes 0: check bucketing and data" if c.significant else "includes 0"
            verdict = (
                f"baseline (A/A: both arms got the default), {c.diff * 100:+.2f} pp; the {pct} "
                f"({ci}) {gap}"
            )
        elif c.significant:
            verdict = (
                f"conversion {'up' if c.diff > 0 else 'down'} {signed(c.diff * 100)} pp "
                f"({pct} {ci})"
            )
        else:
            verdict = (
                f"no detectable conversion difference: {c.diff * 100:+.2f} pp, the {pct} "
                f"({ci}) includes 0"
            )
            # "No difference" from arms too small to see one is not evidence of none: say the
            # smallest difference these arms would show 80% of the time (pooled rate, normal).
            pooled = (t[1] + h[1]) / (n1 + n0)
            if 0 < pooled < 1:
                power = _z(0.6)  # the normal quantile at 0.8
                mde = (z + power) * math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
                verdict += (
                    f"; these arms would detect a difference of ±{mde * 100:.2f} pp or more "
                    "80% of the time"
                    if mde < 1
                    else "; arms this small would not reliably detect any difference"
                )
        shared_note = ""
        if pl in shared:
            exp, others = shared[pl]
            shared_note = (
                f"; its holdout is shared with placement{'s' if len(others) > 1 else ''} "
                f"{', '.join(others)} (experiment {exp!r}): the difference is their effect "
                "together"
            )
        if tac != "default":
            # More buyers of cheaper things, or buyers driven off the list, are not a plain win:
            # a clear difference in revenue, unsubscribes or complaints is said next to the
            # conversion verdict.
            for name, label, scale, unit in (
                ("revenue_per_recipient", "revenue per recipient", 1, ""),
                ("unsubscribe_rate", "unsubscribes", 100, " pp"),
                ("complaint_rate", "complaints", 100, " pp"),
            ):
                m = metrics[name]
                if m.significant:
                    verdict += (
                        f"; {label} {'up' if m.diff > 0 else 'down'} {signed(m.diff * scale)}"
                        f"{unit} ({pct} {signed(m.low * scale)} to {signed(m.high * scale)})"
                    )
        out.append(
            LiftRow(
                pl,
                tac,
                n1,
                n0,
                metrics,
                verdict + shared_note + open_note,
                conclusive,
                pending=waiting,
                partial=young,
            )
        )
    return out


def _check_filters(store: Store, tactic: str | None, placement: str | None) -> None:
    """ConfigError when a filter value matches no stored decision (and some are stored)."""
    from ..errors import ConfigError

    stored = store.con.execute(
        "SELECT DISTINCT placement, coalesce(tactic, 'default') FROM decisions"
    ).fetchall()
    if not stored:
        return
    placements = sorted({str(pl) for pl, _ in stored})
    if placement and placement not in placements:
        raise ConfigError(
            f"no decisions for placement {placement!r}; stored placements: {', '.join(placements)}"
        )
    tactics = sorted({str(tac) for pl, tac in stored if not placement or pl == placement})
    if tactic and tactic not in tactics:
        where = f" in placement {placement!r}" if placement else ""
        raise ConfigError(
            f"no decisions for tactic {tactic!r}{where}; stored tactics"
            + (" there" if placement else "")
            + ": "
            + ", ".join(tactics)
        )


def plant_lift(
    store: Store,
    *,
    base_rate: float = 0.05,
    uplift: float = 0.03,
    seed: int = 0,
    placement: str | None = None,
    window_days: float = 7,
    mean_order: float = 80.0,
    unsubscribe_rate: float = 0.0,
    tactics: Collection[str] | None = None,
) -> int:
    """Append, for every stored decision, a purchase with probability ``base_rate`` (+ ``uplift``
    when treated, and only for ``tactics`` if given) inside the lift window, seeded; optionally
    unsubscribes. Returns the number of events added.

    Set-based: numpy draws over the decisions table, one Arrow append.
    """
    import numpy as np
    import pyarrow as pa

    if not (0 <= base_rate <= 1 and 0 <= base_rate + uplift <= 1):
        from ..errors import ConfigError

        raise ConfigError("plant_lift: base_rate and base_rate + uplift must be within [0, 1]")
    where = "WHERE placement = ?" if placement else ""
    tbl = store.con.sql(  # the people lift counts: one draw per person and placement
        "SELECT profile_id, holdout, epoch_us(decided_at) AS t, tactic "
        f"FROM ({_decided(store)}) d {where} ORDER BY profile_id, placement",
        params=[placement] if placement else [],
    ).to_arrow_table()
    n = tbl.num_rows
    if n == 0:
        return 0
    rng = np.random.default_rng(seed)
    holdout = tbl.column("holdout").to_numpy(zero_copy_only=False).astype(bool)
    treated = ~holdout
    if tactics is not None:
        tac = tbl.column("tactic").to_numpy(zero_copy_only=False)
        treated &= np.isin(tac, list(tactics))
    p = np.where(treated, base_rate + uplift, base_rate)
    buy = rng.random(n) < p
    unsub = rng.random(n) < unsubscribe_rate
    window_us = window_days * 86400e6
    t0 = tbl.column("t").to_numpy()
    offsets = (rng.uniform(0.01, 0.99, n) * window_us).astype(np.int64)
    values = np.round(rng.lognormal(math.log(mean_order), 0.5, n), 2)
    ids = tbl.column("profile_id").to_numpy(zero_copy_only=False)
    pick = np.concatenate([np.flatnonzero(buy), np.flatnonzero(unsub)])
    types = ["purchase"] * int(buy.sum()) + ["email_unsubscribe"] * int(unsub.sum())
    events = pa.table(
        {
            "profile_id": pa.array(ids[pick], pa.string()),
            "type": pa.array(types, pa.string()),
            "item_id": pa.nulls(len(pick), pa.string()),
            "ts": pa.array(t0[pick] + offsets[pick], pa.timestamp("us", tz="UTC")),
            "value": pa.array(values[pick], pa.float64(), mask=np.arange(len(pick)) >= buy.sum()),
            "properties": pa.array(['{"planted": true}'] * len(pick), pa.string()),
        }
    )
    return store.append_events(events)
