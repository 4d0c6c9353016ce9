"""Reference tools with a known level: what the audit must label correctly.

Each is what a vendor might really ship, several on the libraries vendors use: GrowthBook's
targeting rules and experiments (feature-flag SDK), python-liquid merge tags (template engine),
hash bucketing, an item co-occurrence recommender. The traps are here on purpose: behaviour
aggregates that are not items (RFM, category affinity), a popular-list fallback, exploration
noise over a personalized core, merge tokens on a segment, an experiment inside segments.

``build(population)`` returns the references; the recommenders learn from the population's own
events, as a vendor's model would learn from the shop's data.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from martech import Level, Profile
from martech.audit.sources import ProbePopulation

#: "Now" for the behavioural tools (the synthetic population's as_of).
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Reference:
    name: str
    fn: Callable[[Profile], Any]
    expected: Level
    what: str


# ---------------------------------------------------------------------------- no person at all


def broadcast(profile: Profile) -> str:
    return "Winter sale: 20% off everything until Sunday."


def make_rotation() -> Callable[[Profile], str]:
    banners = itertools.cycle(["banner-a", "banner-b", "banner-c"])

    def rotation(profile: Profile) -> str:
        return next(banners)

    return rotation


def hash_bucketing(profile: Profile) -> str:
    bucket = int(hashlib.sha256(profile.id.encode()).hexdigest(), 16) % 100
    return "variant-a" if bucket < 50 else "variant-b"


def make_growthbook_experiment() -> Callable[[Profile], str]:
    from growthbook import GrowthBook

    features = {
        "hero": {
            "defaultValue": "hero-control",
            "rules": [
                {
                    "key": "hero-test",
                    "variations": ["hero-control", "hero-video", "hero-carousel"],
                    "hashAttribute": "id",
                    "coverage": 1.0,
                }
            ],
        }
    }

    def growthbook_experiment(profile: Profile) -> str:
        gb = GrowthBook(attributes={"id": profile.id, **profile.traits}, features=features)
        return str(gb.get_feature_value("hero", "hero-control"))

    return growthbook_experiment


# -------------------------------------------------------------------------------- merge tokens


def make_liquid_tokens() -> Callable[[Profile], str]:
    from liquid import Template

    template = Template(
        "Hi {{ first_name }}, new arrivals are in at our {{ city }} store this week."
    )

    def liquid_tokens(profile: Profile) -> str:
        return str(template.render(**profile.traits))

    return liquid_tokens


def make_liquid_on_segment() -> Callable[[Profile], str]:
    from liquid import Template

    template = Template("Hi {{ first_name }}! {{ offer }}")

    def liquid_on_segment(profile: Profile) -> str:
        offer = (
            "Members get double points this week."
            if profile.traits.get("loyalty_member")
            else "Join the club and get 10% off."
        )
        return str(template.render(offer=offer, **profile.traits))

    return liquid_on_segment


# ------------------------------------------------------------------------------- segmentation


def make_growthbook_targeting() -> Callable[[Profile], str]:
    from growthbook import GrowthBook

    features = {
        "banner": {
            "defaultValue": "spring-collection",
            "rules": [
                {"condition": {"country": {"$in": ["US", "CA"]}}, "force": "free-shipping-na"},
                {"condition": {"interest": "fishing"}, "force": "fishing-season-opener"},
            ],
        }
    }

    def growthbook_targeting(profile: Profile) -> str:
        gb = GrowthBook(attributes={"id": profile.id, **profile.traits}, features=features)
        return str(gb.get_feature_value("banner", "spring-collection"))

    return growthbook_targeting


def make_growthbook_segment_experiment() -> Callable[[Profile], str]:
    """Members get a fixed offer; everyone else is in an A/B test (segment + experiment)."""
    from growthbook import GrowthBook

    features = {
        "offer": {
            "defaultValue": "none",
            "rules": [
                {"condition": {"loyalty_member": True}, "force": "member-double-points"},
                {
                    "condition": {"budget_tier": "premium"},
                    "force": "premium-concierge",
                },
                {
                    "key": "newsletter-offer",
                    "variations": ["ten-percent", "free-gift"],
                    "hashAttribute": "id",
                },
            ],
        }
    }

    def growthbook_segment_experiment(profile: Profile) -> str:
        gb = GrowthBook(attributes={"id": profile.id, **profile.traits}, features=features)
        return str(gb.get_feature_value("offer", "none"))

    return growthbook_segment_experiment


def rfm_tiers(profile: Profile) -> str:
    """Engagement tier from counts and recency of shopping events: behaviour, not items."""
    shopping = [e for e in profile.events if e.type in ("view", "add_to_cart", "purchase")]
    if not shopping:
        return "tier: prospect — welcome series"
    days = (AS_OF - max(e.ts for e in shopping)).days
    recency = "recent" if days <= 30 else "lapsing" if days <= 120 else "lapsed"
    n = len(shopping)
    frequency = "light" if n <= 3 else "regular" if n <= 8 else "heavy"
    return f"tier: {recency}/{frequency} — content pack {recency[:3]}-{frequency[:3]}"


def make_category_affinity(pop: ProbePopulation) -> Callable[[Profile], str]:
    """ "Your favourite category" banner: follows the categories someone browses, not the items."""
    categories = pop.categories

    def category_affinity(profile: Profile) -> str:
        counts = Counter(categories.get(e.item_id) for e in profile.events if e.item_id)
        counts.pop(None, None)
        if not counts:
            return "Discover our bestsellers"
        top = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[0][0]
        return f"Top picks in {top} this week"

    return category_affinity


def micro_segments(profile: Profile) -> str:
    """A content matrix over five attributes: many small cells, everyone in a cell alike."""
    t = profile.traits
    cell = "|".join(
        str(t.get(k, "-"))
        for k in (
            "interest",
            "skill_level",
            "budget_tier",
            "water_type",
            "preferred_tackle",
            "gender",
        )
    )
    return "content-" + hashlib.sha256(cell.encode()).hexdigest()[:8]


# ----------------------------------------------------------------------------- personalization


class CoOccurrence:
    """Item-to-item co-occurrence learned from the population's histories."""

    def __init__(self, pop: ProbePopulation, neighbours: int = 20) -> None:
        pairs: defaultdict[str, Counter[str]] = defaultdict(Counter)
        popularity: Counter[str] = Counter()
        for p in pop.profiles:
            items = sorted({e.item_id for e in p.events if e.item_id})
            popularity.update(items)
            for a, b in itertools.combinations(items, 2):
                pairs[a][b] += 1
                pairs[b][a] += 1
        self.neighbours = {i: [j for j, _ in c.most_common(neighbours)] for i, c in pairs.items()}
        self.popular = [i for i, _ in popularity.most_common(4)]
        self.catalogue = sorted(pop.categories) or sorted(popularity)

    def recommend(self, profile: Profile, k: int = 4) -> list[str]:
        history = [e for e in sorted(profile.events, key=lambda e: e.ts) if e.item_id]
        seen = {e.item_id for e in history}
        scores: Counter[str] = Counter()
        for rank, e in enumerate(reversed(history[-10:])):
            weight = 1.0 / (1 + rank)
            scores[e.item_id or ""] += 0.5 * weight  # the item itself, if nothing else
            for pos, other in enumerate(self.neighbours.get(e.item_id or "", [])):
                if other not in seen:
                    scores[other] += weight / (1 + pos)
        for item in seen:
            scores.pop(item or "", None)
        if not scores:
            scores.update({e.item_id or "": 1.0 for e in history})
        return [i for i, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def make_recommender(pop: ProbePopulation, model: CoOccurrence) -> Callable[[Profile], str]:
    def recommender(profile: Profile) -> str:
        items = model.recommend(profile)
        return "Recommended for you: " + (", ".join(items) if items else "(nothing yet)")

    return recommender


def make_popular_fallback(model: CoOccurrence) -> Callable[[Profile], str]:
    def popular_fallback(profile: Profile) -> str:
        items = model.recommend(profile) or model.popular
        return "Picked for you: " + ", ".join(items)

    return popular_fallback


def make_exploration(model: CoOccurrence) -> Callable[[Profile], str]:
    """Epsilon-greedy: 15% of calls show a random catalogue item first (exploration)."""
    rng = random.Random(42)

    def exploration(profile: Profile) -> str:
        items = model.recommend(profile) or model.popular
        if rng.random() < 0.15:
            items = [rng.choice(model.catalogue), *items[:3]]
        return "You may like: " + ", ".join(items)

    return exploration


def make_recently_viewed(pop: ProbePopulation) -> Callable[[Profile], str]:
    async def recently_viewed(profile: Profile) -> str:  # async on purpose: targets may be
        viewed = [e for e in profile.events if e.item_id and e.type in ("view", "add_to_cart")]
        if not viewed:
            return "Browse our new arrivals"
        last = max(viewed, key=lambda e: e.ts)
        return f"Still thinking about {last.item_id}? It is back in stock."

    return recently_viewed


def make_shuffled_recommender(model: CoOccurrence) -> Callable[[Profile], str]:
    """The recommender, with its list shuffled on every call (order is noise, items are not)."""
    rng = random.Random(7)

    def shuffled_recommender(profile: Profile) -> str:
        items = model.recommend(profile) or model.popular
        rng.shuffle(items)
        return "Picks: " + ", ".join(items)

    return shuffled_recommender


def cart_abandonment(profile: Profile) -> str:
    """ "You left X in your cart" for people with an unbought cart item; a generic note else."""
    bought = {e.item_id for e in profile.events if e.type == "purchase"}
    carted = [e for e in profile.events if e.type == "add_to_cart" and e.item_id not in bought]
    if not carted:
        return "Free shipping this weekend."
    return f"You left {max(carted, key=lambda e: e.ts).item_id} in your cart."


def make_item_rule(pop: ProbePopulation) -> Callable[[Profile], str]:
    """Trap: one promo for anyone who viewed one of the ten most viewed items; items, not people."""
    views = Counter(e.item_id for p in pop.profiles for e in p.events if e.type == "view")
    hot = {i for i, _ in views.most_common(10)}

    def item_rule(profile: Profile) -> str:
        if any(e.item_id in hot for e in profile.events):
            return "Our bestsellers are back in stock."
        return "New season, new gear."

    return item_rule


def tracking_link(profile: Profile) -> str:
    """Token trap: one newsletter whose only per-person part is the id in a tracking link."""
    return f"Autumn catalogue: https://shop.example/c?uid={profile.id}&e={profile.identities.get('email')}"


_MODELS: dict[int, CoOccurrence] = {}


def build(pop: ProbePopulation) -> list[Reference]:
    """The truth set over ``pop`` (at least 12 tools, every level, the traps)."""
    model = _MODELS.get(id(pop))
    if model is None:  # learning is the slow part: once per population
        model = _MODELS[id(pop)] = CoOccurrence(pop)
    return [
        Reference("broadcast", broadcast, Level.broadcast, "one message for all"),
        Reference("rotation", make_rotation(), Level.random, "banner rotation per call"),
        Reference("hash_bucketing", hash_bucketing, Level.random, "sha256(id) buckets"),
        Reference(
            "growthbook_experiment",
            make_growthbook_experiment(),
            Level.random,
            "GrowthBook experiment hashed on id",
        ),
        Reference(
            "liquid_tokens",
            make_liquid_tokens(),
            Level.token_only,
            "python-liquid merge tags: first name and city",
        ),
        Reference(
            "liquid_on_segment",
            make_liquid_on_segment(),
            Level.segmentation,
            "trap: merge tokens on a loyalty segment",
        ),
        Reference(
            "growthbook_targeting",
            make_growthbook_targeting(),
            Level.segmentation,
            "GrowthBook targeting rules on country and interest",
        ),
        Reference(
            "growthbook_segment_experiment",
            make_growthbook_segment_experiment(),
            Level.segmentation,
            "trap: segments with an A/B test for the rest",
        ),
        Reference(
            "rfm_tiers",
            rfm_tiers,
            Level.segmentation,
            "trap: behaviour (recency, frequency) but not items",
        ),
        Reference(
            "category_affinity",
            make_category_affinity(pop),
            Level.segmentation,
            "trap: follows browsed categories, not items",
        ),
        Reference(
            "micro_segments",
            micro_segments,
            Level.micro_segmentation,
            "content matrix over six attributes",
        ),
        Reference(
            "recommender",
            make_recommender(pop, model),
            Level.personalization,
            "item co-occurrence recommender",
        ),
        Reference(
            "popular_fallback",
            make_popular_fallback(model),
            Level.personalization,
            "trap: recommender with a popular list for people without history",
        ),
        Reference(
            "exploration",
            make_exploration(model),
            Level.personalization,
            "trap: 15% exploration noise over a recommender",
        ),
        Reference(
            "recently_viewed",
            make_recently_viewed(pop),
            Level.personalization,
            "the last item the person viewed (async callable)",
        ),
        Reference(
            "shuffled_recommender",
            make_shuffled_recommender(model),
            Level.personalization,
            "trap: a recommender that shuffles its list on every call",
        ),
        Reference(
            "cart_abandonment",
            cart_abandonment,
            Level.personalization,
            "trap: personal only for people with an abandoned cart",
        ),
        Reference(
            "item_rule",
            make_item_rule(pop),
            Level.segmentation,
            "trap: follows items, but into one shared promo",
        ),
        Reference(
            "tracking_link",
            tracking_link,
            Level.token_only,
            "trap: only the id and email in a tracking link differ",
        ),
    ]
