"""Benchmark: evaluating segments in the store vs a straightforward pandas implementation.

    .venv/bin/python bench/segments.py                 # 1M profiles, ~10M events (cached)
    .venv/bin/python bench/segments.py --profiles 50000  # quick run

Builds (once, cached under ``bench/.data/``) a store from the synthetic population, computes the
built-in traits, then:

1. evaluates 20 representative segments (trait, event-window, RFM / computed traits, nested)
   with ``martech.segments.evaluate`` (one compiled query), and with pandas: the same rule
   trees interpreted over DataFrames already in memory (loading them is timed separately and
   *not* charged to pandas; ids and event types are categoricals, the pandas-friendly choice).
   Both must give the same members for every segment;
2. times ``governance_report`` for 50 segments (goal: under 10 s).

Goals: all 20 segments in under 3 s, at least 20x faster than pandas. Timings are the best of
``--repeat`` runs (default 3) to keep a shared machine's noise out.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
SEED = 2026

SEGMENTS_20: dict[str, Any] = {
    # --- stored traits
    "fishing": {"rule": {"trait": "interest", "eq": "fishing"}},
    "fishing_beginners": {
        "rule": {
            "all": [
                {"trait": "interest", "eq": "fishing"},
                {"trait": "skill_level", "eq": "beginner"},
            ]
        }
    },
    "gary": {
        "rule": {
            "all": [
                {"segment": "fishing_beginners"},
                {"trait": "water_type", "eq": "lake"},
                {"trait": "preferred_tackle", "eq": "spinning"},
                {"trait": "budget_tier", "eq": "budget"},
            ]
        }
    },
    "young_premium": {
        "rule": {"all": [{"trait": "age", "lt": 30}, {"trait": "budget_tier", "eq": "premium"}]}
    },
    "nordics": {"rule": {"trait": "country", "in": ["SE", "NO", "DK", "FI"]}},
    "middle_aged": {"rule": {"trait": "age", "between": [35, 50]}},
    "loyalty_members": {"rule": {"trait": "loyalty_member", "eq": True}},
    # --- events in windows
    "buyers_90d": {"rule": {"event": "purchase", "window": "last 90 days"}},
    "big_spenders_365d": {
        "rule": {"event": "purchase", "measure": "sum", "gte": 300, "window": "last 365 days"}
    },
    "frequent_visitors_30d": {
        "rule": {"event": "session_start", "gte": 3, "window": "last 30 days"}
    },
    "cart_abandoners_14d": {
        "rule": {
            "all": [
                {"event": "add_to_cart", "window": "last 14 days"},
                {"event": "purchase", "window": "last 14 days", "op": "eq", "value": 0},
            ]
        }
    },
    "active_openers_30d": {"rule": {"event": "email_open", "window": "last 30 days"}},
    "lapsed_buyers": {
        "rule": {
            "all": [
                {"event": "purchase"},
                {"event": "purchase", "measure": "last", "op": "gt", "value": 180},
            ]
        }
    },
    "reel_viewers_30d": {
        "rule": {"event": "view", "category": "reels", "gte": 2, "window": "last 30 days"}
    },
    # --- RFM / computed traits
    "champions": {"rule": {"trait": "rfm_segment", "eq": "champions"}},
    "at_risk": {"rule": {"trait": "rfm_segment", "in": ["at_risk", "cant_lose"]}},
    "high_clv": {"rule": {"trait": "clv_tier", "in": ["top", "high"]}},
    "engaged": {"rule": {"trait": "engagement_score", "gte": 50}},
    # --- nested
    "winback": {
        "rule": {
            "all": [
                {"segment": "lapsed_buyers"},
                {"any": [{"segment": "active_openers_30d"}, {"segment": "high_clv"}]},
            ]
        }
    },
    "non_buyers_engaged": {
        "rule": {"all": [{"not": {"event": "purchase"}}, {"segment": "engaged"}]}
    },
}


def fifty_segments() -> dict[str, Any]:
    """The 20 above plus 30 more of the kinds a team accumulates (many overlapping)."""
    out = dict(SEGMENTS_20)
    for interest in ("fishing", "camping", "hiking", "cycling", "running"):
        for skill in ("beginner", "intermediate", "expert"):
            out[f"{interest}_{skill}"] = {
                "rule": {
                    "all": [
                        {"trait": "interest", "eq": interest},
                        {"trait": "skill_level", "eq": skill},
                    ]
                }
            }
    for tier in ("budget", "mid", "premium"):
        out[f"tier_{tier}"] = {"rule": {"trait": "budget_tier", "eq": tier}}
    for stage in ("new", "active", "lapsing", "lapsed", "prospect"):
        out[f"stage_{stage}"] = {"rule": {"trait": "lifecycle_stage", "eq": stage}}
    for days in (7, 60, 180):
        out[f"viewers_{days}d"] = {"rule": {"event": "view", "window": f"last {days} days"}}
    out["buyers_90d_copy"] = {"rule": {"any": [{"event": "purchase", "window": "last 90 days"}]}}
    out["openers_inactive"] = {"rule": {"trait": "email_opener", "eq": "inactive"}}
    out["churn_risky"] = {"rule": {"trait": "churn_risk", "gt": 0.6}}
    out["first_timers"] = {"rule": {"trait": "first_time_purchaser", "eq": True}}
    assert len(out) == 50, len(out)
    return out


# ------------------------------------------------------------------------------------ the store


def build_store(profiles: int) -> Path:
    """The cached store for ``profiles`` people (generated once), with traits computed."""
    from _cache import cached_store, timed

    from martech.segments.traits import compute_traits

    def prepare(store: Any) -> None:
        timed("computed traits", lambda: compute_traits(store, as_of=AS_OF))

    return cached_store(
        f"segments-{profiles}-{SEED}", profiles, seed=SEED, as_of=AS_OF, prepare=prepare
    )


# ------------------------------------------------------------------------------ pandas baseline


class PandasSegments:
    """The rules interpreted over DataFrames: what a data scientist would write in a notebook."""

    def __init__(self, profiles: Any, events: Any, items: Any, as_of: datetime) -> None:
        self.profiles = profiles  # index profile_id; one column per trait (stored + computed)
        self.events = events  # profile_id (category), type (category), item_id, ts, value
        self.items = items  # item_id -> category
        self.as_of = as_of
        self.memo: dict[str, Any] = {}
        self.definitions: dict[str, Any] = {}

    def evaluate(self, definitions: dict[str, Any]) -> dict[str, set[str]]:
        self.definitions, self.memo = definitions, {}
        out = {}
        for key in definitions:
            mask = self.segment(key)
            out[key] = set(self.profiles.index[mask.to_numpy()])
        return out

    def segment(self, key: str) -> Any:
        if key not in self.memo:
            self.memo[key] = self.condition(self.definitions[key]["rule"])
        return self.memo[key]

    def condition(self, c: dict[str, Any]) -> Any:
        import pandas as pd

        if "all" in c:
            mask = pd.Series(True, index=self.profiles.index)
            for sub in c["all"]:
                mask &= self.condition(sub)
            return mask
        if "any" in c:
            mask = pd.Series(False, index=self.profiles.index)
            for sub in c["any"]:
                mask |= self.condition(sub)
            return mask
        if "not" in c:
            return ~self.condition(c["not"])
        if "segment" in c:
            return self.segment(c["segment"])
        if "trait" in c:
            return self.trait(c)
        return self.event(c)

    def trait(self, c: dict[str, Any]) -> Any:
        import pandas as pd

        col = self.profiles[c["trait"]]
        op = next(k for k in ("eq", "in", "lt", "gte", "gt", "between") if k in c)
        v = c[op]
        if op == "eq":
            return (col == v).fillna(False).astype(bool)
        if op == "in":
            return col.isin(v)
        num = pd.to_numeric(col, errors="coerce")
        if op == "lt":
            return (num < v).fillna(False)
        if op == "gt":
            return (num > v).fillna(False)
        if op == "gte":
            return (num >= v).fillna(False)
        return num.between(v[0], v[1]).fillna(False)

    def event(self, c: dict[str, Any]) -> Any:
        import pandas as pd

        ev = self.events[self.events["type"] == c["event"]]
        if "category" in c:
            ev = ev[ev["item_id"].map(self.items).eq(c["category"])]
        if "window" in c:
            days = int(c["window"].split()[1])
            ev = ev[ev["ts"] > self.as_of - timedelta(days=days)]
        measure = c.get("measure", "count")
        op = next((k for k in ("eq", "gte", "gt", "lt") if k in c), c.get("op", "gte"))
        value = c.get(op, c.get("value", 1))
        grouped = ev.groupby("profile_id", observed=True)
        if measure == "count":
            agg = grouped.size().reindex(self.profiles.index, fill_value=0)
        elif measure == "sum":
            agg = grouped["value"].sum().reindex(self.profiles.index, fill_value=0.0)
        else:  # last: days ago
            last = grouped["ts"].max().reindex(self.profiles.index)
            agg = (pd.Timestamp(self.as_of) - last).dt.total_seconds() / 86400
        result = {"eq": agg == value, "gte": agg >= value, "gt": agg > value, "lt": agg < value}[op]
        return result.fillna(False).astype(bool)


def load_pandas(path: Path) -> tuple[PandasSegments, float]:
    import pandas as pd

    from martech.store import Store

    started = time.perf_counter()
    with Store(path, read_only=True) as store:
        con = store.con
        raw = con.execute("SELECT id, traits::VARCHAR AS traits FROM profiles").df()
        traits = pd.DataFrame.from_records(
            [json.loads(t) for t in raw["traits"]], index=raw["id"].rename("profile_id")
        )
        ct = con.execute(
            "SELECT profile_id, name, value::VARCHAR AS value FROM computed_traits"
        ).df()
        ct["value"] = ct["value"].map(json.loads)
        wide = ct.pivot(index="profile_id", columns="name", values="value")
        profiles = traits.join(wide, how="left")
        events = con.execute(
            "SELECT profile_id, type, item_id, ts, value FROM events WHERE ts <= ?", [AS_OF]
        ).df()
        events["profile_id"] = events["profile_id"].astype("category")
        events["type"] = events["type"].astype("category")
        items = dict(con.execute("SELECT item_id, category FROM items").fetchall())
    return PandasSegments(profiles, events, pd.Series(items), AS_OF), time.perf_counter() - started


# ---------------------------------------------------------------------------------------- run


def best_of(repeat: int, fn: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()

    from martech.segments import evaluate, parse_segments
    from martech.segments.governance import governance_report
    from martech.segments.traits import computed_names
    from martech.store import Store

    path = build_store(args.profiles)
    segments20 = parse_segments({"segments": SEGMENTS_20}, source="bench")
    segments50 = parse_segments({"segments": fifty_segments()}, source="bench")
    with Store(path, read_only=True) as store:
        counts = store.summary()
        names = computed_names(store)
        ours, members = best_of(
            args.repeat, lambda: evaluate(store, segments20, as_of=AS_OF, computed=names)
        )
        report_s, report = best_of(
            args.repeat,
            lambda: governance_report(store, segments50, as_of=AS_OF, computed=names),
        )
    print(f"store: {counts['profiles']:,} profiles, {counts['events']:,} events")
    print(f"martech  evaluate 20 segments: {ours:7.3f} s   (goal < 3 s)")
    for key, ids in members.items():
        print(f"    {key:<24} {len(ids):>10,}")
    print(
        f"martech  segments report, 50 segments: {report_s:7.3f} s   (goal < 10 s; "
        f"{len(report.near_duplicates)} near-duplicate pairs, {len(report.warnings)} warnings)"
    )
    if args.skip_pandas:
        return
    baseline, load_s = load_pandas(path)
    print(f"pandas   load into DataFrames (not charged): {load_s:7.1f} s")
    theirs, pandas_members = best_of(
        max(1, args.repeat - 1), lambda: baseline.evaluate(SEGMENTS_20)
    )
    wrong = [k for k in members if members[k] != pandas_members[k]]
    print(f"pandas   evaluate 20 segments: {theirs:7.3f} s")
    print(f"ratio    pandas / martech: {theirs / ours:6.1f}x   (goal >= 20x)")
    print("members  identical for all 20 segments" if not wrong else f"members DIFFER: {wrong}")


if __name__ == "__main__":
    main()
