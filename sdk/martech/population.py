"""A synthetic outdoor-shop population: profiles, a catalogue and behaviour, with planted structure.

Deterministic per ``(profiles, seed, as_of, items)``; vectorized with numpy into Arrow tables (loops
run per category or group, never per person or event). The structure is planted on purpose, so the
segmenter, the recommenders and the audit's probes have something real to find:

- people view and buy mostly within their ``interest`` (fishing, camping, hiking, cycling, running);
- items belong to co-occurrence clusters ("collections" of one brand): someone who views an item of
  cluster *k* tends to view and buy other items of *k*, so item-to-item beats most-popular;
- fishing people have ``water_type`` and ``preferred_tackle``, and their reel/rod views lean to
  items made for their tackle;
- buying propensity varies (many never buy, some buy repeatedly); activity ends at different times,
  so there are active, lapsing and lapsed customers; email engagement varies per person.

Used by ``martech generate``, ``martech demo``, tests, benchmarks and the audit's probes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._sql import sql_str

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from .models import Profile
    from .store import Store

INTERESTS = ("fishing", "camping", "hiking", "cycling", "running")
INTEREST_SHARE = (0.25, 0.20, 0.20, 0.15, 0.20)
CATEGORIES: dict[str, tuple[str, ...]] = {
    "fishing": ("reels", "rods", "lures", "line"),
    "camping": ("tents", "sleeping_bags", "stoves", "lanterns"),
    "hiking": ("boots", "backpacks", "jackets", "trekking_poles"),
    "cycling": ("bikes", "helmets", "bike_lights", "jerseys"),
    "running": ("shoes", "watches", "running_shorts", "hydration"),
}
#: Median price per category (prices are lognormal around it).
MEDIAN_PRICE: dict[str, float] = {
    "reels": 90, "rods": 120, "lures": 9, "line": 15,
    "tents": 250, "sleeping_bags": 120, "stoves": 60, "lanterns": 35,
    "boots": 150, "backpacks": 110, "jackets": 180, "trekking_poles": 70,
    "bikes": 900, "helmets": 80, "bike_lights": 40, "jerseys": 60,
    "shoes": 130, "watches": 300, "running_shorts": 35, "hydration": 25,
}  # fmt: skip
WATER_TYPES = ("lake", "river", "sea")
TACKLES = ("spinning", "baitcasting", "fly")
SKILLS = ("beginner", "intermediate", "expert")
BUDGETS = ("budget", "mid", "premium")
GENDERS = ("female", "male", "nonbinary")
CHANNELS_ACQ = (
    "organic_search",
    "paid_search",
    "social",
    "email",
    "referral",
    "direct",
    "affiliate",
)
EVENT_KINDS = (
    "session_start", "view", "search", "add_to_cart", "purchase",
    "email_send", "email_open", "email_click", "email_unsubscribe",
)  # fmt: skip

# country: (weight, phone prefix, phone base number, cities)
COUNTRIES: dict[str, tuple[float, str, int, tuple[str, ...]]] = {
    "US": (0.34, "+1212", 2_000_000, ("New York", "Denver", "Seattle", "Austin", "Portland")),
    "GB": (0.14, "+447", 400_000_000, ("London", "Manchester", "Bristol", "Edinburgh")),
    "DE": (0.12, "+49151", 10_000_000, ("Berlin", "Munich", "Hamburg", "Cologne")),
    "FR": (0.09, "+336", 10_000_000, ("Paris", "Lyon", "Annecy", "Bordeaux")),
    "CA": (0.09, "+1416", 2_000_000, ("Toronto", "Vancouver", "Calgary", "Montreal")),
    "AU": (0.08, "+614", 10_000_000, ("Sydney", "Melbourne", "Brisbane", "Hobart")),
    "NL": (0.07, "+316", 10_000_000, ("Amsterdam", "Utrecht", "Rotterdam")),
    "SE": (0.07, "+4670", 1_000_000, ("Stockholm", "Gothenburg", "Umea")),
}
FEMALE = (
    "Anna", "Emma", "Olivia", "Sofia", "Mia", "Ella", "Grace", "Lea", "Chloe", "Hannah",
    "Ingrid", "Julia", "Laura", "Maya", "Nora", "Ruth", "Sara", "Zoe", "Clara", "Ava",
)  # fmt: skip
MALE = (
    "Liam", "Noah", "Lucas", "Oliver", "Elias", "Jonas", "Max", "Leo", "Hugo", "Finn",
    "Oscar", "Erik", "Jack", "Ben", "Samuel", "Tom", "Paul", "Felix", "Adam", "Daniel",
)  # fmt: skip
LAST = (
    "Smith", "Jones", "Miller", "Brown", "Wilson", "Taylor", "Clark", "Walker", "Young", "King",
    "Schmidt", "Muller", "Weber", "Martin", "Bernard", "Dubois", "Jansen", "de Vries",
    "Andersson", "Johansson", "Nguyen", "Lee", "Garcia", "Lopez", "Evans", "Hughes",
)  # fmt: skip
BRANDS = ("Northpeak", "Riverline", "Trailcraft", "Summit & Co", "Bluewater", "Ridgeway",
          "Fjordlight", "Pacer", "Cascade", "Ember", "Kestrel", "Alder")  # fmt: skip
COLLECTIONS = ("Pro", "Classic", "Explorer", "Lite", "Elite", "Trail", "Storm", "Vista",
               "Apex", "Drift", "Nomad", "Tempo")  # fmt: skip

CLUSTER_SIZE = 6
_DAY = 86_400


@dataclass(frozen=True)
class Population:
    """A generated population. ``profiles`` has the store's upsert shape (JSON text columns);
    ``flat`` has one typed column per field (what a shop export looks like, for files)."""

    profiles: pa.Table
    events: pa.Table
    items: pa.Table
    flat: pa.Table
    seed: int
    as_of: datetime

    def summary(self) -> dict[str, Any]:
        return {
            "profiles": self.profiles.num_rows,
            "events": self.events.num_rows,
            "items": self.items.num_rows,
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
        }


def default_as_of() -> datetime:
    """Today at 00:00 UTC: the population is stable within a day."""
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def generate(
    profiles: int, seed: int, as_of: datetime | None = None, items: int = 500
) -> Population:
    """Generate ``profiles`` people with ~10 events each over an ``items``-item catalogue."""
    import numpy as np

    from .errors import ValidationError

    if profiles < 0:
        raise ValidationError(f"profiles must be >= 0, got {profiles}")
    if items < 40:
        raise ValidationError(f"items must be >= 40 (two per category), got {items}")
    if as_of is None:
        as_of = default_as_of()
    if as_of.tzinfo is None:
        raise ValidationError("as_of must be timezone-aware (got a naive datetime)")
    as_of = as_of.astimezone(UTC)
    root = np.random.SeedSequence([seed, profiles, items, int(as_of.timestamp())])
    r_items, r_people, r_events = (np.random.default_rng(s) for s in root.spawn(3))
    catalogue = _catalogue(r_items, items)
    people = _people(r_people, profiles, as_of, catalogue)
    events, unsubscribed = _behaviour(r_events, people, catalogue, as_of)
    people["consent_email"] &= ~unsubscribed
    return Population(
        profiles=_profiles_table(people),
        events=events,
        items=catalogue["table"],
        flat=_flat_table(people),
        seed=seed,
        as_of=as_of,
    )


# ------------------------------------------------------------------------------------ catalogue


def _catalogue(rng: np.random.Generator, n: int) -> dict[str, Any]:
    """Items grouped into 7 groups (fishing x tackle, then the other interests) and clusters."""
    import numpy as np
    import orjson
    import pyarrow as pa

    # Items per interest in proportion to its share, spread over its categories.
    per_interest = np.floor(np.array(INTEREST_SHARE) * n).astype(int)
    per_interest[0] += n - per_interest.sum()
    rows: list[tuple[str, str, int, str | None]] = []  # interest, category, group, tackle
    for interest, count in zip(INTERESTS, per_interest, strict=True):
        cats = CATEGORIES[interest]
        for k in range(count):
            category = cats[k % len(cats)]
            if interest == "fishing":
                g = int(rng.choice(3, p=[0.5, 0.28, 0.22]))
                rows.append((interest, category, g, TACKLES[g]))
            else:
                rows.append((interest, category, 2 + INTERESTS.index(interest), None))
    group = np.array([r[2] for r in rows])
    # Order items by group, shuffled inside the group; clusters are runs of CLUSTER_SIZE.
    order = np.lexsort((rng.random(n), group))
    rows = [rows[i] for i in order]
    group = group[order]
    cluster = np.empty(n, dtype=np.int64)
    group_start = np.searchsorted(group, np.arange(8))
    c = 0
    group_clusters: list[tuple[int, int]] = []  # (first cluster, cluster count) per group
    for g in range(7):
        lo, hi = group_start[g], group_start[g + 1]
        k = max(1, (hi - lo) // CLUSTER_SIZE)
        cluster[lo:hi] = c + (np.arange(hi - lo) * k) // max(1, hi - lo)
        group_clusters.append((c, k))
        c += k
    cluster_start = np.searchsorted(cluster, np.arange(c + 1))
    # Popularity: Zipf inside each group, random rank.
    popularity = np.empty(n)
    for g in range(7):
        lo, hi = group_start[g], group_start[g + 1]
        ranks = rng.permutation(hi - lo) + 1
        popularity[lo:hi] = 1.0 / ranks**0.9
    medians = np.array([MEDIAN_PRICE[r[1]] for r in rows])
    price = np.round(medians * rng.lognormal(0.0, 0.35, n)) - 0.01
    price = np.maximum(price, 1.99)
    brands = rng.integers(0, len(BRANDS), c)
    collections = rng.integers(0, len(COLLECTIONS), c)
    ids, names, props = [], [], []
    for i, (interest, category, _g, tackle) in enumerate(rows):
        k = int(cluster[i])
        noun = category.replace("_", " ").rstrip("s")
        brand, coll = BRANDS[brands[k]], COLLECTIONS[collections[k]]
        ids.append(f"SKU-{i + 1:05d}")
        names.append(f"{brand} {coll} {noun.title()} {i % 7 + 1}")
        p: dict[str, Any] = {"interest": interest, "cluster": f"C{k:03d}", "brand": brand}
        if tackle:
            p["tackle"] = tackle
        props.append(orjson.dumps(p).decode())
    categories = [r[1] for r in rows]
    table = pa.table(
        {
            "item_id": pa.array(ids, pa.string()),
            "name": pa.array(names, pa.string()),
            "category": pa.array(categories, pa.string()),
            "price": pa.array(price, pa.float64()),
            "properties": pa.array(props, pa.string()),
        }
    )
    # Inverse-CDF tables for sampling: groups 0-6, 7 = all fishing, 8 = everything.
    cdfs = []
    for g in range(9):
        if g < 7:
            lo, hi = group_start[g], group_start[g + 1]
        elif g == 7:
            lo, hi = 0, group_start[3]
        else:
            lo, hi = 0, n
        if hi == lo:  # a tiny catalogue can leave a tackle without items: use all fishing items
            lo, hi = 0, group_start[3]
        w = np.cumsum(popularity[lo:hi])
        cdfs.append((lo, w / w[-1]))
    return {
        "table": table,
        "n": n,
        "price": price,
        "cluster": cluster,
        "cluster_start": cluster_start,
        "group_clusters": np.array(group_clusters),
        "cdfs": cdfs,
        "category": np.array(categories),
    }


# --------------------------------------------------------------------------------------- people


def _people(
    rng: np.random.Generator, n: int, as_of: datetime, catalogue: dict[str, Any]
) -> dict[str, Any]:
    import numpy as np

    p: dict[str, Any] = {"n": n, "as_of_day": as_of.date().isoformat()}
    p["gender"] = rng.choice(3, n, p=[0.49, 0.49, 0.02])
    fi = rng.integers(0, len(FEMALE), n)
    p["first_name"] = np.where(p["gender"] == 1, np.array(MALE)[fi], np.array(FEMALE)[fi])
    p["last_name"] = np.array(LAST)[rng.integers(0, len(LAST), n)]
    p["age"] = np.clip(np.round(rng.normal(39, 13, n)), 18, 84).astype(np.int64)
    codes = list(COUNTRIES)
    p["country"] = rng.choice(len(codes), n, p=[COUNTRIES[c][0] for c in codes])
    city = np.empty(n, dtype=object)
    for ci, code in enumerate(codes):
        mask = p["country"] == ci
        cities = np.array(COUNTRIES[code][3], dtype=object)
        city[mask] = cities[rng.integers(0, len(cities), int(mask.sum()))]
    p["city"] = city
    p["interest"] = rng.choice(5, n, p=INTEREST_SHARE)
    fishing = p["interest"] == 0
    p["fishing"] = fishing
    p["skill"] = rng.choice(3, n, p=[0.45, 0.4, 0.15])
    water = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    # Tackle depends on water: fly on rivers, spinning/baitcasting on lakes and at sea.
    u = rng.random(n)
    fly_p = np.array([0.1, 0.45, 0.02])[water]
    bait_p = np.array([0.3, 0.15, 0.45])[water]
    p["water"] = water
    p["tackle"] = np.where(u < fly_p, 2, np.where(u < fly_p + bait_p, 1, 0))
    p["budget"] = np.clip(
        rng.choice(3, n, p=[0.35, 0.45, 0.2]) + (p["age"] > 50) * (rng.random(n) < 0.2), 0, 2
    )
    # Signup over the last three years, denser recently.
    signup_days = np.floor(1 + 1094 * rng.beta(1.2, 1.6, n)).astype(np.int64)
    p["signup_days"] = signup_days
    p["channel"] = rng.choice(7, n, p=[0.28, 0.17, 0.18, 0.08, 0.09, 0.15, 0.05])
    p["propensity"] = rng.beta(0.6, 2.2, n)
    p["engagement"] = rng.beta(1.5, 3.0, n)
    p["activity"] = rng.gamma(0.9, 1 / 0.9, n)
    p["loyalty"] = rng.random(n) < 0.12 + 0.6 * p["propensity"]
    has_phone = rng.random(n) < 0.6
    p["has_phone"] = has_phone
    p["consent_email"] = rng.random(n) < 0.78
    p["consent_sms"] = has_phone & (rng.random(n) < 0.45)
    p["consent_push"] = rng.random(n) < 0.4
    p["consent_ad"] = rng.random(n) < 0.55
    # Activity ends at as_of minus a lapse: active (days), lapsing (months), lapsed (a year+).
    kind = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    lapse = np.where(
        kind == 0,
        rng.integers(1, 30, n),
        np.where(kind == 1, rng.integers(30, 180, n), rng.integers(180, 720, n)),
    )
    p["end_days"] = np.minimum(lapse, signup_days)  # days before as_of
    # Affinity clusters: one main, one secondary, inside the person's group.
    group = np.where(
        fishing,
        np.where(rng.random(n) < 0.85, p["tackle"], rng.integers(0, 3, n)),
        p["interest"] + 2,
    )
    gc = catalogue["group_clusters"]
    p["group"] = np.where(fishing, p["tackle"], p["interest"] + 2)
    p["clusters"] = [
        gc[group, 0] + np.floor(rng.random(n) * gc[group, 1]).astype(np.int64) for _ in range(2)
    ]
    # Phone: a country prefix and a per-country sequence number (unique up to 1M per country).
    seq = np.zeros(n, dtype=np.int64)
    for ci in range(len(codes)):
        mask = p["country"] == ci
        seq[mask] = np.arange(int(mask.sum()))
    p["phone_seq"] = seq
    return p


def _profile_ids(n: int) -> pa.Array:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), 7, "0")
    return pc.binary_join_element_wise("p", digits, "")


def _strings(values: Any, labels: tuple[str, ...] | None = None) -> pa.Array:
    import pyarrow as pa

    if labels is not None:
        return pa.array(labels, pa.string()).take(pa.array(values))
    return pa.array(values, pa.string())


def _columns(p: dict[str, Any]) -> dict[str, pa.Array]:
    """Typed columns shared by the flat table and the JSON traits."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = p["n"]
    ids = _profile_ids(n)
    first, last = _strings(p["first_name"]), _strings(p["last_name"])
    email = pc.utf8_lower(
        pc.binary_join_element_wise(
            first, ".", pc.replace_substring(last, " ", ""), ".",
            pc.utf8_slice_codeunits(ids, 1), "@example.com", "",
        )
    )  # fmt: skip
    codes = list(COUNTRIES)
    prefixes = pa.array([COUNTRIES[c][1] for c in codes]).take(pa.array(p["country"]))
    base = np.array([COUNTRIES[c][2] for c in codes])[p["country"]]
    number = pc.cast(pa.array(base + p["phone_seq"] % 8_000_000), pa.string())
    phone = pc.if_else(
        pa.array(p["has_phone"]), pc.binary_join_element_wise(prefixes, number, ""), None
    )
    signup = pa.array(
        (np.datetime64(_as_of_day(p), "D") - p["signup_days"]).astype("datetime64[D]")
    )
    fishing = pa.array(p["fishing"])
    return {
        "id": ids,
        "email": email,
        "phone": phone,
        "first_name": first,
        "last_name": last,
        "age": pa.array(p["age"]),
        "gender": _strings(p["gender"], GENDERS),
        "country": _strings(p["country"], tuple(codes)),
        "city": _strings(p["city"]),
        "interest": _strings(p["interest"], INTERESTS),
        "skill_level": _strings(p["skill"], SKILLS),
        "water_type": pc.if_else(fishing, _strings(p["water"], WATER_TYPES), None),
        "preferred_tackle": pc.if_else(fishing, _strings(p["tackle"], TACKLES), None),
        "budget_tier": _strings(p["budget"], BUDGETS),
        "signup_date": pc.cast(signup, pa.string()),
        "acquisition_channel": _strings(p["channel"], CHANNELS_ACQ),
        "loyalty_member": pa.array(p["loyalty"]),
        "consent_email": pa.array(p["consent_email"]),
        "consent_sms": pa.array(p["consent_sms"]),
        "consent_push": pa.array(p["consent_push"]),
        "consent_ad": pa.array(p["consent_ad"]),
    }


def _as_of_day(p: dict[str, Any]) -> str:
    return str(p["as_of_day"])


TRAIT_NAMES = (
    "first_name", "last_name", "age", "gender", "country", "city", "interest", "skill_level",
    "water_type", "preferred_tackle", "budget_tier", "signup_date", "acquisition_channel",
    "loyalty_member",
)  # fmt: skip


def _flat_table(p: dict[str, Any]) -> pa.Table:
    import pyarrow as pa

    return pa.table(p["columns"])


def _profiles_table(p: dict[str, Any]) -> pa.Table:
    """The store shape: id + JSON text for traits, consent and identities, built column-wise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = _columns(p)
    p["columns"] = cols

    def text(name: str) -> list[Any]:
        return [f',"{name}":"', cols[name], '"']

    def raw(name: str, src: pa.Array | None = None) -> list[Any]:
        arr = cols[name] if src is None else src
        return [f',"{name}":', pc.cast(arr, pa.string())]

    def join(parts: list[Any]) -> pa.Array:
        return pc.binary_join_element_wise(*parts, "")

    parts: list[Any] = ['{"first_name":"', cols["first_name"], '"']
    for name in TRAIT_NAMES[1:]:
        if name in ("water_type", "preferred_tackle"):
            continue
        parts += raw(name) if name in ("age", "loyalty_member") else text(name)
    fishing = join(
        [',"water_type":"', cols["water_type"], '","preferred_tackle":"',
         cols["preferred_tackle"], '"']
    )  # fmt: skip
    parts += [pc.fill_null(fishing, ""), "}"]
    traits = join(parts)
    consent = join(
        ['{"email":', pc.cast(cols["consent_email"], pa.string()),
         ',"sms":', pc.cast(cols["consent_sms"], pa.string()),
         ',"push":', pc.cast(cols["consent_push"], pa.string()),
         ',"ad":', pc.cast(cols["consent_ad"], pa.string()), "}"]
    )  # fmt: skip
    phone_part = pc.fill_null(join([',"phone":"', cols["phone"], '"']), "")
    identities = join(['{"email":"', cols["email"], '"', phone_part, "}"])
    return pa.table(
        {"id": cols["id"], "traits": traits, "consent": consent, "identities": identities}
    )


# ------------------------------------------------------------------------------------ behaviour


def _behaviour(
    rng: np.random.Generator, p: dict[str, Any], cat: dict[str, Any], as_of: datetime
) -> tuple[pa.Table, np.ndarray]:
    """Sessions, views, searches, carts, purchases and email; returns events + unsubscribed."""
    import numpy as np

    n = p["n"]
    t0 = int(as_of.timestamp())
    start = t0 - p["signup_days"] * _DAY
    end = t0 - p["end_days"] * _DAY
    # Sessions: count ~ Poisson(1.7 * activity); time skewed towards the end of the window.
    n_sess = rng.poisson(1.7 * p["activity"])
    s_prof = np.repeat(np.arange(n), n_sess)
    s = len(s_prof)
    s_ts = (start[s_prof] + (end - start)[s_prof] * rng.random(s) ** 0.7).astype(np.int64)
    s_ts = np.minimum(s_ts, t0 - 4 * 3600)
    # Views: 1 + Poisson(1.5) per session, 20-140 s apart.
    n_views = 1 + rng.poisson(1.5, s)
    v_sess = np.repeat(np.arange(s), n_views)
    v = len(v_sess)
    first = np.repeat(np.cumsum(n_views) - n_views, n_views)
    rank = np.arange(v) - first
    v_prof = s_prof[v_sess]
    v_ts = s_ts[v_sess] + 15 + rank * 80 + rng.integers(0, 60, v)
    v_item = _pick_items(rng, v_prof, p, cat)
    # Searches: 30% of sessions, right after the start.
    srch = rng.random(s) < 0.3
    # Carts: a view is carted with probability rising with buying propensity.
    carted = rng.random(v) < 0.08 + 0.35 * p["propensity"][v_prof]
    c_idx = np.flatnonzero(carted)
    c_sess = v_sess[c_idx]
    # Purchase: a session with a cart converts with the person's propensity (+ a floor).
    sess_with_cart, first_cart = np.unique(c_sess, return_index=True)
    conv = rng.random(len(sess_with_cart)) < np.minimum(
        0.9, 0.15 + 1.1 * p["propensity"][s_prof[sess_with_cart]]
    )
    o_view = c_idx[first_cart[conv]]
    o_n = len(o_view)
    qty = 1 + rng.poisson(0.3, o_n)
    o_value = np.round(cat["price"][v_item[o_view]] * qty * rng.lognormal(0.0, 0.12, o_n), 2)
    # Email: weekly campaigns over 26 weeks; each consenting subscriber gets some of them.
    weeks = 26
    campaign_ts = t0 - (np.arange(weeks) + 1) * 7 * _DAY + 10 * 3600
    subscribed = p["consent_email"]
    n_send = np.where(subscribed, rng.binomial(weeks, 0.1, n), 0)
    e_prof = np.repeat(np.arange(n), n_send)
    e = len(e_prof)
    e_camp = rng.integers(0, weeks, e)
    e_ts = campaign_ts[e_camp] + rng.integers(0, 3600, e)
    keep = e_ts > start[e_prof]
    e_prof, e_camp, e_ts = e_prof[keep], e_camp[keep], e_ts[keep]
    e = len(e_prof)
    eng = p["engagement"][e_prof]
    opened = rng.random(e) < 0.15 + 0.6 * eng
    o_ts = e_ts + rng.exponential(4 * 3600, e).astype(np.int64) + 60
    clicked = opened & (rng.random(e) < 0.08 + 0.35 * eng)
    k_ts = o_ts + rng.exponential(600, e).astype(np.int64) + 5
    unsub_try = opened & (rng.random(e) < 0.02 * (1.2 - eng))
    # One unsubscribe per person at most: the first one.
    u_idx = np.flatnonzero(unsub_try)
    u_idx = u_idx[np.unique(e_prof[u_idx], return_index=True)[1]]
    unsubscribed = np.zeros(n, dtype=bool)
    unsubscribed[e_prof[u_idx]] = True
    limit = t0 - 1
    parts = [
        # (kind, profile idx, ts, item idx or -1, value or nan, campaign or -1)
        (0, s_prof, s_ts, None, None, None),
        (1, v_prof, v_ts, v_item, None, None),
        (2, s_prof[srch], s_ts[srch] + 5, None, None, None),
        (3, v_prof[c_idx], v_ts[c_idx] + 30, v_item[c_idx], None, None),
        (4, v_prof[o_view], v_ts[o_view] + 300, v_item[o_view], o_value, None),
        (5, e_prof, e_ts, None, None, e_camp),
        (6, e_prof[opened], np.minimum(o_ts[opened], limit), None, None, e_camp[opened]),
        (7, e_prof[clicked], np.minimum(k_ts[clicked], limit), None, None, e_camp[clicked]),
        (8, e_prof[u_idx], np.minimum(k_ts[u_idx] + 30, limit), None, None, e_camp[u_idx]),
    ]
    return _events_table(p, cat, parts, campaign_ts), unsubscribed


def _pick_items(
    rng: np.random.Generator, prof: np.ndarray, p: dict[str, Any], cat: dict[str, Any]
) -> np.ndarray:
    """Item per view: 55% from an affinity cluster, 33% popular in the person's group, 12% any."""
    import numpy as np

    m = len(prof)
    u = rng.random(m)
    out = np.empty(m, dtype=np.int64)
    # Affinity cluster (main 75%, secondary 25%).
    in_cluster = u < 0.55
    idx = np.flatnonzero(in_cluster)
    which = rng.random(len(idx)) < 0.75
    cl = np.where(which, p["clusters"][0][prof[idx]], p["clusters"][1][prof[idx]])
    lo, hi = cat["cluster_start"][cl], cat["cluster_start"][cl + 1]
    out[idx] = np.minimum(
        lo + np.floor(rng.random(len(idx)) * (hi - lo)).astype(np.int64), cat["n"] - 1
    )
    # Popular in the group: fishing people mostly their tackle's group, else all fishing.
    in_group = (u >= 0.55) & (u < 0.88)
    idx = np.flatnonzero(in_group)
    g = p["group"][prof[idx]]
    fishing_any = (g < 3) & (rng.random(len(idx)) < 0.3)
    g = np.where(fishing_any, 7, g)
    r = rng.random(len(idx))
    for gi in range(8):
        sel = g == gi
        if sel.any():
            lo0, cdf = cat["cdfs"][gi]
            out[idx[sel]] = lo0 + np.minimum(np.searchsorted(cdf, r[sel]), len(cdf) - 1)
    # Anything, by overall popularity.
    idx = np.flatnonzero(u >= 0.88)
    lo0, cdf = cat["cdfs"][8]
    out[idx] = lo0 + np.minimum(np.searchsorted(cdf, rng.random(len(idx))), len(cdf) - 1)
    return out


def _first_of_each(*keys: np.ndarray) -> np.ndarray:
    """A mask keeping the first row of each distinct combination of ``keys`` (in row order)."""
    import numpy as np

    order = np.lexsort(keys[::-1])  # stable: equal keys keep their row order
    same = np.ones(len(order) - 1, dtype=bool) if len(order) else np.ones(0, dtype=bool)
    for key in keys:
        k = key[order]
        same &= k[1:] == k[:-1]
    keep = np.ones(len(order), dtype=bool)
    keep[order[1:][same]] = False
    return keep


def _events_table(
    p: dict[str, Any],
    cat: dict[str, Any],
    parts: list[tuple[int, Any, Any, Any, Any, Any]],
    campaign_ts: np.ndarray,
) -> pa.Table:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kinds = np.concatenate([np.full(len(pr), k, dtype=np.int8) for k, pr, *_ in parts])
    prof = np.concatenate([pr for _, pr, *_ in parts])
    ts = np.concatenate([t for _, _, t, *_ in parts])
    item = np.concatenate(
        [it if it is not None else np.full(len(pr), -1) for _, pr, _, it, _, _ in parts]
    )
    value = np.concatenate(
        [va if va is not None else np.full(len(pr), np.nan) for _, pr, _, _, va, _ in parts]
    )
    camp = np.concatenate(
        [c if c is not None else np.full(len(pr), -1) for _, pr, _, _, _, c in parts]
    )
    # Sort by profile, then time, then kind (stable, so ties keep a fixed order).
    order = np.lexsort((kinds, ts, prof))
    kinds, prof, ts, item, value, camp = (a[order] for a in (kinds, prof, ts, item, value, camp))
    # One event per (person, type, item, second), the store's event key: a zero-length activity
    # window puts all of a person's sessions at one instant, and clamping to ``as_of`` can stack
    # email events. An import keeps the first of such repeats; so does the population.
    keep = _first_of_each(prof, ts, kinds, item)
    if not keep.all():
        kinds, prof, ts, item, value, camp = (a[keep] for a in (kinds, prof, ts, item, value, camp))
    ids = _profile_ids(p["n"])
    item_ids = cat["table"].column("item_id").combine_chunks()
    has_item = item >= 0
    item_arr = pc.if_else(
        pa.array(has_item), pc.take(item_ids, pa.array(np.where(has_item, item, 0))), None
    )
    # properties: email events carry their campaign, searches their query.
    days = (campaign_ts // _DAY).astype("datetime64[D]").astype(str)
    camp_json = pa.array([f'{{"campaign":"cmp-{d}"}}' for d in days], pa.string())
    queries = pa.array(
        [f'{{"query":"{CATEGORIES[i][j].replace("_", " ")}"}}' for i in INTERESTS for j in range(4)]
    )
    is_search = kinds == 2
    q_idx = p["interest"][prof] * 4 + (ts % 4)
    props = pc.if_else(
        pa.array(camp >= 0),
        pc.take(camp_json, pa.array(np.where(camp >= 0, camp, 0))),
        pc.if_else(pa.array(is_search), pc.take(queries, pa.array(q_idx)), None),
    )
    return pa.table(
        {
            "profile_id": pc.take(ids, pa.array(prof)),
            "type": pc.take(pa.array(EVENT_KINDS, pa.string()), pa.array(kinds)),
            "item_id": item_arr,
            "ts": pa.array(ts * 1_000_000, pa.timestamp("us", tz="UTC")),
            "value": pa.array(value, pa.float64(), from_pandas=True),
            "properties": props,
        }
    )


# ------------------------------------------------------------------------------------- outputs


def to_profiles(population: Population, limit: int = 100) -> list[Profile]:
    """The first ``limit`` profiles as :class:`martech.Profile` objects, with their events."""
    import orjson
    import pyarrow as pa
    import pyarrow.compute as pc

    from .models import Event, Profile

    head = population.profiles.slice(0, limit).to_pylist()
    ids = pa.array([r["id"] for r in head], pa.string())
    events = population.events.filter(pc.is_in(population.events["profile_id"], ids))
    by_id: dict[str, list[Event]] = {r["id"]: [] for r in head}
    for e in events.to_pylist():
        by_id[e["profile_id"]].append(
            Event(
                type=e["type"],
                item_id=e["item_id"],
                ts=e["ts"],
                value=e["value"],
                properties=orjson.loads(e["properties"]) if e["properties"] else {},
            )
        )
    return [
        Profile(
            id=r["id"],
            identities=orjson.loads(r["identities"]),
            traits=orjson.loads(r["traits"]),
            consent=orjson.loads(r["consent"]),
            events=by_id[r["id"]],
        )
        for r in head
    ]


def write_store(store: Store, population: Population) -> dict[str, int]:
    """Bulk-write items, profiles and events into ``store``; returns what was written."""
    with store.transaction() as con:
        con.register("_martech_items", population.items)
        try:
            con.execute(
                "INSERT OR REPLACE INTO items SELECT item_id, name, category, price, "
                "properties::JSON FROM _martech_items"
            )
        finally:
            con.unregister("_martech_items")
    counts = store.upsert_profiles(population.profiles)
    added = store.append_events(population.events)
    return {
        "items": population.items.num_rows,
        "profiles_inserted": counts.inserted,
        "profiles_updated": counts.updated,
        "events": added,
    }


def _row_group(rows: int) -> int:
    """Rows per Parquet row group: about 8 groups (readers such as DuckDB scan row groups in
    parallel; pyarrow's default would put 1M profiles in one), 128k to 1M rows each."""
    return min(1 << 20, max(1 << 17, -(-rows // 8)))


def write_files(
    population: Population, folder: str | Path, format: Literal["parquet", "jsonl"] = "parquet"
) -> dict[str, Path]:
    """Write ``profiles``, ``events`` and ``items`` files; profiles flat, like a shop export.

    Parquet via pyarrow; JSONL via DuckDB's COPY (one object per line, timestamps in ISO 8601 UTC).
    """
    from .errors import ValidationError

    if format not in ("parquet", "jsonl"):
        raise ValidationError(f"format must be 'parquet' or 'jsonl', got {format!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"profiles": population.flat, "events": population.events, "items": population.items}
    paths = {name: folder / f"{name}.{format}" for name in tables}
    if format == "parquet":
        import pyarrow.parquet as pq

        for name, table in tables.items():
            pq.write_table(
                table, paths[name], compression="zstd", row_group_size=_row_group(table.num_rows)
            )
        return paths
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for name, table in tables.items():
            con.register("_t", table)
            select = "SELECT * FROM _t"
            if name == "events":
                select = (
                    "SELECT profile_id, type, item_id, strftime(ts, '%Y-%m-%dT%H:%M:%SZ') AS ts, "
                    "value, properties::JSON AS properties FROM _t"
                )
            elif name == "items":
                select = "SELECT * REPLACE (properties::JSON AS properties) FROM _t"
            con.execute(f"COPY ({select}) TO {sql_str(str(paths[name]))} (FORMAT json)")
            con.unregister("_t")
    finally:
        con.close()
    return paths
