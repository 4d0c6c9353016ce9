"""Segments: definitions (``segments.yml``) -> SQL on the store -> member sets and snapshots.

- :func:`parse_segments` / :func:`load_segments` read definitions (errors name the
  path in the file).
- :func:`compile_sql` builds a warehouse query for one segment (duckdb, postgres, snowflake,
  bigquery, spark).
- :func:`members` / :func:`evaluate` run segments on a :class:`~martech.store.Store`.
- :func:`martech.segments.snapshots.take_snapshots` records membership and what changed.

Semantics are documented in :mod:`martech.segments.rules`; :mod:`martech.segments.reference`
implements them again in plain Python, and the tests hold the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..models import RuleSegment
from .compile import DIALECTS, compile_many, compile_sql
from .rules import load_segments, parse_segments

if TYPE_CHECKING:
    from ..store import Store

__all__ = [
    "DIALECTS",
    "compile_sql",
    "computed_trait_names",
    "evaluate",
    "example_segments",
    "examples_path",
    "load_segments",
    "members",
    "parse_segments",
]


def examples_path() -> Path:
    """The packaged example ``segments.yml`` (over the synthetic population's traits)."""
    return Path(str(files("martech.segments").joinpath("examples.yml")))


def example_segments() -> list[RuleSegment]:
    """The packaged example segments, parsed."""
    return load_segments(examples_path())


def computed_trait_names(store: Store) -> set[str]:
    """Names materialized in ``computed_traits``: trait conditions on these read that table."""
    rows = store.con.execute("SELECT DISTINCT name FROM computed_traits").fetchall()
    return {str(r[0]) for r in rows}


def _as_list(segments: Iterable[RuleSegment] | Mapping[str, RuleSegment]) -> list[RuleSegment]:
    if isinstance(segments, Mapping):
        return list(segments.values())
    return list(segments)


def evaluate(
    store: Store,
    segments: Iterable[RuleSegment] | Mapping[str, RuleSegment],
    *,
    as_of: datetime | None = None,
    computed: Collection[str] | None = None,
    only: Collection[str] | None = None,
) -> dict[str, set[str]]:
    """Members of every segment (key -> profile ids), in one pass over the store.

    References between the given segments are resolved among them. ``as_of`` defaults to now
    (one instant for all segments). ``computed`` defaults to the trait names present in
    ``computed_traits``. ``only`` limits the answer to these keys (others still resolve refs).
    """
    seg_list = _as_list(segments)
    pool = {s.key: s for s in seg_list}
    missing = sorted(set(only or ()) - set(pool))
    if missing:
        raise ConfigError(
            f"only: no segment {missing[0]!r} among those given; known: {', '.join(sorted(pool))}"
        )
    wanted = [s for s in seg_list if only is None or s.key in only]
    if not wanted:
        return {}
    moment = as_of or datetime.now(UTC)
    names = computed_trait_names(store) if computed is None else computed
    sql = compile_many(wanted, segments=pool, as_of=moment, computed=names)
    table = store.con.sql(sql).to_arrow_table()
    import pyarrow.compute as pc

    ids = table.column("profile_id")
    out: dict[str, set[str]] = {}
    for n, seg in enumerate(wanted):
        mask = table.column(f"s{n}")
        out[seg.key] = set(pc.filter(ids, mask).to_pylist())
    return out


def members(
    store: Store,
    segment: RuleSegment,
    *,
    segments: Iterable[RuleSegment] | Mapping[str, RuleSegment] = (),
    as_of: datetime | None = None,
    computed: Collection[str] | None = None,
) -> set[str]:
    """Profile ids in ``segment`` now (or ``as_of``); ``segments`` resolves its references."""
    pool = {s.key: s for s in _as_list(segments)}
    moment = as_of or datetime.now(UTC)
    names = computed_trait_names(store) if computed is None else computed
    sql = compile_sql(segment, segments=pool, as_of=moment, computed=names)
    rows = store.con.execute(sql).fetchall()
    return {str(r[0]) for r in rows}
