"""Strategies: what picks the content at each level of the fallback chain.

A strategy declares the ``level`` it delivers, what data it needs (``requires``, and the parameter
``min_events`` where behaviour is needed) and implements the same choice twice, on purpose:

- ``choose(person, rule, params, env)`` for one person in Python (the fast single-profile path), and
- ``sql(rule, params, env)`` for everyone at once in DuckDB (the batch path),

returning the same ranked items. ``tests/personalize/test_batch.py`` checks the two agree.

Individual strategies (level personalization) read the person's own events: co-occurrence
recommendations, browse and cart abandonment, post-purchase follow-up, order-confirmation
cross-sell/upsell and "because you viewed X". ``cell`` (micro-segment) matches several attributes
at once; ``segment`` matches segment membership or one coarse trait (lifecycle stage, RFM tier,
CLV tier); ``default`` always answers. A strategy that cannot answer returns :class:`Miss` with the
reason, and the chain falls back.

``choose`` returns *all* the ranked candidates; the decision step drops items that are not in the
catalogue (with a reason) and keeps as many as the variant has slots. The built-in ``sql`` methods
do that themselves (``sql_keeps_slots``): they keep catalogue items only and at most ``env.slots``
per person, so a million people never carry their whole candidate lists around.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .._sql import sql_str
from ..errors import ConfigError
from ..models import DecisionLevel, Event

if TYPE_CHECKING:
    from .placements import Rule

BEHAVIOUR = frozenset({"view", "add_to_cart", "purchase"})
#: Time parameters go back (or ahead) a century at most: further, ``now - window`` leaves the
#: calendar (OverflowError in Python, a conversion error in DuckDB) instead of meaning "ever".
TIME_LIMITS: Mapping[str, float] = {
    "window_days": 36_500,
    "review_after_days": 36_500,
    "min_age_hours": 36_500 * 24,
    "order_minutes": 36_500 * 24 * 60,
}


@dataclass(frozen=True, slots=True)
class Pick:
    """A strategy's answer: ranked items (empty for rule strategies), why, and a caption that a
    recommendation template may show as ``{{reason}}``."""

    items: tuple[str, ...] = ()
    reason: str = ""
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Miss:
    """The strategy cannot answer for this person; ``reason`` says what data was missing."""

    reason: str


class Env(Protocol):
    """What strategies read besides the person: the catalogue, neighbours, segments, the clock."""

    now: datetime
    catalogue: Mapping[str, tuple[str, str | None, float | None]]
    neighbours: Mapping[str, tuple[tuple[str, int], ...]]
    memberships: Mapping[str, frozenset[str]]


class SqlEnv(Protocol):
    """What a strategy's SQL may reference (temp tables the batch path creates):

    ``_scope(profile_id, pid)`` everyone decided, ``pid`` a dense INTEGER key for fast joins;
    ``_beh(profile_id, pid, type, item_id, ts)`` behaviour up to now; ``_nbeh(profile_id, pid,
    n)``; ``_nb(item_id, neighbour_id, score, rank)``; ``_cat(item_id, name, category, price)``;
    ``_tw(profile_id, <trait columns>)``; ``_members(segment_key, profile_id)``. ``_beh`` and
    ``_nbeh`` exist only when the chain has a personalization step.
    """

    def ts(self, value: datetime) -> str: ...
    def col(self, trait: str) -> str: ...

    @property
    def now(self) -> datetime: ...

    @property
    def slots(self) -> int | None:
        """The variant's slots when the step shows recommended items, else None (items unused)."""
        ...


class PersonView:
    """One person's data, digested once per decision: traits, behaviour counts, last times."""

    __slots__ = (
        "_built",
        "_events",
        "_now",
        "buys",
        "carts",
        "id",
        "last_buy",
        "n_behaviour",
        "traits",
        "views",
    )

    def __init__(
        self, profile_id: str, traits: Mapping[str, Any], events: Iterable[Event], now: datetime
    ) -> None:
        self.id = profile_id
        self.traits = traits
        self._events = events
        self._now = now
        self._built = False

    def build(self) -> PersonView:
        if self._built:
            return self
        n = 0
        views: dict[str, datetime] = {}
        carts: dict[str, datetime] = {}
        buys: dict[str, datetime] = {}
        now = self._now
        for e in self._events:
            if e.type not in BEHAVIOUR or e.ts > now:
                continue
            n += 1
            item = e.item_id
            if item is None:
                continue
            d = views if e.type == "view" else carts if e.type == "add_to_cart" else buys
            prev = d.get(item)
            if prev is None or e.ts > prev:
                d[item] = e.ts
        self.n_behaviour, self.views, self.carts, self.buys = n, views, carts, buys
        self._built = True
        return self


def recent_first(stamps: Mapping[str, datetime]) -> list[str]:
    """Item ids by time descending, ties by item id ascending (the SQL order)."""
    by_item = sorted(stamps)
    return sorted(by_item, key=stamps.__getitem__, reverse=True)


def _text(value: Any) -> str | None:
    """A trait value as DuckDB's json_extract_string would give it (so both paths compare alike)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        return _float_text(value)
    return _json_text(value)


def _float_text(value: float) -> str | None:
    """A float as DuckDB (yyjson) writes it: the shortest round-trip digits, in fixed notation
    for decimal exponents -6..20 (``0.000001``, ``100000000000000000000.0``), else ``1e-7`` /
    ``1.5e300``. Python's ``repr`` switches at other exponents (``1e-07``, ``1e+16``), so a
    float trait matched a rule or filled a template differently in decide and decide_batch.
    NaN and infinities are stored as JSON null, so they read as no value."""
    if not math.isfinite(value):
        return None
    from decimal import Decimal

    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits)).rstrip("0") or "0"
    exponent += len(digits) - len(text)
    e10 = len(text) - 1 + exponent  # the decimal exponent of the leading digit
    minus = "-" if sign else ""
    if text == "0":
        return f"{minus}0.0"
    if -6 <= e10 <= 20:
        fixed = format(Decimal(f"{minus}{text}e{exponent}"), "f")
        return fixed if "." in fixed else fixed + ".0"
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{minus}{mantissa}e{e10}"


def _json_text(value: Any) -> str:
    """A list or mapping as compact JSON with floats written as :func:`_float_text` does."""
    import orjson

    if value is None:
        return "null"
    if isinstance(value, float):
        return _float_text(value) or "null"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{"
            + ",".join(
                orjson.dumps(str(k)).decode() + ":" + _json_text(v) for k, v in value.items()
            )
            + "}"
        )
    return orjson.dumps(value).decode()


def accepted(value: Any) -> frozenset[str]:
    """A rule value (scalar or list of alternatives) as the set of accepted texts."""
    values = value if isinstance(value, list) else [value]
    return frozenset(t for t in (_text(v) for v in values) if t is not None)


def sql_in(values: Iterable[str]) -> str:
    return "(" + ", ".join(sql_str(v) for v in sorted(values)) + ")"


def _in_catalogue(env: SqlEnv, column: str) -> str:
    """``AND column in the catalogue`` when the step shows items (decide drops the others)."""
    return f"AND {column} IN (SELECT item_id FROM _cat)" if env.slots else ""


def _keep(env: SqlEnv) -> str:
    """A list slice keeping the variant's slots (all when the step shows no items)."""
    return f"[1:{env.slots}]" if env.slots else ""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for a close spelling among ``choices``, else ``""``."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _name(env: Env, item: str) -> str:
    entry = env.catalogue.get(item)
    return entry[0] if entry and entry[0] else item


def _ago(now: datetime, then: datetime) -> str:
    hours = (now - then).total_seconds() / 3600
    if hours < 48:
        return f"{max(int(hours), 0)} h ago"
    return f"{int(hours // 24)} days ago"


# ---------------------------------------------------------------------------------------- base


class Strategy:
    """Base class; subclasses set the class attributes and implement ``choose`` and ``sql``."""

    name: ClassVar[str]
    level: ClassVar[DecisionLevel]
    requires: ClassVar[str] = ""
    #: Parameters a rule may set, with their defaults.
    defaults: ClassVar[Mapping[str, float]] = {}
    #: True when ``sql`` already keeps catalogue items only and at most ``env.slots`` of them, so
    #: the batch path takes its lists as they are; otherwise it filters and trims them itself.
    sql_keeps_slots: ClassVar[bool] = False

    def param_problem(self, params: Mapping[str, Any]) -> tuple[str, str] | None:
        """The first parameter this strategy would refuse, as ``(name, why)``; None if all fit.

        Placements call it at load time, so a typo is named with its file and field path.
        """
        for key in sorted(params):
            if key not in self.defaults:
                known = ", ".join(sorted(self.defaults)) or "none"
                return key, (
                    f"unknown parameter {key!r} for strategy {self.name!r}; expected one of "
                    f"{known}{did_you_mean(key, self.defaults)}"
                )
            value = params[key]
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                return key, (
                    f"parameter {key!r} of strategy {self.name!r} must be a number >= 0, "
                    f"got {value!r}"
                )
            most = TIME_LIMITS.get(key)
            if most is not None and value > most:
                return key, (
                    f"parameter {key!r} of strategy {self.name!r} is at most {most:g} (a "
                    f"century), got {value:g}"
                )
        return None

    def params(self, rule: Rule) -> dict[str, float]:
        problem = self.param_problem(rule.params)
        if problem is not None:
            raise ConfigError(problem[1])
        out = dict(self.defaults)
        for key, value in rule.params.items():
            assert isinstance(value, int | float)  # param_problem checked it
            out[key] = float(value)
        return out

    def choose(
        self, person: PersonView, rule: Rule, params: Mapping[str, float], env: Env
    ) -> Pick | Miss:
        raise NotImplementedError

    def sql(self, rule: Rule, params: Mapping[str, float], env: SqlEnv) -> str:
        """A SELECT of ``profile_id, items VARCHAR[], reason VARCHAR, caption VARCHAR``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<strategy {self.name} ({self.level.value})>"


class Individual(Strategy):
    """Base of the personalization strategies: they need the person's own behaviour."""

    level = DecisionLevel.personalization
    sql_keeps_slots = True

    def enough(self, person: PersonView, params: Mapping[str, float]) -> Miss | None:
        need = int(params.get("min_events", 1))
        if person.n_behaviour < need:
            return Miss(
                f"{person.n_behaviour} behavioural event(s) (view, add_to_cart, purchase); "
                f"{self.name} needs at least {need}"
            )
        return None

    def having(self, params: Mapping[str, float]) -> str:
        return f"JOIN _nbeh USING (profile_id) WHERE _nbeh.n >= {int(params.get('min_events', 1))}"


# -------------------------------------------------------------------------- individual strategies


class CoOccurrence(Individual):
    """Items people co-interact with, scored from this person's recent views and purchases."""

    name = "co_occurrence"
    requires = "min_events behavioural events and at least one co-occurrence neighbour"
    defaults = {"min_events": 3, "seeds": 10}

    def choose(
        self, person: PersonView, rule: Rule, params: Mapping[str, float], env: Env
    ) -> Pick | Miss:
        miss = self.enough(person, params)
        if miss:
            return miss
        seen = dict(person.views)
        for item, ts in person.buys.items():
            if item not in seen or ts > seen[item]:
                seen[item] = ts
        seeds = recent_first(seen)[: int(params["seeds"])]
        scores: dict[str, int] = {}
        bought = person.buys
        for seed in seeds:
            for nb, score in env.neighbours.get(seed, ()):
                if nb not in bought:
                    scores[nb] = scores.get(nb, 0) + score
        if not scores:
            return Miss(
                f"no co-occurrence neighbours for the {len(seeds)} item(s) viewed or bought"
            )
        ranked = sorted(sorted(scores), key=scores.__getitem__, reverse=True)
        return Pick(
            tuple(ranked),
            f"co-occurrence: ranked from the {len(seeds)} item(s) you viewed or bought "
            "most recently",
            "Picked for you",
        )

    def sql(self, rule: Rule, params: Mapping[str, float], env: SqlEnv) -> str:
        # Items become dense INTEGER ordinals (in item id order, so ordinal ties break as item ids
        # do) and people their ``pid``: the ~60 (person, neighbour) pairs per person are summed on
        # two integers and only the best ``slots`` per person are kept (max_by with a count).
        # Bought items join the same sum as an odd 1 (pair scores count double): an odd sum is a
        # bought item, so no anti join of the pairs is needed.
        keep = env.slots or 1  # without slots the items are not shown: one proves an answer
        seeds = int(params["seeds"])
        return f"""
        WITH ids AS (SELECT item_id, (row_number() OVER (ORDER BY item_id))::INTEGER AS o
            FROM (SELECT item_id FROM _nb UNION SELECT neighbour_id FROM _nb)),
        nbi AS (SELECT a.o AS seed, b.o AS nb, n.score FROM _nb n
            JOIN ids a ON a.item_id = n.item_id JOIN ids b ON b.item_id = n.neighbour_id
            WHERE TRUE {_in_catalogue(env, "n.neighbour_id")}),
        seen AS (
            SELECT pid, item_id, max(ts) AS ts FROM _beh JOIN _nbeh USING (pid)
            WHERE type IN ('view', 'purchase') AND item_id IS NOT NULL
              AND _nbeh.n >= {int(params.get("min_events", 1))} GROUP BY ALL),
        seeds AS (SELECT pid, ids.o FROM seen LEFT JOIN ids USING (item_id)
            QUALIFY row_number() OVER (PARTITION BY pid ORDER BY ts DESC, item_id) <= {seeds}),
        pairs AS (
            SELECT s.pid, n.nb, 2 * n.score AS v FROM seeds s JOIN nbi n ON n.seed = s.o
            UNION ALL
            SELECT DISTINCT b.pid, ids.o, 1 FROM _beh b JOIN ids USING (item_id)
            WHERE b.type = 'purchase'),
        scored AS (SELECT pid, nb, sum(v)::BIGINT AS v FROM pairs
            GROUP BY ALL HAVING sum(v)::BIGINT % 2 = 0),
        top AS (SELECT pid, max_by(ids.item_id, {{'v': v, 'o': -nb}}, {keep}) AS items
            FROM scored JOIN ids ON ids.o = scored.nb GROUP BY pid),
        nseeds AS (SELECT pid, least(count(*), {seeds}) AS k FROM seen GROUP BY pid)
        SELECT _nbeh.profile_id, top.items,
               'co-occurrence: ranked from the ' || nseeds.k
                 || ' item(s) you viewed or bought most recently' AS reason,
               'Picked for you' AS caption
        FROM top JOIN nseeds USING (pid) JOIN _nbeh USING (pid)"""


class BrowseAbandonment(Individual):
    """Items viewed within the window and not bought since the last view."""

    name = "browse_abandonment"
    requires = "a view within window_days of an item not bought since"
    defaults = {"min_events": 1, "window_days": 2}

    def choose(
        self, person: PersonView, rule: Rule, params: Mapping[str, float], env: Env
    ) -> Pick | Miss:
        miss = self.enough(person, params)
        if miss:
            return miss
        since = env.now - timedelta(days=params["window_days"])
        cands = {
            item: ts
            for item, ts in person.views.items()
            if ts >= since and (person.buys.get(item) is None or person.buys[item] < ts)
        }
        if not cands:
            return Miss(
                f"nothing viewed in the last {params['window_days']:g} day(s) without buying it"
            )
        items = recent_first(cands)
        return Pick(
            tuple(items),
            f"browse abandonment: viewed {_name(env, items[0])} {_ago(env.now, cands[items[0]])} "
            f"(+{len(items) - 1} more), not bought",
            "Still thinking about these?",
        )

    def sql(self, rule: Rule, params: Mapping[str, float], env: SqlEnv) -> str:
        since = env.ts(env.now - timedelta(days=params["window_days"]))
        return f"""
        WITH v AS (SELECT profile_id, item_id, max(ts) AS ts FROM _beh
                   WHERE type = 'view' AND item_id IS NOT NULL GROUP BY ALL),
        b AS (SELECT profile_id, item_id, max(ts) AS ts FROM _beh
              WHERE type = 'purchase' AND item_id IS NOT NULL GROUP BY ALL),
        c AS (SELECT v.profile_id, v.item_id, v.ts FROM v LEFT JOIN b
              ON b.profile_id = v.profile_id AND b.item_id = v.item_id
              WHERE v.ts >= {since} AND (b.ts IS NULL OR b.ts < v.ts)
                {_in_catalogue(env, "v.item_id")})
        SELECT profile_id, list(item_id ORDER BY ts DESC, item_id){_keep(env)} AS items,
               'browse abandonment: ' || count(*) || ' item(s) viewed and not bought' AS reason,
               'Still thinking about these?' AS caption
        FROM c {self.having(params)} GROUP BY profile_id"""


class CartAbandonment(Individual):
    """Items added to the cart in the window (at least min_age_hours ago), not bought since."""

    name = "cart_abandonment"
    requires = "an add_to_cart within window_days, older than min_age_hours, not bought since"
    defaults = {"min_events": 1, "window_days": 3, "min_age_hours": 1}

    def _bounds(self, now: datetime, params: Mapping[str, float]) -> tuple[datetime, datetime]:
        return now - timedelta(days=params["window_days"]), now - timedelta(
            hours=params["min_age_hours"]
        )

    def choose(
        self, person: PersonView, rule: Rule, params: Mapping[str, float], env: Env
    ) -> Pick | Miss:
        miss = self.enough(person, params)
        if miss:
            return miss
        lo, hi = self._bounds(env.now, params)
        cands = {
            item: ts
            for item, ts in person.carts.items()
            if lo <= ts <= hi and (person.buys.get(item) is None or person.buys[item] < ts)
        }
        if not cands:
            bought = [
                i
                for i, ts in person.carts.items()
                if lo <= ts and i in person.buys and person.buys[i] >= ts
            ]
            extra = f" ({len(bought)} carted item(s) bought since)" if bought else ""
            return Miss(f"no cart left behind in the last {params['window_days']:g} day(s){extra}")
        items = recent_first(cands)
        return Pick(
            tuple(items),
            f"cart abandonment: {_name(env, items[0])} added to the cart "
            f"{_ago(env.now, cands[items[0]])}, nothing bought since",
            "You left these in your cart",
        )

    def sql(self, rule: Rule, params: Mapping[str, float], env: SqlEnv) -> str:
        lo, hi = (env.ts(t) for t in self._bounds(env.now, params))
        return f"""
        WITH a AS (SELECT profile_id, item_id, max(ts) AS ts FROM _beh
                   WHERE type = 'add_to_cart' AND item_id IS NOT NULL GROUP BY ALL),
        b AS (SELECT profile_id, item_id, max(ts) AS ts FROM _beh
              WHERE type = 'purchase' AND item_id IS NOT NULL GROUP BY ALL),
        c AS (SELECT a.profile_id, a.item_id, a.ts FROM a LEFT JOIN b
              ON b.profile_id = a.profile_id AND b.item_id = a.item_id
              WHERE a.ts BETWEEN {lo} AND {hi} AND (b.ts IS NULL OR b.ts < a.ts)
                {_in_catalogue(env, "a.item_id")})
        SELECT profile_id, list(item_id ORDER BY ts DESC, item_id){_keep(env)} AS items,
               'cart abandonment: ' || count(*)
                   || ' item(s) left in the cart, nothing bought since' AS reason,
               'You left these in your cart' AS caption
        FROM c {self.having(params)} GROUP BY profile_id"""


#: The seed item's catalogue name, else its id (an empty name too, as ``_name`` in Python).
_SEED_NAME = "coalesce(nullif(any_value(k.name), ''), any_value(c.seed))"


def _last(stamps: Mapping[str, datetime]) -> str | None:
    ordered = recent_first(stamps)
    return ordered[0] if ordered else None


def _last_sql(event_type: str) -> str:
    # ORDER BY ts DESC, item_id: the first row per profile.
    return f"""SELECT profile_id, item_id, ts FROM (
            SELECT profile_id, item_id, ts, row_number() OVER (
                PARTITION BY pid ORDER BY ts DESC, item_id) AS rn
            FROM _beh WHERE type = '{event_type}' AND item_id IS NOT NULL) WHERE rn = 1"""


class PostPurchase(Individual):
    """After a purchase: related items, care content for its category, review request timing."""

    name = "post_purchase"
    requires = "a purchase within window_days with co-occurrence neighbours"
    defaults = {"min_events": 1, "window_days": 30, "review_after_days": 7}

    def choose(
        self, person: PersonView, rule: Rule, params: Mapping[str, float], env: Env
    ) -> Pick | Miss:
        miss = self.enough(person, params)
        if miss:
            return miss
        last = _last(person.buys)
        if last is None or person.buys[last] < env.now - timedelta(days=params["window_days"]):
            return Miss(f"no purchase in the last {params['window_days']:g} day(s)")
        items = [nb for nb, _ in env.neighbours.get(last, ()) if nb not in person.buys]
        if not items:
            return Miss(f"no related items for {_name(env, last)}")
        ts = person.buys[last]
        due = ts + timedelta(days=params["review_after_days"])
        days = math.ceil((due - env.now).total_seconds() / 86400)
        when = "due now" if due <= env.now else f"due in {days} day(s)"
        category = (env.catalogue.get(last) or ("", None, None))[1] or "this item"
        return Pick(
            tuple(items),
            f"post-purchase: bought {_name(env, last)} {_ago(env.now, ts)}; care tips for "
            f"{category}; review request {when}",
            f"Goes well with your {_name(env, last)}",
        )

    def sql(self, rule: Rule, params: Mapping[str, float], env: SqlEnv) -> str:
        since = env.ts(env.now - timedelta(days=params["window_days"]))
        return f"""
        WITH last AS ({_last_sql("purchase")}),
        bought AS (SELECT DISTINCT profile_id, item_id FROM _beh WHERE type = 'purchase'
            AND item_id IS NOT NULL),
        c AS (SELECT l.profile_id, l.item_id AS seed, n.neighbour_id AS item_id, n.rank
              FROM last l JOIN _nb n ON n.item_id = l.item_id
              ANTI JOIN bought b ON b.profile_id = l.profile_id AND b.item_id = n.neighbour_id
              WHERE l.ts >= {since} {_in_catalogue(env, "n.neighbour_id")})
        SELECT profile_id, list(c.item_id ORDER BY c.rank){_keep(env)} AS items,
               'post-purchase: related to ' || {_SEED_NAME} AS reason,
               'Goes well with your ' || {_SEED_NAME} AS caption
        FROM c LEFT JOIN _cat k ON k.item_id = c.seed {self.having(params)} GROUP BY profile_id"""


class OrderCrossSell(Individual):
    """Order confirmation: complements from other categories first, then pricier items (upsell)."""

    name = "order_cross_sell"
    requires = "a purchase within window_days whose items have co-occurrence neighbours"
    defaults = {"min_events": 1, "window_days": 2, "order_minutes": 60}

    def choose(
        self, person: PersonView, rule: Rule, params: Mapping[str, float], env: Env
    ) -> Pick | Miss:
        miss = self.enough(person, params)
        if miss:
            return miss
        last = _last(person.buys)
        if last is None or person.buys[last] < env.now - timedelta(days=params["window_days"]):
            return Miss(f"no order in the last {params['window_days']:g} day(s)")
        start = person.buys[last] - timedelta(minutes=params["order_minutes"])
        order = [i for i, ts in person.buys.items() if ts >= start]
        cats: dict[str | None, float] = {}
        for i in order:
            _, cat, price = env.catalogue.get(i) or ("", None, None)
            if cat is not None:
                cats[cat] = max(cats.get(cat, 0.0), price or 0.0)
        scores: dict[str, int] = {}
        for i in order:
            for nb, score in env.neighbours.get(i, ()):
                if nb not in person.buys:
                    scores[nb] = scores.get(nb, 0) + score
        ranked: list[tuple[int, int, str]] = []
        for nb, score in scores.items():
            _, cat, price = env.catalogue.get(nb) or ("", None, None)
            if cat is None or cat not in cats:
                ranked.append((0, -score, nb))
            elif (price or 0.0) > cats[cat]:
                ranked.append((1, -score, nb))
        if not ranked:
            return Miss("no complement or upgrade for the last order")
        ranked.sort()
        cross = sum(1 for g, _, _ in ranked if g == 0)
        return Pick(
            tuple(nb for _, _, nb in ranked),
            f"order cross-sell: {cross} complement(s), {len(ranked) - cross} upgrade(s) for the "
            f"order with {_name(env, last)}",
            "Complete your order",
        )

    def sql(self, rule: Rule, params: Mapping[str, float], env: SqlEnv) -> str:
        since = env.ts(env.now - timedelta(days=params["window_days"]))
        minutes = float(params["order_minutes"])
        return f"""
        WITH bought AS (SELECT profile_id, item_id, max(ts) AS ts FROM _beh
                        WHERE type = 'purchase' AND item_id IS NOT NULL GROUP BY ALL),
        last AS (SELECT profile_id, max(ts) AS ts
            FROM bought GROUP BY ALL HAVING max(ts) >= {since}),
        ord AS (SELECT b.profile_id, b.item_id FROM bought b JOIN last l USING (profile_id)
                WHERE b.ts >= l.ts - to_microseconds(CAST({minutes} * 60000000 AS BIGINT))),
        cats AS (SELECT o.profile_id, k.category, max(coalesce(k.price, 0)) AS price
                 FROM ord o JOIN _cat k USING (item_id) WHERE k.category IS NOT NULL GROUP BY ALL),
        sc AS (SELECT o.profile_id, n.neighbour_id AS item_id, sum(n.score) AS score
               FROM ord o JOIN _nb n ON n.item_id = o.item_id
               ANTI JOIN bought b ON b.profile_id = o.profile_id AND b.item_id = n.neighbour_id
               WHERE TRUE {_in_catalogue(env, "n.neighbour_id")}
               GROUP BY ALL),
        g AS (SELECT sc.profile_id, sc.item_id, sc.score,
                     CASE WHEN k.category IS NULL OR c.category IS NULL THEN 0
                          WHEN coalesce(k.price, 0) > c.price THEN 1 END AS grp
              FROM sc LEFT JOIN _cat k USING (item_id)
              LEFT JOIN cats c ON c.profile_id = sc.profile_id AND c.category = k.category)
        SELECT profile_id, list(item_id ORDER BY grp, score DESC, item_id){_keep(env)} AS items,
               'order cross-sell: ' || count(*) FILTER (WHERE grp = 0) || ' complement(s), '
                 || count(*) FILTER (WHERE grp = 1) || ' upgrade(s)' AS reason,
               'Complete your order' AS caption
        FROM g {self.having(params)} AND grp IS NOT NULL GROUP BY profile_id"""


class BecauseYouViewed(Individual):
    """Neighbours of the item the person viewed last, with that item named as the reason."""

    name = "because_you_viewed"
    requires = "a view within window_days of an item with co-occurrence neighbours"
    defaults = {"min_events": 1, "window_days": 30}

    def choose(
        self, person: PersonView, rule: Rule, params: Mapping[str, float], env: Env
    ) -> Pick | Miss:
        miss = self.enough(person, params)
        if miss:
            return miss
        last = _last(person.views)
        if last is None or person.views[last] < env.now - timedelta(days=params["window_days"]):
            return Miss(f"no view in the last {params['window_days']:g} day(s)")
        items = [nb for nb, _ in env.neighbours.get(last, ()) if nb not in person.buys]
        if not items:
            return Miss(f"no co-occurrence neighbours for {_name(env, last)}")
        return Pick(
            tuple(items),
            f"because you viewed {_name(env, last)} {_ago(env.now, person.views[last])}",
            f"Because you viewed {_name(env, last)}",
        )

    def sql(self, rule: Rule, params: Mapping[str, float], env: SqlEnv) -> str:
        since = env.ts(env.now - timedelta(days=params["window_days"]))
        return f"""
        WITH last AS ({_last_sql("view")}),
        bought AS (SELECT DISTINCT profile_id, item_id FROM _beh WHERE type = 'purchase'
            AND item_id IS NOT NULL),
        c AS (SELECT l.profile_id, l.item_id AS seed, n.neighbour_id AS item_id, n.rank
              FROM last l JOIN _nb n ON n.item_id = l.item_id
              ANTI JOIN bought b ON b.profile_id = l.profile_id AND b.item_id = n.neighbour_id
              WHERE l.ts >= {since} {_in_catalogue(env, "n.neighbour_id")})
        SELECT profile_id, list(c.item_id ORDER BY c.rank){_keep(env)} AS items,
               'because you viewed ' || {_SEED_NAME} AS reason,
               'Because you viewed ' || {_SEED_NAME} AS caption
        FROM c LEFT JOIN _cat k ON k.item_id = c.seed {self.having(params)} GROUP BY profile_id"""


# -------------------------------------------------------------------------------- rule strategies


def _cell_reason(rule: Rule) -> str:
    assert rule.cell is not None
    return "cell " + " + ".join(f"{t}={_show(v)}" for t, v in rule.cell.items())


class Cell(Strategy):
    """Micro-segment: everyone whose attributes all match the rule's cell gets the same variant."""

    name = "cell"
    level = DecisionLevel.micro_segment
    sql_keeps_slots = True  # no items
    requires = "every trait named in the cell"

    def choose(
        self, person: PersonView, rule: Rule, params: Mapping[str, float], env: Env
    ) -> Pick | Miss:
        assert rule.cell is not None
        for trait, want in rule.cell.items():
            have = _text(person.traits.get(trait))
            if have is None:
                return Miss(f"cell needs {trait}, which this person lacks")
            if have not in accepted(want):
                return Miss(f"cell wants {trait}={_show(want)}, this person has {have}")
        return Pick((), _cell_reason(rule))

    def sql(self, rule: Rule, params: Mapping[str, float], env: SqlEnv) -> str:
        assert rule.cell is not None
        where = " AND ".join(f"{env.col(t)} IN {sql_in(accepted(v))}" for t, v in rule.cell.items())
        return (
            f"SELECT profile_id, []::VARCHAR[] AS items, {sql_str(_cell_reason(rule))} AS reason, "
            f"'' AS caption FROM _tw WHERE {where}"
        )


def _show(value: Any) -> str:
    return "|".join(sorted(accepted(value)))


class SegmentChoice(Strategy):
    """Segment: membership of a segment, or one coarse trait (lifecycle stage, RFM or CLV tier)."""

    name = "segment"
    level = DecisionLevel.segment
    sql_keeps_slots = True  # no items
    requires = "segment membership, or the trait the rule names"

    def choose(
        self, person: PersonView, rule: Rule, params: Mapping[str, float], env: Env
    ) -> Pick | Miss:
        if rule.segment is not None:
            if person.id in env.memberships.get(rule.segment, frozenset()):
                return Pick((), f"member of {rule.segment!r}")
            return Miss(f"not a member of segment {rule.segment!r}")
        assert rule.trait is not None
        have = _text(person.traits.get(rule.trait))
        if have is None:
            return Miss(f"no {rule.trait} for this person")
        if have not in accepted(rule.equals):
            return Miss(f"{rule.trait} is {have}, rule wants {_show(rule.equals)}")
        return Pick((), f"{rule.trait} = {have}")

    def sql(self, rule: Rule, params: Mapping[str, float], env: SqlEnv) -> str:
        if rule.segment is not None:
            reason = sql_str(f"member of {rule.segment!r}")
            return (
                f"SELECT profile_id, []::VARCHAR[] AS items, {reason} AS reason, '' AS caption "
                f"FROM _members WHERE segment_key = {sql_str(rule.segment)}"
            )
        assert rule.trait is not None
        col = env.col(rule.trait)
        return (
            "SELECT profile_id, []::VARCHAR[] AS items, "
            f"{sql_str(f'{rule.trait} = ')} || {col} "
            f"AS reason, '' AS caption FROM _tw WHERE {col} IN {sql_in(accepted(rule.equals))}"
        )


def builtin_strategies() -> list[Strategy]:
    """The strategies the built-in ``recommenders`` plugin registers."""
    return [
        CoOccurrence(),
        BrowseAbandonment(),
        CartAbandonment(),
        PostPurchase(),
        OrderCrossSell(),
        BecauseYouViewed(),
        Cell(),
        SegmentChoice(),
    ]
