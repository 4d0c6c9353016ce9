"""Segment governance: are our segments few enough to manage and big enough to be worth it?

:func:`governance_report` evaluates every segment in one query (a membership flag per segment
and profile, :func:`~martech.segments.compile.compile_many`), folds each profile's flags into
the list of segments it belongs to, and answers everything else in SQL over those
combinations, never with Python sets of millions of ids:

- size and share of the population per segment, and who is *only* in that segment;
- pairwise overlap: profiles are grouped by their *combination* of segments (few distinct
  combinations even for millions of profiles), then every pair's intersection is summed over
  the combinations holding both, giving the Jaccard index (shared / in either) for the matrix;
- segments below their ``min_size``, empty segments, profiles in no segment;
- near-duplicates (Jaccard at or above ``near_duplicate``, default 0.9) and nested pairs (one
  almost entirely inside the other);
- a warning when more segments are active than a team can manage (``segments.max_active`` in
  martech.toml, default 30). Every defined segment counts as active.

The report is a frozen pydantic model: ``--json`` dumps it; :mod:`.governance_html` draws it.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ..errors import ConfigError, MartechError, StoreError

if TYPE_CHECKING:
    from ..models import RuleSegment
    from ..store import Store

#: Share of the smaller segment inside the larger one above which a pair is reported as nested.
NESTED = 0.95


class SegmentStat(BaseModel, frozen=True, extra="forbid"):
    """One segment's size, share and health."""

    key: str
    name: str
    version: str
    size: int
    share: float = Field(description="size / population.")
    exclusive: int = Field(description="Members in no other reported segment.")
    min_size: int
    below_min: bool


class Overlap(BaseModel, frozen=True, extra="forbid"):
    """Two segments that share members."""

    a: str
    b: str
    intersection: int
    jaccard: float = Field(description="Shared members / members of either.")
    containment: float = Field(description="Shared / size of the smaller: 1.0 when one is inside.")


class GovernanceReport(BaseModel, frozen=True, extra="forbid"):
    """Everything ``martech segments report`` shows; JSON-ready."""

    generated_at: datetime
    as_of: datetime | None
    population: int
    segments: list[SegmentStat]
    keys: list[str] = Field(description="Row/column order of ``jaccard``.")
    jaccard: list[list[float]] = Field(description="Pairwise Jaccard matrix (1.0 on the diagonal).")
    overlaps: list[Overlap] = Field(description="Every pair sharing members, largest first.")
    near_duplicates: list[Overlap]
    nested: list[Overlap]
    unassigned: int = Field(description="Profiles in no segment.")
    unassigned_share: float
    active: int
    max_active: int
    near_duplicate_threshold: float
    warnings: list[str]
    seconds: float

    @property
    def too_many(self) -> bool:
        return self.active > self.max_active


def governance_report(
    store: Store,
    segments: Sequence[RuleSegment],
    *,
    as_of: datetime | None = None,
    max_active: int = 30,
    near_duplicate: float = 0.9,
    computed: Collection[str] | None = None,
    definitions: Mapping[str, RuleSegment] | None = None,
) -> GovernanceReport:
    """Evaluate ``segments`` in ``store`` and report sizes, overlaps and problems.

    ``definitions`` resolves segment references (default: ``segments`` themselves);
    ``computed`` names computed traits (default: those materialized in the store).
    """
    from .compile import compile_many
    from .rules import dependency_order, resolve_versions
    from .traits import computed_names

    if not 0 < near_duplicate <= 1:
        raise ConfigError(f"near_duplicate: expected a number in (0, 1], got {near_duplicate}")
    if max_active < 1:
        raise ConfigError(f"max_active: expected a positive number, got {max_active}")
    keys = [s.key for s in segments]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ConfigError(f"segment {dup!r} appears twice in the report's list")
    started = time.perf_counter()
    pool = dict(definitions) if definitions is not None else {s.key: s for s in segments}
    names = list(computed) if computed is not None else computed_names(store)
    moment = as_of or datetime.now(UTC)
    n = len(segments)
    con = store.con
    # One pass: a boolean column per segment for every profile, folded at once into the list of
    # segments each profile is in; profiles are then counted per distinct combination.
    flags = compile_many(list(segments), segments=pool, as_of=moment, computed=names)
    # Versions covering the segments each references (as compile_many resolves them).
    closure = dependency_order(list(segments), {**pool, **{s.key: s for s in segments}})
    version = {s.key: s.version for s in resolve_versions(closure.values())}
    combo = ", ".join(f"CASE WHEN s{i} THEN {i} END" for i in range(n)) or "NULL::INTEGER"
    try:
        # Group by the flags themselves (cheap booleans), then turn each of the few distinct
        # combinations into the list of its segment indexes.
        columns = ", ".join(f"s{i}" for i in range(n))
        grouped = (
            f"SELECT {columns}, count(*) AS n FROM ({flags}) AS f GROUP BY ALL"
            if n
            else f"SELECT count(*) AS n FROM ({flags}) AS f"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _gov_combos AS SELECT "
            f"list_filter(list_value({combo}), lambda x: x IS NOT NULL) AS combo, n "
            f"FROM ({grouped}) AS g"
        )
        population = int(
            con.execute("SELECT coalesce(sum(n), 0) FROM _gov_combos").fetchall()[0][0]
        )
        unassigned = int(
            con.execute(
                "SELECT coalesce(sum(n), 0) FROM _gov_combos WHERE len(combo) = 0"
            ).fetchall()[0][0]
        )
        sizes = dict.fromkeys(range(n), 0)
        sizes.update(
            con.execute(
                "SELECT idx, sum(n) FROM (SELECT unnest(combo) AS idx, n FROM _gov_combos) "
                "GROUP BY idx"
            ).fetchall()
        )
        exclusive = dict.fromkeys(range(n), 0)
        exclusive.update(
            con.execute(
                "SELECT combo[1], sum(n) FROM _gov_combos WHERE len(combo) = 1 GROUP BY 1"
            ).fetchall()
        )
        pairs = con.execute(
            """WITH e AS (SELECT row_number() OVER () AS cid, combo, n FROM _gov_combos
                          WHERE len(combo) > 1),
                    u AS (SELECT cid, n, unnest(combo) AS idx FROM e)
               SELECT a.idx, b.idx, sum(a.n) FROM u a JOIN u b ON a.cid = b.cid AND a.idx < b.idx
               GROUP BY a.idx, b.idx"""
        ).fetchall()
    except MartechError:
        raise
    except Exception as exc:
        raise StoreError(f"evaluating the segments for the report failed: {exc}") from exc
    finally:
        con.execute("DROP TABLE IF EXISTS _gov_combos")

    stats = [
        SegmentStat(
            key=s.key,
            name=s.name or s.key,
            version=version[s.key],
            size=int(sizes[i]),
            share=sizes[i] / population if population else 0.0,
            exclusive=int(exclusive[i]),
            min_size=s.min_size,
            below_min=sizes[i] < s.min_size,
        )
        for i, s in enumerate(segments)
    ]
    matrix = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    overlaps: list[Overlap] = []
    for i, j, inter in pairs:
        inter = int(inter)
        union = sizes[i] + sizes[j] - inter
        jac = inter / union if union else 0.0
        matrix[i][j] = matrix[j][i] = round(jac, 4)
        overlaps.append(
            Overlap(
                a=keys[i],
                b=keys[j],
                intersection=inter,
                jaccard=jac,
                containment=inter / min(sizes[i], sizes[j]),
            )
        )
    overlaps.sort(key=lambda o: (-o.jaccard, -o.intersection, o.a, o.b))
    near = [o for o in overlaps if o.jaccard >= near_duplicate]
    nested = [o for o in overlaps if o.jaccard < near_duplicate and o.containment >= NESTED]
    report = GovernanceReport(
        generated_at=datetime.now(UTC),
        as_of=moment,
        population=population,
        segments=stats,
        keys=keys,
        jaccard=matrix,
        overlaps=overlaps,
        near_duplicates=near,
        nested=nested,
        unassigned=unassigned,
        unassigned_share=unassigned / population if population else 0.0,
        active=n,
        max_active=max_active,
        near_duplicate_threshold=near_duplicate,
        warnings=[],
        seconds=0.0,
    )
    return report.model_copy(
        update={"warnings": _warnings(report), "seconds": time.perf_counter() - started}
    )


def _warnings(r: GovernanceReport) -> list[str]:
    out: list[str] = []
    if r.too_many:
        out.append(
            f"{r.active} active segments: more than the {r.max_active} a team can manage "
            "(segments.max_active); merge near-duplicates or retire unused ones"
        )
    for s in r.segments:
        if s.size == 0:
            out.append(f"segment {s.key!r} is empty")
        elif s.below_min:
            out.append(
                f"segment {s.key!r} has {s.size:,} members, below its min_size {s.min_size:,}"
            )
    for o in r.near_duplicates:
        out.append(f"segments {o.a!r} and {o.b!r} are near-duplicates (Jaccard {o.jaccard:.2f})")
    return out


def summary_lines(report: GovernanceReport, *, top: int = 5) -> list[str]:
    """A few plain lines for a terminal or ``martech demo``: counts, health, warnings."""
    lines = [
        f"{report.active} segments over {report.population:,} profiles "
        f"(max {report.max_active} active); {report.unassigned:,} profiles "
        f"({report.unassigned_share:.1%}) in no segment",
    ]
    biggest = sorted(report.segments, key=lambda s: -s.size)[:top]
    lines += [f"  {s.key:<28} {s.size:>10,}  {s.share:6.1%}" for s in biggest]
    if report.overlaps:
        o = report.overlaps[0]
        lines.append(f"largest overlap: {o.a} / {o.b}, Jaccard {o.jaccard:.2f}")
    lines += [f"warning: {w}" for w in report.warnings]
    return lines


def seriate(report: GovernanceReport) -> list[int]:
    """An order of the segments that puts similar ones next to each other (for the heat map).

    Greedy nearest neighbour on Jaccard, starting from the largest segment: cheap, and enough
    to make blocks of overlapping segments visible.
    """
    n = len(report.keys)
    if n == 0:
        return []
    sizes = [s.size for s in report.segments]
    order = [max(range(n), key=lambda i: (sizes[i], -i))]
    left = set(range(n)) - set(order)
    while left:
        last = order[-1]
        nxt = max(left, key=lambda j: (report.jaccard[last][j], sizes[j], -j))
        order.append(nxt)
        left.remove(nxt)
    return order
