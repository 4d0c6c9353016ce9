"""The built-in computed traits, each one SELECT over ``events`` / ``profiles``.

Purchases are ``purchase`` events of stored profiles; an order's value is the event's ``value``
(an order without one counts as an order, with no revenue and outside the average order value).
Only events at or before ``as_of`` count. The methods, so a marketer can check what a number
means:

**RFM scores** (``recency_score``, ``frequency_score``, ``monetary_score``; purchasers only):
quintile scores 1-5 from each purchaser's last purchase time (more recent = higher), order count
and total revenue: ``score = 1 + min(4, floor(5 x percent_rank))`` over all purchasers. Ties
share a score (so when most people bought once, they all get F=1 and the next group jumps up).

**RFM segment** (``rfm_segment``): from R and FM = round-half-up((F + M) / 2), first match wins:

============ ============ ======================
R            FM           rfm_segment
============ ============ ======================
4-5          4-5          champions
3-5          3-5          loyal
4-5          2            potential_loyalist
4-5          1            new_customers
3            2            need_attention
3            1            about_to_sleep
1-2          5            cant_lose
1-2          3-4          at_risk
2            1-2          hibernating
1            1-2          lost
============ ============ ======================

**Historic CLV** (``historic_clv``): total purchase value so far (0 for non-purchasers).

**Churn risk** (``churn_risk``, purchasers only, 0-1): with ``g`` the customer's mean days
between orders (``(last - first) / (orders - 1)``, at least ``min_gap_days``; for one-order
customers the median ``g`` of repeat customers, else ``default_gap_days``) and ``r`` the days
since the last order, ``churn_risk = 1 - exp(-max(0, r - g) / g)``: zero while the customer is
within their usual gap, 0.63 one gap overdue, 0.86 two gaps overdue.

**Predicted CLV** (``predicted_clv``): average order value (of the orders with a value) x
expected orders over the horizon (``clv_horizon_days / g``) x (1 - churn_risk). 0 for
non-purchasers. A deliberately simple, explainable model (a BG/NBD fit would be the next step),
not a forecast to bet the budget on.

**CLV tier** (``clv_tier``, purchasers only): by historic + predicted CLV among purchasers:
top 10 % ``top``, next 20 % ``high``, next 40 % ``medium``, the rest ``low``.

**Lifecycle stage** (``lifecycle_stage``): ``prospect`` (never purchased); ``new`` (one order,
at most ``new_days`` ago); ``active`` (last purchase at most ``active_days`` ago); ``lapsing``
(at most ``lapsing_days``); ``lapsed`` (longer ago). Days are whole days, as
``days_since_purchase`` counts them, so ``active`` is exactly ``days_since_purchase <=
active_days``. Frequency enters through the first purchase: a repeat buyer is never ``new``,
however recent their last order.

**Purchaser flags**: ``purchaser`` (bought at least once), ``first_time_purchaser`` (exactly
one order), ``order_count``, ``days_since_purchase`` (whole days since the last purchase,
rounded down: 0 = within the last 24 hours; ``days_since_purchase < 30`` is a purchase in
``window: last 30 days``).

**Email openers** (``email_opener``): ``active`` (opened an email within ``opener_days``),
``inactive`` (was sent or opened email before, but opened none in that window), ``unreached``
(no email sent or opened, ever). A click counts as an open, as ESPs count it: the open pixel
of a clicked email may never have loaded (images blocked).

**Engagement score** (``engagement_score``, 0-100, every profile): events within
``engagement_days`` weighted by type (purchase 5, add_to_cart 3, email_click 2, email_open 1,
session_start 1, view 0.5, search 0.5, email_unsubscribe -5) and halved every
``engagement_half_life_days``; score = round(100 x (1 - exp(-max(0, sum) / engagement_scale))).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from martech.segments.traits import SqlTrait, TraitParams, days_ago, ts_literal

RFM_SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new_customers",
    "need_attention",
    "about_to_sleep",
    "cant_lose",
    "at_risk",
    "hibernating",
    "lost",
)
LIFECYCLE_STAGES: tuple[str, ...] = ("prospect", "new", "active", "lapsing", "lapsed")
CLV_TIERS: tuple[str, ...] = ("top", "high", "medium", "low")
OPENER_STATES: tuple[str, ...] = ("active", "inactive", "unreached")


def _days_before(as_of: datetime, days: int) -> str:
    """``as_of`` minus whole 24-hour days, as a literal: ``- INTERVAL n DAY`` would be calendar
    days in the session's time zone (89 days 23 hours across a DST change on a Berlin machine),
    where a segment's ``window: last n days`` is exact."""
    return ts_literal(as_of - timedelta(days=days))


def _purchases(as_of: datetime) -> str:
    return (
        "SELECT profile_id, count(*) AS orders, coalesce(sum(value), 0) AS revenue, "
        "count(value) AS valued, "
        "min(ts) AS first_ts, max(ts) AS last_ts FROM events "
        f"WHERE type = 'purchase' AND ts <= {ts_literal(as_of)} "
        # an id no profile has (events loaded first, a deleted profile) is no one's purchase
        "AND profile_id IN (SELECT id FROM profiles) GROUP BY profile_id"
    )


def _scores(as_of: datetime) -> str:
    def score(column: str) -> str:
        return f"(1 + least(4, floor(5 * percent_rank() OVER (ORDER BY {column}))))::INTEGER"

    return (
        f"WITH p AS ({_purchases(as_of)}), s AS (SELECT profile_id, orders, revenue, last_ts, "
        f"{score('last_ts')} AS r, {score('orders')} AS f, {score('revenue')} AS m FROM p)"
    )


def _score_trait(letter: str, name: str, meaning: str) -> SqlTrait:
    return SqlTrait(
        name=name,
        description=f"RFM {meaning} quintile score 1-5 among purchasers (5 = best).",
        kind="integer",
        build=lambda as_of, _p: f"{_scores(as_of)} SELECT profile_id, {letter} AS value FROM s",
    )


def _rfm_segment(as_of: datetime, _params: TraitParams) -> str:
    return f"""{_scores(as_of)}, g AS (SELECT profile_id, r, (f + m + 1) // 2 AS fm FROM s)
        SELECT profile_id, CASE
            WHEN r >= 4 AND fm >= 4 THEN 'champions'
            WHEN r >= 3 AND fm >= 3 THEN 'loyal'
            WHEN r >= 4 AND fm = 2 THEN 'potential_loyalist'
            WHEN r >= 4 THEN 'new_customers'
            WHEN r = 3 AND fm = 2 THEN 'need_attention'
            WHEN r = 3 THEN 'about_to_sleep'
            WHEN fm = 5 THEN 'cant_lose'
            WHEN fm >= 3 THEN 'at_risk'
            WHEN r = 2 THEN 'hibernating'
            ELSE 'lost' END AS value
        FROM g"""


def _rfm_score(as_of: datetime, _params: TraitParams) -> str:
    return f"{_scores(as_of)} SELECT profile_id, printf('%d%d%d', r, f, m) AS value FROM s"


def _clv_base(as_of: datetime, params: TraitParams) -> str:
    """purchasers with gap g (days), recency r (days), aov, churn risk and predicted CLV."""
    span = "(epoch(last_ts) - epoch(first_ts)) / 86400.0 / (orders - 1)"
    return f"""WITH p AS ({_purchases(as_of)}),
        prior AS (SELECT coalesce(median(greatest({params.min_gap_days}, {span})),
                                  {params.default_gap_days}) AS g
                  FROM p WHERE orders >= 2),
        b AS (SELECT p.profile_id, p.orders, p.revenue,
                     coalesce(p.revenue / nullif(p.valued, 0), 0) AS aov,
                     CASE WHEN p.orders >= 2 THEN greatest({params.min_gap_days}, {span})
                          ELSE prior.g END AS g,
                     greatest(0, {days_ago("p.last_ts", as_of)}) AS r
              FROM p, prior),
        c AS (SELECT *, 1 - exp(-greatest(0, r - g) / g) AS risk FROM b),
        v AS (SELECT *, aov * ({params.clv_horizon_days} / g) * (1 - risk) AS predicted FROM c)"""


def _historic_clv(as_of: datetime, _params: TraitParams) -> str:
    return (
        f"WITH p AS ({_purchases(as_of)}) SELECT pr.id AS profile_id, "
        "round(coalesce(p.revenue, 0), 2) AS value FROM profiles pr "
        "LEFT JOIN p ON p.profile_id = pr.id"
    )


def _predicted_clv(as_of: datetime, params: TraitParams) -> str:
    return (
        f"{_clv_base(as_of, params)} SELECT pr.id AS profile_id, "
        "round(coalesce(v.predicted, 0), 2) AS value FROM profiles pr "
        "LEFT JOIN v ON v.profile_id = pr.id"
    )


def _churn_risk(as_of: datetime, params: TraitParams) -> str:
    return f"{_clv_base(as_of, params)} SELECT profile_id, round(risk, 3) AS value FROM v"


def _clv_tier(as_of: datetime, params: TraitParams) -> str:
    return f"""{_clv_base(as_of, params)},
        t AS (SELECT profile_id, percent_rank() OVER (ORDER BY revenue + predicted) AS pr FROM v)
        SELECT profile_id, CASE WHEN pr >= 0.9 THEN 'top' WHEN pr >= 0.7 THEN 'high'
                                WHEN pr >= 0.3 THEN 'medium' ELSE 'low' END AS value
        FROM t"""


def _lifecycle(as_of: datetime, params: TraitParams) -> str:
    # Whole days, as days_since_purchase counts them: 90.5 days ago is 90 days, still active.
    first, last = (f"floor({days_ago(c, as_of)})" for c in ("p.first_ts", "p.last_ts"))
    return f"""WITH p AS ({_purchases(as_of)})
        SELECT pr.id AS profile_id, CASE
            WHEN p.profile_id IS NULL THEN 'prospect'
            WHEN p.orders = 1 AND {first} <= {params.new_days} THEN 'new'
            WHEN {last} <= {params.active_days} THEN 'active'
            WHEN {last} <= {params.lapsing_days} THEN 'lapsing'
            ELSE 'lapsed' END AS value
        FROM profiles pr LEFT JOIN p ON p.profile_id = pr.id"""


def _purchaser(as_of: datetime, _params: TraitParams) -> str:
    return (
        f"WITH p AS ({_purchases(as_of)}) SELECT pr.id AS profile_id, "
        "p.profile_id IS NOT NULL AS value FROM profiles pr LEFT JOIN p ON p.profile_id = pr.id"
    )


def _first_time(as_of: datetime, _params: TraitParams) -> str:
    return (
        f"WITH p AS ({_purchases(as_of)}) SELECT pr.id AS profile_id, "
        "coalesce(p.orders = 1, false) AS value FROM profiles pr "
        "LEFT JOIN p ON p.profile_id = pr.id"
    )


def _order_count(as_of: datetime, _params: TraitParams) -> str:
    return (
        f"WITH p AS ({_purchases(as_of)}) SELECT pr.id AS profile_id, "
        "coalesce(p.orders, 0)::INTEGER AS value FROM profiles pr "
        "LEFT JOIN p ON p.profile_id = pr.id"
    )


def _days_since_purchase(as_of: datetime, _params: TraitParams) -> str:
    return (
        f"WITH p AS ({_purchases(as_of)}) SELECT profile_id, "
        f"floor(greatest(0, {days_ago('last_ts', as_of)}))::INTEGER AS value FROM p"
    )


def _email_opener(as_of: datetime, params: TraitParams) -> str:
    at = ts_literal(as_of)
    return f"""WITH e AS (
            SELECT profile_id,
                   count(*) FILTER (WHERE type IN ('email_open', 'email_click')
                       AND ts > {_days_before(as_of, params.opener_days)}) AS opens,
                   count(*) AS touches
            FROM events WHERE type IN ('email_open', 'email_click', 'email_send') AND ts <= {at}
            GROUP BY profile_id)
        SELECT pr.id AS profile_id, CASE WHEN e.opens > 0 THEN 'active'
                                         WHEN e.touches > 0 THEN 'inactive'
                                         ELSE 'unreached' END AS value
        FROM profiles pr LEFT JOIN e ON e.profile_id = pr.id"""


ENGAGEMENT_WEIGHTS: dict[str, float] = {
    "purchase": 5.0,
    "add_to_cart": 3.0,
    "email_click": 2.0,
    "email_open": 1.0,
    "session_start": 1.0,
    "view": 0.5,
    "search": 0.5,
    "email_unsubscribe": -5.0,
}


def _engagement(as_of: datetime, params: TraitParams) -> str:
    at = ts_literal(as_of)
    weights = " ".join(f"WHEN '{t}' THEN {w}" for t, w in ENGAGEMENT_WEIGHTS.items())
    types = ", ".join(f"'{t}'" for t in ENGAGEMENT_WEIGHTS)
    return f"""WITH e AS (
            SELECT profile_id, sum((CASE type {weights} ELSE 0 END)
                   * pow(0.5, {days_ago("ts", as_of)} / {params.engagement_half_life_days})) AS raw
            FROM events
            WHERE type IN ({types}) AND ts <= {at}
              AND ts > {_days_before(as_of, params.engagement_days)}
            GROUP BY profile_id)
        SELECT pr.id AS profile_id,
               round(100 * (1 - exp(-greatest(0, coalesce(e.raw, 0))
                                    / {params.engagement_scale})))::INTEGER AS value
        FROM profiles pr LEFT JOIN e ON e.profile_id = pr.id"""


BUILTIN_TRAITS: tuple[SqlTrait, ...] = (
    _score_trait("r", "recency_score", "recency"),
    _score_trait("f", "frequency_score", "frequency"),
    _score_trait("m", "monetary_score", "monetary"),
    SqlTrait(
        name="rfm_score",
        description="R, F and M scores as three digits, e.g. '545' (purchasers only).",
        kind="string",
        build=_rfm_score,
    ),
    SqlTrait(
        name="rfm_segment",
        description="Named RFM segment (champions, loyal, at_risk, …; purchasers only).",
        kind="string",
        build=_rfm_segment,
        values=RFM_SEGMENTS,
    ),
    SqlTrait(
        name="historic_clv",
        description="Total purchase value so far (0 for non-purchasers).",
        kind="number",
        build=_historic_clv,
    ),
    SqlTrait(
        name="predicted_clv",
        description="AOV x expected orders over the horizon x (1 - churn_risk).",
        kind="number",
        build=_predicted_clv,
    ),
    SqlTrait(
        name="clv_tier",
        description="top / high / medium / low by historic + predicted CLV (purchasers only).",
        kind="string",
        build=_clv_tier,
        values=CLV_TIERS,
    ),
    SqlTrait(
        name="churn_risk",
        description="0-1: how overdue the next order is, in units of the usual gap.",
        kind="number",
        build=_churn_risk,
    ),
    SqlTrait(
        name="lifecycle_stage",
        description="prospect / new / active / lapsing / lapsed from purchase recency.",
        kind="string",
        build=_lifecycle,
        values=LIFECYCLE_STAGES,
    ),
    SqlTrait(
        name="purchaser",
        description="Bought at least once.",
        kind="boolean",
        build=_purchaser,
    ),
    SqlTrait(
        name="first_time_purchaser",
        description="Exactly one order so far.",
        kind="boolean",
        build=_first_time,
    ),
    SqlTrait(
        name="order_count",
        description="Number of purchases so far.",
        kind="integer",
        build=_order_count,
    ),
    SqlTrait(
        name="days_since_purchase",
        description="Whole days since the last purchase (purchasers only).",
        kind="integer",
        build=_days_since_purchase,
    ),
    SqlTrait(
        name="email_opener",
        description="active (opened within the window) / inactive (sent, no opens) / unreached.",
        kind="string",
        build=_email_opener,
        values=OPENER_STATES,
    ),
    SqlTrait(
        name="engagement_score",
        description="0-100 from recent, recency-weighted activity.",
        kind="integer",
        build=_engagement,
    ),
)
